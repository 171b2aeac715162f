"""The schedule: generating the agenda with the solver (`matcher.events.scheduling`), editing
the draft by hand (move, swap, add, remove) and publishing it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from matcher import relevance, services
from matcher.access import Viewer
from matcher.errors import Conflict, NotFound, ValidationFailed
from matcher.events import scheduling
from matcher.events.access import require_organizer
from matcher.events.models import Event, Meeting, MeetingRequest, Participant
from matcher.events.requests import PairValue, participant_side, side_values
from matcher.events.setup import event_slots, event_tables, participants
from matcher.models import Organization, pk, utcnow
from matcher.notifications import notify_org


def build_problem(
    *, session: Session, matcher: Any, event: Event
) -> tuple[scheduling.Problem, dict[tuple[int, int], PairValue]]:
    people = participants(session=session, event_id=pk(event), active_only=True)
    demand = [p for p in people if p.group == "demand"]
    supply = [p for p in people if p.group == "supply"]
    values = side_values(
        session=session,
        matcher=matcher,
        demand=[participant_side(session=session, participant=p) for p in demand],
        supply=[participant_side(session=session, participant=p) for p in supply],
        theme_fields=event.theme_fields or None,
    )
    problem = scheduling.Problem(
        demand=[pk(p) for p in demand],
        supply=[pk(p) for p in supply],
        value={k: v.score for k, v in values.items()},
        slots=len(event_slots(session=session, event_id=pk(event))),
        tables=len(event_tables(session=session, event_id=pk(event))),
        cap={pk(p): (p.cap or event.meeting_cap) for p in people},
        unavailable={pk(p): set(p.unavailable) for p in people if p.unavailable},
    )
    group = {p.id: p.group for p in people}
    asked: dict[tuple[int, int], set[int]] = {}
    for req in session.exec(select(MeetingRequest).where(MeetingRequest.event_id == event.id)):
        if req.from_id not in group or req.to_id not in group:
            continue
        pair = (
            (req.from_id, req.to_id) if group[req.from_id] == "demand" else (req.to_id, req.from_id)
        )
        {"must": problem.must, "want": problem.want, "never": problem.never}[req.strength].add(pair)
        if req.strength in ("must", "want"):
            asked.setdefault(pair, set()).add(req.from_id)
    problem.must -= problem.never  # 不见 from either side wins
    # Below 相关 a pair meets only if both sides asked for it: an empty seat beats a wasted one.
    problem.related = {k for k, v in values.items() if v.related}
    problem.asked_by_both = {p for p, who in asked.items() if len(who) == 2} - problem.never
    problem.met_before = met_before(
        session=session, event=event, org_of={pk(p): p.organization_id for p in people}
    )
    return problem, values


def relevance_report(
    problem: scheduling.Problem,
    values: dict[tuple[int, int], PairValue],
    result: scheduling.Schedule,
) -> dict[str, Any]:
    """What the organizer sees of the schedule's relevance (see scheduling.relevance_summary)."""
    summary = scheduling.relevance_summary(
        problem, result, {pair: v.label for pair, v in values.items()}
    )
    summary["relevance"] = {relevance.LABELS[k]: n for k, n in summary["relevance"].items()}
    return summary


def met_before(*, session: Session, event: Event, org_of: dict[int, int]) -> set[tuple[int, int]]:
    """Pairs whose organizations already met (held) at an earlier event."""
    earlier = session.exec(
        select(Event.id).where(Event.id != event.id, col(Event.starts_on) < event.starts_on)
    ).all()
    if not earlier:
        return set()
    held = session.exec(
        select(Meeting).where(col(Meeting.event_id).in_(earlier), Meeting.status == "held")
    ).all()
    old_org = {
        p.id: p.organization_id
        for p in session.exec(select(Participant).where(col(Participant.event_id).in_(earlier)))
    }
    met = {(old_org.get(m.demand_id), old_org.get(m.supply_id)) for m in held}
    inverse = {org: pid for pid, org in org_of.items()}
    return {(inverse[d], inverse[s]) for d, s in met if d in inverse and s in inverse}


