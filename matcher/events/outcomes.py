"""After a meeting: each side's own feedback, consent to share contacts, claimed and confirmed
contracts, the lead that follows, and the event report.

Rules (the README's Security section states them for users):
- Feedback is recorded for meetings of a published (or closed) event whose day has come, by
  one of the meeting's two sides about its own side, or by the event's organizers. A side never
  writes the other side's row, so one side cannot overwrite the other's rating.
- Contacts are shared (a Lead is opened) only when both sides agreed to share them, or when
  the organizer records a consent both sides gave in person, with a note saying so.
- A contract one side reports is "claimed" until the other side (or the organizer) reports it
  too; only confirmed contracts count as signed in the report and advance the lead."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from matcher import services
from matcher.access import Viewer
from matcher.errors import Conflict, NotFound, ValidationFailed
from matcher.events.access import AGENDA_STATUSES, is_organizer, meeting_for, meeting_side
from matcher.events.models import (
    MEETING_STATUSES,
    OUTCOMES,
    RATINGS,
    Event,
    EventTable,
    FollowUp,
    Meeting,
    MeetingFeedback,
    Participant,
)
from matcher.events.schedule import meetings_of
from matcher.events.schemas import OutcomeIn
from matcher.events.setup import event_slots, participants
from matcher.leads import open_lead
from matcher.models import Lead, LeadEvent, Need, Organization, Technology, pk, utcnow
from matcher.notifications import notify_org

POSITIVE = ("useful", "promising")
FOLLOW_UP_MONTHS = (1, 3, 6)


@dataclass(frozen=True)
class Contract:
    state: str  # none / claimed / confirmed
    amount: float | None
    claimed_by: tuple[str, ...]


def feedback_of(*, session: Session, meeting_id: int) -> dict[str, MeetingFeedback]:
    rows = session.exec(select(MeetingFeedback).where(MeetingFeedback.meeting_id == meeting_id))
    return {row.side: row for row in rows}


def contract_of(rows: dict[str, MeetingFeedback]) -> Contract:
    """A contract stated by one side is claimed; by both sides, or by the organizer, confirmed
    (at the organizer's amount, else the lower of the two sides')."""
    signed = {side: row for side, row in rows.items() if row.outcome == "signed"}
    if not signed:
        return Contract("none", None, ())
    sides = tuple(sorted(signed))
    if "organizer" in signed:
        return Contract("confirmed", signed["organizer"].amount, sides)
    if len(signed) == 2:
        amounts = [r.amount for r in signed.values() if r.amount is not None]
        return Contract("confirmed", min(amounts) if amounts else None, sides)
    only = next(iter(signed.values()))
    return Contract("claimed", only.amount, sides)


def meeting_day(*, session: Session, event: Event, meeting: Meeting) -> dt.date:
    slots = event_slots(session=session, event_id=pk(event))
    return slots[meeting.slot].day if 0 <= meeting.slot < len(slots) else event.starts_on


def record_feedback(
    *,
    session: Session,
    viewer: Viewer,
    event: Event,
    meeting_id: int,
    outcome: OutcomeIn,
    today: dt.date | None = None,
) -> MeetingFeedback:
    """A side's own feedback on a meeting (or the organizer's). See the module's rules; the
    input model has checked the fields against each other.

    The organizer's `share_contact` records a consent both sides gave in person and needs
    `consent_note` saying so."""
    meeting = meeting_for(session=session, viewer=viewer, event=event, meeting_id=meeting_id)
    organizer = is_organizer(viewer, event)
    side = (
        "organizer" if organizer else meeting_side(session=session, viewer=viewer, meeting=meeting)
    )
    if side is None:
        raise NotFound("洽谈不存在")
    if event.status not in AGENDA_STATUSES or meeting.status == "cancelled":
        raise Conflict("只能为已发布日程中的洽谈记录结果")
    if meeting_day(session=session, event=event, meeting=meeting) > (today or dt.date.today()):
        raise Conflict("洽谈尚未进行，进行后才能记录结果")
    share_contact = outcome.share_contact
    if organizer and share_contact and len(outcome.consent_note) < 4:
        raise ValidationFailed("组织方代为记录同意交换联系方式时，请写明双方何时、如何表示同意")
    rows = feedback_of(session=session, meeting_id=pk(meeting))
    row = rows.get(side) or MeetingFeedback(
        meeting_id=pk(meeting), side=side, status=outcome.status
    )
    row.status, row.rating, row.outcome = outcome.status, outcome.rating, outcome.outcome
    row.amount = outcome.amount if outcome.outcome == "signed" else None
    row.notes = (
        outcome.notes
        + ("\n同意依据：" + outcome.consent_note if organizer and share_contact else "")
    )[:2000]
    row.share_contact = share_contact
    row.recorded_by = viewer.user_id
    row.recorded_at = utcnow()
    session.add(row)
    rows[side] = row
    meeting.status = "held" if any(r.status == "held" for r in rows.values()) else "no_show"
    meeting.updated_at = utcnow()
    session.add(meeting)
    session.flush()
    services.audit(
        session=session,
        action="event.feedback",
        actor_id=viewer.user_id,
        object_type="meeting",
        object_id=meeting.id,
        detail={"side": side, "share_contact": share_contact, "outcome": outcome.outcome},
    )
    _follow_through(session, viewer, event, meeting, rows, side)
    return row


def _follow_through(
    session: Session,
    viewer: Viewer,
    event: Event,
    meeting: Meeting,
    rows: dict[str, MeetingFeedback],
    side: str,
) -> None:
    """Open the lead once both sides consented (or the organizer recorded consent), advance it
    when a contract is confirmed, and ask the other side when only one side agreed."""
    demand = session.get(Participant, meeting.demand_id)
    supply = session.get(Participant, meeting.supply_id)
    assert demand is not None and supply is not None
    consent = {s for s, r in rows.items() if r.share_contact and r.status == "held"}
    covered = "organizer" in consent or {"demand", "supply"} <= consent
    contract = contract_of(rows)
    other = supply if side == "demand" else demand
    if meeting.lead_id is None and covered:
        _open_lead(session, viewer, event, meeting, rows, consent, contract)
    elif meeting.lead_id is not None and contract.state == "confirmed":
        _sign_lead(session, viewer, meeting.lead_id, contract)
    elif side in ("demand", "supply") and side in consent and not covered:
        notify_org(
            session, other.organization_id, "event.consent",
            f"「{event.name}」中与您洽谈的单位希望继续对接：如您也同意，请记录洽谈结果并勾选「同意交换联系方式」",
            f"/events/{event.id}/me",
        )  # fmt: skip
    if (
        side in ("demand", "supply")
        and rows[side].outcome == "signed"
        and contract.state == "claimed"
    ):
        notify_org(
            session, other.organization_id, "event.contract",
            f"「{event.name}」中与您洽谈的单位报告已签约：请在洽谈结果中确认（确认前只计为「待确认」）",
            f"/events/{event.id}/me",
        )  # fmt: skip


def _open_lead(
    session: Session,
    viewer: Viewer,
    event: Event,
    meeting: Meeting,
    rows: dict[str, MeetingFeedback],
    consent: set[str],
    contract: Contract,
) -> None:
    """The lead both sides agreed to, at the stage the feedback shows, with its follow-ups."""
    demand = session.get(Participant, meeting.demand_id)
    supply = session.get(Participant, meeting.supply_id)
    assert demand is not None and supply is not None
    positive = [r for r in rows.values() if r.rating == "promising" or r.outcome == "intent"]
    stage = "signed" if contract.state == "confirmed" else "negotiation" if positive else "interest"
    basis = (
        "组织方记录双方同意交换联系方式"
        if "organizer" in consent and not {"demand", "supply"} <= consent
        else "双方在洽谈后同意交换联系方式"
    )
    lead = open_lead(
        session=session,
        supplier_id=supply.organization_id,
        demander_id=demand.organization_id,
        technology_id=meeting.technology_id,
        need_id=meeting.need_id,
        source="event",
        stage=stage,
        consent=f"来自「{event.name}」的洽谈：{basis}",
        actor_id=viewer.user_id,
        supplier_user_id=rows["supply"].recorded_by if "supply" in consent else None,
        demander_user_id=rows["demand"].recorded_by if "demand" in consent else None,
        amount=contract.amount if contract.state == "confirmed" else None,
    )
    meeting.lead_id = lead.id
    session.add(meeting)
    for months in FOLLOW_UP_MONTHS:
        session.add(
            FollowUp(
                meeting_id=pk(meeting), months=months, due_on=add_months(event.ends_on, months)
            )
        )
    for participant in (demand, supply):
        notify_org(
            session, participant.organization_id, "event.lead",
            f"「{event.name}」的洽谈双方已同意交换联系方式：已生成对接线索", f"/leads/{lead.id}",
        )  # fmt: skip


def _sign_lead(session: Session, viewer: Viewer, lead_id: int, contract: Contract) -> None:
    """A confirmed contract moves an open lead to signed."""
    lead = session.get(Lead, lead_id)
    if lead is not None and lead.stage in ("recommended", "interest", "negotiation"):
        session.add(
            LeadEvent(
                lead_id=pk(lead), from_stage=lead.stage, to_stage="signed",
                actor_id=viewer.user_id, note="双方确认签约", amount=contract.amount,
            )
        )  # fmt: skip
        lead.stage, lead.contract_amount, lead.updated_at = "signed", contract.amount, utcnow()
        session.add(lead)


def feedback_for_viewer(
    *, session: Session, viewer: Viewer, event: Event, meeting: Meeting
) -> dict[str, Any]:
    """What the viewer may see of a meeting's feedback: its own side's row in full, whether the
    other side agreed to share contacts, and the contract's state (organizers see all rows)."""
    rows = feedback_of(session=session, meeting_id=pk(meeting))
    if is_organizer(viewer, event):
        return {"side": "organizer", "rows": rows, "mine": rows.get("organizer"),
                "contract": contract_of(rows)}  # fmt: skip
    side = meeting_side(session=session, viewer=viewer, meeting=meeting)
    if side is None:
        raise NotFound("洽谈不存在")
    other = "supply" if side == "demand" else "demand"
    return {
        "side": side,
        "rows": {side: rows[side]} if side in rows else {},
        "mine": rows.get(side),
        "other_agreed": bool(rows.get(other) and rows[other].share_contact),
        "contract": contract_of(rows),
    }


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------


