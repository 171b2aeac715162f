"""What an organizer types to set up a 对接会 and what a side records after a meeting: validated
input models, shared by the forms (`web.forms.parse`) and any other caller.

Every rule names its field (`FieldProblem`), so a form shows the message next to what was typed."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, field_validator, model_validator

from matcher.events.models import OUTCOMES, RATINGS, EventSession
from matcher.events.slots import slots_of
from matcher.schemas import ClockTime, Day, FieldProblem, InputModel, parse_clock
from matcher.vocab import TECH_FIELDS


def _breaks(value: Any) -> Any:
    """ "10:20-10:30, 15:20-15:30" (as typed) or [["10:20", "10:30"], …] → [["10:20", "10:30"], …]."""
    if isinstance(value, str):
        value = [
            p.replace("–", "-").partition("-")[::2]
            for p in value.replace("，", ",").split(",")
            if p.strip()
        ]
    out = []
    for start, end in value:
        try:
            out.append([f"{parse_clock(str(start)):%H:%M}", f"{parse_clock(str(end)):%H:%M}"])
        except ValueError:
            raise ValueError("休息时间格式应为 10:20-10:30，多段用逗号分隔") from None
    return out


Breaks = Annotated[list[list[str]], BeforeValidator(_breaks)]
"""Breaks inside a session, as (start, end) "HH:MM" pairs."""


class SessionIn(InputModel):
    """A block of meeting rounds on one day."""

    day: Day
    start: ClockTime
    end: ClockTime
    slot_minutes: int = 20
    breaks: Breaks = Field(default_factory=list)
    name: str = ""

    @field_validator("slot_minutes")
    @classmethod
    def _slot_length(cls, value: int) -> int:
        if not 5 <= value <= 120:
            raise FieldProblem("每轮洽谈时长应在 5–120 分钟之间", "slot_minutes")
        return value

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.end <= self.start:
            raise FieldProblem("时段的结束时间应晚于开始时间", "end")
        return self


class EventIn(InputModel):
    """A new event: dates, place, theme, caps, tables and its sessions."""

    name: str = Field(default="", validate_default=True)
    starts_on: Day
    ends_on: Day = None  # a one-day event may leave it blank
    venue: str = ""
    online: bool = False
    theme_fields: list[str] = Field(default_factory=list)
    description: str = ""
    meeting_cap: int = 6
    tables: int = 10
    table_prefix: str = ""
    registration_deadline: Day = None
    sessions: list[SessionIn] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value:
            raise FieldProblem("请填写活动名称", "name")
        return value[:200]

    @field_validator("theme_fields")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        return [f for f in value if f in TECH_FIELDS]  # an unknown field is dropped, not refused

    @field_validator("meeting_cap")
    @classmethod
    def _cap(cls, value: int) -> int:
        if not 1 <= value <= 50:
            raise FieldProblem("每位参会方的洽谈上限应在 1–50 之间", "meeting_cap")
        return value

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: int) -> int:
        if not 1 <= value <= 500:
            raise FieldProblem("桌位（或线上会议室）数量应在 1–500 之间", "tables")
        return value

    @model_validator(mode="after")
    def _dates_and_rounds(self) -> Self:
        if self.starts_on is None:
            raise FieldProblem("必填", "starts_on")
        self.ends_on = self.ends_on or self.starts_on
        if self.ends_on < self.starts_on:
            raise FieldProblem("结束日期不能早于开始日期", "ends_on")
        if not self.sessions:
            raise FieldProblem("至少需要一个洽谈时段", "sessions")
        for spec in self.sessions:
            if spec.day is None or not self.starts_on <= spec.day <= self.ends_on:
                raise FieldProblem("时段的日期应在活动日期范围内", "sessions")
        if not slots_of([EventSession(event_id=0, **s.model_dump()) for s in self.sessions]):
            raise FieldProblem("按当前设置没有完整的洽谈轮次：请检查时段和休息时间", "sessions")
        return self


class OutcomeIn(InputModel):
    """One side's record of a meeting (or the organizer's): held or not, rating, outcome, amount,
    notes and consent to share contacts."""

    status: str
    rating: str | None = None
    outcome: str | None = None
    amount: float | None = None  # 万元
    notes: str = Field(default="", max_length=2000)
    share_contact: bool = False
    consent_note: str = Field(default="", max_length=500)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        if value not in ("held", "no_show"):
            raise FieldProblem("状态应为已进行或未到场", "status")
        return value

    @field_validator("rating")
    @classmethod
    def _rating(cls, value: str | None) -> str | None:
        if value is not None and value not in RATINGS:
            raise FieldProblem("未知的评价", "rating")
        return value

    @field_validator("outcome")
    @classmethod
    def _outcome(cls, value: str | None) -> str | None:
        if value is not None and value not in OUTCOMES:
            raise FieldProblem("未知的结果", "outcome")
        return value

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_number(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise FieldProblem("金额应为数字（万元）", "amount") from None
        return value

    @field_validator("amount")
    @classmethod
    def _amount_range(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 1e9:
            raise FieldProblem("金额应为非负数（万元）", "amount")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        held = self.status == "held"
        if not held and (
            self.outcome or (self.rating and self.rating != "not_held") or self.share_contact
        ):
            raise FieldProblem("未进行的洽谈不能记录评价、结果或交换联系方式", "status")
        if self.outcome == "signed" and self.amount is None:
            raise FieldProblem("签约需填写金额（万元）", "amount")
        return self
