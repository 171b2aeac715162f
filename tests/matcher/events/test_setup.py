"""Setting up an event: its sessions, numbered tables, who may create it, check-in."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine

from matcher.access import Viewer
from matcher.db import session_scope
from matcher.errors import Forbidden, NotFound
from matcher.events import setup
from matcher.events.models import Event
from matcher.models import pk
from tests.matcher.events.conftest import Seeded
from tests.matcher.events.seed import ORGANIZER, event_in, sides


def test_an_event_opens_with_its_sessions_and_numbered_tables(engine: Engine) -> None:
    day = dt.date.today() + dt.timedelta(days=5)
    with session_scope(engine) as session:
        event = setup.create_event(
            session=session, viewer=ORGANIZER, event=event_in(day, tables=3, online=True)
        )
        tables = setup.event_tables(session=session, event_id=pk(event))
        assert event.status == "open" and event.ends_on == day
        assert [t.name for t in tables] == ["线上会议室01", "线上会议室02", "线上会议室03"]
        assert len(setup.event_slots(session=session, event_id=pk(event))) == 3


def test_only_staff_create_events(engine: Engine) -> None:
    day = dt.date.today()
    with session_scope(engine) as session, pytest.raises(Forbidden):
        setup.create_event(session=session, viewer=Viewer(1, 1, "enterprise"), event=event_in(day))


def test_check_in_marks_the_participant(seeded: Seeded) -> None:
    with session_scope(seeded.engine) as session:
        event = session.get(Event, seeded.event_id)
        assert event is not None
        demand, _supply = sides(session, seeded.event_id)
        done = setup.check_in(
            session=session, viewer=ORGANIZER, event=event, participant_id=pk(demand[0])
        )
        assert done.status == "checked_in" and done.checked_in_at is not None
        with pytest.raises(NotFound):
            setup.check_in(session=session, viewer=ORGANIZER, event=event, participant_id=999_999)
