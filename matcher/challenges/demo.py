"""Demo 揭榜挂帅: review experts with expertise profiles and three published challenges by demo
enterprises, with indicators that the demo results state numbers for (so the indicator check
shows meets / falls short / unknown on real text). Idempotent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from matcher import accounts
from matcher.access import Viewer
from matcher.challenges import service
from matcher.challenges.models import Challenge
from matcher.db import session_scope
from matcher.demo.users import DEMO_PASSWORD, DOMAIN
from matcher.models import Organization, User

EXPERTS = [
    ("expert01", "周建华", "遥感、地理信息、图像识别", 0),
    ("expert02", "孙立群", "集成电路、嵌入式系统、低功耗设计", 1),
    ("expert03", "何文静", "中药制剂、天然产物提取、分析检测", 2),
    ("expert04", "罗志强", "新材料、复合材料、化工工艺", 3),
]
CHALLENGES = [
    (
        "高分辨率遥感影像地物自动识别",
        "我公司承担全省国土变更调查，目前卫星影像上的耕地、建设用地、水体主要靠人工目视解译，"
        "工作量大、标准不一。希望有团队提供能自动从多光谱遥感影像中提取地物信息的方法和软件，"
        "分类精度要高，能批量处理全省影像，并能与现有 GIS 平台对接。",
        "测绘与地理信息",
        [("精度", ">=", 95.0, None, "%"), ("单景处理时间", "<=", 30.0, None, "min")],
        300.0,
    ),
    (
        "工业控制芯片嵌入式处理器低功耗设计",
        "我公司的工业控制器用国产嵌入式处理器，电池供电的现场终端续航短、发热大。希望与团队合作，"
        "在处理器存储管理与缓存结构上做低功耗设计，在性能基本不降的前提下显著降低功耗和芯片面积。",
        "电子信息",
        [("功耗降低", ">=", 50.0, None, "%"), ("面积减少", ">=", 30.0, None, "%")],
        500.0,
    ),
    (
        "中药材黄酮类成分高效提取工艺",
        "我公司生产中成药，原料药材中黄酮类有效成分的提取得率低、耗时长、能耗高。希望找到更高效的"
        "提取工艺并确定最佳工艺条件，用于前处理车间改造，提高得率、缩短生产周期，并建立含量测定方法。",
        "中医药",
        [("回收率", ">=", 98.0, None, "%"), ("提取时间", "<=", 2.0, None, "h")],
        150.0,
    ),
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
    """Three open challenges by demo enterprises; returns how many were created."""
    created = 0
    with session_scope(engine) as session:
        enterprises = list(
            session.exec(
                select(Organization)
                .where(col(Organization.is_demo).is_(True), Organization.kind == "enterprise")
                .order_by(col(Organization.id))
            )
        )
        if not enterprises:
            raise RuntimeError("no demo enterprises: run `duijie demo-data` first")
        organizer = Viewer(user_id=None, organization_id=None, role="organizer")
        today = dt.date.today()
        for i, (title, problem, field, rows, bounty) in enumerate(CHALLENGES):
            if session.exec(select(Challenge).where(Challenge.title == title)).first():
                continue
            data = service.ChallengeIn(
                title=title, problem=problem, tech_field=field, bounty=bounty,
                rnd_budget=bounty * 2, application_deadline=today + dt.timedelta(days=30 + 10 * i),
                review_on=today + dt.timedelta(days=45 + 10 * i), start_on=today + dt.timedelta(days=60 + 10 * i),
                acceptance_on=today + dt.timedelta(days=425 + 10 * i),
                eligible_kinds=["university", "institute"],
                indicators=[service.IndicatorIn(*row) for row in rows],
            )  # fmt: skip
            service.save_challenge(
                session, organizer, data, publisher_id=enterprises[(7 * i) % len(enterprises)].id
            )
            created += 1
    return created
