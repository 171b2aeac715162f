"""Regression tests for the leaks and bypasses a hostile walk-through found (one test per finding,
each through real requests), and for the rules that now hold them shut."""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import accounts, leads
from matcher.access import Viewer
from matcher.challenges.applications import save_application
from matcher.challenges.models import Challenge
from matcher.challenges.publishing import save_challenge
from matcher.challenges.review import assign_expert, conflicts
from matcher.challenges.schemas import ApplicationIn, ChallengeIn
from matcher.db import session_scope
from matcher.events import invitations, schedule, setup
from matcher.events.models import Event, Meeting, MeetingFeedback, Participant
from matcher.events.schemas import EventIn
from matcher.models import (
    ApiToken,
    AuditLog,
    Lead,
    Need,
    Organization,
    Technology,
    TechnologyCreate,
    User,
    pk,
)
from matcher.services import save_need
from tests.web.conftest import PASSWORD, USERS, Browser, flash_of

HIDDEN_TITLE = "炉顶煤气余压发电改造HX9"
HIDDEN_TEXT = "内部工艺参数HX9D"


def _user(session, who: str) -> User:  # type: ignore[no-untyped-def]
    return session.exec(select(User).where(User.email == USERS[who][0])).one()


def _viewer(session, who: str) -> Viewer:  # type: ignore[no-untyped-def]
    user = _user(session, who)
    return Viewer(user.id, user.organization_id, user.role)


def _code(session, model, code: str) -> int:  # type: ignore[no-untyped-def]
    return pk(session.exec(select(model).where(model.code == code)).one())


def _hidden_need(session) -> Need:  # type: ignore[no-untyped-def]
    from matcher.models import NeedCreate

    steel = _user(session, "steel")
    return save_need(
        session=session,
        data=NeedCreate(
            title=HIDDEN_TITLE, description=f"高炉煤气余热回收与余压发电 {HIDDEN_TEXT}",
            field="能源与动力", visibility="organizers", min_trl=4, budget=300,
            contact_name="隐秘联系人", contact_phone="13911112222",
        ),
        owner_id=steel.organization_id,  # type: ignore[arg-type]
    )  # fmt: skip


def _event_with_hidden_need(engine: Engine, *, status: str = "published") -> dict[str, int]:
    """An event where the steel company takes part with only its 仅组织方 need, and a meeting
    arranged on that need with the university (as pairing would do)."""
    with session_scope(engine) as session:
        need = _hidden_need(session)
        organizer = _viewer(session, "organizer")
        today = dt.date.today()
        event = setup.create_event(session=session, viewer=organizer, event=EventIn(
            name="钢铁专场对接会", starts_on=today, ends_on=today, tables=2,
            sessions=[{"day": today, "start": dt.time(0, 0), "end": dt.time(1, 0), "slot_minutes": 20}],
        ))  # fmt: skip
        steel, univ = _user(session, "steel"), _user(session, "univ")
        demand = invitations.invite(
            session=session, viewer=organizer, event=event,
            organization_id=steel.organization_id, group="demand",  # type: ignore[arg-type]
        )  # fmt: skip
        supply = invitations.invite(
            session=session, viewer=organizer, event=event,
            organization_id=univ.organization_id, group="supply",  # type: ignore[arg-type]
            need_id=pk(need), technology_id=_code(session, Technology, "T1"),
        )  # fmt: skip
        demand.need_ids = [pk(need)]
        for who in ("steel", "univ"):
            invitations.register(session=session, viewer=_viewer(session, who), event=event)
        meeting = schedule.add_meeting(
            session=session, viewer=organizer, event=event, demand_id=pk(demand),
            supply_id=pk(supply), slot=0,
            table_id=pk(setup.event_tables(session=session, event_id=pk(event))[0]),
        )  # fmt: skip
        meeting.basis, meeting.need_id = "match", pk(need)
        meeting.technology_id = _code(session, Technology, "T1")
        event.status = "scheduled"
        session.add_all([meeting, event, demand])
        session.flush()
        if status == "published":
            schedule.publish(session=session, viewer=organizer, event=event)
        return {
            "event": pk(event), "demand": pk(demand), "supply": pk(supply),
            "meeting": pk(meeting), "need": pk(need),
        }  # fmt: skip


