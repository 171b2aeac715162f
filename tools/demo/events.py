"""`duijie event demo`: a realistic event on the demo data — a steel group's dedicated session:
the companies of 鞍辽钢铁集团 and the province's enterprises of its themes (metallurgy and mining,
equipment, materials, energy, chemicals) meet research teams whose results are in those fields
(up to 40 enterprises × 60 teams, 2 sessions × 8 slots, 20 tables). An enterprise takes part
only when its industry's main field is one of the themes (``tools.demo.industries``)."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from matcher.access import Viewer
from matcher.db import session_scope
from matcher.events.models import Event, MeetingRequest, Participant
from matcher.events.requests import Side, organization_sides, participant_side, side_values
from matcher.events.schedule import generate_schedule
from matcher.events.schemas import EventIn
from matcher.events.setup import create_event, event_slots
from matcher.models import Need, Organization, Technology, User, pk
from tools.demo import records
from tools.demo.industries import main_field

DEMO_EVENT_NAME = "鞍辽钢铁集团 × 院所团队 科技成果转化专场对接会"
DEMO_GROUP = "鞍辽钢铁集团"
THEME_FIELDS = ["冶金与矿业", "先进制造与自动化", "新材料", "能源与动力", "化工与石化"]


def demand_organizations(session: Session, limit: int) -> list[int]:
    """The enterprises the steel group's event invites: its own companies first, then the demo
    enterprises whose main field is one of the event's themes, most technology needs first."""
    members = {e.name for e in records.enterprises() if e.group == DEMO_GROUP}
    counts = session.exec(
        select(Organization.id, Organization.name, Organization.industry, func.count())
        .join(Need, col(Need.owner_id) == col(Organization.id))
        .where(
            Need.status == "published",
            Need.kind == "tech",
            Organization.kind == "enterprise",
            col(Organization.is_demo).is_(True),
        )
        .group_by(col(Organization.id), col(Organization.name), col(Organization.industry))
    ).all()
    eligible = [
        (name not in members, -count, org_id)
        for org_id, name, industry, count in counts
        if org_id is not None and (name in members or main_field(industry or "") in THEME_FIELDS)
    ]
    return [org_id for _, _, org_id in sorted(eligible)[:limit]]


def demo_event_id(engine: Engine) -> int | None:
    """The demo event's id, when it has been created."""
    with session_scope(engine, write=False) as session:
        event = session.exec(select(Event).where(Event.name == DEMO_EVENT_NAME)).first()
        return event.id if event else None


def create_demo_event(
    engine: Engine,
    matcher: Any,
    *,
    enterprises: int = 40,
    teams: int = 60,
    tables: int = 20,
    seed: int = 2026,
) -> int:
    """(Re)create the steel group's event: invite, register, request as participants would, and
    generate the draft schedule."""
    rng = random.Random(seed)
    with session_scope(engine) as session:
        viewer = _organizer(session)
        event = _new_event(session, viewer, tables)
        event_id = pk(event)
        demand_orgs = demand_organizations(session, enterprises)
        team_techs = research_teams(session)
        keys = list(team_techs)
        chosen = _best_matched_teams(session, matcher, demand_orgs, team_techs, teams)
        people = [
            *(_demand_participant(session, event, org_id) for org_id in demand_orgs),
            *(_supply_participant(event, keys[s], team_techs) for s in chosen),
        ]
        for p in people:
            session.add(p)
        session.flush()
        slots = len(event_slots(session=session, event_id=event_id))
        _request_meetings(session, matcher, event_id, people, rng)
        for p in people:
            if rng.random() < 0.12:
                p.unavailable = sorted(rng.sample(range(slots), 2))
                session.add(p)
        generate_schedule(session=session, viewer=viewer, matcher=matcher, event=event)
    return event_id


def _organizer(session: Session) -> Viewer:
    organizer = session.exec(
        select(User).where(User.role == "organizer").order_by(col(User.id))
    ).first()
    if organizer is None:
        raise RuntimeError("no organizer account: run `duijie demo-data` first")
    return Viewer(organizer.id, organizer.organization_id, "organizer")


