"""Demo accounts: one user per demo organization, plus an administrator and an organizer.

All share the password DEMO_PASSWORD and live under @demo.duijie.cn; they exist only for the
demo data (whose organizations are fictional) and are created again only when missing."""

from __future__ import annotations

import random

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from matcher import accounts
from matcher.db import session_scope
from matcher.models import Organization, User

DEMO_PASSWORD = "duijie-demo-2026"
DOMAIN = "demo.duijie.cn"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚"


def demo_email(org: Organization) -> str:
    return f"{(org.code or f'org{org.id}').lower()}@{DOMAIN}"


def load_demo_users(engine: Engine) -> int:
    """Create the missing demo accounts; returns how many were created."""
    created = 0
    with session_scope(engine) as session:
        existing = set(session.exec(select(User.email)).all())
        agency = session.exec(
            select(Organization).where(
                Organization.kind == "agency", col(Organization.is_demo).is_(True)
            )
        ).first()
        specials = [
            ("admin@" + DOMAIN, "平台管理员", "admin", None),
            ("organizer@" + DOMAIN, "活动组织方", "organizer", agency.id if agency else None),
        ]
        for email, name, role, org_id in specials:
            if email not in existing:
                accounts.create_user(
                    session=session,
                    email=email,
                    name=name,
                    password=DEMO_PASSWORD,
                    role=role,
                    organization_id=org_id,
                )
                created += 1
        for org in session.exec(
            select(Organization)
            .where(col(Organization.is_demo).is_(True))
            .order_by(col(Organization.id))
        ):
            email = demo_email(org)
            if email in existing or org.kind == "agency":
                continue
            rng = random.Random(email)
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(2))
            phone = "13" + "".join(str(rng.randrange(10)) for _ in range(9))
            role = accounts.ROLE_FOR_KIND.get(org.kind, "enterprise")
            accounts.create_user(
                session=session,
                email=email,
                name=name,
                password=DEMO_PASSWORD,
                role=role,
                organization_id=org.id,
                phone=phone,
            )
            created += 1
    return created