UNKNOWN_FIELD = "未注明领域"


def _meeting_fields(
    session: Session, meetings: list[Meeting], people: dict[int, Participant]
) -> dict[int, str]:
    """The 技术领域 each meeting was about: its result's field, else its need's, else the field
    most of the supplying organization's published results are in."""
    tech_ids = {m.technology_id for m in meetings if m.technology_id}
    need_ids = {m.need_id for m in meetings if m.need_id}
    tech_fields = dict(
        session.exec(
            select(Technology.id, Technology.field).where(col(Technology.id).in_(tech_ids or {-1}))
        ).all()
    )
    need_fields = dict(
        session.exec(select(Need.id, Need.field).where(col(Need.id).in_(need_ids or {-1}))).all()
    )
    supplier_orgs = {people[m.supply_id].organization_id for m in meetings if m.supply_id in people}
    dominant: dict[int, str] = {}
    for owner_id, field_name, _n in session.exec(
        select(Technology.owner_id, Technology.field, func.count())
        .where(
            col(Technology.owner_id).in_(supplier_orgs or {-1}),
            Technology.status == "published",
        )
        .group_by(col(Technology.owner_id), col(Technology.field))
        .order_by(func.count().desc())
    ).all():
        dominant.setdefault(owner_id, field_name)
    out: dict[int, str] = {}
    for m in meetings:
        supplier = people.get(m.supply_id)
        out[pk(m)] = (
            tech_fields.get(m.technology_id or -1)
            or need_fields.get(m.need_id or -1)
            or (dominant.get(supplier.organization_id) if supplier else None)
            or UNKNOWN_FIELD
        )
    return out