def generate_schedule(
    *, session: Session, viewer: Viewer, matcher: Any, event: Event
) -> scheduling.Schedule:
    require_organizer(viewer, event)
    _lock(event)
    if event.status in ("published", "closed"):
        raise Conflict("日程已发布：如需重排，请先撤回发布")
    problem, values = build_problem(session=session, matcher=matcher, event=event)
    if not problem.demand or not problem.supply:
        raise ValidationFailed("需求方和成果方都至少要有一家已报名的单位")
    result = scheduling.solve(problem)
    problems = scheduling.check(problem, result.meetings)
    problems += scheduling.unrequested_below_related(problem, result.meetings)
    if problems:  # never expected: the solver's output is checked independently
        raise RuntimeError("; ".join(problems[:5]))
    for old in session.exec(select(Meeting).where(Meeting.event_id == event.id)):
        session.delete(old)
    session.flush()
    tables = event_tables(session=session, event_id=pk(event))
    for m in result.meetings:
        value = values.get((m.demand, m.supply))
        session.add(
            Meeting(
                event_id=pk(event),
                demand_id=m.demand,
                supply_id=m.supply,
                slot=m.slot,
                table_id=tables[m.table].id,
                score=round(value.relevance if value else 0.0, 4),  # the figure shown (0–1)
                basis=value.basis if value else "organizer",
                need_id=value.need_id if value else None,
                technology_id=value.technology_id if value else None,
                must=m.must,
            )
        )
    event.status = "scheduled"
    event.schedule_report = {
        "solve_s": result.solve_s,
        "meetings": len(result.meetings),
        "value_ratio": round(result.value / result.upper_bound, 4) if result.upper_bound else 1.0,
        "must_scheduled": result.must_scheduled,
        "must_feasible": result.must_feasible,
        "unscheduled": [
            {"demand": u.demand, "supply": u.supply, "must": u.must, "reason": u.reason}
            for u in result.unscheduled
        ],
        **relevance_report(problem, values, result),
        "at": utcnow().isoformat(),
    }
    session.add(event)
    services.audit(
        session=session,
        action="event.schedule",
        actor_id=viewer.user_id,
        object_type="event",
        object_id=event.id,
        detail={"meetings": len(result.meetings)},
    )
    return result


def meetings_of(*, session: Session, event_id: int) -> list[Meeting]:
    return list(
        session.exec(
            select(Meeting)
            .where(Meeting.event_id == event_id, Meeting.status != "cancelled")
            .order_by(col(Meeting.slot), col(Meeting.table_id))
        )
    )


def _conflicts(session: Session, event: Event, candidate: Meeting, ignore: set[int]) -> str | None:
    """Why placing `candidate` would break the schedule, or None."""
    slots = event_slots(session=session, event_id=pk(event))
    if not 0 <= candidate.slot < len(slots):
        return "该轮次不存在"
    tables = {t.id for t in event_tables(session=session, event_id=pk(event))}
    if candidate.table_id not in tables:
        return "该桌位不存在"
    people = {pk(p): p for p in participants(session=session, event_id=pk(event))}
    for pid in (candidate.demand_id, candidate.supply_id):
        if pid not in people:
            return "参会方不存在"
        if candidate.slot in (people[pid].unavailable or []):
            return f"「{_org_name(session, people[pid])}」该轮次不可用"
    for other in meetings_of(session=session, event_id=pk(event)):
        if other.id in ignore or other.slot != candidate.slot:
            continue
        if other.table_id == candidate.table_id:
            return "该桌位在这一轮已有洽谈"
        for pid in (candidate.demand_id, candidate.supply_id):
            if pid in (other.demand_id, other.supply_id):
                return f"「{_org_name(session, people[pid])}」在这一轮已有洽谈"
    for other in meetings_of(session=session, event_id=pk(event)):
        if other.id not in ignore and (other.demand_id, other.supply_id) == (
            candidate.demand_id,
            candidate.supply_id,
        ):
            return "这两家单位已安排过洽谈"
    pair = {candidate.demand_id, candidate.supply_id}
    never = session.exec(
        select(MeetingRequest).where(
            MeetingRequest.event_id == event.id, MeetingRequest.strength == "never"
        )
    ).all()
    if any({r.from_id, r.to_id} == pair for r in never):
        return "一方标记了「不见」"
    return None


def _over_cap(session: Session, event: Event, people: list[Participant]) -> str | None:
    """A participant's cap (its own, or the event's) holds for meetings added by hand too;
    moves and swaps never change how many meetings anyone has."""
    counts: dict[int, int] = {}
    for meeting in meetings_of(session=session, event_id=pk(event)):
        for pid in (meeting.demand_id, meeting.supply_id):
            counts[pid] = counts.get(pid, 0) + 1
    for person in people:
        cap = person.cap or event.meeting_cap
        if counts.get(pk(person), 0) >= cap:
            return (
                f"「{_org_name(session, person)}」已有 {cap} 场洽谈，达到其上限"
                "（如需更多，请在参会方名单中提高其上限后重新导入）"
            )
    return None


def _org_name(session: Session, participant: Participant) -> str:
    org = session.get(Organization, participant.organization_id)
    return org.name if org else str(participant.id)


def _lock(event: Event) -> None:
    """Changes to one event's schedule are serialized: on PostgreSQL the event row is locked for
    the rest of the transaction (SQLite write transactions already begin IMMEDIATE), so two
    organizers moving meetings at once cannot both pass the conflict check into the same seat."""
    session = object_session(event)
    if session is not None and event.id is not None:
        session.refresh(event, with_for_update=True)  # and re-read its status under the lock


