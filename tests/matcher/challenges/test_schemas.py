"""The input models: each rule's message lands on the field that broke it, in Chinese."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from matcher.challenges.schemas import ApplicationIn, ChallengeIn, IndicatorIn, ScoresIn
from matcher.validation import zh_errors

TODAY = dt.date.today()
LATER = TODAY + dt.timedelta(days=30)
VALID_CHALLENGE: dict[str, Any] = {
    "title": "储能电池低温循环寿命提升",
    "problem": "储能电站在东北冬季低温下电池容量衰减快、寿命短，需要低温可用的电池。",
    "application_deadline": LATER.isoformat(),
}
COMPLETE_APPLICATION: dict[str, Any] = {
    "submit": True,
    "team": "储能课题组",
    "leader": "王老师",
    "approach": "采用低温电解液与负极表面改性的技术路线，" * 3,
    "budget": "180",
    "milestones": [{"title": "样品", "due": "2027-06-30", "amount": "80"}],
}


def errors_of(model: type[BaseModel], data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return dict(zh_errors(caught.value))


def test_a_valid_challenge_is_read_as_typed() -> None:
    challenge = ChallengeIn.model_validate(
        {**VALID_CHALLENGE, "bounty": "1,200万", "min_trl": "5", "eligible_provinces": ["浙江"],
         "indicators": [{"name": "循环寿命", "comparison": ">=", "value": "1,500", "unit": "次"}]}
    )  # fmt: skip
    assert challenge.application_deadline == LATER and challenge.bounty == 1200
    assert challenge.min_trl == 5 and challenge.eligible_provinces == ["浙江省"]
    assert challenge.indicators[0].value == 1500


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": ""}, "title", "请填写榜单名称"),
        ({"title": "长" * 201}, "title", "榜单名称不超过 200 字"),
        ({"problem": "太短"}, "problem", "请用至少 20 个字描述要解决的问题"),
        ({"tech_field": "炼金术"}, "tech_field", "请选择技术领域"),
        ({"bounty": "三百万"}, "bounty", "揭榜经费应为数字（单位万元），实际为「三百万」"),
        ({"bounty": "2000000"}, "bounty", "揭榜经费应在 0–1,000,000 万元之间"),
        ({"bounty": "-1"}, "bounty", "揭榜经费不能为负数，实际为 -1"),
        ({"rnd_budget": "20000000"}, "rnd_budget", "研发投入应在 0–10,000,000 万元之间"),
        ({"min_trl": "12"}, "min_trl", "成熟度应为 1–9 的整数（技术就绪水平 TRL），实际为 12"),
        ({"application_deadline": (TODAY - dt.timedelta(days=1)).isoformat()},
         "application_deadline", "揭榜截止日期不能早于今天"),
        ({"application_deadline": "明天"}, "application_deadline", "日期无效：「明天」（格式如 2027-12-31）"),
        ({"eligible_kinds": ["agency"]}, "eligible_kinds", "单位类型只能是高校、科研院所、企业"),
        ({"eligible_provinces": ["火星"]}, "eligible_provinces", "未知的省份：火星"),
        ({"visibility": "secret"}, "visibility", "可见范围应为公开、注册用户或仅组织方"),
    ],
)  # fmt: skip
def test_each_challenge_rule_names_its_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    assert errors_of(ChallengeIn, {**VALID_CHALLENGE, **change}) == {field: message}


def test_a_missing_deadline_is_required() -> None:
    data = {k: v for k, v in VALID_CHALLENGE.items() if k != "application_deadline"}
    assert errors_of(ChallengeIn, data) == {"application_deadline": "必填"}


@pytest.mark.parametrize(
    ("dates", "field"),
    [
        ({"review_on": TODAY}, "review_on"),  # before the deadline
        ({"review_on": LATER + dt.timedelta(days=5), "start_on": LATER + dt.timedelta(days=1)}, "start_on"),
        ({"start_on": LATER + dt.timedelta(days=5), "acceptance_on": LATER + dt.timedelta(days=1)}, "acceptance_on"),
    ],
)  # fmt: skip
def test_dates_in_order_the_later_one_carries_the_message(
    dates: dict[str, Any], field: str
) -> None:
    assert errors_of(ChallengeIn, {**VALID_CHALLENGE, **dates}) == {
        field: "时间节点应依次为：揭榜截止 → 评审 → 启动 → 验收"
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"name": "", "value": "1"}, "第 2 项指标缺少名称"),
        ({"name": "温度", "value": ""}, "第 2 项指标缺少数值"),
        ({"name": "温度", "value": "很高"}, "第 2 项指标的数值应为数字"),
        ({"name": "温度", "value": "1", "comparison": "~"}, "第 2 项指标的比较方式应为 ≥、≤、= 或区间"),
        ({"name": "温度", "value": "10", "comparison": "range", "value_max": "5"},
         "第 2 项指标是区间：请填写上限，且不小于下限"),
        ({"name": "温度", "value": "10", "comparison": "range"}, "第 2 项指标是区间：请填写上限，且不小于下限"),
        ({"name": "温度", "value": "1", "unit": "单" * 21}, "第 2 项指标的名称或单位太长"),
    ],
)  # fmt: skip
def test_an_indicator_row_says_which_row_is_wrong(row: dict[str, Any], message: str) -> None:
    rows = [{"name": "循环寿命", "value": "1500"}, row]
    assert errors_of(ChallengeIn, {**VALID_CHALLENGE, "indicators": rows}) == {
        "indicators": message
    }


def test_at_most_twenty_indicators() -> None:
    rows = [{"name": f"指标{i}", "value": "1"} for i in range(21)]
    assert errors_of(ChallengeIn, {**VALID_CHALLENGE, "indicators": rows}) == {
        "indicators": "考核指标最多 20 项"
    }


def test_a_range_indicator_keeps_its_upper_value() -> None:
    row = IndicatorIn(name="温度", comparison="range", value=-30, value_max=60, unit="℃")
    assert (row.value, row.value_max) == (-30, 60)


def test_a_draft_application_may_be_incomplete() -> None:
    draft = ApplicationIn.model_validate({"team": "储能课题组"})
    assert not draft.submit and draft.budget is None and draft.milestones == []


def test_submitting_requires_every_part_each_on_its_field() -> None:
    assert errors_of(ApplicationIn, {"submit": True}) == {
        "team": "请填写揭榜团队",
        "leader": "请填写团队负责人",
        "approach": "请用至少 50 个字说明技术路线与方案",
        "budget": "请填写申请经费（万元）",
        "milestones": "至少填写一个里程碑",
    }


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"team": "队" * 101}, "team", "团队名称不超过 100 字"),
        ({"approach": "太短"}, "approach", "请用至少 50 个字说明技术路线与方案"),
        ({"budget": "很多"}, "budget", "申请经费应为数字（单位万元），实际为「很多」"),
        ({"budget": "2000000"}, "budget", "申请经费应在 0–1,000,000 万元之间"),
        ({"milestones": [{"title": "样品"}, {"due": "2027-06-30"}]}, "milestones", "第 2 个里程碑缺少内容"),
        ({"milestones": [{"title": "样品", "due": "六月"}]}, "milestones",
         "第 1 个里程碑的日期无效：「六月」（格式如 2027-12-31）"),
        ({"milestones": [{"title": "样品", "amount": "八十"}]}, "milestones",
         "第 1 个里程碑的拨付金额应为数字（单位万元），实际为「八十」"),
        ({"cited_technology_ids": list(range(21))}, "cited_technology_ids", "最多引用 20 项成果"),
        ({"indicator_answers": {1: "答" * 201}}, "indicator_answers", "每项指标的回答不超过 200 字"),
    ],
)  # fmt: skip
def test_each_application_rule_names_its_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    assert errors_of(ApplicationIn, {**COMPLETE_APPLICATION, **change}) == {field: message}


def test_a_milestone_is_stored_as_the_award_reads_it() -> None:
    application = ApplicationIn.model_validate(COMPLETE_APPLICATION)
    assert [m.as_stored() for m in application.milestones] == [
        {"title": "样品", "due": "2027-06-30", "amount": 80.0}
    ]


def test_scores_as_typed() -> None:
    scores = ScoresIn.model_validate({"technical": "26", "team": "16", "comment": "好"})
    assert scores.scores() == {"technical": 26, "team": 16}
    assert errors_of(ScoresIn, {"technical": "很好"}) == {"technical": "「技术先进性」应为数字"}
