"""What people send to 揭榜挂帅: a challenge with its indicators, an application with its
milestones. Pydantic input models on the shared types of `matcher.schemas`, so the form
(`web.forms.parse`), the demo and the tests validate one way, each message on its own field.

A row of a list (an indicator, a milestone) words its messages to follow its number: the list
field adds "第 2 项" / "第 2 个" (`numbered`), and the form shows them above the rows."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from matcher import schemas
from matcher.challenges.models import COMPARISONS, ELIGIBLE_KINDS, RUBRIC
from matcher.schemas import Date, Day, FieldProblem, InputModel, Money, Trl, at_most, named
from matcher.validation import zh_errors
from matcher.vocab import TECH_FIELDS

MAX_INDICATORS = 20
MAX_CITED = 20
DATE_ORDER = ("application_deadline", "review_on", "start_on", "acceptance_on")


def numbered(counter: str) -> WrapValidator:
    """A list of rows whose message says which row: 第 2 项 + 指标缺少名称."""

    def wrap(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            row = next((p for p in exc.errors()[0]["loc"] if isinstance(p, int)), None)
            message = zh_errors(exc)[0][1]
            raise ValueError(
                message if row is None else f"第 {row + 1} {counter}{message}"
            ) from None

    return WrapValidator(wrap)


def _number(message: str, *, required: str = "") -> BeforeValidator:
    """A figure as typed ("1,500", "-30", "0.5"); blank is None, or refused with `required`."""

    def parse(value: Any) -> Any:
        value = schemas.blank_to_none(value)
        if value is None and required:
            raise ValueError(required)
        if not isinstance(value, str):
            return value
        text = value.replace(",", "").replace("，", "")
        if not re.fullmatch(r"-?\d+(\.\d+)?", text):
            raise ValueError(message)
        return float(text)

    return BeforeValidator(parse)


class IndicatorIn(InputModel):
    """One 考核指标: a name, a comparison (≥ ≤ = or a range), the figure(s) and the unit."""

    name: str = Field("", validate_default=True)
    comparison: str = ">="
    value: Annotated[float, _number("指标的数值应为数字", required="指标缺少数值")] = Field(
        None, validate_default=True
    )
    value_max: Annotated[float | None, _number("指标的上限应为数字")] = None
    unit: str = ""

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name:
            raise ValueError("指标缺少名称")
        return name

    @field_validator("comparison")
    @classmethod
    def _known_comparison(cls, comparison: str) -> str:
        if comparison not in COMPARISONS:
            raise ValueError("指标的比较方式应为 ≥、≤、= 或区间")
        return comparison

    @model_validator(mode="after")
    def _range_and_length(self) -> IndicatorIn:
        if self.comparison == "range" and (self.value_max is None or self.value_max < self.value):
            raise FieldProblem("指标是区间：请填写上限，且不小于下限", "value_max")
        if len(self.unit) > 20 or len(self.name) > 100:
            raise FieldProblem("指标的名称或单位太长", "name")
        return self


Bounty = Annotated[Money, at_most(1_000_000, "应在 0–1,000,000 万元之间"), named("揭榜经费")]
RndBudget = Annotated[Money, at_most(10_000_000, "应在 0–10,000,000 万元之间"), named("研发投入")]


class ChallengeIn(InputModel):
    """A challenge as its publisher writes it."""

    title: str = Field("", validate_default=True)
    problem: str = Field("", validate_default=True)
    application_deadline: Date
    bounty: Bounty = 0.0
    tech_field: str = ""
    rnd_budget: RndBudget = None
    min_trl: Trl = None
    review_on: Day = None
    start_on: Day = None
    acceptance_on: Day = None
    eligible_provinces: list[str] = Field(default_factory=list)
    eligible_kinds: list[str] = Field(default_factory=list)
    visibility: str = "public"
    indicators: Annotated[list[IndicatorIn], numbered("项")] = Field(default_factory=list)

    @field_validator("title")
    @classmethod
    def _title(cls, title: str) -> str:
        if not title:
            raise ValueError("请填写榜单名称")
        if len(title) > 200:
            raise ValueError("榜单名称不超过 200 字")
        return title

    @field_validator("problem")
    @classmethod
    def _problem(cls, problem: str) -> str:
        if len(problem) < 20:
            raise ValueError("请用至少 20 个字描述要解决的问题")
        return problem

    @field_validator("tech_field")
    @classmethod
    def _tech_field(cls, name: str) -> str:
        if name and name not in TECH_FIELDS:
            raise ValueError("请选择技术领域")
        return name

    @field_validator("application_deadline")
    @classmethod
    def _not_past(cls, deadline: dt.date) -> dt.date:
        if deadline < dt.date.today():
            raise ValueError("揭榜截止日期不能早于今天")
        return deadline

    @field_validator("eligible_provinces", mode="before")
    @classmethod
    def _provinces(cls, names: Any) -> Any:
        if isinstance(names, list):
            return [name for name in map(schemas.province, names) if name]
        return names

    @field_validator("eligible_kinds")
    @classmethod
    def _kinds(cls, kinds: list[str]) -> list[str]:
        if any(k not in ELIGIBLE_KINDS for k in kinds):
            raise ValueError("单位类型只能是高校、科研院所、企业")
        return kinds

    @field_validator("visibility")
    @classmethod
    def _visibility(cls, visibility: str) -> str:
        if visibility not in ("public", "registered", "organizers"):
            raise ValueError("可见范围应为公开、注册用户或仅组织方")
        return visibility

    @field_validator("indicators")
    @classmethod
    def _few_indicators(cls, rows: list[IndicatorIn]) -> list[IndicatorIn]:
        if len(rows) > MAX_INDICATORS:
            raise ValueError(f"考核指标最多 {MAX_INDICATORS} 项")
        return rows

    @model_validator(mode="after")
    def _dates_in_order(self) -> ChallengeIn:
        """揭榜截止 → 评审 → 启动 → 验收; the first date out of order carries the message."""
        dated = [(k, getattr(self, k)) for k in DATE_ORDER if getattr(self, k) is not None]
        for (_k1, d1), (k2, d2) in itertools.pairwise(dated):
            if d2 < d1:
                raise FieldProblem("时间节点应依次为：揭榜截止 → 评审 → 启动 → 验收", k2)
        return self


class MilestoneIn(InputModel):
    """One milestone of an application: what is delivered, by when, and the payment (万元)."""

    title: str = Field("", validate_default=True)
    due: Annotated[Day, named("里程碑的")] = None
    amount: Annotated[Money, named("里程碑的拨付金额")] = None

    @field_validator("title")
    @classmethod
    def _title(cls, title: str) -> str:
        if not title:
            raise ValueError("里程碑缺少内容")
        return title[:200]

    def as_stored(self) -> dict[str, Any]:
        """As the application keeps it (JSON)."""
        return {
            "title": self.title,
            "due": self.due.isoformat() if self.due else "",
            "amount": self.amount,
        }


def _submitting(info: ValidationInfo) -> bool:
    return bool(info.data.get("submit"))


class ApplicationIn(InputModel):
    """An application as the applicant writes it. A draft may be incomplete; `submit` (declared
    first, so the fields below can read it) makes the team, leader, approach, budget and a
    milestone required — each missing one reported on its own field, all at once."""

    submit: bool = False
    team: str = Field("", validate_default=True)
    leader: str = Field("", validate_default=True)
    approach: str = Field("", validate_default=True)
    budget: Annotated[Money, at_most(1_000_000, "应在 0–1,000,000 万元之间"), named("申请经费")] = (
        Field(None, validate_default=True)
    )
    milestones: Annotated[list[MilestoneIn], numbered("个")] = Field([], validate_default=True)
    partner_names: list[str] = Field(default_factory=list)
    cited_technology_ids: list[int] = Field(default_factory=list)
    # indicator id → the applicant's answer
    indicator_answers: dict[int, str] = Field(default_factory=dict)

    @field_validator("team")
    @classmethod
    def _team(cls, team: str, info: ValidationInfo) -> str:
        if len(team) > 100:
            raise ValueError("团队名称不超过 100 字")
        if _submitting(info) and not team:
            raise ValueError("请填写揭榜团队")
        return team

    @field_validator("leader")
    @classmethod
    def _leader(cls, leader: str, info: ValidationInfo) -> str:
        if _submitting(info) and not leader:
            raise ValueError("请填写团队负责人")
        return leader

    @field_validator("approach")
    @classmethod
    def _approach(cls, approach: str, info: ValidationInfo) -> str:
        if _submitting(info) and len(approach) < 50:
            raise ValueError("请用至少 50 个字说明技术路线与方案")
        return approach

    @field_validator("budget")
    @classmethod
    def _budget(cls, budget: float | None, info: ValidationInfo) -> float | None:
        if _submitting(info) and budget is None:
            raise ValueError("请填写申请经费（万元）")
        return budget

    @field_validator("milestones")
    @classmethod
    def _milestones(cls, rows: list[MilestoneIn], info: ValidationInfo) -> list[MilestoneIn]:
        if _submitting(info) and not rows:
            raise ValueError("至少填写一个里程碑")
        return rows

    @field_validator("cited_technology_ids")
    @classmethod
    def _few_cited(cls, ids: list[int]) -> list[int]:
        if len(ids) > MAX_CITED:
            raise ValueError(f"最多引用 {MAX_CITED} 项成果")
        return ids

    @field_validator("indicator_answers")
    @classmethod
    def _short_answers(cls, answers: dict[int, str]) -> dict[int, str]:
        if any(len(a) > 200 for a in answers.values()):
            raise ValueError("每项指标的回答不超过 200 字")
        return answers


def _score(key: str) -> BeforeValidator:
    return _number(f"「{RUBRIC[key][0]}」应为数字")


class ScoresIn(InputModel):
    """An expert's scores as typed. The rubric's ranges (and that every criterion is scored) are
    checked when the score is submitted (`review.submit_score`)."""

    technical: Annotated[float | None, _score("technical")] = None
    feasibility: Annotated[float | None, _score("feasibility")] = None
    team: Annotated[float | None, _score("team")] = None
    budget: Annotated[float | None, _score("budget")] = None
    comment: str = ""

    def scores(self) -> dict[str, float]:
        """The criteria scored so far, by rubric key."""
        given = {key: getattr(self, key) for key in RUBRIC}
        return {key: value for key, value in given.items() if value is not None}
