"""The schedule: requests honoured, edits that would break it refused, publishing."""

from __future__ import annotations

import random

import pytest
from sqlmodel import Session, select

from matcher.db import session_scope
from matcher.errors import Conflict, Forbidden
from matcher.events import requests, schedule, scheduling, setup
from matcher.events.models import Event
from matcher.models import Notification, pk
from tests.matcher.events.conftest import Seeded
from tests.matcher.events.seed import ORGANIZER, sides, viewer_of


def _still_valid(session: Session, seeded: Seeded, event: Event) -> None:
    problem, _values = schedule.build_problem(session=session, matcher=seeded.matcher, event=event)
    ids = [pk(t) for t in setup.event_tables(session=session, event_id=seeded.event_id)]
    placed = [
        scheduling.Placed(m.demand_id, m.supply_id, m.slot, ids.index(m.table_id), 0, False)
        for m in schedule.meetings_of(session=session, event_id=seeded.event_id)
    ]
    assert scheduling.check(problem, placed) == []


def test_the_schedule_honours_requests_and_availability(scheduled: Seeded) -> None:
    with session_scope(scheduled.engine, write=False) as session:
        event = session.get(Event, scheduled.event_id)
        assert event is not None
        demand, supply = sides(session, scheduled.event_id)
        meetings = schedule.meetings_of(session=session, event_id=scheduled.event_id)
        report = event.schedule_report
    assert event.status == "scheduled"
    assert report["must_scheduled"] == report["must_feasible"] == 1
    pairs = {(m.demand_id, m.supply_id) for m in meetings}
    assert (pk(demand[0]), pk(supply[0])) in pairs
    assert (pk(demand[0]), pk(supply[1])) not in pairs
    assert not any(m.supply_id == pk(supply[2]) and m.slot == 0 for m in meetings)
    # why each meeting was arranged is stored as ids, never as another organization's text
    assert all(m.basis == "match" and m.need_id and m.technology_id for m in meetings)


def test_edits_that_would_break_the_schedule_are_refused(scheduled: Seeded) -> None:
    with session_scope(scheduled.engine) as session:
        event = session.get(Event, scheduled.event_id)
        assert event is not None
        demand, supply = sides(session, scheduled.event_id)
        meetings = schedule.meetings_of(session=session, event_id=scheduled.event_id)
        table0 = pk(setup.event_tables(session=session, event_id=scheduled.event_id)[0])
        first = meetings[0]

        def move(slot: int, table_id: int, viewer=ORGANIZER) -> None:  # type: ignore[no-untyped-def]
            schedule.move_meeting(
                session=session, viewer=viewer, event=event, meeting_id=pk(first), slot=slot,
                table_id=table_id,
            )  # fmt: skip

        def add(demand_id: int, supply_id: int, slot: int) -> None:
            schedule.add_meeting(
                session=session, viewer=ORGANIZER, event=event, demand_id=demand_id,
                supply_id=supply_id, slot=slot, table_id=table0,
            )  # fmt: skip

        busy = next((m for m in meetings if m.slot == first.slot and m.id != first.id), None)
        if busy is not None:
            with pytest.raises(Conflict):  # a table holds one meeting a round
                move(first.slot, busy.table_id)  # type: ignore[arg-type]
        with pytest.raises(Conflict):  # 不见
            add(pk(demand[0]), pk(supply[1]), 2)
        with pytest.raises(Conflict):
            move(first.slot, 999_999)
        with pytest.raises(Forbidden):
            move(1, first.table_id, viewer_of(demand[0]))  # type: ignore[arg-type]
        # a meeting added by hand keeps the participant's cap (moves and swaps cannot break it)
        has = sum(1 for m in meetings if m.demand_id == pk(demand[0]))
        demand[0].cap = has
        session.add(demand[0])
        with pytest.raises(Conflict, match=f"已有 {has} 场洽谈，达到其上限"):
            add(pk(demand[0]), pk(supply[2]), 0)
        _still_valid(session, scheduled, event)


def test_publishing_notifies_and_freezes_the_schedule(scheduled: Seeded) -> None:
    with session_scope(scheduled.engine) as session:
        event = session.get(Event, scheduled.event_id)
        assert event is not None
        first = schedule.meetings_of(session=session, event_id=scheduled.event_id)[0]
        schedule.publish(session=session, viewer=ORGANIZER, event=event)
        notes = session.exec(select(Notification).where(Notification.kind == "event.agenda")).all()
        assert notes == [] or all("/events/" in n.link for n in notes)
        with pytest.raises(Conflict):
            schedule.move_meeting(
                session=session, viewer=ORGANIZER, event=event, meeting_id=pk(first),
                slot=first.slot, table_id=first.table_id,  # type: ignore[arg-type]
            )  # fmt: skip
        with pytest.raises(Conflict, match="日程已发布"):
            schedule.generate_schedule(
                session=session, viewer=ORGANIZER, matcher=scheduled.matcher, event=event
            )
        schedule.unpublish(session=session, viewer=ORGANIZER, event=event)
        assert event.status == "scheduled"


def test_random_edits_never_break_the_schedule(seeded: Seeded) -> None:
    """Move, swap, add and remove at random; whatever is accepted, nobody is double-booked, no
    table holds two meetings, nobody sits in a slot they declared unavailable, nobody has more
    meetings than their cap."""
    rng = random.Random(7)
    scheduled = seeded
    with session_scope(scheduled.engine) as session:
        event = session.get(Event, scheduled.event_id)
        assert event is not None
        demand_people, supply_people = sides(session, scheduled.event_id)
        demand, supply = [pk(p) for p in demand_people], [pk(p) for p in supply_people]
        requests.set_unavailable(
            session=session, viewer=viewer_of(supply_people[-1]), event=event, slots=[1]
        )
        schedule.generate_schedule(
            session=session, viewer=ORGANIZER, matcher=scheduled.matcher, event=event
        )
    accepted = refused = 0
    for _ in range(200):
        with session_scope(scheduled.engine) as session:
            event = session.get(Event, scheduled.event_id)
            assert event is not None
            tables = [pk(t) for t in setup.event_tables(session=session, event_id=pk(event))]
            meetings = schedule.meetings_of(session=session, event_id=pk(event))
            op = rng.choice(["move", "swap", "add", "remove"] if meetings else ["add"])
            slot, table = rng.randrange(-1, 4), rng.choice([*tables, 999_999])
            common = {"session": session, "viewer": ORGANIZER, "event": event}
            try:
                if op == "move":
                    m = rng.choice(meetings)
                    schedule.move_meeting(**common, meeting_id=pk(m), slot=slot, table_id=table)
                elif op == "swap" and len(meetings) > 1:
                    a, b = rng.sample(meetings, 2)
                    schedule.swap_meetings(**common, first_id=pk(a), second_id=pk(b))
                elif op == "add":
                    d, s = rng.choice(demand), rng.choice(supply)
                    schedule.add_meeting(
                        **common, demand_id=d, supply_id=s, slot=slot, table_id=table
                    )
                elif op == "remove" and rng.random() < 0.3:
                    schedule.remove_meeting(**common, meeting_id=pk(rng.choice(meetings)))
                accepted += 1
            except Conflict:
                refused += 1
        with session_scope(scheduled.engine, write=False) as session:
            event = session.get(Event, scheduled.event_id)
            assert event is not None
            _still_valid(session, scheduled, event)
    assert accepted > 20 and refused > 20
