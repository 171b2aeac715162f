"""A small world for 揭榜挂帅: four organizations, three battery results, the buyer, applicants
and review experts; and the steps most tests start from (a published challenge, a submitted
application with a named partner, an assigned and scored review)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from matcher import accounts
from matcher.access import Viewer
from matcher.catalog import import_catalog
from matcher.challenges.applications import decide_partnership, save_application
from matcher.challenges.models import Application, Challenge, ExpertAssignment
from matcher.challenges.publishing import moderate, save_challenge
from matcher.challenges.review import assign_expert, submit_score
from matcher.challenges.schemas import ApplicationIn, ChallengeIn, IndicatorIn
from matcher.config import get_settings, reset_settings
from matcher.db import session_scope
from matcher.indexing import IndexManager
from matcher.matching import Matcher
from matcher.models import Organization, User, pk

ORGS = (
    "单位名称,单位类型,省份,统一社会信用代码\n"
    "北辰理工大学,高校,辽宁省,\n"
    "云岫储能研究所,科研院所,辽宁省,\n"
    "南海材料研究院,科研院所,广东省,\n"
    "鞍辽电池股份有限公司,企业,辽宁省,91350100M000100Y43\n"
)
TECHS = (
    "成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n"
    "高寒储能电池,北辰理工大学,新能源与节能,低温电解液使储能电池在零下30度可用，循环寿命达到2000次以上,6,转让\n"
    "长寿命磷酸铁锂电池,云岫储能研究所,新能源与节能,磷酸铁锂储能电池循环寿命 1200 次，成本低,5,许可\n"
    "储能电池热管理,南海材料研究院,新能源与节能,储能电池包热管理与均温设计,5,技术开发\n"
)
USERS = (
    ("buyer@example.cn", "鞍辽电池股份有限公司", "enterprise", ""),
    ("bc@example.cn", "北辰理工大学", "university", ""),
    ("yx@example.cn", "云岫储能研究所", "university", ""),
    ("e-same@example.cn", "北辰理工大学", "university", "储能"),
    ("e-lead@example.cn", "南海材料研究院", "university", "电池"),
    ("e-free@example.cn", None, "organizer", "电化学"),
)
ORGANIZER = Viewer(user_id=None, organization_id=None, role="organizer")
PUBLISHER = "鞍辽电池股份有限公司"
GOOD_SCORES = {"technical": 26, "feasibility": 25, "team": 16, "budget": 15}


class World:
    def __init__(self, engine: Engine, matcher: Matcher, ids: dict[str, int]) -> None:
        self.engine, self.matcher, self.ids = engine, matcher, ids

    def viewer(self, session: Session, email: str) -> Viewer:
        user = session.get(User, self.ids[email])
        assert user is not None
        return Viewer(user.id, user.organization_id, user.role)

    def challenge(self, session: Session, challenge_id: int) -> Challenge:
        row = session.get(Challenge, challenge_id)
        assert row is not None
        return row

    def application(self, session: Session, application_id: int) -> Application:
        row = session.get(Application, application_id)
        assert row is not None
        return row


def challenge_in(**extra: Any) -> ChallengeIn:
    data: dict[str, Any] = {
        "title": "储能电池低温循环寿命提升",
        "problem": "我公司储能电站在东北冬季低温下电池容量衰减快、寿命短，希望找到低温可用、循环寿命长的储能电池技术。",
        "application_deadline": dt.date.today() + dt.timedelta(days=30),
        "bounty": 200.0,
        "eligible_kinds": ["university", "institute"],
        "indicators": [IndicatorIn(name="循环寿命", comparison=">=", value=1500, unit="次")],
    }
    data.update(extra)
    return ChallengeIn(**data)


def complete_application(**extra: Any) -> ApplicationIn:
    data: dict[str, Any] = {
        "submit": True,
        "team": "储能课题组",
        "leader": "王老师",
        "approach": "采用低温电解液与负极表面改性的技术路线，" * 3,
        "budget": 180,
        "milestones": [
            {"title": "样品", "due": "2027-06-30", "amount": "80"},
            {"title": "中试", "due": "2027-12-31", "amount": "100"},
        ],
    }
    data.update(extra)
    return ApplicationIn(**data)


@pytest.fixture
def world(engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    settings = get_settings()
    for kind, data in (("organizations", ORGS), ("technologies", TECHS)):
        import_catalog(
            engine=engine, kind=kind, data=data.encode(), filename=f"{kind}.csv", settings=settings
        )
    manager = IndexManager(engine, settings).open()
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        for org in session.exec(select(Organization)):
            ids[org.name] = pk(org)
        for email, org_name, role, expertise in USERS:
            user = accounts.create_user(
                session=session, email=email, name=email[:6], password="pass-123456", role=role,
                organization_id=ids[org_name] if org_name else None, expertise=expertise,
            )  # fmt: skip
            ids[email] = pk(user)
    yield World(engine, Matcher(manager), ids)
    manager.close()


@pytest.fixture
def open_challenge(world: World) -> int:
    """The buyer's challenge, approved by an organizer."""
    with session_scope(world.engine) as session:
        buyer = world.viewer(session, "buyer@example.cn")
        challenge = save_challenge(session=session, viewer=buyer, data=challenge_in())
        moderate(session=session, viewer=ORGANIZER, challenge=challenge, approve=True)
        return pk(challenge)


@pytest.fixture
def application_id(world: World, open_challenge: int) -> int:
    """北辰's submitted application, naming 南海 as a partner (who has not confirmed yet)."""
    with session_scope(world.engine) as session:
        application = save_application(
            session=session,
            viewer=world.viewer(session, "bc@example.cn"),
            challenge=world.challenge(session, open_challenge),
            data=complete_application(partner_names=["南海材料研究院"]),
        )
        return pk(application)


def assign_free_expert(world: World, session: Session, application_id: int) -> ExpertAssignment:
    """The expert without an organization (so without a conflict) reviews the application."""
    return assign_expert(
        session=session, viewer=ORGANIZER, application=world.application(session, application_id),
        expert_id=world.ids["e-free@example.cn"],
    )  # fmt: skip


@pytest.fixture
def scored(world: World, application_id: int) -> int:
    """The application reviewed by the free expert (26 + 25 + 16 + 15 = 82); its assignment id."""
    with session_scope(world.engine) as session:
        assignment = assign_free_expert(world, session, application_id)
        submit_score(
            session=session, viewer=world.viewer(session, "e-free@example.cn"),
            assignment=assignment, scores=GOOD_SCORES, comment="技术路线清晰，低温数据充分。",
        )  # fmt: skip
        return pk(assignment)


def confirm_partner(world: World, application_id: int) -> None:
    with session_scope(world.engine) as session:
        decide_partnership(
            session=session, viewer=world.viewer(session, "e-lead@example.cn"),
            application_id=application_id, confirm=True,
        )  # fmt: skip
