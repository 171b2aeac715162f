"""Slot maths: rounds cut from sessions around their breaks."""

from __future__ import annotations

import datetime as dt

from matcher.db import session_scope
from matcher.events import setup
from matcher.events.models import EventSession
from matcher.events.slots import slots_of
from tests.matcher.events.conftest import Seeded


def _times(slots) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M")) for s in slots]


def test_slots_skip_breaks(seeded: Seeded) -> None:
    with session_scope(seeded.engine, write=False) as session:
        slots = setup.event_slots(session=session, event_id=seeded.event_id)
    assert _times(slots) == [("09:00", "09:20"), ("09:20", "09:40"), ("09:50", "10:10")]


def test_rounds_are_numbered_in_time_order_across_sessions() -> None:
    day = dt.date(2027, 3, 15)
    afternoon = EventSession(
        event_id=1, day=day, start=dt.time(14), end=dt.time(14, 40), slot_minutes=20
    )
    morning = EventSession(
        event_id=1, day=day, start=dt.time(9), end=dt.time(9, 30), slot_minutes=20
    )
    slots = slots_of([afternoon, morning])
    assert [s.index for s in slots] == [0, 1, 2]
    assert _times(slots) == [("09:00", "09:20"), ("14:00", "14:20"), ("14:20", "14:40")]
    assert slots[0].label == "3月15日 09:00–09:20"
