"""`duijie event demo`: a realistic event on the demo data — an enterprise group's companies
meeting an academy's research teams (40 enterprises × 60 teams, 2 sessions × 8 slots, 20 tables)."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from matcher.access import Viewer
from matcher.db import session_scope
from matcher.events import service
from matcher.events.models import Event, MeetingRequest, Participant
from matcher.models import Need, Organization, Technology, User, pk

DEMO_EVENT_NAME = "辽沈装备制造企业 × 院所团队 科技成果转化专场对接会"


def create_demo_event(
    engine: Engine,
    matcher: Any,
    *,
    enterprises: int = 40,
    teams: int = 60,
    tables: int = 20,
    seed: int = 2026,
) -> int:
    rng = random.Random(seed)
    with session_scope(engine) as session:
        organizer = session.exec(
            select(User).where(User.role == "organizer").order_by(col(User.id))
        ).first()
        if organizer is None:
            raise RuntimeError("no organizer account: run `duijie demo-data` first")
        viewer = Viewer(organizer.id, organizer.organization_id, "organizer")
        old = session.exec(select(Event).where(Event.name == DEMO_EVENT_NAME)).first()
        if old is not None:
            session.delete(old)
            session.flush()
        day = dt.date.today() + dt.timedelta(days=30)
        event = service.create_event(
            session, viewer, name=DEMO_EVENT_NAME, starts_on=day, ends_on=day, venue="沈阳 · 北辰科技会展中心 2 号厅",
            theme_fields=["先进制造与自动化", "冶金与矿业", "新材料", "能源与动力", "化工与石化"],
            description="省属企业集团下属企业与科学院各研究所科研团队的一对一洽谈。", meeting_cap=8,
            registration_deadline=day - dt.timedelta(days=7),
            sessions=[
                {"day": day, "start": dt.time(9, 0), "end": dt.time(11, 50), "slot_minutes": 20, "breaks": [["10:20", "10:30"]], "name": "上午场"},
                {"day": day, "start": dt.time(14, 0), "end": dt.time(16, 50), "slot_minutes": 20, "breaks": [["15:20", "15:30"]], "name": "下午场"},
            ],
            tables=tables,
        )  # fmt: skip
        event_id = pk(event)

        # the enterprises with the most technology needs
        counts = session.exec(
            select(Need.owner_id, func.count())
            .where(Need.status == "published", Need.kind == "tech")
            .group_by(col(Need.owner_id))
        ).all()
        ranked = sorted(counts, key=lambda r: (-r[1], r[0]))[:enterprises]
        demand_orgs = [org_id for org_id, _ in ranked]

        # research teams: an institute's results grouped by team, best matches first
        techs = session.exec(
            select(Technology)
            .join(Organization, col(Organization.id) == col(Technology.owner_id))
            .where(
                Technology.status == "published",
                col(Organization.kind).in_(("university", "institute")),
            )
        ).all()
        team_techs: dict[tuple[int, str], list[int]] = defaultdict(list)
        for tech in techs:
            team_techs[(tech.owner_id, tech.team or "科研团队")].append(pk(tech))
        keys = list(team_techs)
        supply_sides = [
            service.Side(i, technology_ids=tuple(team_techs[k][:5]), organization_id=k[0])
            for i, k in enumerate(keys)
        ]
        demand_sides = service.organization_sides(session, demand_orgs, "demand")
        values = service.side_values(session, matcher, demand_sides, supply_sides)
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

        people: list[Participant] = []
        for org_id in demand_orgs:
            need_ids = [
                i
                for i in session.exec(
                    select(Need.id).where(
                        Need.owner_id == org_id, Need.status == "published", Need.kind == "tech"
                    )
                ).all()
                if i
            ]
            people.append(
                Participant(
                    event_id=event_id,
                    organization_id=org_id,
                    group="demand",
                    status="registered",
                    need_ids=need_ids,
                    registered_at=event.created_at,
                )
            )
        for s in chosen:
            org_id, team = keys[s]
            people.append(Participant(event_id=event_id, organization_id=org_id, team=team, group="supply", status="registered",
                                      technology_ids=team_techs[(org_id, team)][:5], registered_at=event.created_at))  # fmt: skip
        for p in people:
            session.add(p)
        session.flush()

        # requests as participants make them: must / want their best matches, a few 不见
        demand_people = [p for p in people if p.group == "demand"]
        supply_people = [p for p in people if p.group == "supply"]
        pvalues = service.side_values(
            session, matcher, [service.participant_side(session, p) for p in demand_people], [service.participant_side(session, p) for p in supply_people]
        )  # fmt: skip
        slots = len(service.event_slots(session, event_id))
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
        for p in people:
            if rng.random() < 0.12:
                p.unavailable = sorted(rng.sample(range(slots), 2))
                session.add(p)
        service.generate_schedule(session, viewer, matcher, event)
    return event_id
