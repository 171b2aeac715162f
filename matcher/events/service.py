"""Events: setup, who to invite, registration, requests, the schedule and its edits, outcomes."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from matcher import relevance, services
from matcher.access import Viewer
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.events import scheduling
from matcher.events.access import get_event, my_participant, require_organizer
from matcher.events.models import (
    Event,
    EventSession,
    EventTable,
    FollowUp,
    Meeting,
    MeetingRequest,
    Participant,
)
from matcher.events.reasons import Reasons
from matcher.models import Need, Organization, Technology, pk, utcnow
from matcher.notifications import notify_org, notify_org_rendered
from matcher.text import need_text

__all__ = ["get_event", "my_participant", "require_organizer"]  # re-exported for callers

FOLLOW_UP_MONTHS = (1, 3, 6)


# --------------------------------------------------------------------------------------------
# slots
# --------------------------------------------------------------------------------------------


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


def slots_of(sessions: list[EventSession]) -> list[Slot]:
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


def event_slots(session: Session, event_id: int) -> list[Slot]:
    return slots_of(
        list(session.exec(select(EventSession).where(EventSession.event_id == event_id)))
    )


def event_tables(session: Session, event_id: int) -> list[EventTable]:
    return list(
        session.exec(
            select(EventTable)
            .where(EventTable.event_id == event_id)
            .order_by(col(EventTable.position))
        )
    )


# --------------------------------------------------------------------------------------------
# setup
# --------------------------------------------------------------------------------------------


def create_event(
    session: Session,
    viewer: Viewer,
    *,
    name: str,
    starts_on: dt.date,
    ends_on: dt.date,
    venue: str = "",
    online: bool = False,
    theme_fields: list[str] | None = None,
    description: str = "",
    meeting_cap: int = 6,
    registration_deadline: dt.date | None = None,
    sessions: list[dict[str, Any]],
    tables: int = 10,
    table_prefix: str = "",
) -> Event:
    require_organizer(viewer)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("请填写活动名称")
    if ends_on < starts_on:
        raise ValidationFailed("结束日期不能早于开始日期")
    if not 1 <= meeting_cap <= 50:
        raise ValidationFailed("每位参会方的洽谈上限应在 1–50 之间")
    if not 1 <= tables <= 500:
        raise ValidationFailed("桌位（或线上会议室）数量应在 1–500 之间")
    if not sessions:
        raise ValidationFailed("至少需要一个洽谈时段")
    event = Event(
        name=name[:200],
        organizer_id=viewer.organization_id,
        created_by=viewer.user_id,
        starts_on=starts_on,
        ends_on=ends_on,
        venue=venue.strip()[:200],
        online=online,
        theme_fields=list(theme_fields or []),
        description=description.strip(),
        meeting_cap=meeting_cap,
        registration_deadline=registration_deadline,
        status="open",
    )
    session.add(event)
    session.flush()
    for spec in sessions:
        start, end = spec["start"], spec["end"]
        if end <= start:
            raise ValidationFailed("时段的结束时间应晚于开始时间")
        if not 5 <= int(spec.get("slot_minutes", 20)) <= 120:
            raise ValidationFailed("每轮洽谈时长应在 5–120 分钟之间")
        if not starts_on <= spec["day"] <= ends_on:
            raise ValidationFailed("时段的日期应在活动日期范围内")
        session.add(
            EventSession(
                event_id=pk(event),
                day=spec["day"],
                start=start,
                end=end,
                slot_minutes=int(spec.get("slot_minutes", 20)),
                breaks=spec.get("breaks", []),
                name=spec.get("name", ""),
            )
        )
    prefix = table_prefix or ("线上会议室" if online else "桌")
    for i in range(tables):
        session.add(EventTable(event_id=pk(event), name=f"{prefix}{i + 1:02d}", position=i))
    session.flush()
    if not event_slots(session, pk(event)):
        raise ValidationFailed("按当前设置没有完整的洽谈轮次：请检查时段和休息时间")
    services.audit(
        session=session,
        action="event.create",
        actor_id=viewer.user_id,
        object_type="event",
        object_id=event.id,
    )
    return event


# --------------------------------------------------------------------------------------------
# match values between organizations
# --------------------------------------------------------------------------------------------


@dataclass
class PairValue:
    """How well two sides match, and on which need and result (ids; see `reasons`)."""

    score: float  # what the schedule maximizes: the relevance, raised for the event's theme
    basis: str  # match (a need ↔ a result) / industry (the enterprise's industry ↔ a result)
    need_id: int | None
    technology_id: int | None
    relevance: float = 0.0  # calibrated (matcher.relevance), as on every other page
    label: str = "weak"  # high / related / weak

    @property
    def related(self) -> bool:
        """相关 or better: may be scheduled, suggested or pushed without being asked for."""
        return relevance.at_least(self.label)

    @property
    def relevance_text(self) -> str:
        return f"{relevance.LABELS[self.label]} · 相关度 {round(100 * self.relevance)}"


@dataclass(frozen=True)
class Side:
    """What one side brings to the table: its needs or its results (ids), under a key."""

    key: int
    need_ids: tuple[int, ...] = ()
    technology_ids: tuple[int, ...] = ()
    organization_id: int | None = None


def side_values(
    session: Session,
    matcher: Any,
    demand: list[Side],
    supply: list[Side],
    *,
    theme_fields: list[str] | None = None,
) -> dict[tuple[int, int], PairValue]:
    """How well each demand side's needs match each supply side's results: the calibrated
    relevance of the best need → result pair (the same figure search and recommendations
    show), with that pair named as the reason."""
    owner_of_tech: dict[int, list[int]] = defaultdict(list)
    for side in supply:
        for tech_id in side.technology_ids:
            owner_of_tech[tech_id].append(side.key)
    values: dict[tuple[int, int], PairValue] = {}
    needs = {
        pk(n): n
        for n in session.exec(
            select(Need).where(col(Need.id).in_({i for d in demand for i in d.need_ids} or {-1}))
        )
    }
    for side in demand:
        probes: list[tuple[str, int | None]] = [
            (need_text(needs[i]), i) for i in side.need_ids if i in needs
        ]
        if not probes and side.organization_id is not None:
            org = session.get(Organization, side.organization_id)
            if org is not None:
                probes = [(f"{org.industry or ''} {org.description}", None)]
        for text, need_id in probes:
            fused, _tokens = matcher.candidates("technologies", text)
            meta = matcher.candidate_meta(session, "technologies", [s.id for s in fused])
            for item in fused:
                row = meta.get(item.id)
                if row is None or row.status != "published" or item.id not in owner_of_tech:
                    continue
                score = item.relevance * (
                    1.1 if theme_fields and row.field in theme_fields else 1.0
                )
                for supply_key in owner_of_tech[item.id]:
                    key = (side.key, supply_key)
                    if key not in values or values[key].score < score:
                        basis = "match" if need_id is not None else "industry"
                        values[key] = PairValue(
                            round(score, 4), basis, need_id, item.id,
                            relevance=round(item.relevance, 4), label=item.label,
                        )  # fmt: skip
    return values


def organization_sides(session: Session, org_ids: list[int], group: str) -> list[Side]:
    """Each organization with all its published needs (demand) or results (supply)."""
    out = []
    for org_id in org_ids:
        if group == "demand":
            ids = tuple(
                i
                for i in session.exec(
                    select(Need.id).where(
                        Need.owner_id == org_id, Need.status == "published", Need.kind == "tech"
                    )
                ).all()
                if i
            )
            out.append(Side(org_id, need_ids=ids, organization_id=org_id))
        else:
            ids = tuple(
                i
                for i in session.exec(
                    select(Technology.id).where(
                        Technology.owner_id == org_id, Technology.status == "published"
                    )
                ).all()
                if i
            )
            out.append(Side(org_id, technology_ids=ids, organization_id=org_id))
    return out


def organization_values(
    session: Session,
    matcher: Any,
    demand_orgs: list[int],
    supply_orgs: list[int],
    *,
    theme_fields: list[str] | None = None,
) -> dict[tuple[int, int], PairValue]:
    return side_values(
        session, matcher, organization_sides(session, demand_orgs, "demand"), organization_sides(session, supply_orgs, "supply"),
        theme_fields=theme_fields,
    )  # fmt: skip


def participant_side(session: Session, participant: Participant) -> Side:
    """A participant brings the listings it registered with, or else all its organization's."""
    if participant.group == "demand":
        ids = (
            tuple(participant.need_ids)
            or organization_sides(session, [participant.organization_id], "demand")[0].need_ids
        )
        return Side(pk(participant), need_ids=ids, organization_id=participant.organization_id)
    ids = (
        tuple(participant.technology_ids)
        or organization_sides(session, [participant.organization_id], "supply")[0].technology_ids
    )
    return Side(pk(participant), technology_ids=ids, organization_id=participant.organization_id)


