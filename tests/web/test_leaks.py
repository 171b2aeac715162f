"""A leak test that enumerates channels, not routes.

One 仅组织方 need and one 注册用户 need carry unique marker strings in their title, description and
contacts. Every channel that could carry them is exercised — pairing at a 对接会 (a real schedule
from the engine), invitations, briefs, agendas and their .ics / Excel files, challenge team
finding and review, search, recommendations, notifications, outcomes, the account export — and
then every GET route of the app (pages, fragments, the API, downloads) is crawled as anonymous,
as users of other organizations, as a review expert and as someone who registered with the
hidden need's contact phone, following the links each page offers. The markers must never appear
where the viewer may not see them. Routes are taken from the app itself, so a new route is
covered without editing this test (a new kind of path parameter needs a pool below, and the test
fails until it has one)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from typing import Any

import openpyxl
import pytest
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import accounts
from matcher.access import Viewer
from matcher.challenges.applications import save_application
from matcher.challenges.models import (
    Application,
    Attachment,
    AwardMilestone,
    Challenge,
    ExpertAssignment,
)
from matcher.challenges.publishing import save_challenge
from matcher.challenges.review import assign_expert
from matcher.challenges.schemas import ApplicationIn, ChallengeIn
from matcher.challenges.teams import find_teams, invite
from matcher.db import session_scope
from matcher.events import invitations, outcomes, requests, schedule, setup
from matcher.events.models import Event, EventTable, Meeting, Participant
from matcher.events.schemas import EventIn, OutcomeIn
from matcher.models import (
    ApiToken,
    Interest,
    Lead,
    Need,
    NeedCreate,
    Notification,
    Organization,
    Technology,
    User,
    pk,
)
from matcher.services import save_need
from tests.web.conftest import PASSWORD, USERS

HIDDEN = {
    "title": "高炉余压发电改造甲LKH",
    "description": "炉顶煤气余压发电的内部参数乙LKH",
    "contact_name": "隐藏联系人丙",
    "contact_phone": "13922223333",
    "contact_email": "lkh-hidden@steel.example.cn",
}
REGISTERED = {
    "title": "高炉冷却壁寿命监测丁LKR",
    "description": "冷却壁热流强度在线监测戊LKR",
    "contact_name": "注册联系人己",
    "contact_phone": "13944445555",
    "contact_email": "lkr-registered@steel.example.cn",
}
TEXT_MARKERS = ("title", "description")
CONTACT_MARKERS = ("contact_name", "contact_phone", "contact_email")


# Long on purpose: builds every channel's data (event, brief, export, challenge, notification)
# around one hidden need, so the leak test can look for it everywhere.
@pytest.fixture
def seeded(web_app, make_browser, engine: Engine) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Both needs, and every channel run once (the engine's own pairing included)."""
    make_browser()  # starts the app (model, index, matcher)
    with session_scope(engine) as session:
        steel = session.exec(select(User).where(User.email == USERS["steel"][0])).one()
        users = {
            who: session.exec(select(User).where(User.email == USERS[who][0])).one()
            for who in USERS
        }
        viewer = {who: Viewer(u.id, u.organization_id, u.role) for who, u in users.items()}
        needs = {}
        for name, fields, visibility in (
            ("hidden", HIDDEN, "organizers"),
            ("registered", REGISTERED, "registered"),
        ):
            needs[name] = save_need(
                session=session,
                data=NeedCreate(**fields, field="冶金与矿业", visibility=visibility, budget=120),
                owner_id=steel.organization_id,  # type: ignore[arg-type]
            )
        # someone registers with the hidden need's contact phone (an unverified claim)
        accounts.create_user(
            session=session, email="mimic@example.cn", name="模仿者", password=PASSWORD,
            role="university", organization_id=users["univ"].organization_id,
            phone=HIDDEN["contact_phone"],
        )  # fmt: skip
        expert = accounts.create_user(
            session=session, email="leak-expert@example.cn", name="评审专家", password=PASSWORD,
            role="university", organization_id=None, expertise="冶金 高炉",
        )  # fmt: skip
    web_app.state.index.catch_up()
    matcher = web_app.state.matcher
    with session_scope(engine) as session:
        organizer = viewer["organizer"]
        today = dt.date.today()
        event = setup.create_event(session=session, viewer=organizer, event=EventIn(
            name="高炉专场对接会", starts_on=today, ends_on=today, tables=3,
            sessions=[{"day": today, "start": dt.time(0, 0), "end": dt.time(1, 0), "slot_minutes": 20}],
        ))  # fmt: skip
        hidden_id, registered_id = pk(needs["hidden"]), pk(needs["registered"])
        demand = invitations.invite(
            session=session, viewer=organizer, event=event,
            organization_id=steel.organization_id, group="demand",  # type: ignore[arg-type]
        )  # fmt: skip
        invitations.invite(
            session=session, viewer=organizer, event=event,
            organization_id=users["univ"].organization_id, group="supply",  # type: ignore[arg-type]
            need_id=hidden_id, technology_id=session.exec(select(Technology.id).where(Technology.code == "T1")).one(),
        )  # fmt: skip
        invitations.invite(
            session=session, viewer=organizer, event=event,
            organization_id=users["inst"].organization_id, group="supply",  # type: ignore[arg-type]
        )  # fmt: skip
        for who in ("steel", "univ", "inst"):
            invitations.register(session=session, viewer=viewer[who], event=event)
        demand.need_ids = [hidden_id]  # the engine pairs the steel company on its hidden need
        session.add(demand)
        session.flush()
        # both sides ask for each meeting, so it is scheduled whatever its relevance (the
        # stand-in model's scores are low); the pairing still rests on the hidden need
        people = {
            p.organization_id: p for p in setup.participants(session=session, event_id=pk(event))
        }
        for who in ("univ", "inst"):
            other = people[users[who].organization_id]
            requests.set_request(
                session=session, viewer=viewer["steel"], event=event,
                to_participant_id=pk(other), strength="must",
            )  # fmt: skip
            requests.set_request(
                session=session, viewer=viewer[who], event=event,
                to_participant_id=pk(demand), strength="want",
            )  # fmt: skip
        schedule.generate_schedule(session=session, viewer=organizer, matcher=matcher, event=event)
        schedule.publish(session=session, viewer=organizer, event=event)
        meetings = schedule.meetings_of(session=session, event_id=pk(event))
        assert len(meetings) == 2 and all(m.need_id == hidden_id for m in meetings)
        # one side asks to exchange contacts; the other has not agreed
        for m in meetings:
            side = session.get(Participant, m.supply_id)
            who = "univ" if side.organization_id == users["univ"].organization_id else "inst"  # type: ignore[union-attr]
            outcomes.record_feedback(
                session=session, viewer=viewer[who], event=event, meeting_id=pk(m),
                outcome=OutcomeIn(status="held", rating="promising", outcome="signed", amount=10,
                                  share_contact=True),
            )  # fmt: skip
        # 揭榜挂帅: a challenge, team finding, an invitation, an application under review
        challenge = save_challenge(
            session=session, viewer=organizer,
            data=ChallengeIn(title="高炉炉况预警揭榜", problem="高炉炉况判断依赖经验，需要在线监测与提前预警。" * 2,
                             application_deadline=today + dt.timedelta(days=30)),
            publisher_id=steel.organization_id,
        )  # fmt: skip
        found = find_teams(
            session=session, viewer=organizer, matcher=matcher, challenge=challenge, limit=3
        )
        for candidate in found:
            invite(
                session=session, viewer=organizer, challenge=challenge,
                organization_id=pk(candidate.organization), reason="推荐",
            )  # fmt: skip
        application = save_application(
            session=session, viewer=viewer["univ"], challenge=challenge,
            data=ApplicationIn(submit=True, team="课题组", leader="王", approach="基于风口图像与炉顶温度的炉况识别方案，" * 4,
                               budget=50, milestones=[{"title": "样机"}]),
        )  # fmt: skip
        assign_expert(
            session=session, viewer=organizer, application=application, expert_id=pk(expert)
        )
    return {"hidden": hidden_id, "registered": registered_id}


