"""Nobody gets in where they do not belong.

Every route of the app — pages, htmx fragments, the API — is called by a user of another
organization (B) with the ids of organization A's private objects; each answer must be a refusal
(401/403/404/409) and no answer may contain A's confidential text. Every state change gets a
*valid* body (made from the route's own form fields, with the values below where a field needs
a particular one), so it is refused by the ownership check, not by validation: a 422 fails the
test, and a new route that needs a particular value must get one here."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import accounts, leads
from matcher.access import Viewer
from matcher.challenges.applications import save_application
from matcher.challenges.attachments import add_attachment
from matcher.challenges.models import Application, AwardMilestone, Challenge
from matcher.challenges.publishing import save_challenge
from matcher.challenges.review import assign_expert
from matcher.challenges.schemas import ApplicationIn, ChallengeIn
from matcher.config import get_settings
from matcher.db import session_scope
from matcher.events import invitations, schedule, setup
from matcher.events.schemas import EventIn
from matcher.models import (
    ApiToken,
    Interest,
    Need,
    Notification,
    Organization,
    Technology,
    TechnologyCreate,
    User,
    pk,
)
from matcher.services import save_technology
from tests.web.conftest import USERS, Browser

SECRET = "SECRET-MARKER"
REFUSED = {401, 403, 404, 409}


# Long on purpose: the table of every object route with its owner's private object, so that one
# loop can prove that each refuses everyone else; it grows with each new route.
@pytest.fixture
def private_objects(engine: Engine, web_app) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A's private objects: a confidential need, a draft technology, an interest, a lead, a token."""
    with session_scope(engine) as session:
        steel = session.exec(select(User).where(User.email == USERS["steel"][0])).one()
        univ = session.exec(select(User).where(User.email == USERS["univ"][0])).one()
        need = session.exec(select(Need).where(Need.code == "N2")).one()
        draft = save_technology(
            session=session,
            data=TechnologyCreate(
                title=f"草稿 {SECRET}",
                summary=f"未公开 {SECRET}",
                field="新材料",
                trl=3,
                cooperation_modes=["转让"],
                status="draft",
            ),
            owner_id=univ.organization_id,  # type: ignore[arg-type]
        )
        t1 = session.exec(select(Technology).where(Technology.code == "T1")).one()
        interest = leads.express_interest(
            session=session,
            viewer=Viewer(steel.id, steel.organization_id, "enterprise"),
            technology_id=t1.id,
            message=f"意向 {SECRET}",
        )
        decided = leads.decide_interest(
            session=session,
            viewer=Viewer(univ.id, univ.organization_id, "university"),
            interest_id=interest.id,
            accept=True,
        )  # type: ignore[arg-type]
        accounts.new_api_token(session=session, user=steel, name="A")
        session.flush()
        token = session.exec(select(ApiToken).where(ApiToken.user_id == steel.id)).one()
        note = session.exec(select(Notification).where(Notification.user_id == univ.id)).first()
        org_a = session.get(Organization, steel.organization_id)
        # an event B takes no part in: scheduled but not published, with A's private brief
        organizer = session.exec(select(User).where(User.email == USERS["organizer"][0])).one()
        staff = Viewer(organizer.id, organizer.organization_id, "organizer")
        day = dt.date.today() + dt.timedelta(days=20)
        event = setup.create_event(session=session, viewer=staff, event=EventIn(
            name="内部对接会", starts_on=day, ends_on=day, tables=2,
            description=f"议程 {SECRET}",
            sessions=[{"day": day, "start": dt.time(9), "end": dt.time(10), "slot_minutes": 20}],
        ))  # fmt: skip
        sides = [
            invitations.invite(
                session=session,
                viewer=staff,
                event=event,
                organization_id=org,
                group=group,
                note=f"邀请 {SECRET}",
            )
            for org, group in ((steel.organization_id, "demand"), (univ.organization_id, "supply"))
        ]
        for who in (steel, univ):
            invitations.register(
                session=session, viewer=Viewer(who.id, who.organization_id, who.role), event=event
            )
        meeting = schedule.add_meeting(
            session=session,
            viewer=staff,
            event=event,
            demand_id=pk(sides[0]),
            supply_id=pk(sides[1]),
            slot=0,
            table_id=pk(setup.event_tables(session=session, event_id=pk(event))[0]),
        )
        event.status = "scheduled"
        session.add(event)
        # a challenge still in moderation, and A's university's application (with an attachment,
        # an expert assignment and a milestone) to another of A's challenges
        deadline = dt.date.today() + dt.timedelta(days=20)
        steel_viewer = Viewer(steel.id, steel.organization_id, "enterprise")
        pending = save_challenge(
            session=session, viewer=steel_viewer,
            data=ChallengeIn(title="内部榜单", problem=f"未公开的难题 {SECRET}，" * 3, application_deadline=deadline),
        )  # fmt: skip
        open_one = save_challenge(
            session=session, viewer=staff,
            data=ChallengeIn(title="公开榜单", problem="高炉煤气余热回收改造需要新的换热方案，" * 2, application_deadline=deadline),
            publisher_id=steel.organization_id,
        )  # fmt: skip
        application = save_application(
            session=session, viewer=Viewer(univ.id, univ.organization_id, "university"), challenge=open_one,
            data=ApplicationIn(submit=True, team="课题组", leader="王", approach=f"方案 {SECRET} " * 10, budget=10, milestones=[{"title": "m"}]),
        )  # fmt: skip
        attachment = add_attachment(
            session=session, viewer=Viewer(univ.id, univ.organization_id, "university"), application=application,
            filename="a.pdf", data=b"%PDF-1.4 " + SECRET.encode(), directory=get_settings().attachments_dir,
            max_bytes=10_000,
        )  # fmt: skip
        expert = accounts.create_user(
            session=session, email="expert@example.cn", name="专家", password="pass-123456",
            role="university", organization_id=None, expertise="冶金",
        )  # fmt: skip
        assignment = assign_expert(
            session=session, viewer=staff, application=application, expert_id=expert.id
        )  # type: ignore[arg-type]
        milestone = AwardMilestone(
            challenge_id=open_one.id, application_id=application.id, title="m", status="submitted"
        )  # type: ignore[arg-type]
        session.add(milestone)
        session.flush()
        return {
            "challenge_id": pending.id,  # type: ignore[dict-item]
            "application_id": application.id,  # type: ignore[dict-item]
            "attachment_id": attachment.id,  # type: ignore[dict-item]
            "assignment_id": assignment.id,  # type: ignore[dict-item]
            "milestone_id": milestone.id,  # type: ignore[dict-item]
            "event_id": event.id,  # type: ignore[dict-item]
            "participant_id": sides[0].id,  # type: ignore[dict-item]
            "meeting_id": meeting.id,  # type: ignore[dict-item]
            "table_id": meeting.table_id,
            "need_id": need.id,
            "technology_id": draft.id,
            "interest_id": interest.id,
            "lead_id": decided.lead_id,
            "token_id": token.id,
            "notification_id": note.id if note else 1,
            "organization_id": org_a.id,  # type: ignore[union-attr]
            "org_id": org_a.id,  # type: ignore[union-attr]
            "user_id": steel.id,
            "item_id": need.id,
        }  # type: ignore[dict-item]