# --------------------------------------------------------------------------------------------
# who to invite: a coverage planner
# --------------------------------------------------------------------------------------------


@dataclass
class InviteSuggestion:
    organization: Organization
    group: str
    gain: float
    pairs: int  # strong pairs it would form with those already chosen
    partner: Organization  # the other side of its best pair
    best: PairValue  # its best pair (ids; rendered per viewer)


def plan_invitations(
    session: Session,
    matcher: Any,
    event: Event,
    *,
    demand_slots: int = 40,
    supply_slots: int = 60,
) -> list[InviteSuggestion]:
    """Greedy coverage: repeatedly add the organization that adds the most value of relevant
    pairs with those already chosen (pairs below 相关 count for nothing), so the event
    ends up with many strong pairs rather than a few stars. Participants already in the event
    count as chosen."""
    current = {
        p.organization_id: p.group
        for p in session.exec(select(Participant).where(Participant.event_id == event.id))
    }
    fields = event.theme_fields or None
    tech_owner_stmt = select(Technology.owner_id).where(Technology.status == "published")
    need_owner_stmt = select(Need.owner_id).where(Need.status == "published", Need.kind == "tech")
    if fields:
        tech_owner_stmt = tech_owner_stmt.where(col(Technology.field).in_(fields))
        need_owner_stmt = need_owner_stmt.where(
            or_(col(Need.field).in_(fields), col(Need.field).is_(None))
        )
    supply_orgs = sorted(set(session.exec(tech_owner_stmt).all()))
    demand_orgs = sorted(set(session.exec(need_owner_stmt).all()))
    orgs = {
        o.id: o
        for o in session.exec(
            select(Organization).where(col(Organization.id).in_(supply_orgs + demand_orgs))
        )
    }
    supply_orgs = [
        o
        for o in supply_orgs
        if orgs.get(o)
        and orgs[o].kind in ("university", "institute")
        and orgs[o].status == "active"
    ]
    demand_orgs = [
        o
        for o in demand_orgs
        if orgs.get(o) and orgs[o].kind == "enterprise" and orgs[o].status == "active"
    ]
    values = organization_values(session, matcher, demand_orgs, supply_orgs, theme_fields=fields)
    strong = {k: v for k, v in values.items() if v.related}
    chosen_d = {o for o, g in current.items() if g == "demand"}
    chosen_s = {o for o, g in current.items() if g == "supply"}
    suggestions: list[InviteSuggestion] = []
    pool_d = [o for o in demand_orgs if o not in current]
    pool_s = [o for o in supply_orgs if o not in current]

    def gain(org: int, group: str) -> tuple[float, list[tuple[int, int]]]:
        if group == "demand":
            pairs = [(org, s) for s in chosen_s if (org, s) in strong]
            if not chosen_s:
                pairs = [(org, s) for s in pool_s if (org, s) in strong][:3]
        else:
            pairs = [(d, org) for d in chosen_d if (d, org) in strong]
            if not chosen_d:
                pairs = [(d, org) for d in pool_d if (d, org) in strong][:3]
        return sum(strong[p].score for p in pairs), pairs

    while (len(chosen_d) < demand_slots and pool_d) or (len(chosen_s) < supply_slots and pool_s):
        best: tuple[float, int, str, list[tuple[int, int]]] | None = None
        for group, pool, chosen, cap in (
            ("demand", pool_d, chosen_d, demand_slots),
            ("supply", pool_s, chosen_s, supply_slots),
        ):
            if len(chosen) >= cap:
                continue
            for org in pool:
                g, pairs = gain(org, group)
                if g > 0 and (best is None or g > best[0]):
                    best = (g, org, group, pairs)
        if best is None:
            break
        g, org, group, pairs = best
        (chosen_d if group == "demand" else chosen_s).add(org)
        (pool_d if group == "demand" else pool_s).remove(org)
        top = max(pairs, key=lambda p: strong[p].score)
        other = orgs[top[1] if group == "demand" else top[0]]
        suggestions.append(
            InviteSuggestion(orgs[org], group, round(g, 3), len(pairs), other, strong[top])
        )
    return suggestions


