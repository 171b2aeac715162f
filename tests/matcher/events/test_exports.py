"""What a published event hands out: agendas (page rows, .ics, Excel) and meeting briefs."""

from __future__ import annotations

import io

import openpyxl

from matcher.db import session_scope
from matcher.events import exports, schedule
from matcher.events.models import Event
from tests.matcher.events.conftest import Seeded
from tests.matcher.events.seed import ORGANIZER, sides


def test_agendas_and_briefs(published: Seeded) -> None:
    with session_scope(published.engine, write=False) as session:
        event = session.get(Event, published.event_id)
        assert event is not None
        demand, _supply = sides(session, published.event_id)
        me = demand[0]
        agenda = exports.agenda(session=session, event=event, participant=me, viewer=ORGANIZER)
        assert agenda and agenda[0].counterpart.name and "需求《" in agenda[0].reason
        ics = exports.agenda_ics(
            session=session, event=event, participant=me, viewer=ORGANIZER
        ).decode()
        assert ics.startswith("BEGIN:VCALENDAR") and "TZID=Asia/Shanghai" in ics
        assert ics.count("BEGIN:VEVENT") == len(agenda)
        data = exports.agenda_xlsx(session=session, event=event, who=[me], viewer=ORGANIZER)
        assert openpyxl.load_workbook(io.BytesIO(data)).active["A4"].value == "时间"  # type: ignore[index]
        first = schedule.meetings_of(session=session, event_id=published.event_id)[0]
        brief = exports.brief(session=session, event=event, meeting=first, viewer=ORGANIZER)
        assert len(brief["questions"]) == 3 and brief["checks"]
