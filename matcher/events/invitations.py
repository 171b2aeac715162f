"""Who to invite (a coverage planner), sending invitations one by one, ticked in a batch or
imported from a spreadsheet, and an organization's answer (register or decline)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from matcher.access import Viewer
from matcher.catalog.reader import Table
from matcher.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from matcher.events.access import my_participant, require_organizer
from matcher.events.models import Event, Participant
from matcher.events.reasons import Reasons
from matcher.events.requests import PairValue, organization_values
from matcher.models import Need, Organization, Technology, pk, utcnow
from matcher.notifications import notify_org_rendered


@dataclass
class InviteSuggestion:
    organization: Organization
    group: str
    gain: float
    pairs: int  # strong pairs it would form with those already chosen
    partner: Organization  # the other side of its best pair
    best: PairValue  # its best pair (ids; rendered per viewer)


def plan_invitations(
    *,
    session: Session,
    matcher: Any,
    event: Event,
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
    orgs, demand_orgs, supply_orgs = _candidates(session, fields)
    values = organization_values(
        session=session,
        matcher=matcher,
        demand_orgs=demand_orgs,
        supply_orgs=supply_orgs,
        theme_fields=fields,
    )
    cover = _Cover(
        strong={k: v for k, v in values.items() if v.related},
        chosen_d={o for o, g in current.items() if g == "demand"},
        chosen_s={o for o, g in current.items() if g == "supply"},
        pool_d=[o for o in demand_orgs if o not in current],
        pool_s=[o for o in supply_orgs if o not in current],
    )
    return [
        InviteSuggestion(orgs[org], group, round(g, 3), len(pairs), orgs[partner], best)
        for g, org, group, pairs, partner, best in cover.run(demand_slots, supply_slots)
    ]


def _candidates(
    session: Session, fields: list[str] | None
) -> tuple[dict[int | None, Organization], list[int], list[int]]:
    """Active enterprises with published tech needs and active universities and institutes with
    published results, in the event's fields when it has a theme."""
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
    return orgs, demand_orgs, supply_orgs


Pair = tuple[int, int]


@dataclass
class _Cover:
    """The planner's state: relevant pairs, who is chosen on each side and who is left."""

    strong: dict[Pair, PairValue]
    chosen_d: set[int]
    chosen_s: set[int]
    pool_d: list[int]
    pool_s: list[int]

    def gain(self, org: int, group: str) -> tuple[float, list[Pair]]:
        """What adding `org` adds: its relevant pairs with those chosen (with nobody chosen yet
        on the other side, its three first relevant pairs with those left)."""
        strong = self.strong
        if group == "demand":
            pairs = [(org, s) for s in self.chosen_s if (org, s) in strong]
            if not self.chosen_s:
                pairs = [(org, s) for s in self.pool_s if (org, s) in strong][:3]
        else:
            pairs = [(d, org) for d in self.chosen_d if (d, org) in strong]
            if not self.chosen_d:
                pairs = [(d, org) for d in self.pool_d if (d, org) in strong][:3]
        return sum(strong[p].score for p in pairs), pairs

    def run(
        self, demand_slots: int, supply_slots: int
    ) -> list[tuple[float, int, str, list[Pair], int, PairValue]]:
        """Each pick in order: (gain, organization, group, pairs, best partner, best pair)."""
        picks = []
        while (len(self.chosen_d) < demand_slots and self.pool_d) or (
            len(self.chosen_s) < supply_slots and self.pool_s
        ):
            best: tuple[float, int, str, list[Pair]] | None = None
            for group, pool, chosen, cap in (
                ("demand", self.pool_d, self.chosen_d, demand_slots),
                ("supply", self.pool_s, self.chosen_s, supply_slots),
            ):
                if len(chosen) >= cap:
                    continue
                for org in pool:
                    g, pairs = self.gain(org, group)
                    if g > 0 and (best is None or g > best[0]):
                        best = (g, org, group, pairs)
            if best is None:
                break
            g, org, group, pairs = best
            (self.chosen_d if group == "demand" else self.chosen_s).add(org)
            (self.pool_d if group == "demand" else self.pool_s).remove(org)
            top = max(pairs, key=lambda p: self.strong[p].score)
            partner = top[1] if group == "demand" else top[0]
            picks.append((g, org, group, pairs, partner, self.strong[top]))
        return picks


def suggestion_reason(reasons: Reasons, suggestion: InviteSuggestion) -> str:
    """The planner's reason, as the viewer of `reasons` may read it."""
    return (
        f"可与 {suggestion.pairs} 家单位形成相关洽谈；最佳：与「{suggestion.partner.name}」—— "
        + reasons.of(suggestion.best)
    )