def _xlsx_text(data: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return "\n".join(
        str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value
    )


# 1 ---------------------------------------------------------------------------------------------


def test_a_hidden_need_never_shows_through_an_event(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    ids = _event_with_hidden_need(engine)
    univ, steel, organizer = make_browser("univ"), make_browser("steel"), make_browser("organizer")
    e, p, m = ids["event"], ids["supply"], ids["meeting"]
    assert univ.get(f"/needs/{ids['need']}").status_code == 404
    pages = {
        "me": univ.get(f"/events/{e}/me").text,
        "agenda": univ.get(f"/events/{e}/agenda/{p}").text,
        "ics": univ.get(f"/events/{e}/agenda/{p}.ics").text,
        "xlsx": _xlsx_text(univ.get(f"/events/{e}/agenda/{p}.xlsx").content),
        "brief": univ.get(f"/events/{e}/meetings/{m}/brief").text,
        "notifications": univ.get("/notifications").text,
    }
    for name, text in pages.items():
        assert HIDDEN_TITLE not in text and HIDDEN_TEXT not in text, name
        assert "13911112222" not in text and "隐秘联系人" not in text, name
    assert (
        "一项仅组织方可见的需求" in pages["agenda"] and "一项仅组织方可见的需求" in pages["brief"]
    )
    # its owner and the organizers still read it
    assert HIDDEN_TITLE in steel.get(f"/events/{e}/meetings/{m}/brief").text
    assert HIDDEN_TITLE in organizer.get(f"/events/{e}/meetings/{m}/brief").text
    assert HIDDEN_TEXT in organizer.get(f"/events/{e}/meetings/{m}/brief").text


def test_self_registering_into_an_open_event_reveals_no_hidden_need(  # type: ignore[no-untyped-def]
    make_browser, engine: Engine, web_app
) -> None:
    ids = _event_with_hidden_need(engine, status="open")
    with session_scope(engine) as session:
        event = session.get(Event, ids["event"])
        event.status = "open"  # type: ignore[union-attr]
        session.add(event)
        # a new institute publishes a result worded like the guessed need, and signs up
        spy_org = Organization(name="探子研究所", kind="institute")
        session.add(spy_org)
        session.flush()
        accounts.create_user(
            session=session, email="spy@example.cn", name="spy", password=PASSWORD,
            role="university", organization_id=spy_org.id,
        )  # fmt: skip
        session.add(
            Technology(
                title="炉顶煤气余压发电", summary="高炉炉顶煤气余压发电与余热回收", field="能源与动力",
                trl=6, cooperation_modes=["转让"], owner_id=pk(spy_org),
            )
        )  # fmt: skip
    spy = make_browser()
    web_app.state.index.catch_up()
    spy.get("/login")
    spy.post("/login", {"email": "spy@example.cn", "password": PASSWORD})
    spy.get(f"/events/{ids['event']}/me")  # a signed-in page: its CSRF token
    assert spy.post(f"/events/{ids['event']}/register", {"accept": "1"}).status_code == 200
    page = spy.get(f"/events/{ids['event']}/me").text
    assert "钢铁专场对接会" in page and "鞍辽钢铁" in page  # it sees who takes part …
    assert HIDDEN_TITLE not in page and HIDDEN_TEXT not in page  # … never the hidden need


def test_closed_needs_stay_out_of_briefs(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    ids = _event_with_hidden_need(engine)
    with session_scope(engine) as session:
        meeting = session.get(Meeting, ids["meeting"])
        meeting.need_id = None  # type: ignore[union-attr]
        session.add(meeting)
        n1 = session.get(Need, _code(session, Need, "N1"))
        n1.status = "closed"  # type: ignore[union-attr]
        session.add(n1)
        demand = session.get(Participant, ids["demand"])
        demand.need_ids = [pk(n1), ids["need"]]  # type: ignore[union-attr, arg-type]
        session.add(demand)
    brief = make_browser("univ").get(f"/events/{ids['event']}/meetings/{ids['meeting']}/brief")
    assert brief.status_code == 200
    assert "高炉异常预警" not in brief.text and HIDDEN_TITLE not in brief.text


# 2 ---------------------------------------------------------------------------------------------


def test_outcomes_need_both_sides_before_contacts_appear(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    ids = _event_with_hidden_need(engine, status="scheduled")
    e, m = ids["event"], ids["meeting"]
    univ, steel, ship = make_browser("univ"), make_browser("steel"), make_browser("ship")
    claim = {"status": "held", "rating": "promising", "result": "signed", "amount": "80",
             "share_contact": "1"}  # fmt: skip
    # not before the schedule is published
    assert univ.post(f"/events/{e}/meetings/{m}/outcome", claim).status_code == 404
    with session_scope(engine) as session:
        schedule.publish(
            session=session,
            viewer=_viewer(session, "organizer"),
            event=session.get(Event, e),  # type: ignore[arg-type]
        )
    # an organization that is no side of the meeting records nothing
    assert ship.post(f"/events/{e}/meetings/{m}/outcome", claim).status_code == 404
    # one side's consent and claim open no lead and reveal nothing
    assert univ.post(f"/events/{e}/meetings/{m}/outcome", claim).status_code == 200
    with session_scope(engine, write=False) as session:
        assert session.exec(select(Lead)).all() == []
        rows = session.exec(select(MeetingFeedback)).all()
        assert [(r.side, r.outcome) for r in rows] == [("supply", "signed")]
    report = make_browser("organizer").get(f"/events/{e}/report").text
    assert re.search(r"待确认的签约 <b>1</b>", report)
    # the other side records its own view: the first side's rating stays as it was
    reply = {"status": "held", "rating": "useful", "share_contact": "1"}
    assert "对接线索" in steel.post(f"/events/{e}/meetings/{m}/outcome", reply).text
    with session_scope(engine, write=False) as session:
        rows = {r.side: r for r in session.exec(select(MeetingFeedback))}
        assert rows["supply"].rating == "promising" and rows["demand"].rating == "useful"
        lead = session.exec(select(Lead)).one()
        assert lead.stage == "negotiation"  # the claimed contract is not confirmed
    # the lead shows the listings' own contacts — not every user of both organizations
    page = univ.get(f"/leads/{lead.id}").text
    assert "隐秘联系人" in page and "13911112222" in page  # the need's contact
    assert "王老师" in page  # the result's contact
    with session_scope(engine) as session:
        accounts.create_user(
            session=session, email="colleague@example.cn", name="同事乙", password=PASSWORD,
            role="enterprise", organization_id=_user(session, "steel").organization_id,
            phone="13766667777",
        )  # fmt: skip
    assert "13766667777" not in univ.get(f"/leads/{lead.id}").text


# 3 ---------------------------------------------------------------------------------------------


def test_a_rejected_listing_cannot_be_republished_by_its_owner(  # type: ignore[no-untyped-def]
    make_browser, engine: Engine, web_app
) -> None:
    with session_scope(engine, write=False) as session:
        t1 = _code(session, Technology, "T1")
        univ_user = _user(session, "univ")
    admin, univ = make_browser("admin"), make_browser("univ")
    rejected = admin.post(
        f"/admin/moderate/technology/{t1}", {"action": "reject", "note": "虚假宣传"}
    )
    assert rejected.status_code == 200
    # withdraw → renew
    assert (
        flash_of(univ, univ.post(f"/workspace/technologies/{t1}/withdraw", follow_redirects=False))[
            0
        ]
        == "error"
    )
    assert (
        flash_of(univ, univ.post(f"/workspace/technologies/{t1}/renew", follow_redirects=False))[0]
        == "error"
    )
    # the edit form
    form = univ.get(f"/workspace/technologies/{t1}/edit").text
    assert "已驳回" in form and 'value="rejected"' in form
    # the API
    with session_scope(engine) as session:
        token = accounts.new_api_token(
            session=session, user=session.get(User, univ_user.id), name="t"
        )  # type: ignore[arg-type]
    api = TestClient(web_app)
    body = {"title": "高炉炉况在线监测", "summary": "改进版", "field": "冶金与矿业", "trl": 6,
            "cooperation_modes": ["转让"], "status": "published"}  # fmt: skip
    put = api.put(
        f"/api/v1/my/technologies/{t1}", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert put.status_code == 409 and "驳回" in put.json()["detail"]
    # a catalog import
    csv = "编号,成果名称,所属单位,技术领域,成果简介,成熟度,合作方式,状态\nT1,高炉炉况在线监测,北辰理工大学,冶金与矿业,改进版,6,转让,已发布\n"
    preview = univ.client.post(
        "/workspace/import/preview", data={"csrf_token": univ.token, "kind": "technologies"},
        files={"file": ("t.csv", csv.encode(), "text/csv")},
    )  # fmt: skip
    assert "已被驳回" in preview.text
    with session_scope(engine, write=False) as session:
        assert session.get(Technology, t1).status == "rejected"  # type: ignore[union-attr]
    assert TestClient(web_app).get(f"/technologies/{t1}").status_code == 404
    # asking for a review puts it in the queue; only a moderator publishes it
    asked = univ.post(f"/workspace/technologies/{t1}/review", follow_redirects=False)
    assert flash_of(univ, asked)[0] == "success"
    with session_scope(engine, write=False) as session:
        assert session.get(Technology, t1).status == "pending"  # type: ignore[union-attr]
    admin.post(f"/admin/moderate/technology/{t1}", {"action": "publish"})
    with session_scope(engine, write=False) as session:
        assert session.get(Technology, t1).status == "published"  # type: ignore[union-attr]


def test_pre_moderation_holds_new_listings_for_review(  # type: ignore[no-untyped-def]
    make_browser, engine: Engine, web_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matcher.config import reset_settings

    monkeypatch.setenv("DUIJIE_MODERATION", "pre")
    reset_settings()
    ship = make_browser("ship")
    created = ship.post(
        "/workspace/needs/new",
        {"kind": "tech", "title": "船用防污涂层", "description": "需要无锡环保防污涂层，替代含铜涂料。",
         "visibility": "public", "status": "published"},
        follow_redirects=False,
    )  # fmt: skip
    assert flash_of(ship, created) == ("success", "已提交，平台审核通过后发布")
    with session_scope(engine, write=False) as session:
        need = session.exec(select(Need).where(Need.title == "船用防污涂层")).one()
        assert need.status == "pending"
    assert TestClient(web_app).get(f"/needs/{need.id}").status_code == 404


# 4 ---------------------------------------------------------------------------------------------


def test_a_suspended_organization_stops_working(make_browser, engine: Engine, web_app) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        univ = _user(session, "univ")
        token = accounts.new_api_token(session=session, user=univ, name="t")
        org_id, t1 = univ.organization_id, _code(session, Technology, "T1")
    anonymous = make_browser().client
    assert "高炉炉况在线监测" in anonymous.get("/?q=高炉炉况在线监测").text
    make_browser("admin").post(f"/admin/organizations/{org_id}/status", {"status": "suspended"})
    fresh = make_browser()
    fresh.get("/login")
    login = fresh.post("/login", {"email": USERS["univ"][0], "password": PASSWORD})
    assert login.status_code == 403 and "暂停" in login.text
    api = TestClient(web_app)
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/my/technologies", headers=headers).status_code == 403
    assert anonymous.get(f"/technologies/{t1}").status_code == 404
    assert anonymous.get(f"/api/v1/technologies/{t1}").status_code == 404
    assert anonymous.get(f"/organizations/{org_id}").status_code == 404
    search = anonymous.get("/api/v1/search?q=高炉炉况在线监测").json()
    assert t1 not in [h["id"] for h in search["results"]]
    assert "高炉炉况在线监测" not in anonymous.get("/").text  # the newest-listings page too
    make_browser("admin").post(f"/admin/organizations/{org_id}/status", {"status": "active"})
    assert t1 in [
        h["id"] for h in anonymous.get("/api/v1/search?q=高炉炉况在线监测").json()["results"]
    ]
    assert api.get("/api/v1/my/technologies", headers=headers).status_code == 200


# 5 ---------------------------------------------------------------------------------------------


def test_account_export_and_deletion_touch_only_the_persons_own_records(  # type: ignore[no-untyped-def]
    engine: Engine, make_browser
) -> None:
    with session_scope(engine) as session:
        ship_org = _user(session, "ship").organization_id
        accounts.create_user(
            session=session, email="mimic@example.cn", name="王老师", password=PASSWORD,
            role="enterprise", organization_id=ship_org, phone="13812345678",  # T1's contact phone
        )  # fmt: skip
    mimic = make_browser()
    mimic.get("/login")
    mimic.post("/login", {"email": "mimic@example.cn", "password": PASSWORD})
    data = mimic.get("/account/data.json").json()
    assert data["listings_with_my_contact_details"] == []
    mimic.get("/account")
    mimic.post("/account/delete", {"password": PASSWORD, "confirm": "注销"})
    with session_scope(engine, write=False) as session:
        t1 = session.get(Technology, _code(session, Technology, "T1"))
        assert t1.contact_phone == "13812345678" and t1.contact_name == "王老师"  # type: ignore[union-attr]


# 7 and 8 ---------------------------------------------------------------------------------------


def test_naming_an_experts_institution_blocks_nobody_and_reviewers_stay_anonymous(  # type: ignore[no-untyped-def]
    make_browser, engine: Engine
) -> None:
    with session_scope(engine) as session:
        steel, univ = _viewer(session, "steel"), _viewer(session, "univ")
        inst_org = _user(session, "inst").organization_id
        challenge = save_challenge(
            session=session, viewer=_viewer(session, "organizer"),
            data=ChallengeIn(title="高炉炉况预警", problem="高炉炉况判断依赖经验，需在线监测与异常预警，" * 2,
                             application_deadline=dt.date.today() + dt.timedelta(days=30)),
            publisher_id=steel.organization_id,
        )  # fmt: skip
        application = save_application(
            session=session, viewer=univ, challenge=challenge,
            data=ApplicationIn(submit=True, team="课题组", leader="王", approach="基于风口图像的炉况识别方案，" * 5,
                               budget=50, milestones=[{"title": "样机"}], partner_names=["云岫材料研究所"]),
        )  # fmt: skip
        expert = accounts.create_user(
            session=session, email="inst-expert@example.cn", name="院所专家丁", password=PASSWORD,
            role="university", organization_id=inst_org, expertise="冶金 高炉",
        )  # fmt: skip
        # the partner has not confirmed: the expert from that institute is not blocked
        assign_expert(
            session=session, viewer=_viewer(session, "organizer"), application=application,
            expert_id=pk(expert),
        )  # fmt: skip
        challenge_id = pk(challenge)
    # the publisher sees that reviews are assigned, not who reviews
    publisher_page = make_browser("steel").get(f"/challenges/{challenge_id}").text
    assert "院所专家丁" not in publisher_page and "评审专家 1" in publisher_page
    assert "院所专家丁" in make_browser("organizer").get(f"/challenges/{challenge_id}").text
    with session_scope(engine) as session:
        row = session.get(Challenge, challenge_id)
        row.panel_public = True  # type: ignore[union-attr]
        session.add(row)
    assert "院所专家丁" in make_browser("steel").get(f"/challenges/{challenge_id}").text


def test_an_expert_from_the_publisher_is_conflicted(engine: Engine, web_app) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        steel, univ = _viewer(session, "steel"), _viewer(session, "univ")
        challenge = save_challenge(
            session=session, viewer=_viewer(session, "organizer"),
            data=ChallengeIn(title="余热回收", problem="高炉煤气余热回收效率低，需要新的换热方案，" * 2,
                             application_deadline=dt.date.today() + dt.timedelta(days=30)),
            publisher_id=steel.organization_id,
        )  # fmt: skip
        application = save_application(
            session=session, viewer=univ, challenge=challenge,
            data=ApplicationIn(submit=True, team="课题组", leader="王", approach="采用热管换热与余热发电的组合方案，" * 5,
                               budget=50, milestones=[{"title": "样机"}]),
        )  # fmt: skip
        inside = accounts.create_user(
            session=session, email="steel-expert@example.cn", name="钢厂专家", password=PASSWORD,
            role="university", organization_id=steel.organization_id, expertise="冶金",
        )  # fmt: skip
        assert "专家就职于发榜单位" in " ".join(
            conflicts(session=session, expert=inside, application=application)
        )


def test_an_enterprise_user_cannot_be_made_an_expert(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    admin = make_browser("admin")
    with session_scope(engine, write=False) as session:
        ship_org = _user(session, "ship").organization_id
    created = admin.post(
        "/admin/users",
        {"email": "e2@example.cn", "name": "企业专家", "role": "enterprise",
         "organization_id": str(ship_org), "password": "abcdefg123", "expertise": "船舶"},
        follow_redirects=False,
    )  # fmt: skip
    assert flash_of(admin, created) == ("error", "企业用户不能担任评审专家（利益冲突）")
    with session_scope(engine, write=False) as session:
        assert session.exec(select(User).where(User.email == "e2@example.cn")).first() is None


# 9 ---------------------------------------------------------------------------------------------


def test_exports_survive_hostile_names(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    ids = _event_with_hidden_need(engine)
    with session_scope(engine) as session:
        for org in session.exec(select(Organization)):
            org.name = org.name + " [A]:*?/\\'"
            session.add(org)
        event = session.get(Event, ids["event"])
        event.name = "专场\r\nEND:VCALENDAR\rX-INJECTED:1"  # type: ignore[union-attr]
        event.venue = "会场\rATTENDEE:mailto:x@evil.example"  # type: ignore[union-attr]
        session.add(event)
    organizer = make_browser("organizer")
    book = organizer.get(f"/events/{ids['event']}/agendas.xlsx")
    assert book.status_code == 200
    sheets = openpyxl.load_workbook(io.BytesIO(book.content)).sheetnames
    assert len(sheets) == 2 and all(not set("[]:*?/\\") & set(name) for name in sheets)
    ics = make_browser("univ").get(f"/events/{ids['event']}/agenda/{ids['supply']}.ics").content
    lines = ics.split(b"\r\n")
    assert b"\r" not in b"".join(lines) and b"\n" not in b"".join(lines)
    assert not any(line.startswith((b"X-INJECTED", b"ATTENDEE")) for line in lines)
    assert lines.count(b"END:VCALENDAR") == 1


# suspected, verified ---------------------------------------------------------------------------


def test_organizers_see_no_emails_and_manage_only_their_agencys_challenges(  # type: ignore[no-untyped-def]
    make_browser, engine: Engine
) -> None:
    page = make_browser("organizer").get("/admin").text
    assert "univ@example.cn" not in page and "steel@example.cn" not in page
    assert "univ@example.cn" in make_browser("admin").get("/admin").text
    with session_scope(engine) as session:
        agency = Organization(name="省科技成果转化中心", kind="agency")
        other = Organization(name="市工信局", kind="agency")
        session.add_all([agency, other])
        session.flush()
        for org, email in ((agency, "a1@example.cn"), (other, "a2@example.cn")):
            accounts.create_user(session=session, email=email, name=email, password=PASSWORD,
                                 role="organizer", organization_id=org.id)  # fmt: skip
        mine = save_challenge(
            session=session, viewer=Viewer(None, agency.id, "organizer"),
            data=ChallengeIn(title="省中心的榜单", problem="需要高炉炉况在线监测与异常预警的整体方案。" * 2,
                             application_deadline=dt.date.today() + dt.timedelta(days=30)),
            publisher_id=_user(session, "steel").organization_id,
        )  # fmt: skip
        challenge_id = pk(mine)
    outsider = make_browser()
    outsider.get("/login")
    outsider.post("/login", {"email": "a2@example.cn", "password": PASSWORD})
    assert outsider.get(f"/challenges/{challenge_id}/teams").status_code == 404
    assert (
        outsider.post(f"/challenges/{challenge_id}/invite", {"organization_id": "1"}).status_code
        == 404
    )


def test_participant_import_checks_the_organizer_before_reading_the_file(  # type: ignore[no-untyped-def]
    make_browser, engine: Engine
) -> None:
    ids = _event_with_hidden_need(engine)
    univ = make_browser("univ")
    response = univ.client.post(
        f"/events/{ids['event']}/participants/import", data={"csrf_token": univ.token},
        files={"file": ("p.xlsx", b"not a spreadsheet", "application/octet-stream")},
    )  # fmt: skip
    assert response.status_code in (403, 404) and "第 " not in response.text


def test_codes_are_an_owners_own_and_reveal_nothing(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """N3 is the shipbuilder's code: the steel company's own N3 is a new record of its own, and
    nothing tells it that another organization uses that code."""
    steel = make_browser("steel")
    csv = "编号,需求名称,需求类型,需求描述\nN3,钢厂自己的N3,技术需求,与别家编号相同也无妨\n"
    preview = steel.client.post(
        "/workspace/import/preview", data={"csrf_token": steel.token, "kind": "needs"},
        files={"file": ("n.csv", csv.encode(), "text/csv")},
    )  # fmt: skip
    assert preview.status_code == 200 and "其他单位" not in preview.text
    token = re.search(r'name="token" value="([^"]+)"', preview.text)
    assert token
    steel.post("/workspace/import/confirm", {"token": token.group(1), "kind": "needs"})
    with session_scope(engine, write=False) as session:
        rows = session.exec(select(Need).where(Need.code == "N3")).all()
        assert sorted(r.title for r in rows) == ["注册可见的船型需求", "钢厂自己的N3"]


def test_uploads_waiting_for_confirmation_expire(make_browser, web_app) -> None:  # type: ignore[no-untyped-def]
    import os
    import time

    uploads = web_app.state.settings.home / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    old = uploads / "stale-1-needs"
    old.write_bytes(b"x")
    past = time.time() - 3 * 3600
    os.utime(old, (past, past))
    steel = make_browser("steel")
    csv = "需求名称,需求类型,需求描述\n新需求,技术需求,描述文字\n"
    steel.client.post(
        "/workspace/import/preview", data={"csrf_token": steel.token, "kind": "needs"},
        files={"file": ("n.csv", csv.encode(), "text/csv")},
    )  # fmt: skip
    assert not old.exists()


def test_a_crafted_link_shows_no_official_looking_alert(make_browser) -> None:  # type: ignore[no-untyped-def]
    admin = make_browser("admin")
    for url in ("/admin?error=您的账号已被冻结，请致电4008123", "/challenges?error=请立即缴费"):
        text = admin.get(url).text
        assert "4008123" not in text and "请立即缴费" not in text
    forged = Browser(TestClient(admin.client.app))
    forged.client.cookies.set(
        "duijie_flash", "eyJsZXZlbCI6ImVycm9yIiwidGV4dCI6IuS9oOeahOi0puWPtyJ9"
    )
    assert "alert error flash" not in forged.get("/login").text


def test_audit_records_who_opened_a_lead(engine: Engine, web_app) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        steel, univ = _viewer(session, "steel"), _viewer(session, "univ")
        interest = leads.express_interest(
            session=session, viewer=steel, technology_id=_code(session, Technology, "T1")
        )
        leads.decide_interest(session=session, viewer=univ, interest_id=pk(interest), accept=True)
        opened = session.exec(select(AuditLog).where(AuditLog.action == "lead.open")).all()
        assert len(opened) == 1 and opened[0].actor_id == univ.user_id
    assert ApiToken and TechnologyCreate  # imported for the model registry