def _new_event(session: Session, viewer: Viewer, tables: int) -> Event:
    """The event a month from today, replacing an earlier demo event of the same name."""
    old = session.exec(select(Event).where(Event.name == DEMO_EVENT_NAME)).first()
    if old is not None:
        session.delete(old)
        session.flush()
    day = dt.date.today() + dt.timedelta(days=30)
    return create_event(session=session, viewer=viewer, event=EventIn(
        name=DEMO_EVENT_NAME, starts_on=day, ends_on=day, venue="鞍山 · 鞍辽钢铁集团技术中心报告厅",
        theme_fields=THEME_FIELDS, meeting_cap=8,
        description=f"{DEMO_GROUP}下属企业及省内冶金、装备、材料、能源与化工企业，与高校院所科研团队的一对一洽谈。【{records.WRITTEN_FOR_DEMO}】",
        registration_deadline=day - dt.timedelta(days=7),
        sessions=[
            {"day": day, "start": dt.time(9, 0), "end": dt.time(11, 50), "slot_minutes": 20, "breaks": [["10:20", "10:30"]], "name": "上午场"},
            {"day": day, "start": dt.time(14, 0), "end": dt.time(16, 50), "slot_minutes": 20, "breaks": [["15:20", "15:30"]], "name": "下午场"},
        ],
        tables=tables,
    ))  # fmt: skip


def research_teams(session: Session) -> dict[tuple[int, str], list[int]]:
    """An institute's published results in the event's fields, grouped by (institute, team)."""
    techs = session.exec(
        select(Technology)
        .join(Organization, col(Organization.id) == col(Technology.owner_id))
        .where(
            Technology.status == "published",
            col(Technology.field).in_(THEME_FIELDS),
            col(Organization.kind).in_(("university", "institute")),
        )
    ).all()
    team_techs: dict[tuple[int, str], list[int]] = defaultdict(list)
    for tech in techs:
        team_techs[(tech.owner_id, tech.team or "科研团队")].append(pk(tech))
    return team_techs


def _best_matched_teams(
    session: Session,
    matcher: Any,
    demand_orgs: list[int],
    team_techs: dict[tuple[int, str], list[int]],
    teams: int,
) -> list[int]:
    """The teams (indexes into ``team_techs``) that match the enterprises best, at most three
    from one institute."""
    keys = list(team_techs)
    supply_sides = [
        Side(i, technology_ids=tuple(team_techs[k][:5]), organization_id=k[0])
        for i, k in enumerate(keys)
    ]
    demand_sides = organization_sides(session=session, org_ids=demand_orgs, group="demand")
    values = side_values(session=session, matcher=matcher, demand=demand_sides, supply=supply_sides)
    strength: dict[int, float] = defaultdict(float)
    for (_d, s), v in values.items():
        strength[s] += v.score
    per_org: dict[int, int] = defaultdict(int)
    chosen: list[int] = []
    for s in sorted(strength, key=lambda k: -strength[k]):
        org_id = keys[s][0]
        if per_org[org_id] >= 3:
            continue
        chosen.append(s)
        per_org[org_id] += 1
        if len(chosen) >= teams:
            break
    return chosen


def _demand_participant(session: Session, event: Event, org_id: int) -> Participant:
    """An enterprise, registered with its published technology needs."""
    need_ids = [
        i
        for i in session.exec(
            select(Need.id).where(
                Need.owner_id == org_id, Need.status == "published", Need.kind == "tech"
            )
        ).all()
        if i
    ]
    return Participant(
        event_id=pk(event),
        organization_id=org_id,
        group="demand",
        status="registered",
        need_ids=need_ids,
        registered_at=event.created_at,
    )


def _supply_participant(
    event: Event, key: tuple[int, str], team_techs: dict[tuple[int, str], list[int]]
) -> Participant:
    """A research team, registered with up to five of its results."""
    org_id, team = key
    return Participant(
        event_id=pk(event),
        organization_id=org_id,
        team=team,
        group="supply",
        status="registered",
        technology_ids=team_techs[(org_id, team)][:5],
        registered_at=event.created_at,
    )


def _request_meetings(
    session: Session, matcher: Any, event_id: int, people: list[Participant], rng: random.Random
) -> None:
    """Requests as participants make them: must / want their best matches, a few 不见."""
    demand_people = [p for p in people if p.group == "demand"]
    supply_people = [p for p in people if p.group == "supply"]
    pvalues = side_values(
        session=session, matcher=matcher,
        demand=[participant_side(session=session, participant=p) for p in demand_people],
        supply=[participant_side(session=session, participant=p) for p in supply_people],
    )  # fmt: skip
    for d in demand_people:
        ranked_s = sorted((v.score, s) for (dd, s), v in pvalues.items() if dd == pk(d))[::-1]
        for rank, (_score, s) in enumerate(ranked_s[:4]):
            session.add(
                MeetingRequest(
                    event_id=event_id,
                    from_id=pk(d),
                    to_id=s,
                    strength="must" if rank == 0 else "want",
                )
            )
        if ranked_s and rng.random() < 0.15:
            session.add(
                MeetingRequest(
                    event_id=event_id, from_id=pk(d), to_id=ranked_s[-1][1], strength="never"
                )
            )
