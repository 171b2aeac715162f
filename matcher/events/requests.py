"""Who should meet whom: match values between the two sides of an event, and each
participant's meeting requests (必须见 / 希望见 / 不见) and rounds it cannot attend."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from matcher import relevance
from matcher.access import Viewer
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.events.access import my_participant
from matcher.events.models import Event, MeetingRequest, Participant
from matcher.events.reasons import Reasons
from matcher.events.setup import event_slots
from matcher.models import Need, Organization, Technology, pk
from matcher.text import need_text

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
    *,
    session: Session,
    matcher: Any,
    demand: list[Side],
    supply: list[Side],
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


def organization_sides(*, session: Session, org_ids: list[int], group: str) -> list[Side]:
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
    *,
    session: Session,
    matcher: Any,
    demand_orgs: list[int],
    supply_orgs: list[int],
    theme_fields: list[str] | None = None,
) -> dict[tuple[int, int], PairValue]:
    return side_values(
        session=session,
        matcher=matcher,
        demand=organization_sides(session=session, org_ids=demand_orgs, group="demand"),
        supply=organization_sides(session=session, org_ids=supply_orgs, group="supply"),
        theme_fields=theme_fields,
    )


def participant_side(*, session: Session, participant: Participant) -> Side:
    """A participant brings the listings it registered with, or else all its organization's."""
    if participant.group == "demand":
        ids = tuple(participant.need_ids) or _organization_side(session, participant).need_ids
        return Side(pk(participant), need_ids=ids, organization_id=participant.organization_id)
    ids = (
        tuple(participant.technology_ids) or _organization_side(session, participant).technology_ids
    )
    return Side(pk(participant), technology_ids=ids, organization_id=participant.organization_id)


def _organization_side(session: Session, participant: Participant) -> Side:
    return organization_sides(
        session=session, org_ids=[participant.organization_id], group=participant.group
    )[0]


def set_request(
    *, session: Session, viewer: Viewer, event: Event, to_participant_id: int, strength: str
) -> MeetingRequest | None:
    me = my_participant(session=session, viewer=viewer, event=event)
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
    *, session: Session, viewer: Viewer, event: Event, slots: list[int]
) -> Participant:
    me = my_participant(session=session, viewer=viewer, event=event)
    if me is None:
        raise Forbidden("报名参会后才能设置不可用时段")
    valid = {s.index for s in event_slots(session=session, event_id=pk(event))}
    me.unavailable = sorted({s for s in slots if s in valid})
    session.add(me)
    return me


def recommendations(
    *, session: Session, matcher: Any, reasons: Reasons, me: Participant, people: list[Participant]
) -> list[tuple[PairValue | None, str, Participant]]:
    """The other side's active participants, best match first, each with its reason as the
    viewer of `reasons` may read it (none for a pair without a match)."""
    others = [p for p in people if p.group != me.group and p.status in ("registered", "checked_in")]
    sides = [participant_side(session=session, participant=p) for p in others]
    mine = participant_side(session=session, participant=me)
    if me.group == "demand":
        values = side_values(session=session, matcher=matcher, demand=[mine], supply=sides)
        scored = [(values.get((pk(me), pk(p))), p) for p in others]
    else:
        values = side_values(session=session, matcher=matcher, demand=sides, supply=[mine])
        scored = [(values.get((pk(p), pk(me))), p) for p in others]
    reasons.load(v for v, _ in scored if v)
    return sorted(
        ((v, reasons.of(v) if v else "", p) for v, p in scored),
        key=lambda vrp: -(vrp[0].score if vrp[0] else 0),
    )


def requests_from(*, session: Session, event: Event, me: Participant) -> dict[int, str]:
    """The participant's own requests: whom (participant id) → how strongly."""
    return {
        r.to_id: r.strength
        for r in session.exec(
            select(MeetingRequest).where(
                MeetingRequest.event_id == event.id, MeetingRequest.from_id == pk(me)
            )
        )
    }