FORM_BODIES: dict[str, dict[str, str]] = {
    "/interests/{interest_id}/decide": {"decision": "accept"},
    "/leads/{lead_id}/advance": {"to_stage": "signed", "amount": "10"},
    "/admin/moderate/{kind}/{item_id}": {"action": "reject", "note": "x"},
    "/admin/organizations/{org_id}/status": {"status": "suspended"},
    "/admin/users/{user_id}/active": {"active": "0"},
    "/admin/users/{user_id}/expertise": {"expertise": "冶金工艺"},
    "/admin/users": {
        "email": "x@example.cn",
        "name": "x",
        "role": "admin",
        "password": "abcdefg123",
    },
    "/workspace/import/confirm": {"token": "abc", "kind": "needs"},
    "/workspace/import/preview": {"kind": "needs"},
    "/workspace/technologies/new": {
        "title": "B 的成果",
        "field": "新材料",
        "summary": "耐磨衬板材料与热处理工艺",
        "trl": "5",
        "cooperation_modes": "转让",
        "status": "published",
    },
    "/workspace/technologies/{technology_id}/edit": {
        "title": "改名",
        "field": "新材料",
        "summary": "耐磨衬板材料",
        "trl": "5",
        "cooperation_modes": "转让",
        "status": "published",
    },
    "/workspace/needs/new": {
        "kind": "tech",
        "title": "B 的需求",
        "description": "需要耐腐蚀涂层",
        "visibility": "public",
        "status": "published",
    },
    "/workspace/needs/{need_id}/edit": {
        "kind": "tech",
        "title": "改名",
        "description": "改写",
        "visibility": "public",
        "status": "published",
    },
    "/workspace/{collection}/{item_id}/review": {},
    "/events/new": {
        "name": "B 的活动",
        "starts_on": "2099-01-01",
        "ends_on": "2099-01-01",
        "s1_start": "09:00",
        "s1_end": "10:00",
        "slot_minutes": "20",
        "tables": "2",
        "meeting_cap": "3",
    },
    "/events/{event_id}/meetings/{meeting_id}/move": {"slot": "1", "table_id": "1"},
    "/events/{event_id}/meetings/{meeting_id}/outcome": {
        "status": "held",
        "rating": "promising",
        "share_contact": "1",
    },
    "/events/{event_id}/requests": {"to_id": "1", "strength": "must"},
    "/events/{event_id}/invite": {"organization_id": "1", "group": "demand"},
    "/events/{event_id}/register": {"accept": "1"},
    "/events/{event_id}/unavailable": {"slots": "0"},
    "/challenges/new": {
        "title": "B 的榜单",
        "problem": "船体防污涂层寿命短，需要五年以上的无锡环保防污方案。",
        "application_deadline": "2099-01-01",
        "bounty": "10",
        "visibility": "public",
    },
    "/challenges/{challenge_id}/edit": {
        "title": "改名",
        "problem": "船体防污涂层寿命短，需要五年以上的无锡环保防污方案。",
        "application_deadline": "2099-01-01",
        "visibility": "public",
    },
    "/challenges/{challenge_id}/moderate": {"decision": "approve"},
    "/challenges/{challenge_id}/invite": {"organization_id": "1"},
    "/challenges/{challenge_id}/apply": {
        "team": "B 团队",
        "leader": "钱",
        "approach": "方案" * 30,
        "budget": "10",
        "ms_title": "样机",
        "ms_due": "",
        "ms_amount": "",
        "action": "submit",
    },
    "/challenges/{challenge_id}/award": {"application_id": "1", "amount": "1"},
    "/applications/{application_id}/partnership": {"decision": "confirm"},
    "/applications/{application_id}/experts": {"expert_id": "1"},
    "/milestones/{milestone_id}": {"action": "accept"},
    "/reviews/conflicts": {"organization": "北辰理工大学", "note": "曾任职"},
    "/reviews/{assignment_id}": {
        "technical": "1",
        "feasibility": "1",
        "team": "1",
        "budget": "1",
        "comment": "x" * 20,
    },
}
FILES: dict[str, tuple[str, bytes, str]] = {
    "/workspace/import/preview": (
        "n.csv", "需求名称,需求类型,需求描述\nB 的需求,技术需求,描述\n".encode(), "text/csv",
    ),
    "/events/{event_id}/participants/import": (
        "p.csv", "单位名称,分组\n渤澜船舶重工有限公司,需求方\n".encode(), "text/csv",
    ),
    "/applications/{application_id}/attachments": (
        "b.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "application/pdf",
    ),
}  # fmt: skip
SKIPPED = ("/logout", "/login", "/register", "/account/delete")  # they end B's session


