"""揭榜挂帅 through the service layer: indicators, publish and moderate, find and invite teams,
applications (deadline, attachments), conflict-of-interest screening, scores, award, milestones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import accounts
from matcher.access import Viewer
from matcher.catalog import import_catalog
from matcher.challenges import indicators as ind
from matcher.challenges import service
from matcher.challenges.models import Application, ApplicationPartner, Challenge
from matcher.config import get_settings, reset_settings
from matcher.db import session_scope
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.indexing import IndexManager
from matcher.matching import Matcher
from matcher.models import Lead, Notification, Organization, User, pk

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
ORGANIZER = Viewer(user_id=None, organization_id=None, role="organizer")


def test_indicator_numbers_are_read_and_compared() -> None:
    text = "本电池循环寿命达到2000次以上，能量密度为 180 Wh/kg，识别准确率96.5%，响应时间 3-5 ms"
    assert ind.compare(text, "电池循环寿命", ">=", 1500, None, "次").status == ind.MEETS
    assert ind.compare(text, "循环寿命", ">=", 3000, None, "次").status == ind.SHORT
    assert ind.compare(text, "能量密度", ">=", 200, None, "Wh/kg").status == ind.SHORT
    assert ind.compare(text, "准确率", ">=", 95, None, "%").status == ind.MEETS
    # units of one dimension convert; a stated range must hold at both ends
    assert ind.compare(text, "响应时间", "<=", 0.006, None, "s").status == ind.MEETS
    assert ind.compare(text, "响应时间", "<=", 4, None, "ms").status == ind.SHORT
    assert ind.compare(text, "响应时间", "range", 2, 6, "ms").status == ind.MEETS
    # not stated, or in units that cannot be compared
    assert ind.compare(text, "功率", ">=", 1, None, "kW").status == ind.UNKNOWN
    assert ind.compare(text, "能量密度", ">=", 1, None, "MPa").status == ind.UNKNOWN
    assert ind.compare("寿命 1.2万次", "寿命", ">=", 10000, None, "次").status == ind.MEETS
    assert ind.describe("range", 2, 6, "ms") == "2–6 ms"


@pytest.fixture
def world(
    engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Engine, Matcher, dict[str, int]]]:
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
        for email, org, role, expertise in (
            ("buyer@example.cn", "鞍辽电池股份有限公司", "enterprise", ""),
            ("bc@example.cn", "北辰理工大学", "university", ""),
            ("yx@example.cn", "云岫储能研究所", "university", ""),
            ("e-same@example.cn", "北辰理工大学", "university", "储能"),
            ("e-lead@example.cn", "南海材料研究院", "university", "电池"),
            ("e-free@example.cn", None, "organizer", "电化学"),
        ):
            user = accounts.create_user(
                session=session, email=email, name=email[:6], password="pass-123456", role=role,
                organization_id=ids[org] if org else None, expertise=expertise,
            )  # fmt: skip
            ids[email] = pk(user)
    yield engine, Matcher(manager), ids
    manager.close()


def _viewer(session, ids: dict[str, int], email: str) -> Viewer:  # type: ignore[no-untyped-def]
    user = session.get(User, ids[email])
    return Viewer(user.id, user.organization_id, user.role)


def _challenge_in(**extra) -> service.ChallengeIn:  # type: ignore[no-untyped-def]
    data = {
        "title": "储能电池低温循环寿命提升",
        "problem": "我公司储能电站在东北冬季低温下电池容量衰减快、寿命短，希望找到低温可用、循环寿命长的储能电池技术。",
        "application_deadline": dt.date.today() + dt.timedelta(days=30),
        "bounty": 200.0,
        "eligible_kinds": ["university", "institute"],
        "indicators": [service.IndicatorIn("循环寿命", ">=", 1500, None, "次")],
    }
    data.update(extra)
    return service.ChallengeIn(**data)  # type: ignore[arg-type]


def test_validation_messages_are_chinese_and_specific() -> None:
    errors = service.validate_challenge(
        _challenge_in(
            title="",
            problem="太短",
            application_deadline=dt.date.today() - dt.timedelta(days=1),
            indicators=[service.IndicatorIn("温度", "range", 10, 5, "℃")],
        )
    )
    assert errors["title"] == "请填写榜单名称"
    assert "20 个字" in errors["problem"]
    assert "不能早于今天" in errors["application_deadline"]
    assert "上限" in errors["indicators"]


def test_publish_find_invite_apply_review_award(world) -> None:  # type: ignore[no-untyped-def]
    engine, matcher, ids = world
    settings = get_settings()
    with session_scope(engine) as session:
        buyer = _viewer(session, ids, "buyer@example.cn")
        challenge = service.save_challenge(session, buyer, _challenge_in())
        assert challenge.status == "pending"  # enterprises' challenges wait for moderation
        stranger = Viewer(user_id=None)
        with pytest.raises(NotFound):
            service.get_challenge(session, stranger, pk(challenge))
        with pytest.raises(Conflict):  # not invitable before publication
            service.invite(session, buyer, challenge, ids["北辰理工大学"])
        with pytest.raises(Forbidden):
            service.moderate(session, buyer, challenge, approve=True)
        service.moderate(session, ORGANIZER, challenge, approve=True)
        assert challenge.status == "open"
        assert service.get_challenge(session, stranger, pk(challenge)).id == challenge.id
        challenge_id = pk(challenge)

    # find the teams: the owners of battery results, with the indicator checked on their text
    with session_scope(engine, write=False) as session:
        buyer = _viewer(session, ids, "buyer@example.cn")
        challenge = session.get(Challenge, challenge_id)
        found = service.find_teams(session, buyer, matcher, challenge)  # type: ignore[arg-type]
        by_name = {c.organization.name: c for c in found}
        assert "鞍辽电池股份有限公司" not in by_name  # the publisher is not a candidate
        assert by_name["北辰理工大学"].checks[0].verdict.status == ind.MEETS
        assert by_name["云岫储能研究所"].checks[0].verdict.status == ind.SHORT
        assert by_name["南海材料研究院"].checks[0].verdict.status == ind.UNKNOWN
        assert found[0].organization.name == "北辰理工大学"
        with pytest.raises(NotFound):  # only the publisher and organizers see the candidates
            service.find_teams(session, _viewer(session, ids, "bc@example.cn"), matcher, challenge)  # type: ignore[arg-type]

    with session_scope(engine) as session:
        buyer = _viewer(session, ids, "buyer@example.cn")
        challenge = session.get(Challenge, challenge_id)
        service.invite(session, buyer, challenge, ids["北辰理工大学"], "循环寿命已达 2000 次")  # type: ignore[arg-type]
        notes = session.exec(
            select(Notification).where(Notification.user_id == ids["bc@example.cn"])
        ).all()
        assert any("循环寿命已达 2000 次" in n.text for n in notes)

    # applications: drafts, submission, attachments checked by type and content
    with session_scope(engine) as session:
        challenge = session.get(Challenge, challenge_id)
        bc = _viewer(session, ids, "bc@example.cn")
        draft = service.save_application(
            session,
            bc,
            challenge,
            service.ApplicationIn(team="储能课题组", leader="", approach=""),
            submit=False,  # type: ignore[arg-type]
        )
        assert draft.status == "draft"
        with pytest.raises(ValidationFailed):
            service.save_application(
                session,
                bc,
                challenge,
                service.ApplicationIn(team="储能课题组", leader="", approach=""),
                submit=True,  # type: ignore[arg-type]
            )
        application = service.save_application(
            session, bc, challenge,  # type: ignore[arg-type]
            service.ApplicationIn(
                team="储能课题组", leader="王老师", approach="采用低温电解液与负极表面改性的技术路线，" * 3, budget=180,
                milestones=[{"title": "样品", "due": "2027-06-30", "amount": "80"}, {"title": "中试", "due": "2027-12-31", "amount": "100"}],
                partner_names=["南海材料研究院"],
            ),
            submit=True,
        )  # fmt: skip
        # a named partner is asked; it counts only once it confirmed
        named = service.partners_of(session, application)
        assert application.status == "submitted" and [
            (p.organization_id, p.status) for p in named
        ] == [(ids["南海材料研究院"], "invited")]
        assert service.confirmed_partner_ids(session, application) == set()
        pdf = b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
        row = service.add_attachment(
            session,
            bc,
            application,
            "方案.pdf",
            pdf,
            directory=settings.attachments_dir,
            max_bytes=1024,
        )
        assert (settings.attachments_dir / row.sha256[:2] / row.sha256).read_bytes() == pdf
        for name, data, message in (
            ("病毒.exe", b"MZ", "只能是 PDF 或 Office"),
            ("伪装.docx", pdf, "不是 .docx"),
            ("太大.pdf", b"%PDF-" + b"0" * 2000, "超过"),
        ):
            with pytest.raises(ValidationFailed, match=message):
                service.add_attachment(
                    session,
                    bc,
                    application,
                    name,
                    data,
                    directory=settings.attachments_dir,
                    max_bytes=1024,
                )
        with pytest.raises(NotFound):  # another organization cannot attach to it
            service.add_attachment(
                session, _viewer(session, ids, "yx@example.cn"), application, "a.pdf", pdf,
                directory=settings.attachments_dir, max_bytes=1024,
            )  # fmt: skip
        application_id = pk(application)

    # after the deadline nobody submits
    with session_scope(engine) as session:
        challenge = session.get(Challenge, challenge_id)
        challenge.application_deadline = dt.date.today() - dt.timedelta(days=1)  # type: ignore[union-attr]
        session.add(challenge)
        with pytest.raises(Conflict, match="截止"):
            service.save_application(
                session, _viewer(session, ids, "yx@example.cn"), challenge,  # type: ignore[arg-type]
                service.ApplicationIn(team="t", leader="l", approach="x" * 60, budget=1, milestones=[{"title": "m"}]),
                submit=True,
            )  # fmt: skip

    # the named partner confirms (only its own users can)
    with session_scope(engine) as session:
        with pytest.raises(NotFound):
            service.decide_partnership(
                session, _viewer(session, ids, "yx@example.cn"), application_id, confirm=True
            )
        service.decide_partnership(
            session, _viewer(session, ids, "e-lead@example.cn"), application_id, confirm=True
        )

    # review: conflicts of interest are refused with the reason
    with session_scope(engine) as session:
        session.add(
            Lead(
                supplier_id=ids["南海材料研究院"],
                demander_id=ids["鞍辽电池股份有限公司"],
                stage="interest",
            )
        )
    with session_scope(engine) as session:
        application = session.get(Application, application_id)
        for expert, reason in (
            ("e-same@example.cn", "专家就职于申请单位"),  # same organization as the applicant
            ("e-lead@example.cn", "专家就职于申请单位"),  # works at the co-applicant
        ):
            with pytest.raises(Conflict, match=reason):
                service.assign_expert(session, ORGANIZER, application, ids[expert])  # type: ignore[arg-type]
        with pytest.raises(Forbidden):
            service.assign_expert(
                session,
                _viewer(session, ids, "buyer@example.cn"),
                application,
                ids["e-free@example.cn"],
            )  # type: ignore[arg-type]
        free = _viewer(session, ids, "e-free@example.cn")
        service.declare_conflict(session, free, ids["北辰理工大学"], "曾任客座教授")
        with pytest.raises(Conflict, match="专家声明"):
            service.assign_expert(session, ORGANIZER, application, ids["e-free@example.cn"])  # type: ignore[arg-type]

    with session_scope(engine) as session:
        application = session.get(Application, application_id)
        for row in session.exec(select(service.ExpertConflict)):
            session.delete(row)
    with session_scope(engine) as session:
        application = session.get(Application, application_id)
        assignment = service.assign_expert(
            session, ORGANIZER, application, ids["e-free@example.cn"]
        )  # type: ignore[arg-type]
        assert application.status == "under_review"  # type: ignore[union-attr]
        free = _viewer(session, ids, "e-free@example.cn")
        assert service.application_for(session, free, application_id)[0].id == application_id
        with pytest.raises(ValidationFailed, match="0–30"):
            service.submit_score(
                session,
                free,
                assignment,
                {"technical": 31, "feasibility": 20, "team": 10, "budget": 10},
                "意见写得足够长了吧",
            )
        with pytest.raises(NotFound):
            service.submit_score(
                session, _viewer(session, ids, "bc@example.cn"), assignment, {}, ""
            )
        service.submit_score(
            session,
            free,
            assignment,
            {"technical": 26, "feasibility": 25, "team": 16, "budget": 15},
            "技术路线清晰，低温数据充分。",
        )
        challenge = session.get(Challenge, challenge_id)
        ranking = service.rankings(session, ORGANIZER, challenge)  # type: ignore[arg-type]
        assert ranking[0].mean == 82 and ranking[0].reviews == 1

        with pytest.raises(ValidationFailed):  # more than the bounty
            service.award(session, ORGANIZER, challenge, application_id, amount=999)  # type: ignore[arg-type]
        service.award(
            session, ORGANIZER, challenge, application_id, amount=180, note="综合评分第一"
        )  # type: ignore[arg-type]
        assert challenge.status == "awarded"  # type: ignore[union-attr]
        lead = session.exec(select(Lead).where(Lead.source == "challenge")).one()
        assert lead.supplier_id == ids["北辰理工大学"] and lead.contract_amount == 180
        milestones = service.milestones_of(session, challenge_id)
        assert [m.title for m in milestones] == ["样品", "中试"]
        timeline = [e.status for e in service.timeline(session, application_id)]
        assert timeline == ["draft", "submitted", "under_review", "awarded"]

    # milestones to acceptance (验收)
    with session_scope(engine) as session:
        bc, buyer = (
            _viewer(session, ids, "bc@example.cn"),
            _viewer(session, ids, "buyer@example.cn"),
        )
        for m in service.milestones_of(session, challenge_id):
            with pytest.raises(Forbidden):
                service.update_milestone(session, buyer, pk(m), "submit")
            service.update_milestone(session, bc, pk(m), "submit", "样品已交付")
            with pytest.raises(Forbidden):
                service.update_milestone(session, bc, pk(m), "accept")
            service.update_milestone(session, buyer, pk(m), "accept", "通过")
        assert session.get(Challenge, challenge_id).status == "accepted"  # type: ignore[union-attr]


def test_a_recent_lead_or_joint_application_is_a_conflict(world) -> None:  # type: ignore[no-untyped-def]
    engine, _matcher, ids = world
    with session_scope(engine) as session:
        challenge = service.save_challenge(
            session, ORGANIZER, _challenge_in(), publisher_id=ids["鞍辽电池股份有限公司"]
        )
        yx = _viewer(session, ids, "yx@example.cn")
        application = service.save_application(
            session, yx, challenge,
            service.ApplicationIn(team="t", leader="l", approach="x" * 60, budget=10, milestones=[{"title": "m"}]),
            submit=True,
        )  # fmt: skip
        # 南海 (expert e-lead's organization) had a lead with 云岫 two years ago
        session.add(
            Lead(supplier_id=ids["云岫储能研究所"], demander_id=ids["南海材料研究院"], stage="negotiation",
                 created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=730))
        )  # fmt: skip
        session.flush()
        with pytest.raises(Conflict, match="对接合作"):
            service.assign_expert(session, ORGANIZER, application, ids["e-lead@example.cn"])
    with session_scope(engine) as session:
        # four years ago is outside the window; a joint application is not
        lead = session.exec(select(Lead)).one()
        lead.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=4 * 365)
        session.add(lead)
        application = session.exec(select(Application)).one()
        expert = session.get(User, ids["e-lead@example.cn"])
        assert service.conflicts(session, expert, application) == []  # type: ignore[arg-type]
        other = service.save_challenge(
            session,
            ORGANIZER,
            _challenge_in(title="另一个榜单"),
            publisher_id=ids["鞍辽电池股份有限公司"],
        )
        joint = Application(
            challenge_id=pk(other), organization_id=ids["南海材料研究院"], status="submitted"
        )
        session.add(joint)
        session.flush()
        partner = ApplicationPartner(
            application_id=pk(joint), organization_id=ids["云岫储能研究所"], status="invited"
        )
        session.add(partner)
        session.flush()
        # an unconfirmed partner is a name someone typed: it makes no conflict
        assert service.conflicts(session, expert, application) == []  # type: ignore[arg-type]
        partner.status = "confirmed"
        session.add(partner)
        session.flush()
        assert any("联合申报" in r for r in service.conflicts(session, expert, application))  # type: ignore[arg-type]


def test_listing_filters_and_search(world) -> None:  # type: ignore[no-untyped-def]
    engine, _matcher, ids = world
    with session_scope(engine) as session:
        publisher = ids["鞍辽电池股份有限公司"]
        service.save_challenge(session, ORGANIZER, _challenge_in(), publisher_id=publisher)
        service.save_challenge(
            session, ORGANIZER,
            _challenge_in(title="船体阻力预报软件", problem="需要船体阻力与耐波性的数值预报软件，替代部分水池试验，缩短设计周期。", tech_field="船舶与海洋"),
            publisher_id=publisher,
        )  # fmt: skip
        hidden = service.save_challenge(
            session,
            ORGANIZER,
            _challenge_in(title="内部榜单", visibility="organizers"),
            publisher_id=publisher,
        )
        anonymous = Viewer()
        titles = [c.title for c in service.list_challenges(session, anonymous)]
        assert "内部榜单" not in titles and len(titles) == 2
        assert [c.title for c in service.list_challenges(session, anonymous, q="船体阻力")] == [
            "船体阻力预报软件"
        ]
        assert [
            c.title for c in service.list_challenges(session, anonymous, field_name="船舶与海洋")
        ] == ["船体阻力预报软件"]
        assert service.list_challenges(session, anonymous, status="awarded") == []
        assert hidden.title in [c.title for c in service.list_challenges(session, ORGANIZER)]
