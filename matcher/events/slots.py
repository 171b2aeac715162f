"""Slot maths: an event's sessions cut into fixed-length meeting rounds around the breaks.

Pure, with no database: the input model checks a new event has at least one full round
(`matcher.events.schemas`) and the schedule numbers its rounds (`matcher.events.setup`) with it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from matcher.events.models import EventSession


@dataclass(frozen=True)
class Slot:
    index: int
    session_id: int
    day: dt.date
    start: dt.time
    end: dt.time

    @property
    def label(self) -> str:
        return f"{self.day.month}月{self.day.day}日 {self.start:%H:%M}–{self.end:%H:%M}"


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _time(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


def slots_of(sessions: Sequence[EventSession]) -> list[Slot]:
    """Every meeting slot of the event in time order; a slot overlapping a break is skipped."""
    out: list[Slot] = []
    for sess in sorted(sessions, key=lambda s: (s.day, s.start)):
        breaks = [
            (_minutes(dt.time.fromisoformat(a)), _minutes(dt.time.fromisoformat(b)))
            for a, b in sess.breaks
        ]
        t = _minutes(sess.start)
        end = _minutes(sess.end)
        while t + sess.slot_minutes <= end:
            overlap = next((b for b in breaks if t < b[1] and t + sess.slot_minutes > b[0]), None)
            if overlap is not None:
                t = overlap[1]
                continue
            out.append(
                Slot(len(out), sess.id or 0, sess.day, _time(t), _time(t + sess.slot_minutes))
            )
            t += sess.slot_minutes
    return out