def suggestion_reason(reasons: Reasons, suggestion: InviteSuggestion) -> str:
    """The planner's reason, as the viewer of `reasons` may read it."""
    return (
        f"可与 {suggestion.pairs} 家单位形成相关洽谈；最佳：与「{suggestion.partner.name}」—— "
        + reasons.of(suggestion.best)
    )


def invite(
    session: Session,
    viewer: Viewer,
    event: Event,
    organization_id: int,
    group: str,
    note: str = "",
    *,
    need_id: int | None = None,
    technology_id: int | None = None,
) -> Participant:
    """Invite an organization. `note` is the organizer's own message; the planner's pairing
    (`need_id`, `technology_id`) is kept as ids and told to each invitee's user in words that
    user may read."""
    require_organizer(viewer, event)
    if group not in ("demand", "supply"):
        raise ValidationFailed("分组应为需求方或成果方")
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFound("单位不存在")
    if org.status != "active":
        raise Conflict("该单位已被暂停使用，不能邀请")
    existing = session.exec(
        select(Participant).where(
            Participant.event_id == event.id, Participant.organization_id == organization_id
        )
    ).first()
    if existing is not None:
        return existing
    participant = Participant(
        event_id=pk(event),
        organization_id=organization_id,
        group=group,
        invite_reason=note.strip()[:1000],
        invite_need_id=need_id if need_id and session.get(Need, need_id) else None,
        invite_technology_id=technology_id
        if technology_id and session.get(Technology, technology_id)
        else None,
    )
    session.add(participant)
    session.flush()

    def text(member: Viewer) -> str:
        return f"诚邀贵单位参加「{event.name}」：" + invitation_reason(session, member, participant)

    notify_org_rendered(session, organization_id, "event.invite", text, f"/events/{event.id}/me")
    return participant


