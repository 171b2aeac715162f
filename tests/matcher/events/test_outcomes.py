"""After a meeting: each side about itself; contacts only on both sides' consent; a contract one
side reports is claimed until the other confirms it; follow-ups and the report."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from matcher.db import session_scope
from matcher.errors import Conflict, ValidationFailed
from matcher.events import outcomes, schedule, setup
from matcher.events.models import Event, FollowUp, Meeting
from matcher.events.schemas import OutcomeIn
from matcher.models import Lead, pk
from tests.matcher.events.conftest import Seeded
from tests.matcher.events.seed import ORGANIZER, person

SIGNED = {"status": "held", "outcome": "signed", "share_contact": True}


def test_both_sides_open_the_lead_and_confirm_the_contract(published: Seeded) -> None:
    with session_scope(published.engine) as session:
        event = session.get(Event, published.event_id)
        assert event is not None
        first = schedule.meetings_of(session=session, event_id=pk(event))[0]
        people = {pk(p): p for p in setup.participants(session=session, event_id=pk(event))}
        demand_side = person(session, people[first.demand_id])
        supply_side = person(session, people[first.supply_id])
        held_day = event.starts_on

        def record(viewer, today=held_day, **fields) -> None:  # type: ignore[no-untyped-def]
            outcomes.record_feedback(
                session=session, viewer=viewer, event=event, meeting_id=pk(first),
                outcome=OutcomeIn.model_validate(fields), today=today,
            )  # fmt: skip

        with pytest.raises(Conflict, match="尚未进行"):
            record(demand_side, today=None, status="held")
        record(demand_side, rating="promising", amount=50, **SIGNED)
        meeting = session.get(Meeting, pk(first))
        assert meeting is not None and meeting.lead_id is None
        assert outcomes.report(session=session, event=event)["contracts"] == {
            "confirmed": 0,
            "claimed": 1,
        }
        record(supply_side, rating="useful", amount=40, **SIGNED)
        rows = outcomes.feedback_of(session=session, meeting_id=pk(first))
        assert rows["demand"].rating == "promising" and rows["supply"].rating == "useful"
        assert meeting.lead_id is not None
        lead = session.get(Lead, meeting.lead_id)
        assert lead is not None
        assert lead.source == "event" and lead.stage == "signed" and lead.contract_amount == 40
        assert (lead.technology_id, lead.need_id) == (first.technology_id, first.need_id)
        follow = session.exec(select(FollowUp).where(FollowUp.meeting_id == meeting.id)).all()
        assert sorted(f.months for f in follow) == [1, 3, 6]
        later = event.ends_on + dt.timedelta(days=40)
        assert outcomes.send_due_follow_ups(session=session, today=later) == 1
        assert outcomes.send_due_follow_ups(session=session, today=later) == 0
        report = outcomes.report(session=session, event=event)
        assert report["held"] == 1 and report["outcomes"]["签约"] == 1
        assert report["signed_amount"] == 40
        assert report["contracts"] == {"confirmed": 1, "claimed": 0}


def test_the_organizer_records_consent_only_with_a_note(published: Seeded) -> None:
    with session_scope(published.engine) as session:
        event = session.get(Event, published.event_id)
        assert event is not None
        first = schedule.meetings_of(session=session, event_id=pk(event))[0]

        def record(**fields) -> None:  # type: ignore[no-untyped-def]
            outcomes.record_feedback(
                session=session, viewer=ORGANIZER, event=event, meeting_id=pk(first),
                outcome=OutcomeIn.model_validate(fields), today=event.starts_on,
            )  # fmt: skip

        with pytest.raises(ValidationFailed, match="请写明双方何时、如何表示同意"):
            record(status="held", share_contact=True)
        record(status="held", share_contact=True, consent_note="现场双方口头同意")
        meeting = session.get(Meeting, pk(first))
        assert meeting is not None and meeting.lead_id is not None
        notes = outcomes.feedback_of(session=session, meeting_id=pk(first))["organizer"].notes
        assert "同意依据：现场双方口头同意" in notes


def test_add_months_keeps_to_the_month_end() -> None:
    assert outcomes.add_months(dt.date(2027, 1, 31), 1) == dt.date(2027, 2, 28)
    assert outcomes.add_months(dt.date(2027, 11, 15), 3) == dt.date(2028, 2, 15)
