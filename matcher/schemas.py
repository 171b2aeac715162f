"""Reusable input types: one definition of what a person may type for a province, a technology
readiness level, an amount of money or a date, shared by every input model (listings, 揭榜挂帅,
对接会) and so by the forms, the API and the spreadsheet import.

Each type is an `Annotated` pydantic type whose validator accepts the spellings people use
("浙江"/"浙江省", "5", "50万", "2027/3/15", blank) and raises a Chinese message; the forms turn
the messages into per-field errors (`web.forms.parse`) and the API into 422 details.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from sqlmodel import SQLModel

from matcher import vocab
from matcher.identifiers import email_problem, phone_problem


def parse_money(raw: str) -> float:
    text = raw.strip().replace(",", "").replace("，", "").removesuffix("万元").removesuffix("万")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"应为数字（单位万元），实际为「{raw}」") from None
    if not math.isfinite(value):
        raise ValueError(f"应为数字（单位万元），实际为「{raw}」")
    if value < 0:
        raise ValueError(f"不能为负数，实际为 {raw}")
    return value


def parse_price(raw: str) -> float | None:
    if raw.strip() in ("面议", "议价", "协商"):
        return None
    return parse_money(raw)


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)


def parse_date(raw: str) -> dt.date:
    text = raw.strip().split(" ")[0].split("T")[0]
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                break
    raise ValueError(f"日期无效：「{raw}」（格式如 2027-12-31）")


def blank_to_none(value: Any) -> Any:
    """A blank form field means "not given", not an empty string or zero."""
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


def province(value: Any) -> str | None:
    value = blank_to_none(value)
    if value is None:
        return None
    name = vocab.normalize_province(str(value))
    if name is None:
        raise ValueError(f"未知的省份：{value}")
    return name


def _trl(value: Any) -> Any:
    value = blank_to_none(value)
    if isinstance(value, str):
        if not value.isdigit():
            raise ValueError(f"成熟度应为 1–9 的整数（技术就绪水平 TRL），实际为 {value}")
        return int(value)
    return value


def _trl_range(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 9:
        raise ValueError(f"成熟度应为 1–9 的整数（技术就绪水平 TRL），实际为 {value}")
    return value


def _money(value: Any) -> Any:
    value = blank_to_none(value)
    if isinstance(value, str):
        return parse_money(value)
    return value


def _money_range(value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value):
        raise ValueError("应为数字（单位万元）")
    if value < 0:
        raise ValueError("不能为负数")
    if value > 1e9:
        raise ValueError("过大（单位为万元）")
    return float(value)


def _date(value: Any) -> Any:
    value = blank_to_none(value)
    if isinstance(value, str):
        return parse_date(value)
    return value


def parse_clock(raw: str) -> dt.time:
    """A time of day as people type it on a form: "09:00", "9:00", "14:30"."""
    m = re.match(r"^(\d{1,2})[:：](\d{2})(?:[:：]00)?$", raw.strip())
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        return dt.time(int(m.group(1)), int(m.group(2)))
    raise ValueError("时间格式应为 09:00")


def _clock(value: Any) -> Any:
    if isinstance(value, str):
        return parse_clock(value)
    return value


Province = Annotated[str | None, BeforeValidator(province)]
"""A province of mainland China by any usual spelling, stored by its full name (浙江省); blank is None."""

Trl = Annotated[int | None, BeforeValidator(_trl), AfterValidator(_trl_range)]
"""Technology readiness level 1–9; blank is None."""

Money = Annotated[float | None, BeforeValidator(_money), AfterValidator(_money_range)]
"""An amount in 万元 ("50", "50万", "1,200万元"); non-negative; blank is None."""

Day = Annotated[dt.date | None, BeforeValidator(_date)]
"""A calendar date ("2027-03-15", "2027/3/15", "2027年3月15日"); blank is None."""


def _given_date(value: Any) -> Any:
    value = _date(value)
    if value is None:
        raise ValueError("必填")
    return value


Date = Annotated[dt.date, BeforeValidator(_given_date)]
"""A calendar date that must be given, in the spellings `Day` accepts."""

ClockTime = Annotated[dt.time, BeforeValidator(_clock)]
"""A time of day ("09:00", "9:00"), to the minute."""

OptionalText = Annotated[str | None, BeforeValidator(blank_to_none)]
"""Free text where blank means not given."""


def at_most(limit: float, message: str) -> AfterValidator:
    """An upper bound with its own message: `Annotated[Money, at_most(1e6, "应在 0–1,000,000 万元之间")]`."""

    def check(value: float | None) -> float | None:
        if value is not None and value > limit:
            raise ValueError(message)
        return value

    return AfterValidator(check)


def named(label: str) -> WrapValidator:
    """Prefix the wrapped type's own messages with what the field is ("揭榜经费应为数字…"), for
    fields whose message is read away from the field (a summary line, an API detail). Put it last
    in the `Annotated` so that it wraps every other validator."""

    def wrap(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            error = (exc.errors()[0].get("ctx") or {}).get("error")
            if not isinstance(error, ValueError):
                raise  # a type error keeps its own (translated) message
            raise ValueError(f"{label}{error}") from None

    return WrapValidator(wrap)


class InputModel(BaseModel):
    """Base of the use-case input models: strips strings, refuses unknown fields."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


# shared validators (Chinese messages; the listing models, the importer and the web reuse them)


class FieldProblem(ValueError):
    """A validation message that belongs to one field, even when a model validator raises it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_choice(value: str, allowed: dict[str, str] | tuple[str, ...], what: str) -> str:
    if isinstance(allowed, dict):
        code = vocab.code_for_label(allowed, value)
        if code is None:
            raise ValueError(f"未知的{what}：{value}（可选：{'、'.join(allowed.values())}）")
        return code
    if value not in allowed:
        raise ValueError(f"未知的{what}：{value}（可选：{'、'.join(allowed)}）")
    return value


def check_trl(value: int | None, what: str = "成熟度") -> int | None:
    if value is None:
        return None
    if not 1 <= int(value) <= 9:
        raise ValueError(f"{what}应为 1–9 的整数（技术就绪水平 TRL），实际为 {value}")
    return int(value)


def check_amount(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value):
        raise ValueError(f"{what}应为数字（单位万元）")
    if value < 0:
        raise ValueError(f"{what}不能为负数")
    if value > 1e9:
        raise ValueError(f"{what}过大（单位为万元）")
    return float(value)


def check_text(value: str, what: str, *, max_length: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValueError(f"{what}不能为空")
    if len(value) > max_length:
        raise ValueError(f"{what}过长：最多 {max_length} 个字，实际 {len(value)} 个字")
    return value


class ContactChecks(SQLModel):
    """Field validators for the contact columns shared by listings."""

    @field_validator("contact_phone", check_fields=False)
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if not v or not v.strip():
            return None
        problem = phone_problem(v)
        if problem:
            raise ValueError(problem)
        return v.strip()

    @field_validator("contact_email", check_fields=False)
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if not v or not v.strip():
            return None
        problem = email_problem(v)
        if problem:
            raise ValueError(problem)
        return v.strip()