def report(*, session: Session, event: Event) -> dict[str, Any]:
    """Figures for the event report: meetings held, each side's ratings, outcomes (contracts
    confirmed vs claimed), by field and by institute."""
    meetings = list(session.exec(select(Meeting).where(Meeting.event_id == event.id)))
    people = {pk(p): p for p in participants(session=session, event_id=pk(event))}
    orgs = {
        o.id: o
        for o in session.exec(
            select(Organization).where(
                col(Organization.id).in_({p.organization_id for p in people.values()} or {-1})
            )
        )
    }
    feedback: dict[int, dict[str, MeetingFeedback]] = defaultdict(dict)
    for row in session.exec(
        select(MeetingFeedback).where(
            col(MeetingFeedback.meeting_id).in_([pk(m) for m in meetings] or [-1])
        )
    ):
        feedback[row.meeting_id][row.side] = row
    held = [m for m in meetings if m.status == "held"]
    ratings = {label: 0 for label in RATINGS.values()}
    outcomes = {label: 0 for label in OUTCOMES.values()}
    contracts = {"confirmed": 0, "claimed": 0}
    amounts = {"confirmed": 0.0, "claimed": 0.0}
    field_of = _meeting_fields(session, held, people)
    by_institute: dict[str, dict[str, int]] = defaultdict(lambda: {"held": 0, "positive": 0})
    by_field: dict[str, dict[str, int]] = defaultdict(lambda: {"held": 0, "positive": 0})
    for m in held:
        rows = feedback.get(pk(m), {})
        for row in rows.values():
            if row.rating in RATINGS:
                ratings[RATINGS[row.rating]] += 1
            if row.outcome in OUTCOMES and row.outcome != "signed":
                outcomes[OUTCOMES[row.outcome]] += 1
        contract = contract_of(rows)
        if contract.state != "none":
            contracts[contract.state] += 1
            amounts[contract.state] += contract.amount or 0.0
        if contract.state == "confirmed":
            outcomes[OUTCOMES["signed"]] += 1
        positive = any(r.rating in POSITIVE or r.outcome for r in rows.values())
        supplier = people.get(m.supply_id)
        name = orgs[supplier.organization_id].name if supplier else "?"
        by_institute[name]["held"] += 1
        by_institute[name]["positive"] += int(positive)
        field = field_of[pk(m)]
        by_field[field]["held"] += 1
        by_field[field]["positive"] += int(positive)
    return {
        "scheduled": len([m for m in meetings if m.status != "cancelled"]),
        "held": len(held),
        "no_show": sum(1 for m in meetings if m.status == "no_show"),
        "ratings": ratings,
        "outcomes": outcomes,
        "contracts": contracts,
        "signed_amount": round(amounts["confirmed"], 2),
        "claimed_amount": round(amounts["claimed"], 2),
        "leads": sum(1 for m in meetings if m.lead_id),
        "by_institute": dict(sorted(by_institute.items(), key=lambda kv: -kv[1]["held"])[:15]),
        "by_field": dict(sorted(by_field.items(), key=lambda kv: -kv[1]["held"])),
        "participants": {
            "demand": sum(1 for p in people.values() if p.group == "demand"),
            "supply": sum(1 for p in people.values() if p.group == "supply"),
        },
        "checked_in": sum(1 for p in people.values() if p.status == "checked_in"),
    }


