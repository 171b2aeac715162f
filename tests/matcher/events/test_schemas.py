"""The input models: each rule lands on its field with its Chinese message."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from matcher.events.schemas import EventIn, OutcomeIn, SessionIn
from matcher.validation import zh_errors

DAY = dt.date(2027, 3, 15)
SESSION = {"day": DAY, "start": "09:00", "end": "10:00"}


def _errors(model: Any, **data: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return dict(zh_errors(caught.value))


def _event(**extra: Any) -> dict[str, Any]:
    return {"name": "对接会", "starts_on": DAY, "sessions": [SESSION], **extra}


class TestSessionIn:
    def test_times_as_typed(self) -> None:
        row = SessionIn.model_validate(
            {
                "day": "2027-03-15",
                "start": "9:00",
                "end": "11:50",
                "breaks": "10:20-10:30，11:00–11:10",
            }
        )
        assert (row.start, row.end) == (dt.time(9), dt.time(11, 50))
        assert row.breaks == [["10:20", "10:30"], ["11:00", "11:10"]]

    @pytest.mark.parametrize(
        ("data", "field", "message"),
        [
            ({"start": "九点"}, "start", "时间格式应为 09:00"),
            ({"end": "25:00"}, "end", "时间格式应为 09:00"),
            ({"breaks": "10:20"}, "breaks", "休息时间格式应为 10:20-10:30，多段用逗号分隔"),
            ({"end": "08:00"}, "end", "时段的结束时间应晚于开始时间"),
            ({"slot_minutes": 3}, "slot_minutes", "每轮洽谈时长应在 5–120 分钟之间"),
            ({"slot_minutes": 121}, "slot_minutes", "每轮洽谈时长应在 5–120 分钟之间"),
        ],
    )
    def test_rules(self, data: dict[str, Any], field: str, message: str) -> None:
        assert _errors(SessionIn, **{**SESSION, **data})[field] == message


class TestEventIn:
    def test_a_one_day_event_ends_on_its_first_day(self) -> None:
        event = EventIn.model_validate(_event(theme_fields=["新材料", "不存在的领域"]))
        assert event.ends_on == DAY and event.theme_fields == ["新材料"]
        assert event.meeting_cap == 6 and event.tables == 10

    @pytest.mark.parametrize(
        ("extra", "field", "message"),
        [
            ({"name": ""}, "name", "请填写活动名称"),
            ({"ends_on": DAY - dt.timedelta(days=1)}, "ends_on", "结束日期不能早于开始日期"),
            ({"meeting_cap": 0}, "meeting_cap", "每位参会方的洽谈上限应在 1–50 之间"),
            ({"meeting_cap": 51}, "meeting_cap", "每位参会方的洽谈上限应在 1–50 之间"),
            ({"tables": 0}, "tables", "桌位（或线上会议室）数量应在 1–500 之间"),
            ({"tables": 501}, "tables", "桌位（或线上会议室）数量应在 1–500 之间"),
            ({"sessions": []}, "sessions", "至少需要一个洽谈时段"),
            (
                {"sessions": [{**SESSION, "day": DAY + dt.timedelta(days=1)}]},
                "sessions",
                "时段的日期应在活动日期范围内",
            ),
            (
                {"sessions": [{**SESSION, "end": "09:30", "breaks": [["09:10", "09:20"]]}]},
                "sessions",
                "按当前设置没有完整的洽谈轮次：请检查时段和休息时间",
            ),
            (
                {"starts_on": "2027-13-01"},
                "starts_on",
                "日期无效：「2027-13-01」（格式如 2027-12-31）",
            ),
            ({"meeting_cap": "六"}, "meeting_cap", "应为整数"),
        ],
    )
    def test_rules(self, extra: dict[str, Any], field: str, message: str) -> None:
        assert _errors(EventIn, **_event(**extra))[field] == message


class TestOutcomeIn:
    def test_a_signed_contract(self) -> None:
        record = OutcomeIn.model_validate(
            {"status": "held", "outcome": "signed", "amount": "50", "share_contact": "1"}
        )
        assert record.amount == 50.0 and record.share_contact is True

    @pytest.mark.parametrize(
        ("data", "field", "message"),
        [
            ({"status": "maybe"}, "status", "状态应为已进行或未到场"),
            ({"status": "held", "rating": "great"}, "rating", "未知的评价"),
            ({"status": "held", "outcome": "won"}, "outcome", "未知的结果"),
            ({"status": "held", "amount": "五十"}, "amount", "金额应为数字（万元）"),
            ({"status": "held", "amount": "-1"}, "amount", "金额应为非负数（万元）"),
            ({"status": "held", "outcome": "signed"}, "amount", "签约需填写金额（万元）"),
            (
                {"status": "no_show", "rating": "useful"},
                "status",
                "未进行的洽谈不能记录评价、结果或交换联系方式",
            ),
            (
                {"status": "no_show", "share_contact": True},
                "status",
                "未进行的洽谈不能记录评价、结果或交换联系方式",
            ),
            ({"status": "held", "notes": "长" * 2001}, "notes", "过长：最多 2000 个字"),
        ],
    )
    def test_rules(self, data: dict[str, Any], field: str, message: str) -> None:
        assert _errors(OutcomeIn, **data)[field] == message

    def test_no_show_may_say_it_was_not_held(self) -> None:
        assert OutcomeIn.model_validate({"status": "no_show", "rating": "not_held"}).rating
