"""The enterprise–university flow in a real browser (Debian's chromium driven by Playwright)
against a live server with the real model, index and database on the demo data.

Screenshots of the key pages are kept in test-artifacts/. Without a browser the test is
skipped, unless DUIJIE_TEST_BROWSER=1 (CI sets it) makes that a failure."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import select

from matcher.identifiers import make_credit_code

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _require_browser() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("DUIJIE_TEST_BROWSER") == "1":
            pytest.fail(
                f"{CHROMIUM} is missing and DUIJIE_TEST_BROWSER=1: install Debian's chromium (make setup does)"
            )
        pytest.skip("no chromium on this machine (make setup installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_demo(
    duijie_home: Path, real_models: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The demo data served by uvicorn on a free port (embeddings from the shared cache)."""
    with serve_demo(duijie_home, real_models, monkeypatch) as (base, _app):
        yield base


@contextlib.contextmanager
def serve_demo(
    duijie_home: Path, real_models: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Any]]:
    """Serve the demo data; yields the base URL and the running app (its state holds the engine
    and the matcher once started)."""
    import uvicorn

    from matcher.config import Settings, get_settings, reset_settings
    from matcher.db import get_engine
    from matcher.indexing import IndexManager
    from matcher.migrate import upgrade
    from tools.demo.build import load_demo
    from tools.demo.users import load_demo_users
    from web.app import create_app

    _require_browser()
    shared_cache = Settings(home=Path(os.path.realpath(real_models)).parent).cache_dir
    shared_cache.mkdir(parents=True, exist_ok=True)
    (duijie_home / "cache").symlink_to(shared_cache, target_is_directory=True)
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", "e5")
    reset_settings()
    engine = get_engine(get_settings())
    upgrade(engine)
    load_demo(engine)
    load_demo_users(engine)
    # as `duijie demo-data` does: encode and store every vector now, so the server (which leaves
    # encoding to its background worker) starts on a complete index
    IndexManager(engine, get_settings()).open().close()
    port = _free_port()
    app = create_app(get_settings())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(1)
    else:
        pytest.fail("the server did not start")
    try:
        yield base, app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# Long on purpose: a walk-through in a real browser, one role after another on the same data, as
# people use the site; each step is also covered by a short test in tests/web/.
def test_enterprise_signs_up_posts_a_need_and_meets_a_university(
    live_demo: str, duijie_home: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from matcher.db import get_engine, session_scope
    from matcher.models import Organization, Technology
    from tools.demo.users import DEMO_PASSWORD, demo_email

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        enterprise = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = enterprise.new_page()

        # 1. sign up an enterprise
        page.goto(live_demo + "/register")
        page.fill("#f-org_name", "测试高炉装备有限公司")
        page.select_option("#f-kind", "enterprise")
        page.select_option("#f-province", "辽宁省")
        page.fill("#f-credit_code", make_credit_code("91210100MA0TEXT12"))
        page.fill("#f-name", "测试经理")
        page.fill("#f-email", "buyer@example.cn")
        page.fill("#f-phone", "13912345678")
        page.fill("#f-password", "buyer-pass-2026")
        page.fill("#f-password2", "buyer-pass-2026")
        page.click("form button[type=submit]")
        expect(page.locator("text=注册成功")).to_be_visible()

        # 2. post a need in the enterprise's own words
        page.goto(live_demo + "/workspace/needs/new")
        page.fill("#f-title", "高炉炉况在线监测与预警")
        page.fill(
            "#f-description",
            "我厂高炉炉况主要靠工长经验判断，炉凉、悬料等异常发现偏晚。希望引进炉内状态在线监测和数据分析技术，提前预警炉况波动。",
        )
        page.fill("#f-budget", "200")
        page.click("form button.primary")
        expect(page.locator("h1")).to_have_text("高炉炉况在线监测与预警")

        # 3. recommendations with their reasons and score charts
        expect(page.locator("#rec-technologies .card").first).to_be_visible(timeout=60_000)
        expect(page.locator("#rec-teams .card").first).to_be_visible(timeout=60_000)
        assert page.locator("#rec-technologies .reason").first.inner_text()
        assert page.locator("#rec-technologies svg.score-chart").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "need-recommendations.png"), full_page=True)

        # 4. express interest in the first recommended result
        first = page.locator("#rec-technologies .card a").first
        tech_path = first.get_attribute("href")
        assert tech_path and tech_path.startswith("/technologies/")
        page.goto(live_demo + tech_path)
        assert page.locator(".contact.masked").count() == 1
        page.fill(".interest-box textarea", "我们是高炉装备企业，希望就炉况监测开展技术许可合作。")
        page.click(".interest-box button[type=submit]")
        expect(page.locator("text=已表达意向")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "technology-interest.png"), full_page=True)

        # 5. the university signs in and accepts
        tech_id = int(tech_path.rsplit("/", 1)[1])
        with session_scope(get_engine(), write=False) as session:
            tech = session.get(Technology, tech_id)
            owner = session.get(Organization, tech.owner_id)  # type: ignore[union-attr]
            university_email = demo_email(owner)  # type: ignore[arg-type]
        university = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        upage = university.new_page()
        upage.goto(live_demo + "/login")
        upage.fill("#f-email", university_email)
        upage.fill("#f-password", DEMO_PASSWORD)
        upage.click("form[action='/login'] button[type=submit]")
        expect(upage.locator("#bell-count")).to_have_text("1")
        upage.goto(live_demo + "/interests")
        expect(upage.locator("text=希望就炉况监测开展技术许可合作")).to_be_visible()
        upage.screenshot(path=str(ARTIFACTS / "university-inbox.png"), full_page=True)
        upage.click("button[value=accept]")
        expect(upage.locator("text=已接受")).to_be_visible()
        upage.click("text=查看对接线索")
        expect(upage.locator("text=13912345678")).to_be_visible()  # the enterprise's contact
        upage.screenshot(path=str(ARTIFACTS / "lead-university.png"), full_page=True)

        # 6. the enterprise now sees the university's contact details
        page.goto(live_demo + tech_path)
        assert page.locator(".contact.masked").count() == 0
        page.goto(live_demo + "/interests")
        page.click("a[href^='/leads/']")
        expect(page.locator(".contact").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "lead-enterprise.png"), full_page=True)
        browser.close()

    with session_scope(get_engine(), write=False) as session:
        from matcher.models import AuditLog

        reveals = session.exec(select(AuditLog).where(AuditLog.action == "contact.reveal")).all()
        assert reveals and not any("139" in str(r.detail) for r in reveals)


