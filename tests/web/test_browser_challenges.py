"""揭榜挂帅 in a real browser on the demo data: an enterprise publishes a challenge, an organizer
approves it, the enterprise sees the teams most likely to solve it (with the indicator checked
against their results) and invites one; that university applies with an attachment; a
conflicted expert is refused with the reason; an independent expert scores; the organizer awards.

Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tests.web.test_browser import ARTIFACTS, CHROMIUM, serve_demo
from tests.web.test_browser_events import ARGS, _login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def live_challenges(
    duijie_home: Path, real_models: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Any]]:
    from tools.demo.challenges import load_demo_experts

    with serve_demo(duijie_home, real_models, monkeypatch) as (base, app):
        load_demo_experts(app.state.engine)
        yield base, app


# Long on purpose: a walk-through in a real browser, one role after another on the same data, as
# people use the site; each step is also covered by a short test in tests/matcher/challenges/.
def test_publish_find_invite_apply_review_award(
    live_challenges: tuple[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from matcher import accounts
    from matcher.challenges.models import Application, Challenge
    from matcher.db import session_scope
    from matcher.models import Organization, User
    from tools.demo.users import DEMO_PASSWORD, demo_email

    base, app = live_challenges
    engine = app.state.engine
    ARTIFACTS.mkdir(exist_ok=True)
    with session_scope(engine, write=False) as session:
        # a land-survey challenge comes from the demo's surveying company, not from any enterprise
        enterprise = session.exec(
            select(Organization).where(
                Organization.kind == "enterprise", Organization.industry == "测绘地理信息"
            )
        ).one()
        enterprise_email = demo_email(enterprise)  # type: ignore[arg-type]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def page_for(email: str) -> Any:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page = context.new_page()
            _login(page, base, email)
            return page

        # 1. the enterprise publishes (the form keeps what was typed when refused)
        ent = page_for(enterprise_email)
        ent.goto(base + "/challenges/new")
        ent.fill(
            "#f-problem",
            "我公司承担国土调查，卫星影像上的耕地、水体主要靠人工目视解译。希望从多光谱遥感影像中自动提取地物信息，分类精度要高，能批量处理。",
        )
        ent.locator("input[name=ind_name]").first.fill("精度")
        ent.locator("input[name=ind_value]").first.fill("95")
        ent.locator("input[name=ind_unit]").first.fill("%")
        ent.fill("#f-title", "遥感影像地物自动识别")
        ent.fill("#f-bounty", "三百万")
        ent.click("button[name=action][value=submit]")
        expect(ent.locator("small.error")).to_contain_text("揭榜经费应为数字")
        expect(ent.locator("input[name=ind_name]").first).to_have_value("精度")
        expect(ent.locator("#f-title")).to_have_value("遥感影像地物自动识别")
        ent.fill("#f-bounty", "300")
        ent.click("button[name=action][value=submit]")
        expect(ent.locator("h1")).to_contain_text("待审核")
        challenge_url = ent.url.split("?")[0]

        # 2. an organizer approves it
        org = page_for("organizer@demo.duijie.cn")
        org.goto(challenge_url)
        org.click("button[name=decision][value=approve]")
        expect(org.locator("h1")).to_contain_text("揭榜中")

        # 3. the enterprise sees the teams, with the indicator checked, and invites the first
        ent.goto(challenge_url)
        first = ent.locator("#teams .card").first
        expect(first).to_be_visible(timeout=120_000)
        expect(ent.locator("#teams .verdict").first).to_be_visible()
        ent.screenshot(path=str(ARTIFACTS / "challenge-teams.png"), full_page=True)
        team_name = first.locator("strong").inner_text()
        first.locator("button", has_text="邀请揭榜").click()
        expect(first.locator("text=已邀请")).to_be_visible()

        # 4. the invited university applies, with an attachment
        with session_scope(engine, write=False) as session:
            team = session.exec(select(Organization).where(Organization.name == team_name)).one()
            team_email = demo_email(team)
        uni = page_for(team_email)
        expect(uni.locator("#bell-count")).not_to_have_text("0")
        uni.goto(challenge_url)
        expect(uni.locator(".reason")).to_contain_text("最相关成果")
        uni.click("text=我要揭榜")
        uni.fill("#f-team", "遥感智能解译课题组")
        uni.fill("#f-leader", "周老师")
        uni.fill(
            "#f-approach",
            "以多光谱与纹理特征构建分层分类模型，结合样本自动扩充与人工抽检，批量处理全省影像并输出 GIS 图层。"
            * 2,
        )
        uni.fill("#f-budget", "280")
        uni.locator("input[name=ms_title]").first.fill("全省影像批量解译上线")
        uni.locator("input[name=ms_due]").first.fill("2027-09-30")
        uni.locator("input[name=ms_amount]").first.fill("280")
        uni.click("button[name=action][value=submit]")
        expect(uni.locator("h1")).to_contain_text("已提交")
        pdf = tmp_path / "技术方案.pdf"
        pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
        uni.set_input_files("input[type=file]", str(pdf))
        uni.click("text=上传附件")
        expect(uni.locator("text=技术方案.pdf")).to_be_visible()
        uni.screenshot(path=str(ARTIFACTS / "challenge-application.png"), full_page=True)

        # 5. review: a colleague of the applicant is refused; an independent expert is assigned
        with session_scope(engine) as session:
            colleague = accounts.create_user(
                session=session, email="colleague@example.cn", name="同单位专家", password=DEMO_PASSWORD,
                role="university", organization_id=team.id, expertise="遥感",
            )  # fmt: skip
            free = session.exec(
                select(User).where(User.expertise != "", User.organization_id != team.id)  # type: ignore[arg-type]
            ).first()
            colleague_id, free_id, free_email = colleague.id, free.id, free.email  # type: ignore[union-attr]
        org.goto(challenge_url)
        org.select_option("select[name=expert_id]", str(colleague_id))
        org.click("form[action$='/experts'] button")
        expect(org.locator(".alert.error")).to_contain_text("利益冲突")
        expect(org.locator(".alert.error")).to_contain_text("专家就职于申请单位")
        org.select_option("select[name=expert_id]", str(free_id))
        org.click("form[action$='/experts'] button")
        expect(org.locator(".alert.success")).to_contain_text("已分配评审专家")

        expert = page_for(free_email)
        expert.goto(base + "/reviews")
        expert.click("text=评审 >> nth=-1")
        expert.fill("#f-technical", "26")
        expert.fill("#f-feasibility", "24")
        expert.fill("#f-team", "17")
        expert.fill("#f-budget", "16")
        expert.fill("#f-comment", "技术路线成熟，已有省级影像处理经验，精度指标有依据。")
        expert.click("form.card-form button[type=submit]")
        expect(expert.locator(".alert.success")).to_contain_text("评分已提交")

        # 6. the organizer awards
        org.goto(challenge_url)
        org.screenshot(path=str(ARTIFACTS / "challenge-review.png"), full_page=True)
        org.fill("form[action$='/award'] input[name=amount]", "280")
        org.click("form[action$='/award'] button")
        expect(org.locator("h1")).to_contain_text("已揭榜")
        expect(org.locator("text=全省影像批量解译上线")).to_be_visible()
        browser.close()

    with session_scope(engine, write=False) as session:
        challenge = session.exec(
            select(Challenge).where(Challenge.title == "遥感影像地物自动识别")
        ).one()
        assert challenge.status == "awarded" and challenge.award_amount == 280
        winner = session.get(Application, challenge.award_application_id)
        assert winner is not None and winner.organization_id == team.id