def form_body(route: APIRoute, objects: dict[str, int]) -> dict[str, str]:
    """A valid form for a route: each declared field filled (ids from A's objects), then the
    values a field needs from FORM_BODIES."""
    body: dict[str, str] = {}
    for param in route.dependant.body_params:
        annotation = str(getattr(param.field_info, "annotation", ""))
        if "UploadFile" in annotation:
            continue
        if "int" in annotation or "float" in annotation:
            body[param.name] = str(objects.get(param.name, 1))
        else:
            body[param.name] = "x"
    return {**body, **FORM_BODIES.get(route.path, {})}


JSON_BODIES_EXTRA: dict[str, Any] = {
    "/api/v1/challenges/{challenge_id}/invitations": {"organization_id": 1},
    "/api/v1/applications/{application_id}/experts": {"expert_id": 1},
}
JSON_BODIES: dict[str, Any] = {
    "/api/v1/interests/{interest_id}/decision": {"accept": True},
    "/api/v1/leads/{lead_id}/advance": {"to_stage": "signed", "amount": 10},
    "/api/v1/my/technologies/{technology_id}": {
        "title": "t",
        "summary": "s",
        "field": "新材料",
        "trl": 5,
        "cooperation_modes": ["转让"],
    },
    "/api/v1/my/needs/{need_id}": {"title": "t", "description": "d", "kind": "tech"},
    "/api/v1/my/technologies": {
        "title": "B 的成果", "summary": "耐磨衬板", "field": "新材料", "trl": 5,
        "cooperation_modes": ["转让"],
    },
    "/api/v1/my/needs": {"title": "B 的需求", "description": "耐腐蚀涂层", "kind": "tech"},
    "/api/v1/interests": {"technology_id": 0, "message": "x"},  # A's draft (below)
}  # fmt: skip