def invitation_reason(session: Session, viewer: Viewer, participant: Participant) -> str:
    """Why the organizer invited this participant, in words the viewer may read."""
    bits = []
    if participant.invite_need_id or participant.invite_technology_id:
        bits.append("平台匹配：" + Reasons(session, viewer).of(participant))
    if participant.invite_reason:
        bits.append(participant.invite_reason)
    return "；".join(bits) or "期待您的参与"


def register(session: Session, viewer: Viewer, event: Event, *, accept: bool = True) -> Participant:
    """The invited organization answers (or, while registration is open, signs up itself)."""
    if viewer.organization_id is None:
        raise Forbidden("请以单位用户身份登录")
    participant = my_participant(session, viewer, event)
    if participant is None:
        if event.status != "open" or (
            event.registration_deadline and event.registration_deadline < dt.date.today()
        ):
            raise Conflict("报名已截止")
        org = session.get(Organization, viewer.organization_id)
        group = "supply" if org and org.kind in ("university", "institute") else "demand"
        participant = Participant(
            event_id=pk(event), organization_id=viewer.organization_id, group=group
        )
    participant.status = "registered" if accept else "declined"
    participant.registered_at = utcnow() if accept else None
    if accept and not participant.technology_ids and not participant.need_ids:
        if participant.group == "supply":
            participant.technology_ids = [
                i
                for i in session.exec(
                    select(Technology.id).where(
                        Technology.owner_id == viewer.organization_id,
                        Technology.status == "published",
                    )
                ).all()
                if i
            ]
        else:
            participant.need_ids = [
                i
                for i in session.exec(
                    select(Need.id).where(
                        Need.owner_id == viewer.organization_id, Need.status == "published"
                    )
                ).all()
                if i
            ]
    session.add(participant)
    session.flush()
    return participant


