"""The organizer's 对接会 flow in a real browser on the demo event: set up an event (the form
keeps what was typed when it is refused), see whom to invite and invite, generate the schedule,
edit the draft (a conflicting move is refused with its reason, a swap is accepted), publish, a
participant's agenda and meeting brief, check-in and outcome (a lead starts), the report.

Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from tests.web.test_browser import ARTIFACTS, CHROMIUM, serve_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def live_event(
    duijie_home: Path, real_models: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Any, int]]:
    from tools.demo.events import create_demo_event

    with serve_demo(duijie_home, real_models, monkeypatch) as (base, app):
        event_id = create_demo_event(app.state.engine, app.state.matcher)
        yield base, app, event_id


def _login(page: Any, base: str, email: str) -> None:
    from tools.demo.users import DEMO_PASSWORD

    page.goto(base + "/login")
    page.fill("#f-email", email)
    page.fill("#f-password", DEMO_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


# Long on purpose: a walk-through in a real browser on the demo event (seeding it takes minutes);
# each route is also covered by a short test in tests/web/test_events_web.py.
def test_organizer_runs_the_demo_event(live_event: tuple[str, Any, int]) -> None:
    from playwright.sync_api import expect, sync_playwright

    from matcher.db import session_scope
    from matcher.events.models import Event, EventSession, Meeting, Participant
    from matcher.models import Lead, Organization
    from tools.demo.users import demo_email

    base, app, event_id = live_event
    engine = app.state.engine
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page = context.new_page()
        _login(page, base, "organizer@demo.duijie.cn")

        # 1. a new event: a bad time is refused, and nothing typed is lost
        page.goto(base + "/events/new")
        page.fill("#f-name", "新材料专场对接会")
        page.fill("#f-venue", "大连 · 星海会展中心")
        page.check("input[name=theme_fields][value='新材料']")
        page.fill("#f-s1_start", "九点")
        page.click("form[action='/events/new'] button[type=submit]")
        expect(page.locator("small.error").first).to_contain_text("时间格式应为 09:00")
        expect(page.locator("#f-venue")).to_have_value("大连 · 星海会展中心")
        expect(page.locator("input[name=theme_fields][value='新材料']")).to_be_checked()
        page.fill("#f-s1_start", "09:00")
        page.click("form[action='/events/new'] button[type=submit]")
        expect(page.locator("h1")).to_have_text("新材料专场对接会")
        new_id = int(page.url.rstrip("/").split("/")[-1])

        # 2. whom to invite: the coverage planner's suggestions, with reasons; invite one
        page.goto(base + f"/events/{new_id}/invite")
        first_invite = page.locator("button[hx-post$='/invite']").first
        expect(first_invite).to_be_visible(timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "event-invite.png"), full_page=True)
        first_invite.click()
        expect(page.locator("text=已邀请").first).to_be_visible()

        # 3. the demo event: generate the schedule
        page.goto(base + f"/events/{event_id}")
        page.click(f"form[action='/events/{event_id}/schedule'] button")
        expect(page.locator("h1")).to_contain_text("日程总览", timeout=120_000)
        page.goto(base + f"/events/{event_id}")
        expect(page.locator(".stats").first).to_contain_text("场洽谈")
        expect(page.locator(".stats").first).to_contain_text("必须见")
        # the organizer sees the schedule's relevance and the seats left empty
        expect(page.locator("#schedule-relevance")).to_contain_text("空桌位")
        page.screenshot(path=str(ARTIFACTS / "event-overview.png"), full_page=True)
        # no meeting below 相关 that nobody asked for — checked against the pairs' relevance
        # and the requests, independently of the solver
        from matcher.events import schedule, setup
        from matcher.events.models import MeetingRequest

        with session_scope(engine, write=False) as session:
            event = session.get(Event, event_id)
            _problem, values = schedule.build_problem(
                session=session,
                matcher=app.state.matcher,
                event=event,  # type: ignore[arg-type]
            )
            requests = session.exec(
                select(MeetingRequest).where(MeetingRequest.event_id == event_id)
            ).all()
            asked: dict[tuple[int, int], set[int]] = {}
            group = {p.id: p.group for p in setup.participants(session=session, event_id=event_id)}
            for r in requests:
                if r.strength in ("must", "want") and r.from_id in group and r.to_id in group:
                    pair = (
                        (r.from_id, r.to_id)
                        if group[r.from_id] == "demand"
                        else (r.to_id, r.from_id)
                    )
                    asked.setdefault(pair, set()).add(r.from_id)
            meetings = schedule.meetings_of(session=session, event_id=event_id)
            assert meetings
            for m in meetings:
                value = values.get((m.demand_id, m.supply_id))
                related = value is not None and value.related
                assert related or len(asked.get((m.demand_id, m.supply_id), set())) == 2
            assert event.schedule_report["below_related_unrequested"] == 0  # type: ignore[union-attr,index]

        # 4. edit the draft: a move into an occupied seat is refused; a swap by drag and drop
        # is accepted (seats that would double-book someone are shaded while dragging)
        with session_scope(engine, write=False) as session:
            slot0 = session.exec(
                select(Meeting)
                .where(Meeting.event_id == event_id, Meeting.slot == 0)
                .order_by(col(Meeting.table_id))
            ).all()
        a, b = slot0[0], slot0[1]
        page.goto(base + f"/events/{event_id}/grid")
        page.screenshot(path=str(ARTIFACTS / "event-grid.png"))
        page.click("details.edit-list summary")
        move = page.locator(f"form[action='/events/{event_id}/meetings/{a.id}/move']")
        move.locator("select[name=table_id]").select_option(str(b.table_id))
        move.locator("button").click()
        expect(page.locator(".alert.error")).to_contain_text("已有洽谈")
        page.hover(f"td[data-meeting='{a.id}']")
        page.mouse.down()
        page.hover(f"td[data-meeting='{b.id}']")
        page.hover(f"td[data-meeting='{b.id}']")  # the second move delivers dragover
        expect(page.locator(f"td[data-meeting='{b.id}']")).to_have_class(
            re.compile(r"\bdrop-target\b")
        )
        shaded = page.locator("td.drop-conflict")
        assert shaded.count() > 0  # a's participants meet others in other rounds
        page.screenshot(path=str(ARTIFACTS / "event-grid-drag.png"))
        page.mouse.up()
        expect(page.locator(".alert.success")).to_be_visible()
        with session_scope(engine, write=False) as session:
            assert session.get(Meeting, a.id).table_id == b.table_id  # type: ignore[union-attr]
            assert session.get(Meeting, b.id).table_id == a.table_id  # type: ignore[union-attr]

        # 5. publish; edits are then refused
        page.goto(base + f"/events/{event_id}")
        page.click("text=发布日程")
        expect(page.locator(".meta .badge")).to_have_text("日程已发布")

        # 6. a participant sees its agenda, downloads it, reads a meeting brief
        with session_scope(engine, write=False) as session:
            demand = session.get(Participant, a.demand_id)
            org = session.get(Organization, demand.organization_id)  # type: ignore[union-attr]
            email = demo_email(org)  # type: ignore[arg-type]
        other = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        ppage = other.new_page()
        _login(ppage, base, email)
        ppage.goto(base + f"/events/{event_id}/me")
        expect(ppage.locator("text=我的洽谈日程")).to_be_visible()
        ppage.screenshot(path=str(ARTIFACTS / "event-my-agenda.png"), full_page=True)
        href = ppage.locator("a", has_text="加入日历（.ics）").get_attribute("href")
        ics_response = ppage.request.get(base + str(href))
        assert "attachment" in ics_response.headers["content-disposition"]
        ics = ics_response.text()
        assert ics.startswith("BEGIN:VCALENDAR") and "BEGIN:VEVENT" in ics
        ppage.click("text=简报 >> nth=0")
        expect(ppage.locator("text=建议提问")).to_be_visible()
        ppage.screenshot(path=str(ARTIFACTS / "event-brief.png"), full_page=True)
        # another participant's agenda is not theirs to read
        with session_scope(engine, write=False) as session:
            stranger = session.exec(
                select(Participant).where(
                    Participant.event_id == event_id,
                    Participant.organization_id != demand.organization_id,  # type: ignore[union-attr]
                )
            ).first()
        assert ppage.goto(base + f"/events/{event_id}/agenda/{stranger.id}").status == 404  # type: ignore[union-attr]

        # 7. on the day (the event is moved to today): the participant records its own view and
        # agrees to exchange contacts; the organizer checks in, records the signing it witnessed
        # and that both sides agreed in person — a lead starts; the report
        with session_scope(engine) as session:
            for row in session.exec(select(EventSession).where(EventSession.event_id == event_id)):
                row.day = dt.date.today()
                session.add(row)
        ppage.goto(base + f"/events/{event_id}/me")
        mine = ppage.locator(f"form[hx-post='/events/{event_id}/meetings/{a.id}/outcome']")
        mine.locator("select[name=rating]").select_option("promising")
        mine.locator("input[name=share_contact]").check()
        mine.locator("button").click()
        expect(mine.locator("text=已记录")).to_be_visible()
        page.goto(base + f"/events/{event_id}/checkin")
        page.locator("form[hx-post$='/checkin'] button").first.click()
        expect(page.locator("text=已签到").first).to_be_visible()
        outcome = page.locator(f"form[hx-post='/events/{event_id}/meetings/{a.id}/outcome']")
        outcome.locator("select[name=status]").select_option("held")
        outcome.locator("select[name=result]").select_option("signed")
        outcome.locator("input[name=amount]").fill("120")
        outcome.locator("input[name=share_contact]").check()
        outcome.locator("input[name=consent_note]").fill("双方在 1 号桌当面同意交换联系方式")
        outcome.locator("button").click()
        expect(outcome.locator("text=对接线索")).to_be_visible()
        page.goto(base + f"/events/{event_id}/report")
        expect(page.locator(".stats")).to_contain_text("120")
        expect(page.locator("svg.report-chart").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "event-report.png"), full_page=True)
        # printed (PDF), the Chinese text is set in an embedded CJK font, not empty boxes
        page.goto(base + f"/events/{event_id}/agenda/{a.demand_id}")
        pdf = page.pdf(format="A4")
        (ARTIFACTS / "event-agenda.pdf").write_bytes(pdf)
        assert b"WenQuanYi" in pdf or b"NotoSansCJK" in pdf or b"NotoSerifCJK" in pdf
        browser.close()

    with session_scope(engine, write=False) as session:
        meeting = session.get(Meeting, a.id)
        assert meeting is not None and meeting.lead_id is not None
        assert session.get(Lead, meeting.lead_id).source == "event"  # type: ignore[union-attr]
        assert session.get(Event, event_id).status == "published"  # type: ignore[union-attr]
    assert httpx.get(base + f"/events/{event_id}/report", follow_redirects=False).status_code in (
        302,
        303,
        401,
    )
