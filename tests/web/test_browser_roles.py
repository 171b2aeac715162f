"""Each kind of user in a real browser on the demo data: where signing in lands, paging through
search results, an event scheduled before anyone registered, the API docs, and every main page
on a 390 px phone (screenshots in test-artifacts/phone/; a text that wraps one character per
line fails the test)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from tests.web.test_browser import ARTIFACTS, CHROMIUM, serve_demo
from tests.web.test_browser_events import ARGS, _login

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}

# For every visible text of two characters or more that wraps: the widest line it renders on and
# the width of its element. A text whose lines and box are all narrower than two of its
# characters reads one character per line.
NARROW_TEXTS = """
() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent.trim();
    if ([...text].length < 2) continue;
    const el = node.parentElement;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
    if (rects.length < 2) continue;
    const size = parseFloat(style.fontSize) || 15;
    const widest = Math.max(...rects.map(r => r.width));
    // the box it sits in is narrow too (a word merely wrapping at a line end is not squeezed)
    const box = el.getBoundingClientRect().width;
    if (widest < 2 * size * 0.95 && box < 2 * size * 0.95) {
      out.push({text: text.slice(0, 30), tag: el.tagName, widest, box, size});
    }
  }
  return out;
}
"""


@pytest.fixture
def live(
    duijie_home: Path, real_models: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Any, int]]:
    from tools.demo.events import create_demo_event

    with serve_demo(duijie_home, real_models, monkeypatch) as (base, app):
        event_id = create_demo_event(app.state.engine, app.state.matcher)
        yield base, app, event_id


def _accounts(app: Any) -> dict[str, str]:
    """One demo account per role (the demo's own organizations, whatever they are called)."""
    from matcher.db import session_scope
    from matcher.models import Organization, User
    from tools.demo.users import DOMAIN

    out = {"admin": f"admin@{DOMAIN}", "organizer": f"organizer@{DOMAIN}"}
    with session_scope(app.state.engine) as session:
        for role, kinds in (
            ("enterprise", ("enterprise",)),
            ("university", ("university", "institute")),
        ):
            user = session.exec(
                select(User)
                .join(Organization, col(Organization.id) == col(User.organization_id))
                .where(col(Organization.kind).in_(kinds), User.role == role)
                .where(col(User.email).like(f"%@{DOMAIN}"))
                .order_by(col(User.id))
            ).first()
            assert user is not None, role
            out[role] = user.email
    return out


def _narrow(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate(NARROW_TEXTS))


# Long on purpose: one browser and one demo database for every role's landing page and 20 phone
# screenshots; each page's check has its own assertion message.
def test_roles_land_on_their_work_and_pages_read_on_a_phone(live: tuple[str, Any, int]) -> None:
    from playwright.sync_api import sync_playwright

    base, app, event_id = live
    accounts = _accounts(app)
    shots = ARTIFACTS / "phone"
    shots.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[dict[str, Any]]] = {}

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        # --- landing per role, at desktop width ------------------------------------------------
        expected = {
            "admin": ("/admin", "审核队列"),
            "organizer": ("/desk", "组织方工作台"),
            "enterprise": ("/workspace", "我的"),
            "university": ("/workspace", "我的"),
        }
        for role, (path, marker) in expected.items():
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page = context.new_page()
            _login(page, base, accounts[role])
            assert page.url.rstrip("/").endswith(path), (role, page.url)
            assert marker in page.content(), role
            assert "没有权限" not in page.content()
            page.screenshot(path=str(ARTIFACTS / f"landing-{role}.png"), full_page=True)
            context.close()

        # --- 下一页 swaps only the results ------------------------------------------------------
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.goto(base + "/?q=" + "检测")
        page.wait_for_selector("#results .cards li")
        page.click("#results nav.pager >> text=下一页")
        page.wait_for_url(lambda url: "page=2" in url)
        page.wait_for_selector("#results .cards li")
        inside = page.locator("#results")
        assert inside.locator("header, .top, .main-nav, form.search, .hero").count() == 0
        assert "第 2 /" in inside.inner_text()
        assert page.locator("header.top").count() == 1

        # --- the API docs list the operations ---------------------------------------------------
        page.goto(base + "/api/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        assert page.locator(".opblock").count() > 10
        page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
        context.close()

        # --- scheduling before anyone registered: a message on the event page ------------------
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        page = context.new_page()
        _login(page, base, accounts["organizer"])
        day = (dt.date.today() + dt.timedelta(days=40)).isoformat()
        page.goto(base + "/events/new")
        page.fill("#f-name", "空场测试对接会")
        page.fill("#f-starts_on", day)
        page.click("form button.primary")
        page.wait_for_url(lambda url: "/events/" in url and "/new" not in url)
        page.click("text=生成日程")
        page.wait_for_load_state()
        text = page.content()
        assert "至少要有一家已报名的单位" in text and "填写有误" not in text
        assert "/events/" in page.url and "/grid" not in page.url
        context.close()

        # --- every main page at 390 px ----------------------------------------------------------
        pages: dict[str, list[str]] = {
            "anonymous": ["/", "/?q=高炉炉况监测", "/login", "/register", "/challenges"],
            "enterprise": ["/workspace", "/workspace/needs/new", "/interests", "/events"],
            "university": ["/workspace", "/workspace/import"],
            "organizer": ["/desk", f"/events/{event_id}", f"/events/{event_id}/report", "/events"],
            "admin": ["/admin", "/admin/moderation"],
        }
        from matcher.db import session_scope
        from matcher.events.models import Participant
        from matcher.models import Need, Technology

        with session_scope(app.state.engine) as session:
            tech = session.exec(
                select(Technology)
                .where(Technology.status == "published")
                .order_by(col(Technology.id))
            ).first()
            need = session.exec(
                select(Need)
                .where(Need.status == "published", Need.visibility == "public")
                .order_by(col(Need.id))
            ).first()
            participant = session.exec(
                select(Participant)
                .where(Participant.event_id == event_id)
                .order_by(col(Participant.id))
            ).first()
        assert tech and need and participant
        pages["anonymous"] += [f"/technologies/{tech.id}", f"/needs/{need.id}"]
        pages["organizer"].append(f"/events/{event_id}/agenda/{participant.id}")
        for role, paths in pages.items():
            context = browser.new_context(
                viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True
            )
            page = context.new_page()
            if role != "anonymous":
                _login(page, base, accounts[role])
            for path in paths:
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                name = f"{role}{path}".replace("/", "_").replace("?", "_").replace("=", "_")[:80]
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
                narrow = _narrow(page)
                if narrow:
                    problems[f"{role} {path}"] = narrow
                assert (
                    page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 2
                ), f"{role} {path} scrolls sideways"
            context.close()
        browser.close()
    assert not problems, problems