def _editable(event: Event) -> None:
    _lock(event)
    if event.status not in ("scheduled", "open"):
        raise Conflict("日程已发布或活动已结束：请先撤回发布再修改")


def move_meeting(
    *, session: Session, viewer: Viewer, event: Event, meeting_id: int, slot: int, table_id: int
) -> Meeting:
    require_organizer(viewer, event)
    _editable(event)
    meeting = _meeting(session, event, meeting_id)
    candidate = Meeting(
        event_id=pk(event),
        demand_id=meeting.demand_id,
        supply_id=meeting.supply_id,
        slot=slot,
        table_id=table_id,
    )
    problem = _conflicts(session, event, candidate, {pk(meeting)})
    if problem:
        raise Conflict(f"不能移动：{problem}")
    meeting.slot, meeting.table_id, meeting.updated_at = slot, table_id, utcnow()
    session.add(meeting)
    return meeting


def swap_meetings(
    *, session: Session, viewer: Viewer, event: Event, first_id: int, second_id: int
) -> None:
    require_organizer(viewer, event)
    _editable(event)
    a, b = _meeting(session, event, first_id), _meeting(session, event, second_id)
    moved_a = Meeting(
        event_id=pk(event),
        demand_id=a.demand_id,
        supply_id=a.supply_id,
        slot=b.slot,
        table_id=b.table_id,
    )
    moved_b = Meeting(
        event_id=pk(event),
        demand_id=b.demand_id,
        supply_id=b.supply_id,
        slot=a.slot,
        table_id=a.table_id,
    )
    ignore = {pk(a), pk(b)}
    for candidate, other in ((moved_a, moved_b), (moved_b, moved_a)):
        problem = _conflicts(session, event, candidate, ignore)
        if (
            problem is None
            and candidate.slot == other.slot
            and ({candidate.demand_id, candidate.supply_id} & {other.demand_id, other.supply_id})
        ):
            problem = "交换后同一单位在同一轮有两场洽谈"
        if problem:
            raise Conflict(f"不能交换：{problem}")
    a.slot, a.table_id, b.slot, b.table_id = (
        moved_a.slot,
        moved_a.table_id,
        moved_b.slot,
        moved_b.table_id,
    )
    session.add(a)
    session.add(b)


def add_meeting(
    *,
    session: Session,
    viewer: Viewer,
    event: Event,
    demand_id: int,
    supply_id: int,
    slot: int,
    table_id: int,
) -> Meeting:
    require_organizer(viewer, event)
    _editable(event)
    people = {pk(p): p for p in participants(session=session, event_id=pk(event))}
    if (
        people.get(demand_id) is None
        or people[demand_id].group != "demand"
        or people.get(supply_id) is None
        or people[supply_id].group != "supply"
    ):
        raise ValidationFailed("请选择一家需求方和一家成果方")
    meeting = Meeting(
        event_id=pk(event),
        demand_id=demand_id,
        supply_id=supply_id,
        slot=slot,
        table_id=table_id,
        basis="organizer",
    )
    problem = _over_cap(session, event, [people[demand_id], people[supply_id]]) or _conflicts(
        session, event, meeting, set()
    )
    if problem:
        raise Conflict(f"不能添加：{problem}")
    session.add(meeting)
    session.flush()
    return meeting


def remove_meeting(*, session: Session, viewer: Viewer, event: Event, meeting_id: int) -> None:
    require_organizer(viewer, event)
    _editable(event)
    session.delete(_meeting(session, event, meeting_id))


def _meeting(session: Session, event: Event, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.event_id != event.id:
        raise NotFound("洽谈不存在")
    return meeting


def publish(*, session: Session, viewer: Viewer, event: Event) -> None:
    require_organizer(viewer, event)
    if event.status != "scheduled":
        raise Conflict("请先生成日程")
    _set_status(session, event, meetings="published", event_status="published")
    for p in participants(session=session, event_id=pk(event), active_only=True):
        notify_org(
            session,
            p.organization_id,
            "event.agenda",
            f"「{event.name}」的洽谈日程已发布",
            f"/events/{event.id}/agenda/{p.id}",
        )
    services.audit(
        session=session,
        action="event.publish",
        actor_id=viewer.user_id,
        object_type="event",
        object_id=event.id,
    )


def unpublish(*, session: Session, viewer: Viewer, event: Event) -> None:
    require_organizer(viewer, event)
    if event.status != "published":
        raise Conflict("日程未发布")
    _set_status(session, event, meetings="draft", event_status="scheduled")


def _set_status(session: Session, event: Event, *, meetings: str, event_status: str) -> None:
    """Publishing and withdrawing move every live meeting and the event together."""
    for meeting in meetings_of(session=session, event_id=pk(event)):
        meeting.status = meetings
        session.add(meeting)
    event.status = event_status
    session.add(event)