def _routes(app) -> list[str]:  # type: ignore[no-untyped-def]
    out: list[str] = []

    def walk(routes):  # type: ignore[no-untyped-def]
        for route in routes:
            if isinstance(route, APIRoute):
                if "GET" in route.methods:
                    out.append(route.path)
            elif hasattr(route, "original_router"):
                walk(route.original_router.routes)

    walk(app.routes)
    return sorted(set(out))


def _pools(engine: Engine) -> dict[str, list[str]]:
    with session_scope(engine, write=False) as s:

        def ids(model) -> list[str]:  # type: ignore[no-untyped-def]
            return [str(i) for i in s.exec(select(model.id)).all()]

        return {
            "event_id": ids(Event), "participant_id": ids(Participant), "meeting_id": ids(Meeting),
            "table_id": ids(EventTable), "need_id": ids(Need), "technology_id": ids(Technology),
            "organization_id": ids(Organization), "org_id": ids(Organization),
            "challenge_id": ids(Challenge), "application_id": ids(Application),
            "attachment_id": ids(Attachment) or ["1"], "assignment_id": ids(ExpertAssignment),
            "milestone_id": ids(AwardMilestone) or ["1"], "lead_id": ids(Lead) or ["1"],
            "interest_id": ids(Interest) or ["1"], "user_id": ids(User), "token_id": ids(ApiToken) or ["1"],
            "notification_id": ids(Notification), "item_id": ids(Need),
            "kind": ["technologies", "needs", "organizations"], "collection": ["technologies", "needs"],
        }  # fmt: skip


QUERIES = (
    "/?q=高炉余压发电改造", "/?type=tech_need&q=高炉余压发电", "/?type=tech_need&q=冷却壁寿命监测",
    "/?type=tech_need", "/?type=tech_need&q=LKH", "/api/v1/search?type=tech_need&q=高炉余压发电改造",
    "/api/v1/search?type=tech_need&q=冷却壁寿命", "/api/v1/search?q=高炉余压发电",
)  # fmt: skip
SKIP = ("/api/docs", "/api/v1/openapi.json", "/logout", "/healthz", "/static")


