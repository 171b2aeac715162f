"""The walk-through's dead ends, one test each: where each role lands, the paging fragment, the
review queue, the home page's figures, the need form, import templates, interest and leads."""

from __future__ import annotations

import io
import re

import openpyxl
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher.catalog import preview_catalog
from matcher.db import session_scope
from matcher.models import Interest, Lead, Need, Organization, Technology
from tests.web.conftest import USERS, Browser, flash_of


def _landing(make_browser, who: str) -> str:  # type: ignore[no-untyped-def]
    b: Browser = make_browser()
    b.get("/login")
    response = b.post(
        "/login",
        {"email": USERS[who][0], "password": "test-pass-123"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return str(response.headers["location"])


def test_each_role_lands_where_its_work_is(make_browser) -> None:  # type: ignore[no-untyped-def]
    assert _landing(make_browser, "admin") == "/admin"
    assert _landing(make_browser, "organizer") == "/desk"
    assert _landing(make_browser, "steel") == "/workspace"
    assert _landing(make_browser, "univ") == "/workspace"


def test_admin_and_organizer_never_meet_a_403_on_the_workspace(make_browser) -> None:  # type: ignore[no-untyped-def]
    for who, home in (("admin", "/admin"), ("organizer", "/desk")):
        b = make_browser(who)
        page = b.client.get("/workspace", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == home
        assert b.get(home).status_code == 200


def test_organizer_desk_shows_queue_events_and_figures(make_browser) -> None:  # type: ignore[no-untyped-def]
    page = make_browser("organizer").get("/desk")
    assert page.status_code == 200
    for label in ("待审核", "对接会", "在库科技成果", "审核队列"):
        assert label in page.text


def test_desk_is_staff_only(make_browser) -> None:  # type: ignore[no-untyped-def]
    assert make_browser("steel").client.get("/desk").status_code in (403, 404)


def test_paging_answers_the_results_fragment_not_a_whole_page(browser: Browser) -> None:
    # enough results for two pages: the whole catalog, listed without a query
    full = browser.get("/?q=高炉")
    assert full.status_code == 200 and "<header" in full.text
    fragment = browser.client.get(
        "/?q=高炉&page=1", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert "<header" not in fragment.text and "<html" not in fragment.text
    # the pager's links are plain htmx gets into #results (a boosted link would fetch a full page)
    page = browser.get("/")
    for link in re.findall(r"<nav class=\"pager\".*?</nav>", page.text, re.S):
        assert "hx-boost" not in link
        assert 'hx-target="#results"' in link


def test_home_shows_what_the_platform_holds(browser: Browser) -> None:
    page = browser.get("/")
    assert "在库科技成果" in page.text and "各领域最新成果" in page.text
    assert "近期对接会" in page.text and "正在揭榜" in page.text
    # the figures come from the database: three published technologies in the fixture
    assert re.search(r"<b>3</b><span>在库科技成果", page.text)
    # a search replaces the showcase with results
    assert "各领域最新成果" not in browser.get("/?q=高炉").text


def test_home_showcase_keeps_hidden_needs_and_drafts_out(browser: Browser) -> None:
    page = browser.get("/")
    assert "机密高炉余热项目" not in page.text and "SECRET-MARKER" not in page.text


def test_need_form_starts_from_the_organization_and_person(make_browser) -> None:  # type: ignore[no-untyped-def]
    page = make_browser("steel").get("/workspace/needs/new")
    assert 'value="13500009999"' in page.text  # the person's phone
    assert re.search(r'<option value="辽宁省"\s+selected', page.text)
    assert 'class="kind-tech' in page.text and 'class="kind-financing' in page.text


def test_need_form_drops_the_other_kinds_fields(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    b = make_browser("steel")
    b.get("/workspace/needs/new")
    response = b.post(
        "/workspace/needs/new",
        {
            "kind": "tech",
            "title": "冷轧板形在线检测",
            "description": "冷轧板形靠人工目测，希望在线检测板形并给出调整建议",
            "budget": "80",
            "amount": "5000",
            "stage": "A轮",
            "visibility": "public",
            "status": "published",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:400]
    with session_scope(engine) as session:
        need = session.exec(select(Need).where(Need.title == "冷轧板形在线检测")).one()
        assert need.budget == 80 and need.amount is None and not need.stage


def test_import_template_has_an_example_row_that_imports_skip(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    b = make_browser("univ")
    response = b.get("/workspace/templates/technologies.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book["数据"]
    headers = [c.value for c in sheet[1]]
    example = [c.value for c in sheet[2]]
    assert not any(str(h).startswith("所属单位") for h in headers)  # the university's own template
    assert str(example[headers.index("成果名称*")]).startswith("【示例】")
    # the untouched template imports nothing and says why; a real row beside it imports alone
    with session_scope(engine) as session:
        org = session.exec(select(Organization).where(Organization.name == "北辰理工大学")).one()
        org_id = org.id
    only_example = io.BytesIO()
    book.save(only_example)
    report = preview_catalog(
        engine=engine,
        kind="technologies",
        data=only_example.getvalue(),
        filename="t.xlsx",
        owner_id=org_id,
    )
    assert report.skipped_examples == 1 and not report.rows
    row = list(example)
    row[headers.index("成果名称*")] = "轧辊裂纹涡流检测装置"
    if "编号" in headers:
        row[headers.index("编号")] = "CG-X-1"
    sheet.append(row)
    with_row = io.BytesIO()
    book.save(with_row)
    report = preview_catalog(
        engine=engine,
        kind="technologies",
        data=with_row.getvalue(),
        filename="t.xlsx",
        owner_id=org_id,
    )
    assert not report.problems, report.problems
    assert report.skipped_examples == 1 and [r.values["title"] for r in report.rows] == [
        "轧辊裂纹涡流检测装置"
    ]


def _tech_id(engine: Engine, code: str) -> int:
    with session_scope(engine) as session:
        tech = session.exec(select(Technology).where(Technology.code == code)).one()
        assert tech.id is not None
        return tech.id


def _need_id(engine: Engine, code: str) -> int:
    with session_scope(engine) as session:
        need = session.exec(select(Need).where(Need.code == code)).one()
        assert need.id is not None
        return need.id


def test_interest_cites_own_need_and_can_be_withdrawn(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    steel = make_browser("steel")
    tech_id = _tech_id(engine, "T1")
    page = steel.get(f"/technologies/{tech_id}")
    assert 'name="offered_need_id"' in page.text and "高炉异常预警" in page.text
    need_id = _need_id(engine, "N1")
    sent = steel.post(
        f"/technologies/{tech_id}/interest",
        {"message": "我厂2号高炉希望试点", "offered_need_id": str(need_id)},
    )
    assert sent.status_code == 200, sent.text[:300]
    listing = steel.get("/interests").text
    assert "我厂2号高炉希望试点" in listing and "撤回意向" in listing and "待回复" in listing
    assert "关联本单位的需求" in listing and "高炉异常预警" in listing
    # the receiving university sees which need it is about
    univ = make_browser("univ").get("/interests").text
    assert "对方关联的需求" in univ and "高炉异常预警" in univ
    with session_scope(engine) as session:
        interest = session.exec(select(Interest).where(Interest.technology_id == tech_id)).one()
        interest_id = interest.id
    # nobody but the sender may withdraw it
    other = make_browser("ship")
    other.get("/interests")
    assert other.post(f"/interests/{interest_id}/withdraw").status_code == 404
    level, text = flash_of(
        steel, steel.post(f"/interests/{interest_id}/withdraw", follow_redirects=False)
    )
    assert (level, text) == ("success", "已撤回意向")
    assert "已撤回" in steel.get("/interests").text
    # withdrawn: the page offers to express interest again
    assert "hx-post" in steel.get(f"/technologies/{tech_id}").text


def test_interest_cannot_cite_another_organizations_need(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    steel = make_browser("steel")
    tech_id = _tech_id(engine, "T1")
    steel.get(f"/technologies/{tech_id}")
    foreign = _need_id(engine, "N3")  # the shipyard's need
    response = steel.post(
        f"/technologies/{tech_id}/interest", {"message": "x", "offered_need_id": str(foreign)}
    )
    assert response.status_code == 403


def test_answered_interest_cannot_be_withdrawn(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    steel = make_browser("steel")
    tech_id = _tech_id(engine, "T1")
    steel.get(f"/technologies/{tech_id}")
    steel.post(f"/technologies/{tech_id}/interest", {"message": "请联系我们的设备部"})
    with session_scope(engine) as session:
        interest_id = session.exec(
            select(Interest.id).where(Interest.technology_id == tech_id)
        ).one()
    univ = make_browser("univ")
    univ.get("/interests")
    decided = univ.post(
        f"/interests/{interest_id}/decide", {"decision": "accept"}, follow_redirects=False
    )
    assert decided.status_code == 303
    lead_page = univ.get(decided.headers["location"]).text
    assert "请联系我们的设备部" in lead_page  # the lead shows the original message
    level, text = flash_of(
        steel, steel.post(f"/interests/{interest_id}/withdraw", follow_redirects=False)
    )
    assert level == "error" and "不能撤回" in text
    with session_scope(engine) as session:
        assert session.exec(select(Lead)).first() is not None


def test_api_docs_are_served_by_the_site(browser: Browser) -> None:
    page = browser.get("/api/docs")
    assert page.status_code == 200
    for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert src.startswith("/"), f"asset from outside the site: {src}"
        assert browser.client.get(src).status_code == 200, src
    assert browser.get("/favicon.svg").status_code == 200
    assert browser.client.get("/favicon.ico", follow_redirects=True).status_code == 200


def test_reading_notifications_clears_the_badge(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    steel = make_browser("steel")
    tech_id = _tech_id(engine, "T1")
    steel.get(f"/technologies/{tech_id}")
    steel.post(f"/technologies/{tech_id}/interest", {"message": "hello"})
    univ = make_browser("univ")
    badge = re.compile(r'id="bell-count" class="count"[^>]*>\d+<')
    assert badge.search(univ.get("/workspace").text)
    assert "对您的成果" in univ.get("/notifications").text
    assert not badge.search(univ.get("/workspace").text)


# --- 对接会 ------------------------------------------------------------------------------------


def _viewer_of(session, who: str):  # type: ignore[no-untyped-def]
    from matcher.access import Viewer
    from matcher.models import User

    user = session.exec(select(User).where(User.email == USERS[who][0])).one()
    return Viewer(user.id, user.organization_id, user.role)


def _new_event(engine: Engine, *, name: str = "冶金专场对接会") -> int:
    import datetime as dt

    from matcher.events.schemas import EventIn
    from matcher.events.setup import create_event
    from matcher.models import pk

    with session_scope(engine) as session:
        today = dt.date.today()
        event = create_event(session=session, viewer=_viewer_of(session, "organizer"), event=EventIn(
            name=name, starts_on=today, ends_on=today,
            tables=2, sessions=[{"day": today, "start": dt.time(9, 0), "end": dt.time(10, 0), "slot_minutes": 20}],
        ))  # fmt: skip
        return pk(event)


def test_scheduling_with_nobody_registered_explains_itself(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    event_id = _new_event(engine)
    b = make_browser("organizer")
    b.get(f"/events/{event_id}")
    response = b.post(f"/events/{event_id}/schedule", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/events/{event_id}"
    level, text = flash_of(b, response)
    assert level == "error" and "已报名" in text


def test_several_invitations_at_once(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from matcher.events.models import Participant

    event_id = _new_event(engine)
    with session_scope(engine) as session:
        orgs = {o.name: o.id for o in session.exec(select(Organization))}
    b = make_browser("organizer")
    b.get(f"/events/{event_id}/invite")
    picks = [
        f"{orgs['鞍辽钢铁股份有限公司']}:demand::",
        f"{orgs['渤澜船舶重工有限公司']}:demand::",
        f"{orgs['北辰理工大学']}:supply::",
    ]
    response = b.post(f"/events/{event_id}/invite/batch", {"pick": picks}, follow_redirects=False)
    assert flash_of(b, response) == ("success", "已邀请 3 家单位")
    with session_scope(engine) as session:
        invited = session.exec(select(Participant).where(Participant.event_id == event_id)).all()
        assert {p.organization_id for p in invited} == {
            orgs["鞍辽钢铁股份有限公司"],
            orgs["渤澜船舶重工有限公司"],
            orgs["北辰理工大学"],
        }
    # only the event's organizer may invite
    steel = make_browser("steel")
    steel.get("/interests")
    assert steel.post(f"/events/{event_id}/invite/batch", {"pick": picks}).status_code in (403, 404)


def test_the_report_groups_by_real_fields_and_exports(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_guarded_core import _event_with_hidden_need

    ids = _event_with_hidden_need(engine)
    b = make_browser("organizer")
    page = b.get(f"/events/{ids['event']}/report").text
    assert "data-print" in page and "report.xlsx" in page and "已进行的洽谈" in page
    workbook = b.client.get(f"/events/{ids['event']}/report.xlsx")
    assert workbook.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(workbook.content))
    assert {"概况", "按技术领域", "洽谈明细"} <= set(book.sheetnames)
    detail = [[c.value for c in row] for row in book["洽谈明细"].iter_rows(min_row=2)]
    assert detail and detail[0][2].startswith("鞍辽钢铁") and detail[0][4] == "冶金与矿业"
    # participants never get the organizer's report
    assert make_browser("steel").client.get(f"/events/{ids['event']}/report.xlsx").status_code in (
        403,
        404,
    )


def test_the_grid_names_meetings_without_internal_ids(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_guarded_core import _event_with_hidden_need

    ids = _event_with_hidden_need(engine, status="scheduled")
    page = make_browser("organizer").get(f"/events/{ids['event']}/grid").text
    assert f"#{ids['meeting']}<" not in page and "鞍辽钢铁" in page


# --- 揭榜挂帅 ----------------------------------------------------------------------------------


def _challenge_with_indicator(engine: Engine) -> int:
    import datetime as dt

    from matcher.challenges.publishing import save_challenge
    from matcher.challenges.schemas import ChallengeIn, IndicatorIn
    from matcher.models import pk

    with session_scope(engine) as session:
        organizer = _viewer_of(session, "organizer")
        steel = _viewer_of(session, "steel")
        challenge = save_challenge(
            session=session, viewer=organizer,
            data=ChallengeIn(
                title="高炉炉况异常提前预警", problem="高炉炉况判断依赖经验，需在线监测与异常预警，" * 2,
                application_deadline=dt.date.today() + dt.timedelta(days=30), bounty=300,
                indicators=[IndicatorIn(name="预警提前量", comparison=">=", value=72, unit="小时")],
            ),
            publisher_id=steel.organization_id,
        )  # fmt: skip
        return pk(challenge)


def test_an_application_cites_own_results_and_answers_each_indicator(
    make_browser, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    challenge_id = _challenge_with_indicator(engine)
    own = _tech_id(engine, "T1")  # 北辰理工大学's
    foreign = _tech_id(engine, "T2")  # 云岫材料研究所's
    univ = make_browser("univ")
    form = univ.get(f"/challenges/{challenge_id}/apply").text
    assert 'name="cited"' in form and f'value="{own}"' in form and f'value="{foreign}"' not in form
    indicator = re.search(r'name="answer_(\d+)"', form)
    assert indicator
    fields = {
        "team": "炉况课题组", "leader": "王老师", "budget": "200",
        "approach": "基于风口图像与炉顶温度的炉况识别，结合热负荷模型给出提前预警，已在两座高炉试运行。" * 2,
        "ms_title": "样机", "ms_due": "", "ms_amount": "",
        f"answer_{indicator.group(1)}": "可提前3天预警", "action": "submit",
    }  # fmt: skip
    refused = univ.post(f"/challenges/{challenge_id}/apply", {**fields, "cited": [str(foreign)]})
    assert refused.status_code == 422 and "只能引用本单位已发布的成果" in refused.text
    assert "可提前3天预警" in refused.text  # the form keeps what was typed
    done = univ.post(
        f"/challenges/{challenge_id}/apply", {**fields, "cited": [str(own)]}, follow_redirects=False
    )
    assert done.status_code == 303, done.text[:400]
    page = univ.get(done.headers["location"]).text
    assert "考核指标逐项回答" in page and "可提前3天预警" in page and "引用的成果" in page
    assert "高炉炉况在线监测" in page


def test_a_team_invitation_carries_no_internal_notes(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from matcher.models import Notification

    challenge_id = _challenge_with_indicator(engine)
    with session_scope(engine) as session:
        univ_org = session.exec(
            select(Organization).where(Organization.name == "北辰理工大学")
        ).one()
        ship = session.exec(
            select(Organization).where(Organization.name == "渤澜船舶重工有限公司")
        ).one()
        # a team with a platform record: a lead in negotiation
        session.add(Lead(supplier_id=univ_org.id, demander_id=ship.id, stage="negotiation"))
    b = make_browser("organizer")
    teams = b.get(f"/challenges/{challenge_id}/teams").text
    reason = re.search(r'name="reason" value="([^"]*)"', teams)
    assert reason and "平台记录" not in reason.group(1)
    b.post(
        f"/challenges/{challenge_id}/invite",
        {"organization_id": str(univ_org.id), "reason": reason.group(1), "score": "1"},
    )
    with session_scope(engine) as session:
        texts = [n.text for n in session.exec(select(Notification)) if "揭榜" in n.text]
        assert texts and not any("平台记录" in t for t in texts)


def test_an_owner_can_contact_the_enterprises_that_need_its_result(
    make_browser, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    tech_id = _tech_id(engine, "T1")
    fragment = make_browser("univ").get(f"/technologies/{tech_id}/needs").text
    need_id = _need_id(engine, "N1")
    assert f'href="/needs/{need_id}#interest-box"' in fragment and "联系该企业" in fragment
    hidden = _need_id(engine, "N2")  # 仅组织方: never offered to contact, never named
    assert f"/needs/{hidden}" not in fragment and "机密高炉余热项目" not in fragment


# --- found by a hostile read of this wave's routes ------------------------------------------


def _org_id(engine: Engine, name: str) -> int:
    with session_scope(engine) as session:
        org = session.exec(select(Organization).where(Organization.name == name)).one()
        assert org.id is not None
        return org.id


def test_the_review_queue_never_reinstates_or_rejects_an_active_organization(
    make_browser, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    from matcher import accounts

    ship = _org_id(engine, "渤澜船舶重工有限公司")
    with session_scope(engine) as session:
        org = session.get(Organization, ship)
        accounts.set_organization_status(
            session=session, organization=org, status="suspended", actor_id=None
        )  # type: ignore[arg-type]
    b = make_browser("organizer")
    b.get("/admin/moderation")
    level, text = flash_of(
        b,
        b.post(
            f"/admin/moderation/organization/{ship}",
            {"decision": "approve"},
            follow_redirects=False,
        ),
    )
    assert level == "error" and "不在待审核状态" in text
    steel = _org_id(engine, "鞍辽钢铁股份有限公司")
    b.post(f"/admin/moderation/organization/{steel}", {"decision": "reject", "note": "x"})
    with session_scope(engine) as session:
        assert session.get(Organization, ship).status == "suspended"  # type: ignore[union-attr]
        assert session.get(Organization, steel).status == "active"  # type: ignore[union-attr]


def test_moderation_never_publishes_an_owners_draft(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    need_id = _need_id(engine, "N1")
    with session_scope(engine) as session:
        need = session.get(Need, need_id)
        need.status = "draft"  # type: ignore[union-attr]
        session.add(need)
    b = make_browser("organizer")
    b.get("/admin/moderation")
    b.post(f"/admin/moderation/need/{need_id}", {"decision": "approve"})
    b.post(f"/admin/moderation/need/{need_id}", {"decision": "reject", "note": "不合规"})
    with session_scope(engine) as session:
        assert session.get(Need, need_id).status == "draft"  # type: ignore[union-attr]


def test_the_home_page_lists_only_events_open_for_registration(
    browser: Browser, engine: Engine
) -> None:
    from matcher.events.models import Event

    event_id = _new_event(engine, name="内部专场HX7")
    with session_scope(engine) as session:
        event = session.get(Event, event_id)
        event.status = "published"  # type: ignore[union-attr]
        session.add(event)
    assert "内部专场HX7" not in browser.get("/").text
    with session_scope(engine) as session:
        event = session.get(Event, event_id)
        event.status = "open"  # type: ignore[union-attr]
        session.add(event)
    assert "内部专场HX7" in browser.get("/").text


def test_a_user_without_an_organization_does_not_loop_at_sign_in(
    make_browser, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    from matcher import accounts

    with session_scope(engine) as session:
        accounts.create_user(
            session=session, email="loose@example.cn", name="loose", password="test-pass-123",
            role="enterprise", organization_id=None,
        )  # fmt: skip
    b: Browser = make_browser()
    b.get("/login")
    response = b.post(
        "/login", {"email": "loose@example.cn", "password": "test-pass-123"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    page = b.client.get("/workspace", follow_redirects=False)
    assert page.headers.get("location") != "/workspace"