def participants(
    session: Session, event_id: int, *, active_only: bool = False
) -> list[Participant]:
    stmt = select(Participant).where(Participant.event_id == event_id)
    if active_only:
        stmt = stmt.where(col(Participant.status).in_(("registered", "checked_in")))
    return list(session.exec(stmt.order_by(col(Participant.group), col(Participant.id))))


def set_request(
    session: Session, viewer: Viewer, event: Event, to_participant_id: int, strength: str
) -> MeetingRequest | None:
    me = my_participant(session, viewer, event)
    if me is None or me.status not in ("registered", "checked_in"):
        raise Forbidden("报名参会后才能提出洽谈意愿")
    if event.status in ("published", "closed"):
        raise Conflict("日程已发布，不能再修改洽谈意愿")
    other = session.get(Participant, to_participant_id)
    if other is None or other.event_id != event.id or other.group == me.group:
        raise NotFound("参会方不存在")
    row = session.exec(
        select(MeetingRequest).where(
            MeetingRequest.event_id == event.id,
            MeetingRequest.from_id == me.id,
            MeetingRequest.to_id == other.id,
        )
    ).first()
    if strength == "none":
        if row is not None:
            session.delete(row)
        return None
    if strength not in ("must", "want", "never"):
        raise ValidationFailed("意愿应为必须见、希望见或不见")
    if strength == "must":
        musts = session.exec(
            select(MeetingRequest).where(
                MeetingRequest.event_id == event.id,
                MeetingRequest.from_id == me.id,
                MeetingRequest.strength == "must",
            )
        ).all()
        cap = me.cap or event.meeting_cap
        if row not in musts and len(musts) >= cap:
            raise Conflict(f"「必须见」最多 {cap} 个（等于您的洽谈上限）")
    if row is None:
        row = MeetingRequest(event_id=pk(event), from_id=pk(me), to_id=pk(other), strength=strength)
    row.strength = strength
    session.add(row)
    session.flush()
    return row


def set_unavailable(
    session: Session, viewer: Viewer, event: Event, slots: list[int]
) -> Participant:
    me = my_participant(session, viewer, event)
    if me is None:
        raise Forbidden("报名参会后才能设置不可用时段")
    valid = {s.index for s in event_slots(session, pk(event))}
    me.unavailable = sorted({s for s in slots if s in valid})
    session.add(me)
    return me


# --------------------------------------------------------------------------------------------
# the schedule
# --------------------------------------------------------------------------------------------


def build_problem(
    session: Session, matcher: Any, event: Event
) -> tuple[scheduling.Problem, dict[tuple[int, int], PairValue]]:
    people = participants(session, pk(event), active_only=True)
    demand = [p for p in people if p.group == "demand"]
    supply = [p for p in people if p.group == "supply"]
    values = side_values(
        session,
        matcher,
        [participant_side(session, p) for p in demand],
        [participant_side(session, p) for p in supply],
        theme_fields=event.theme_fields or None,
    )
    problem = scheduling.Problem(
        demand=[pk(p) for p in demand],
        supply=[pk(p) for p in supply],
        value={k: v.score for k, v in values.items()},
        slots=len(event_slots(session, pk(event))),
        tables=len(event_tables(session, pk(event))),
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
    problem.met_before = met_before(session, event, {pk(p): p.organization_id for p in people})
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


def met_before(session: Session, event: Event, org_of: dict[int, int]) -> set[tuple[int, int]]:
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
    session: Session, viewer: Viewer, matcher: Any, event: Event
) -> scheduling.Schedule:
    require_organizer(viewer, event)
    _lock(event)
    if event.status in ("published", "closed"):
        raise Conflict("日程已发布：如需重排，请先撤回发布")
    problem, values = build_problem(session, matcher, event)
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
    tables = event_tables(session, pk(event))
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