def _text(response) -> str:  # type: ignore[no-untyped-def]
    kind = response.headers.get("content-type", "")
    if "spreadsheetml" in kind:
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        return "\n".join(
            str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value
        )
    return response.text


def crawl(browser, routes: list[str], pools: dict[str, list[str]]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every GET route with every id, the search queries, and the links the pages offer."""
    urls: list[str] = list(QUERIES)
    for path in routes:
        if path.startswith(SKIP):
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", path)
        missing = [n for n in names if n not in pools]
        if missing:
            pytest.fail(f"{path}: add a pool for {missing} to the leak test")
        for combo in itertools.islice(itertools.product(*(pools[n] for n in names)), 300):
            url = path
            for name, value in zip(names, combo, strict=True):
                url = re.sub(r"{" + name + r"(?::\w+)?}", value, url)
            urls.append(url)
    seen: dict[str, str] = {}
    queue = list(dict.fromkeys(urls))
    while queue and len(seen) < 2500:
        url = queue.pop(0)
        if url in seen or url.startswith(SKIP):
            continue
        response = browser.client.get(url, follow_redirects=False)
        seen[url] = _text(response)
        if response.headers.get("content-type", "").startswith("text/html"):
            for link in re.findall(r'href="(/[^"#]*)"', response.text):
                link = link.replace("&amp;", "&")
                if link not in seen and not link.startswith(SKIP) and "/logout" not in link:
                    queue.append(link)
    return seen


def _leaks(pages: dict[str, str], markers: list[str]) -> list[str]:
    return [f"{url}: {m}" for url, text in pages.items() for m in markers if m in text]


def test_hidden_and_registered_needs_never_leak_through_any_channel(  # type: ignore[no-untyped-def]
    web_app, make_browser, engine: Engine, seeded
) -> None:
    routes = _routes(web_app)
    pools = _pools(engine)
    hidden_text = [HIDDEN[k] for k in TEXT_MARKERS]
    contacts = [HIDDEN[k] for k in CONTACT_MARKERS] + [REGISTERED[k] for k in CONTACT_MARKERS]
    registered_text = [REGISTERED[k] for k in TEXT_MARKERS]

    expert = make_browser()
    expert.get("/login")
    expert.post("/login", {"email": "leak-expert@example.cn", "password": PASSWORD})
    mimic = make_browser()
    mimic.get("/login")
    mimic.post("/login", {"email": "mimic@example.cn", "password": PASSWORD})
    with session_scope(engine) as session:
        for browser, email in ((expert, "leak-expert@example.cn"), (mimic, "mimic@example.cn")):
            user = session.exec(select(User).where(User.email == email)).one()
            browser.client.headers["Authorization"] = "Bearer " + accounts.new_api_token(
                session=session, user=user, name="leak"
            )
    viewers = {
        "anonymous": (make_browser(), hidden_text + registered_text + contacts),
        "univ (paired with the hidden need)": (make_browser("univ"), hidden_text + contacts),
        "inst (paired too)": (make_browser("inst"), hidden_text + contacts),
        "ship (takes no part)": (make_browser("ship"), hidden_text + contacts),
        "expert": (expert, hidden_text + contacts),
        # the mimic's own phone is the hidden need's contact phone: its own data may show it
        "mimic": (mimic, hidden_text + [m for m in contacts if m != HIDDEN["contact_phone"]]),
    }
    with session_scope(engine) as session:  # the API, as each signed-in user too
        for who in ("univ", "inst", "ship"):
            user = session.exec(select(User).where(User.email == USERS[who][0])).one()
            browser = next(b for n, (b, _) in viewers.items() if n.startswith(who))
            browser.client.headers["Authorization"] = "Bearer " + accounts.new_api_token(
                session=session, user=user, name="leak"
            )
    crawled = 0
    for name, (browser, markers) in viewers.items():
        pages = crawl(browser, routes, pools)
        crawled += len(pages)
        leaks = _leaks(pages, markers)
        assert not leaks, f"{name} sees what it may not: {leaks[:10]}"
        if name != "anonymous":
            # the crawl reached real content: signed-in users see the registered need
            assert _leaks(pages, registered_text), f"{name}: the crawl never reached the needs"
    assert crawled > 400

    # the channels do carry the hidden need — to its owner and to the organizers
    owner = crawl(make_browser("steel"), routes, pools)
    assert _leaks(owner, [HIDDEN["title"]]) and _leaks(owner, [HIDDEN["description"]])
    organizer = crawl(make_browser("organizer"), routes, pools)
    briefs = {u: t for u, t in organizer.items() if u.endswith("/brief")}
    assert _leaks(briefs, [HIDDEN["title"]]), "the organizer's briefs name the hidden need"
    assert not _leaks(organizer, contacts), "organizers see needs, not people's contacts"
