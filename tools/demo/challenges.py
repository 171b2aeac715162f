"""Demo 揭榜挂帅: review experts with expertise profiles and the published challenges of
``tools/demo/data/challenges.jsonl``, each posted by the demo enterprise named there (in its
own industry), with indicators that the demo results state numbers for (so the indicator check
shows meets / falls short / unknown on real text). Idempotent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from matcher import accounts
from matcher.access import Viewer
from matcher.challenges.models import Challenge
from matcher.challenges.publishing import save_challenge
from matcher.challenges.schemas import ChallengeIn, IndicatorIn
from matcher.db import session_scope
from matcher.models import Organization, User
from tools.demo import records
from tools.demo.users import DEMO_PASSWORD, DOMAIN

EXPERTS = [
    ("expert01", "周建华", "遥感、地理信息、图像识别", 0),
    ("expert02", "孙立群", "集成电路、嵌入式系统、低功耗设计", 1),
    ("expert03", "何文静", "中药制剂、天然产物提取、分析检测", 2),
    ("expert04", "罗志强", "新材料、复合材料、化工工艺", 3),
]


def load_demo_experts(engine: Engine) -> int:
    """Experts with an expertise profile, each on the staff of a demo university or institute."""
    created = 0
    with session_scope(engine) as session:
        suppliers = list(
            session.exec(
                select(Organization)
                .where(
                    col(Organization.is_demo).is_(True),
                    col(Organization.kind).in_(("university", "institute")),
                )
                .order_by(col(Organization.id))
            )
        )
        existing = {u.email: u for u in session.exec(select(User))}
        for handle, name, expertise, org_index in EXPERTS:
            email = f"{handle}@{DOMAIN}"
            if email in existing:
                continue
            org = suppliers[org_index % len(suppliers)] if suppliers else None
            accounts.create_user(
                session=session, email=email, name=name, password=DEMO_PASSWORD,
                role="university", organization_id=org.id if org else None, expertise=expertise,
            )  # fmt: skip
            created += 1
    return created


def load_demo_challenges(engine: Engine) -> int:
    """The demo challenges, each by its own enterprise; returns how many were created."""
    created = 0
    with session_scope(engine) as session:
        enterprises = {
            org.name: org
            for org in session.exec(
                select(Organization).where(
                    col(Organization.is_demo).is_(True), Organization.kind == "enterprise"
                )
            )
        }
        if not enterprises:
            raise RuntimeError("no demo enterprises: run `duijie demo-data` first")
        organizer = Viewer(user_id=None, organization_id=None, role="organizer")
        today = dt.date.today()
        for i, record in enumerate(records.challenges()):
            if session.exec(select(Challenge).where(Challenge.title == record.title)).first():
                continue
            owner = enterprises.get(record.owner)
            if owner is None:
                raise RuntimeError(
                    f"demo challenge {record.title}: no demo enterprise {record.owner}"
                )
            data = ChallengeIn(
                title=record.title, problem=record.problem, tech_field=record.field, bounty=record.bounty,
                rnd_budget=record.bounty * 2, application_deadline=today + dt.timedelta(days=30 + 10 * i),
                review_on=today + dt.timedelta(days=45 + 10 * i), start_on=today + dt.timedelta(days=60 + 10 * i),
                acceptance_on=today + dt.timedelta(days=425 + 10 * i),
                eligible_kinds=["university", "institute"],
                indicators=[IndicatorIn(**row) for row in record.indicators],
            )  # fmt: skip
            save_challenge(session=session, viewer=organizer, data=data, publisher_id=owner.id)
            created += 1
    return created