def meeting_rows(*, session: Session, event: Event) -> list[list[Any]]:
    """One row per scheduled meeting for the organizer's export: time, table, both sides, field,
    status, each side's rating and the contract state (confirmed / claimed, with the amount)."""
    meetings = [
        m for m in meetings_of(session=session, event_id=pk(event)) if m.status != "cancelled"
    ]
    people = {pk(p): p for p in participants(session=session, event_id=pk(event))}
    orgs = {
        o.id: o.name
        for o in session.exec(
            select(Organization).where(
                col(Organization.id).in_({p.organization_id for p in people.values()} or {-1})
            )
        )
    }
    tables = {
        t.id: t.name
        for t in session.exec(select(EventTable).where(EventTable.event_id == event.id))
    }
    slots = event_slots(session=session, event_id=pk(event))
    fields = _meeting_fields(session, meetings, people)
    feedback: dict[int, dict[str, MeetingFeedback]] = defaultdict(dict)
    for row in session.exec(
        select(MeetingFeedback).where(
            col(MeetingFeedback.meeting_id).in_([pk(m) for m in meetings] or [-1])
        )
    ):
        feedback[row.meeting_id][row.side] = row

    def side_name(participant_id: int) -> str:
        p = people.get(participant_id)
        if p is None:
            return ""
        return orgs.get(p.organization_id, "") + (f" {p.team}" if p.team else "")

    def rating(rows: dict[str, MeetingFeedback], side: str) -> str:
        row = rows.get(side)
        return RATINGS.get(row.rating or "", "") if row else ""

    out: list[list[Any]] = []
    for m in meetings:
        rows = feedback.get(pk(m), {})
        contract = contract_of(rows)
        signed = ""
        if contract.state != "none":
            state = "双方确认" if contract.state == "confirmed" else "一方填报，待确认"
            signed = state + (f" {contract.amount:g} 万元" if contract.amount is not None else "")
        out.append(
            [
                slots[m.slot].label if 0 <= m.slot < len(slots) else "",
                tables.get(m.table_id, "") if m.table_id else "",
                side_name(m.demand_id),
                side_name(m.supply_id),
                fields[pk(m)],
                MEETING_STATUSES.get(m.status, m.status),
                rating(rows, "demand"),
                rating(rows, "supply"),
                signed,
            ]
        )
    return out


# --------------------------------------------------------------------------------------------
# follow-ups
# --------------------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def send_due_follow_ups(*, session: Session, today: dt.date | None = None) -> int:
    """Notify both sides of every follow-up that is due (each is sent once)."""
    today = today or dt.date.today()
    due = session.exec(
        select(FollowUp).where(col(FollowUp.due_on) <= today, col(FollowUp.sent_at).is_(None))
    ).all()
    for follow in due:
        meeting = session.get(Meeting, follow.meeting_id)
        if meeting is None:
            continue
        event = session.get(Event, meeting.event_id)
        for pid in (meeting.demand_id, meeting.supply_id):
            participant = session.get(Participant, pid)
            if participant is not None:
                notify_org(
                    session, participant.organization_id, "event.follow_up",
                    f"「{event.name if event else ''}」洽谈 {follow.months} 个月回访：进展如何？请更新对接线索",
                    f"/leads/{meeting.lead_id}" if meeting.lead_id else "/interests",
                )  # fmt: skip
        follow.sent_at = utcnow()
        session.add(follow)
    return len(due)