def invite(
    *,
    session: Session,
    viewer: Viewer,
    event: Event,
    organization_id: int,
    group: str,
    note: str = "",
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
        reason = invitation_reason(session=session, viewer=member, participant=participant)
        return f"诚邀贵单位参加「{event.name}」：" + reason

    notify_org_rendered(session, organization_id, "event.invite", text, f"/events/{event.id}/me")
    return participant


def invite_batch(
    *, session: Session, viewer: Viewer, event: Event, picks: list[str]
) -> tuple[int, list[str]]:
    """Invite every ticked suggestion ("organization:group:need:result"); one that cannot be
    invited is named, the rest go. Returns how many were invited and why the others were not."""
    invited, refused = 0, []
    for pick in picks:
        org, group, need, tech = [*pick.split(":"), "", "", ""][:4]
        if not org.isdigit():
            continue
        try:
            with session.begin_nested():
                invite(
                    session=session, viewer=viewer, event=event, organization_id=int(org),
                    group=group, need_id=int(need) if need.isdigit() else None,
                    technology_id=int(tech) if tech.isdigit() else None,
                )  # fmt: skip
            invited += 1
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            refused.append(exc.message)
    return invited, refused


GROUP_NAMES = {"需求方": "demand", "成果方": "supply", "demand": "demand", "supply": "supply"}
ImportRow = tuple[int, str, str, int | None]  # organization, group, team, cap


def import_participants(
    *, session: Session, viewer: Viewer, event: Event, table: Table
) -> tuple[int, list[str]]:
    """Registrations from a spreadsheet: 单位名称, 分组 (需求方/成果方), 团队, 洽谈上限 — all or
    nothing. Returns how many rows were registered, or the problems (and nothing registered)."""
    require_organizer(viewer, event)
    rows, problems = _import_rows(session, table)
    if problems:
        return 0, problems
    for org_id, group, team, cap in rows:
        participant = session.exec(
            select(Participant).where(
                Participant.event_id == event.id,
                Participant.organization_id == org_id,
                Participant.team == team,
            )
        ).first() or Participant(event_id=pk(event), organization_id=org_id, group=group, team=team)
        participant.group, participant.cap, participant.status = group, cap, "registered"
        participant.registered_at = participant.registered_at or dt.datetime.now(dt.UTC)
        session.add(participant)
    return len(rows), []


def _import_rows(session: Session, table: Table) -> tuple[list[ImportRow], list[str]]:
    headers = [h.strip() for h in table.headers]
    missing = [h for h in ("单位名称", "分组") if h not in headers]
    problems = [f"缺少必填列「{h}」" for h in missing] + [str(p) for p in table.problems]
    rows: list[ImportRow] = []
    if missing:
        return rows, problems
    at = {h: headers.index(h) for h in headers}
    for number, cells in table.rows:
        name = cells[at["单位名称"]].strip()
        group = GROUP_NAMES.get(cells[at["分组"]].strip())
        team = cells[at["团队"]].strip() if "团队" in at else ""
        cap_text = cells[at["洽谈上限"]].strip() if "洽谈上限" in at else ""
        org = session.exec(select(Organization).where(Organization.name == name)).first()
        if org is None:
            problems.append(f"第 {number} 行「单位名称」：单位「{name}」不存在")
        if group is None:
            problems.append(f"第 {number} 行「分组」：应为需求方或成果方")
        if cap_text and not cap_text.isdigit():
            problems.append(f"第 {number} 行「洽谈上限」：应为整数")
        if org is not None and group is not None:
            rows.append((pk(org), group, team, int(cap_text) if cap_text.isdigit() else None))
    return rows, problems


def invitation_reason(*, session: Session, viewer: Viewer, participant: Participant) -> str:
    """Why the organizer invited this participant, in words the viewer may read."""
    bits = []
    if participant.invite_need_id or participant.invite_technology_id:
        bits.append("平台匹配：" + Reasons(session, viewer).of(participant))
    if participant.invite_reason:
        bits.append(participant.invite_reason)
    return "；".join(bits) or "期待您的参与"


def register(*, session: Session, viewer: Viewer, event: Event, accept: bool = True) -> Participant:
    """The invited organization answers (or, while registration is open, signs up itself)."""
    if viewer.organization_id is None:
        raise Forbidden("请以单位用户身份登录")
    participant = my_participant(session=session, viewer=viewer, event=event)
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