def _flatten(routes) -> list[APIRoute]:  # type: ignore[no-untyped-def]
    """Every APIRoute, also inside routers FastAPI includes lazily (no include prefixes are used)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out.extend(_flatten(route.original_router.routes))
    return out


def _routes(app) -> list[tuple[str, APIRoute]]:  # type: ignore[no-untyped-def]
    out = []
    for route in _flatten(app.routes):
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((method, route))
    return out


def test_every_route_refuses_another_organizations_private_objects(
    web_app,
    make_browser,
    private_objects: dict[str, int],
    engine: Engine,  # type: ignore[no-untyped-def]
) -> None:
    b = make_browser("ship")
    with session_scope(engine) as session:
        ship = session.exec(select(User).where(User.email == USERS["ship"][0])).one()
        api_token = accounts.new_api_token(session=session, user=ship, name="B")
    api = TestClient(web_app)
    checked = 0
    for method, route in _routes(web_app):
        path = route.path
        if path in SKIPPED:
            continue
        params = re.findall(r"{(\w+)(?::\w+)?}", path)
        url = path
        for name in params:
            value = (
                "technology"
                if name == "kind"
                else "needs"
                if name == "collection"
                else str(private_objects.get(name, 1))
            )
            if name == "kind" and path.endswith(".xlsx"):
                value = "technologies"
            url = re.sub(r"{" + name + r"(?::\w+)?}", value, url)
        if path.startswith("/api/"):
            headers = {"Authorization": f"Bearer {api_token}"}
            if method == "GET":
                response = api.get(url, headers=headers)
            else:
                body = JSON_BODIES.get(path, JSON_BODIES_EXTRA.get(path, {}))
                if path == "/api/v1/interests":
                    body = {**body, "technology_id": private_objects["technology_id"]}
                response = api.request(method, url, headers=headers, json=body)
        else:
            if method == "GET":
                response = b.get(url, follow_redirects=False)
            else:
                upload = FILES.get(path)
                response = b.post(
                    url, form_body(route, private_objects), follow_redirects=False,
                    files={"file": upload} if upload else None,
                )  # fmt: skip
        checked += 1
        assert response.status_code != 422, (
            f"{method} {url} was refused by validation ({response.text[:200]}): give it a valid "
            "body in FORM_BODIES so the test reaches the ownership check"
        )
        assert SECRET not in response.text, f"{method} {url} leaks A's confidential text"
        if params and not _public(path):
            assert response.status_code in REFUSED, (
                f"{method} {url} answered {response.status_code} to another organization"
            )
        elif method != "GET":
            assert response.status_code in REFUSED | {200, 201, 303}, (
                f"{method} {url}: {response.status_code}"
            )
    assert checked >= 40
    # and nothing changed for A
    with session_scope(engine, write=False) as session:
        assert session.get(Need, private_objects["need_id"]).status == "published"  # type: ignore[union-attr]
        assert session.get(Interest, private_objects["interest_id"]).status == "accepted"  # type: ignore[union-attr]
        assert session.get(Challenge, private_objects["challenge_id"]).status == "pending"  # type: ignore[union-attr]
        assert session.get(Application, private_objects["application_id"]).status == "under_review"  # type: ignore[union-attr]
        assert session.get(AwardMilestone, private_objects["milestone_id"]).status == "submitted"  # type: ignore[union-attr]


def _public(path: str) -> bool:
    """Routes whose object is public by design (an organization's page lists only public items)."""
    return path in ("/organizations/{organization_id}", "/workspace/templates/{kind}.xlsx")


def test_confidential_need_never_shows_in_search_reasons_or_api(web_app, make_browser) -> None:  # type: ignore[no-untyped-def]
    b = make_browser("ship")
    for url in (
        "/?q=高炉煤气余热",
        "/?type=tech_need&q=高炉煤气余热",
        "/?type=tech_need",
        "/api/v1/search?q=高炉煤气余热&type=tech_need",
    ):
        response = b.get(url)
        assert (
            response.status_code == 200
            and SECRET not in response.text
            and "机密高炉余热项目" not in response.text
        )
    anonymous = TestClient(web_app)
    assert "注册可见的船型需求" not in anonymous.get("/?type=tech_need").text
    assert "注册可见的船型需求" in b.get("/?type=tech_need").text


def test_state_changes_without_a_csrf_token_are_refused(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    univ = make_browser("univ")
    with session_scope(engine, write=False) as s:
        t1 = s.exec(select(Technology).where(Technology.code == "T1")).one().id
    response = univ.client.post(
        f"/workspace/technologies/{t1}/withdraw", data={}, follow_redirects=False
    )
    assert response.status_code == 403 and "CSRF" in response.text
    forged = univ.client.post(
        f"/workspace/technologies/{t1}/withdraw",
        data={"csrf_token": "0" * 64},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    htmx = univ.client.post(
        f"/workspace/technologies/{t1}/withdraw",
        headers={"X-CSRF-Token": univ.token},
        follow_redirects=False,
    )
    assert htmx.status_code == 303
    anonymous = Browser(TestClient(univ.client.app))
    assert anonymous.client.post("/login", data={"email": "x", "password": "y"}).status_code == 403


def test_a_session_cookie_copied_before_logout_stops_working(make_browser) -> None:  # type: ignore[no-untyped-def]
    univ = make_browser("univ")
    cookie = univ.client.cookies.get("duijie_session")
    assert cookie and univ.get("/workspace").status_code == 200
    univ.post("/logout", follow_redirects=False)
    thief = TestClient(univ.client.app)
    thief.cookies.set("duijie_session", cookie)
    response = thief.get("/workspace", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_login_is_rate_limited(make_browser) -> None:  # type: ignore[no-untyped-def]
    b = make_browser()
    b.get("/login")
    for _ in range(5):
        assert (
            b.post("/login", {"email": USERS["univ"][0], "password": "wrong-password1"}).status_code
            == 401
        )
    blocked = b.post("/login", {"email": USERS["univ"][0], "password": "test-pass-123"})
    assert blocked.status_code == 429 and "15 分钟" in blocked.text


def test_cookies_are_httponly_and_samesite(make_browser) -> None:  # type: ignore[no-untyped-def]
    b = make_browser()
    b.get("/login")
    response = b.post(
        "/login", {"email": USERS["univ"][0], "password": "test-pass-123"}, follow_redirects=False
    )
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header