def meetings_of(session: Session, event_id: int) -> list[Meeting]:
    return list(
        session.exec(
            select(Meeting)
            .where(Meeting.event_id == event_id, Meeting.status != "cancelled")
            .order_by(col(Meeting.slot), col(Meeting.table_id))
        )
    )


def _conflicts(session: Session, event: Event, candidate: Meeting, ignore: set[int]) -> str | None:
    """Why placing `candidate` would break the schedule, or None."""
    slots = event_slots(session, pk(event))
    if not 0 <= candidate.slot < len(slots):
        return "该轮次不存在"
    tables = {t.id for t in event_tables(session, pk(event))}
    if candidate.table_id not in tables:
        return "该桌位不存在"
    people = {pk(p): p for p in participants(session, pk(event))}
    for pid in (candidate.demand_id, candidate.supply_id):
        if pid not in people:
            return "参会方不存在"
        if candidate.slot in (people[pid].unavailable or []):
            return f"「{_org_name(session, people[pid])}」该轮次不可用"
    for other in meetings_of(session, pk(event)):
        if other.id in ignore or other.slot != candidate.slot:
            continue
        if other.table_id == candidate.table_id:
            return "该桌位在这一轮已有洽谈"
        for pid in (candidate.demand_id, candidate.supply_id):
            if pid in (other.demand_id, other.supply_id):
                return f"「{_org_name(session, people[pid])}」在这一轮已有洽谈"
    for other in meetings_of(session, pk(event)):
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
    for meeting in meetings_of(session, pk(event)):
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
    session: Session, viewer: Viewer, event: Event, meeting_id: int, slot: int, table_id: int
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
    session: Session, viewer: Viewer, event: Event, first_id: int, second_id: int
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
    people = {pk(p): p for p in participants(session, pk(event))}
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


def remove_meeting(session: Session, viewer: Viewer, event: Event, meeting_id: int) -> None:
    require_organizer(viewer, event)
    _editable(event)
    session.delete(_meeting(session, event, meeting_id))


def _meeting(session: Session, event: Event, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.event_id != event.id:
        raise NotFound("洽谈不存在")
    return meeting


def publish(session: Session, viewer: Viewer, event: Event) -> None:
    require_organizer(viewer, event)
    if event.status != "scheduled":
        raise Conflict("请先生成日程")
    for meeting in meetings_of(session, pk(event)):
        meeting.status = "published"
        session.add(meeting)
    event.status = "published"
    session.add(event)
    for p in participants(session, pk(event), active_only=True):
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


def unpublish(session: Session, viewer: Viewer, event: Event) -> None:
    require_organizer(viewer, event)
    if event.status != "published":
        raise Conflict("日程未发布")
    for meeting in meetings_of(session, pk(event)):
        meeting.status = "draft"
        session.add(meeting)
    event.status = "scheduled"
    session.add(event)


# --------------------------------------------------------------------------------------------
# during and after
# --------------------------------------------------------------------------------------------


def check_in(session: Session, viewer: Viewer, event: Event, participant_id: int) -> Participant:
    require_organizer(viewer, event)
    participant = session.get(Participant, participant_id)
    if participant is None or participant.event_id != event.id:
        raise NotFound("参会方不存在")
    participant.status = "checked_in"
    participant.checked_in_at = utcnow()
    session.add(participant)
    return participant


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    import calendar

    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def send_due_follow_ups(session: Session, today: dt.date | None = None) -> int:
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
