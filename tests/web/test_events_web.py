"""对接会 pages, one class per endpoint: each route's happy path as the one who uses it (the
organizer, or a participant for its own pages), with the status and what the page must show;
`TestRefusals` tries every organizer route as a participant and every member route as an
outsider."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import accounts
from matcher.access import Viewer
from matcher.db import session_scope
from matcher.events import invitations, requests, schedule, setup
from matcher.events.models import Event, Meeting, MeetingFeedback, Participant
from matcher.events.schemas import EventIn
from matcher.models import Organization, User, pk
from tests.web.conftest import PASSWORD, USERS, Browser, flash_of

NAME = "冶金专场对接会"


def _viewer(session, who: str) -> Viewer:  # type: ignore[no-untyped-def]
    user = session.exec(select(User).where(User.email == USERS[who][0])).one()
    return Viewer(user.id, user.organization_id, user.role)


def _event(engine: Engine, *, status: str = "scheduled") -> dict[str, Any]:
    """Today's event, 00:00–01:00 in three rounds at two tables: 鞍辽钢铁 and 渤澜船舶 (需求方)
    with 北辰理工 and 云岫 (成果方), all registered; two meetings in the first round (steel ×
    univ at table 1, ship × inst at table 2), scheduled or published."""
    with session_scope(engine) as session:
        organizer = _viewer(session, "organizer")
        today = dt.date.today()
        event = setup.create_event(session=session, viewer=organizer, event=EventIn(
            name=NAME, starts_on=today, tables=2,
            sessions=[{"day": today, "start": "00:00", "end": "01:00", "slot_minutes": 20}],
        ))  # fmt: skip
        people = {}
        for who, group in (("steel", "demand"), ("ship", "demand"), ("univ", "supply"), ("inst", "supply")):  # fmt: skip
            viewer = _viewer(session, who)
            invitations.invite(
                session=session, viewer=organizer, event=event,
                organization_id=viewer.organization_id, group=group,  # type: ignore[arg-type]
            )  # fmt: skip
            people[who] = invitations.register(session=session, viewer=viewer, event=event)
        tables = [pk(t) for t in setup.event_tables(session=session, event_id=pk(event))]
        meetings = [
            schedule.add_meeting(
                session=session,
                viewer=organizer,
                event=event,
                demand_id=pk(people[d]),
                supply_id=pk(people[s]),
                slot=0,
                table_id=tables[i],
            )
            for i, (d, s) in enumerate((("steel", "univ"), ("ship", "inst")))
        ]
        event.status = "scheduled"
        session.add(event)
        session.flush()
        if status == "published":
            schedule.publish(session=session, viewer=organizer, event=event)
        return {
            "event": pk(event), "tables": tables, "meetings": [pk(m) for m in meetings],
            **{who: pk(p) for who, p in people.items()},
        }  # fmt: skip


@pytest.fixture
def ev(engine: Engine, web_app) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return _event(engine)


@pytest.fixture
def published(engine: Engine, web_app) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return _event(engine, status="published")


def _meeting(engine: Engine, meeting_id: int) -> Meeting:
    with session_scope(engine, write=False) as session:
        meeting = session.get(Meeting, meeting_id)
        assert meeting is not None
        session.expunge(meeting)
        return meeting


# --- events.py: list, new event, overview -------------------------------------------------------


class TestEventsList:
    def test_lists_the_event(self, make_browser, ev) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get("/events")
        assert page.status_code == 200 and NAME in page.text


class TestNewEventForm:
    def test_shows_the_form_with_defaults(self, make_browser) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get("/events/new")
        assert page.status_code == 200 and "筹备对接会" in page.text
        assert 'name="s1_start"' in page.text and 'value="09:00"' in page.text


class TestCreateEvent:
    FORM: ClassVar[dict[str, str]] = {
        "name": "新材料专场对接会", "starts_on": "2027-03-15", "venue": "大连", "theme_fields": "新材料",
        "slot_minutes": "20", "s1_start": "09:00", "s1_end": "11:50", "s1_break": "10:20-10:30",
        "s2_start": "14:00", "s2_end": "16:50", "s2_break": "15:20-15:30", "tables": "3", "meeting_cap": "6",
    }  # fmt: skip

    def test_creates_the_event(self, make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("organizer")
        b.get("/events/new")
        response = b.post("/events/new", self.FORM, follow_redirects=False)
        assert flash_of(b, response) == ("success", "活动已创建")
        with session_scope(engine, write=False) as session:
            event = session.exec(select(Event).where(Event.name == "新材料专场对接会")).one()
            assert event.ends_on == dt.date(2027, 3, 15) and event.theme_fields == ["新材料"]
            assert len(setup.event_slots(session=session, event_id=pk(event))) == 16
            assert len(setup.event_tables(session=session, event_id=pk(event))) == 3

    @pytest.mark.parametrize(
        ("change", "field", "message"),
        [
            ({"s1_start": "九点"}, "s1_start", "时间格式应为 09:00"),
            ({"s1_end": "08:00"}, "s1_end", "时段的结束时间应晚于开始时间"),
            ({"ends_on": "2027-03-14"}, "ends_on", "结束日期不能早于开始日期"),
            ({"tables": "0"}, "tables", "桌位（或线上会议室）数量应在 1–500 之间"),
            ({"name": ""}, "name", "请填写活动名称"),
            ({"s1_start": "", "s1_end": "", "s2_start": "", "s2_end": ""}, "s1_start", "至少需要一个洽谈时段"),
        ],
    )  # fmt: skip
    def test_a_bad_field_is_named_and_nothing_typed_is_lost(
        self, make_browser, change: dict[str, str], field: str, message: str
    ) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("organizer")
        b.get("/events/new")
        page = b.post("/events/new", {**self.FORM, **change})
        assert page.status_code == 422
        assert f'id="f-{field}"' in page.text and message in page.text
        assert 'value="大连"' in page.text
        assert 'value="新材料" checked' in page.text


class TestEventDetail:
    def test_shows_the_overview(self, make_browser, ev) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get(f"/events/{ev['event']}")
        assert page.status_code == 200 and NAME in page.text
        assert "鞍辽钢铁股份有限公司" in page.text and "北辰理工大学" in page.text

    def test_a_participant_is_sent_to_its_own_page(self, make_browser, ev) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("steel").client.get(f"/events/{ev['event']}", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == f"/events/{ev['event']}/me"


# --- event_invitations.py ---------------------------------------------------------------------


class TestInvitePage:
    def test_loads_the_suggestions(self, make_browser, ev) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get(f"/events/{ev['event']}/invite")
        assert page.status_code == 200 and "邀请谁来？" in page.text
        assert f'hx-get="/events/{ev["event"]}/invite/suggestions"' in page.text


class TestInviteSuggestions:
    def test_answers_a_fragment(self, make_browser, ev) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get(f"/events/{ev['event']}/invite/suggestions")
        assert page.status_code == 200 and "<html" not in page.text


class TestInvite:
    def test_invites_an_organization(self, make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("organizer")
        event_id = _new_event(engine)
        org = _org_of(engine, "steel")
        b.get(f"/events/{event_id}/invite")
        page = b.post(f"/events/{event_id}/invite", {"organization_id": org, "group": "demand"})
        assert page.status_code == 200 and "已邀请" in page.text
        assert _participant(engine, event_id, org).status == "invited"

    def test_a_bad_group_is_an_inline_error(self, make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("organizer")
        event_id = _new_event(engine)
        b.get(f"/events/{event_id}/invite")
        page = b.post(
            f"/events/{event_id}/invite",
            {"organization_id": _org_of(engine, "steel"), "group": "x"},
        )
        assert page.status_code == 422 and "分组应为需求方或成果方" in page.text


class TestInviteBatch:
    def test_invites_the_ticked_ones(self, make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("organizer")
        event_id = _new_event(engine)
        picks = [f"{_org_of(engine, 'steel')}:demand", f"{_org_of(engine, 'univ')}:supply"]
        b.get(f"/events/{event_id}/invite")
        response = b.post(
            f"/events/{event_id}/invite/batch", {"pick": picks}, follow_redirects=False
        )
        assert flash_of(b, response) == ("success", "已邀请 2 家单位")


class TestImportParticipants:
    def test_imports_a_csv(self, make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("organizer")
        event_id = _new_event(engine)
        b.get(f"/events/{event_id}")
        data = "单位名称,分组,团队,洽谈上限\n鞍辽钢铁股份有限公司,需求方,,4\n北辰理工大学,成果方,储能组,\n"
        page = b.client.post(
            f"/events/{event_id}/participants/import",
            data={"csrf_token": b.token},
            files={"file": ("名单.csv", data.encode(), "text/csv")},
        )
        assert page.status_code == 200 and "已导入 2 家参会方" in page.text
        assert _participant(engine, event_id, _org_of(engine, "steel")).cap == 4


# --- event_participants.py ---------------------------------------------------------------------


class TestMyEvent:
    def test_before_publishing_whom_to_meet(self, make_browser, ev) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("steel").get(f"/events/{ev['event']}/me")
        assert page.status_code == 200 and NAME in page.text
        assert "希望见谁？" in page.text and "北辰理工大学" in page.text

    def test_after_publishing_the_agenda_and_outcome_form(self, make_browser, published) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("steel").get(f"/events/{published['event']}/me")
        assert page.status_code == 200 and "我的洽谈日程" in page.text and "洽谈结果" in page.text
        assert "北辰理工大学" in page.text


class TestRegister:
    def test_declines_and_registers(self, make_browser, engine: Engine, ev) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("steel")
        b.get(f"/events/{ev['event']}/me")
        response = b.post(
            f"/events/{ev['event']}/register", {"accept": "0"}, follow_redirects=False
        )
        assert flash_of(b, response) == ("success", "已谢绝")
        response = b.post(
            f"/events/{ev['event']}/register", {"accept": "1"}, follow_redirects=False
        )
        assert flash_of(b, response) == ("success", "已报名")
        assert _participant(engine, ev["event"], _org_of(engine, "steel")).status == "registered"


class TestSetRequest:
    def test_marks_a_request(self, make_browser, ev) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("steel")
        b.get(f"/events/{ev['event']}/me")
        page = b.post(f"/events/{ev['event']}/requests", {"to_id": ev["inst"], "strength": "must"})
        assert page.status_code == 200 and "已标记：必须见" in page.text


class TestSetUnavailable:
    def test_saves_the_rounds(self, make_browser, engine: Engine, ev) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("steel")
        b.get(f"/events/{ev['event']}/me")
        response = b.post(
            f"/events/{ev['event']}/unavailable", {"slots": ["2", "9"]}, follow_redirects=False
        )
        assert flash_of(b, response) == ("success", "已保存不可参加的时段")
        assert _participant(engine, ev["event"], _org_of(engine, "steel")).unavailable == [2]


# --- event_schedule.py -------------------------------------------------------------------------


class TestGenerate:
    def test_generates_the_schedule(self, make_browser, engine: Engine, ev) -> None:  # type: ignore[no-untyped-def]
        with session_scope(engine) as session:  # asked by both sides: met whatever the relevance
            event = session.get(Event, ev["event"])
            for who, other in (("steel", "univ"), ("univ", "steel")):
                requests.set_request(
                    session=session, viewer=_viewer(session, who), event=event,  # type: ignore[arg-type]
                    to_participant_id=ev[other], strength="want",
                )  # fmt: skip
        b: Browser = make_browser("organizer")
        b.get(f"/events/{ev['event']}")
        response = b.post(f"/events/{ev['event']}/schedule", follow_redirects=False)
        assert response.headers["location"] == f"/events/{ev['event']}/grid"
        level, text = flash_of(b, response)
        assert level == "success" and text.startswith("已生成日程：") and "场洽谈" in text


class TestGrid:
    def test_shows_the_grid(self, make_browser, ev) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get(f"/events/{ev['event']}/grid")
        assert page.status_code == 200 and "日程总览（3 轮 × 2 桌）" in page.text
        assert "渤澜船舶重工有限公司" in page.text


def _edit(make_browser, ev: dict[str, Any], path: str, data: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    b: Browser = make_browser("organizer")
    b.get(f"/events/{ev['event']}/grid")
    response = b.post(f"/events/{ev['event']}/{path}", data, follow_redirects=False)
    assert response.headers["location"] == f"/events/{ev['event']}/grid"
    assert flash_of(b, response) == ("success", "已保存")


class TestMove:
    def test_moves_a_meeting(self, make_browser, engine: Engine, ev) -> None:  # type: ignore[no-untyped-def]
        first = ev["meetings"][0]
        _edit(make_browser, ev, f"meetings/{first}/move", {"slot": 1, "table_id": ev["tables"][1]})
        moved = _meeting(engine, first)
        assert (moved.slot, moved.table_id) == (1, ev["tables"][1])


class TestSwap:
    def test_swaps_two_meetings(self, make_browser, engine: Engine, ev) -> None:  # type: ignore[no-untyped-def]
        first, second = ev["meetings"]
        _edit(make_browser, ev, f"meetings/{first}/swap", {"other_id": second})
        assert _meeting(engine, first).table_id == ev["tables"][1]
        assert _meeting(engine, second).table_id == ev["tables"][0]


class TestRemove:
    def test_removes_a_meeting(self, make_browser, engine: Engine, ev) -> None:  # type: ignore[no-untyped-def]
        _edit(make_browser, ev, f"meetings/{ev['meetings'][0]}/remove", {})
        with session_scope(engine, write=False) as session:
            assert session.get(Meeting, ev["meetings"][0]) is None


class TestAdd:
    def test_adds_a_meeting(self, make_browser, engine: Engine, ev) -> None:  # type: ignore[no-untyped-def]
        data = {
            "demand_id": ev["steel"],
            "supply_id": ev["inst"],
            "slot": 1,
            "table_id": ev["tables"][0],
        }
        _edit(make_browser, ev, "meetings/add", data)
        with session_scope(engine, write=False) as session:
            assert len(schedule.meetings_of(session=session, event_id=ev["event"])) == 3

    def test_a_conflict_is_explained(self, make_browser, ev) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("organizer")
        b.get(f"/events/{ev['event']}/grid")
        data = {
            "demand_id": ev["steel"],
            "supply_id": ev["inst"],
            "slot": 0,
            "table_id": ev["tables"][0],
        }
        response = b.post(f"/events/{ev['event']}/meetings/add", data, follow_redirects=False)
        level, text = flash_of(b, response)
        assert level == "error" and text.startswith("不能添加：")


class TestPublish:
    def test_publishes_and_withdraws(self, make_browser, engine: Engine, ev) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("organizer")
        b.get(f"/events/{ev['event']}")
        response = b.post(f"/events/{ev['event']}/publish", follow_redirects=False)
        assert flash_of(b, response) == ("success", "日程已发布")
        response = b.post(f"/events/{ev['event']}/publish", {"undo": "1"}, follow_redirects=False)
        assert flash_of(b, response) == ("success", "已撤回发布")
        with session_scope(engine, write=False) as session:
            assert session.get(Event, ev["event"]).status == "scheduled"  # type: ignore[union-attr]


class TestAgendaPage:
    def test_shows_a_participants_agenda(self, make_browser, published) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("steel").get(
            f"/events/{published['event']}/agenda/{published['steel']}"
        )
        assert page.status_code == 200 and "鞍辽钢铁股份有限公司 的洽谈日程" in page.text
        assert "北辰理工大学" in page.text


class TestAgendaXlsx:
    def test_downloads_a_workbook(self, make_browser, published) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get(
            f"/events/{published['event']}/agenda/{published['steel']}.xlsx"
        )
        assert page.status_code == 200 and page.content.startswith(b"PK")
        assert "attachment" in page.headers["content-disposition"]


class TestAgendaIcs:
    def test_downloads_a_calendar(self, make_browser, published) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("steel").get(
            f"/events/{published['event']}/agenda/{published['steel']}.ics"
        )
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/calendar")
        assert page.text.startswith("BEGIN:VCALENDAR") and page.text.count("BEGIN:VEVENT") == 1


class TestAllAgendas:
    def test_downloads_every_agenda(self, make_browser, published) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get(f"/events/{published['event']}/agendas.xlsx")
        assert page.status_code == 200 and page.content.startswith(b"PK")


class TestRunSheet:
    def test_shows_a_tables_run_sheet(self, make_browser, ev) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get(f"/events/{ev['event']}/tables/{ev['tables'][0]}")
        assert page.status_code == 200 and f"{NAME} · 桌01" in page.text
        assert "鞍辽钢铁股份有限公司" in page.text

    def test_an_unknown_table_is_404(self, make_browser, ev) -> None:  # type: ignore[no-untyped-def]
        assert (
            make_browser("organizer").get(f"/events/{ev['event']}/tables/999999").status_code == 404
        )


class TestBrief:
    def test_shows_a_meetings_brief(self, make_browser, published) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("univ").get(
            f"/events/{published['event']}/meetings/{published['meetings'][0]}/brief"
        )
        assert page.status_code == 200 and "对接简报" in page.text


# --- event_outcomes.py -------------------------------------------------------------------------


class TestCheckinPage:
    def test_shows_check_in_and_outcomes(self, make_browser, published) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get(f"/events/{published['event']}/checkin")
        assert page.status_code == 200 and "签到与洽谈结果" in page.text
        assert "渤澜船舶重工有限公司" in page.text


class TestCheckin:
    def test_checks_a_participant_in(self, make_browser, engine: Engine, ev) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("organizer")
        b.get(f"/events/{ev['event']}/checkin")
        page = b.post(f"/events/{ev['event']}/participants/{ev['steel']}/checkin")
        assert page.status_code == 200 and "已签到" in page.text
        assert _participant(engine, ev["event"], _org_of(engine, "steel")).status == "checked_in"


class TestOutcome:
    def test_records_the_organizers_outcome(self, make_browser, engine: Engine, published) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("organizer")
        b.get(f"/events/{published['event']}/checkin")
        meeting = published["meetings"][0]
        form = {"status": "held", "rating": "promising", "result": "intent", "notes": "谈得不错",
                "share_contact": "1", "consent_note": "双方现场口头同意"}  # fmt: skip
        page = b.post(f"/events/{published['event']}/meetings/{meeting}/outcome", form)
        assert page.status_code == 200 and "已记录" in page.text and "/leads/" in page.text
        with session_scope(engine, write=False) as session:
            row = session.exec(
                select(MeetingFeedback).where(MeetingFeedback.meeting_id == meeting)
            ).one()
            assert (row.side, row.outcome, row.rating) == ("organizer", "intent", "promising")

    @pytest.mark.parametrize(
        ("form", "message"),
        [
            ({"status": "held", "result": "signed"}, "签约需填写金额（万元）"),
            ({"status": "held", "amount": "很多"}, "金额应为数字（万元）"),
            ({"status": "no_show", "rating": "useful"}, "未进行的洽谈不能记录评价、结果或交换联系方式"),
            ({"status": "held", "share_contact": "1"}, "请写明双方何时、如何表示同意"),
        ],
    )  # fmt: skip
    def test_a_bad_record_is_an_inline_error(self, make_browser, published, form, message) -> None:  # type: ignore[no-untyped-def]
        b: Browser = make_browser("organizer")
        b.get(f"/events/{published['event']}/checkin")
        page = b.post(
            f"/events/{published['event']}/meetings/{published['meetings'][0]}/outcome", form
        )
        assert page.status_code == 422 and message in page.text and "<html" not in page.text


class TestReport:
    def test_shows_the_report(self, make_browser, published) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get(f"/events/{published['event']}/report")
        assert page.status_code == 200 and NAME in page.text


class TestReportXlsx:
    def test_downloads_the_report(self, make_browser, published) -> None:  # type: ignore[no-untyped-def]
        page = make_browser("organizer").get(f"/events/{published['event']}/report.xlsx")
        assert page.status_code == 200 and page.content.startswith(b"PK")


# --- who may not ---------------------------------------------------------------------------------


class TestRefusals:
    def test_organizer_routes_refuse_a_participant_and_member_routes_an_outsider(  # type: ignore[no-untyped-def]
        self, make_browser, engine: Engine, published
    ) -> None:
        e, m, t = published["event"], published["meetings"][0], published["tables"][0]
        steel: Browser = make_browser("steel")
        steel.get(f"/events/{e}/me")
        gets = ["/events/new", f"/events/{e}/invite", f"/events/{e}/invite/suggestions",
                f"/events/{e}/grid", f"/events/{e}/agendas.xlsx", f"/events/{e}/tables/{t}",
                f"/events/{e}/checkin", f"/events/{e}/report", f"/events/{e}/report.xlsx",
                f"/events/{e}/agenda/{published['univ']}", f"/events/{e}/agenda/{published['univ']}.ics"]  # fmt: skip
        for url in gets:
            assert steel.client.get(url).status_code in (403, 404), url
        posts = {
            "/events/new": {"name": "x", "starts_on": "2027-03-15", "s1_start": "09:00", "s1_end": "10:00"},
            f"/events/{e}/invite": {"organization_id": _org_of(engine, "steel"), "group": "demand"},
            f"/events/{e}/invite/batch": {"pick": f"{_org_of(engine, 'steel')}:demand"},
            f"/events/{e}/schedule": {}, f"/events/{e}/publish": {"undo": "1"},
            f"/events/{e}/meetings/{m}/move": {"slot": 1, "table_id": t},
            f"/events/{e}/meetings/{m}/swap": {"other_id": published["meetings"][1]},
            f"/events/{e}/meetings/{m}/remove": {},
            f"/events/{e}/meetings/add": {"demand_id": published["steel"], "supply_id": published["inst"], "slot": 2, "table_id": t},
            f"/events/{e}/participants/{published['ship']}/checkin": {},
        }  # fmt: skip
        for url, data in posts.items():
            assert steel.post(url, data, follow_redirects=False).status_code in (403, 404), url
        files = {"file": ("名单.csv", "单位名称,分组\n北辰理工大学,成果方\n".encode(), "text/csv")}
        imported = steel.client.post(
            f"/events/{e}/participants/import", data={"csrf_token": steel.token}, files=files
        )
        assert imported.status_code in (403, 404)
        # (the refusals are the event's, not the CSRF check's: the same client may answer)
        assert steel.post(f"/events/{e}/register", {"accept": "1"}).status_code == 200
        # nothing changed: still published, both meetings where they were, nobody checked in
        with session_scope(engine, write=False) as session:
            assert session.get(Event, e).status == "published"  # type: ignore[union-attr]
            assert [(x.slot, x.table_id) for x in schedule.meetings_of(session=session, event_id=e)] == [
                (0, published["tables"][0]), (0, published["tables"][1])
            ]  # fmt: skip
            assert all(
                p.status == "registered" for p in setup.participants(session=session, event_id=e)
            )
        # an organization that takes no part sees none of the event (it is not open)
        outsider = _outsider(engine, make_browser)
        for url in (f"/events/{e}", f"/events/{e}/me", f"/events/{e}/meetings/{m}/brief",
                    f"/events/{e}/agenda/{published['steel']}"):  # fmt: skip
            assert outsider.client.get(url).status_code == 404, url
        for url, data in ((f"/events/{e}/register", {"accept": "1"}),
                          (f"/events/{e}/requests", {"to_id": published["univ"], "strength": "must"}),
                          (f"/events/{e}/unavailable", {"slots": "1"}),
                          (f"/events/{e}/meetings/{m}/outcome", {"status": "held"})):  # fmt: skip
            assert outsider.post(url, data, follow_redirects=False).status_code == 404, url


# --- helpers ---------------------------------------------------------------------------------


def _new_event(engine: Engine) -> int:
    with session_scope(engine) as session:
        today = dt.date.today()
        event = setup.create_event(session=session, viewer=_viewer(session, "organizer"), event=EventIn(
            name="空白对接会", starts_on=today, tables=2,
            sessions=[{"day": today, "start": "09:00", "end": "10:00"}],
        ))  # fmt: skip
        return pk(event)


def _org_of(engine: Engine, who: str) -> int:
    with session_scope(engine, write=False) as session:
        org = _viewer(session, who).organization_id
        assert org is not None
        return org


def _participant(engine: Engine, event_id: int, org_id: int) -> Participant:
    with session_scope(engine, write=False) as session:
        p = session.exec(
            select(Participant).where(
                Participant.event_id == event_id, Participant.organization_id == org_id
            )
        ).first()
        assert p is not None
        session.expunge(p)
        return p


def _outsider(engine: Engine, make_browser) -> Browser:  # type: ignore[no-untyped-def]
    """A signed-in user of an organization that takes no part in the event."""
    with session_scope(engine) as session:
        org = Organization(name="局外研究院", kind="institute")
        session.add(org)
        session.flush()
        accounts.create_user(
            session=session, email="out@example.cn", name="out", password=PASSWORD,
            role="university", organization_id=pk(org),
        )  # fmt: skip
    b: Browser = make_browser()
    b.get("/login")
    response = b.post(
        "/login", {"email": "out@example.cn", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303
    b.get("/workspace")  # the signed-in session's CSRF token
    return b