def test_no_close_match_is_said_honestly_and_counts_match_labels(live_demo: str) -> None:
    """Nonsense and a need no listing answers get the empty state (暂无高度匹配的成果), the
    closest items under a weaker heading and one click to publish the query as a need; where
    there are results, the count on the page is the number labelled 相关 or better."""
    from playwright.sync_api import expect, sync_playwright

    unanswerable = (
        "我们是辽宁一个化工园区的管委会，园区内企业的DCS和PLC控制系统普遍缺乏网络安全防护，"
        "有的还直接连办公网。希望引进适合化工企业的工控网络安全监测和隔离方案，满足等级保护要求。"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="zh-CN"
        ).new_page()
        for query in ("asdfqwer", unanswerable):
            page.goto(live_demo + "/?" + urlencode({"q": query}))
            empty = page.locator("#no-close-match")
            expect(empty).to_contain_text("暂无高度匹配的成果", timeout=60_000)
            expect(page.locator("#result-count")).to_have_attribute("data-count", "0")
            # the closest, if any, sit under the weaker heading and are all 弱相关
            labels = page.locator(".closest .relevance").all_inner_texts()
            assert all(text.startswith("弱相关") for text in labels)
            assert page.locator("ul.cards:not(.compact) .card").count() == 0
            href = page.locator("#publish-need").get_attribute("href") or ""
            assert href.startswith("/login?next=") and "workspace%2Fneeds%2Fnew" in href
        page.screenshot(path=str(ARTIFACTS / "search-no-close-match.png"), full_page=True)

        # one click (after signing in) opens the need form filled with the query
        from tools.demo.users import DEMO_PASSWORD

        page.click("#publish-need")
        page.fill("#f-email", "demo-e001@demo.duijie.cn")
        page.fill("#f-password", DEMO_PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        expect(page.locator("#f-description")).to_have_value(unanswerable)
        expect(page.locator("#f-title")).to_have_value(unanswerable[:60])

        # a query with answers: the count is the number of cards labelled 相关 or better
        page.goto(live_demo + "/?" + urlencode({"q": "高炉炉况监测"}))
        count = int(page.locator("#result-count").get_attribute("data-count") or "-1")
        labels = page.locator("ul.cards .relevance").all_inner_texts()
        assert count >= 1 and labels
        assert all(text.split(" ")[0] in ("高度相关", "相关") for text in labels)
        if count <= 10:
            assert len(labels) == count
        page.screenshot(path=str(ARTIFACTS / "search-labels.png"), full_page=True)
        browser.close()
