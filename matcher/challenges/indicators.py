"""考核指标 against what a result states: find the numbers a text gives for an indicator
(「循环寿命达到 2000 次以上」, 「识别准确率为 96.5%」, 「效率≥95％」) and compare them with the
challenge's target — meets / falls short / unknown, converting units of one dimension
(mm ↔ μm, h ↔ min, MPa ↔ GPa, 万次 ↔ 次 …) and saying unknown where they cannot be compared."""

from __future__ import annotations

import re
from dataclasses import dataclass

# unit → (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "%": ("ratio", 1.0), "％": ("ratio", 1.0), "百分比": ("ratio", 1.0),
    "nm": ("length", 1e-9), "纳米": ("length", 1e-9), "μm": ("length", 1e-6), "um": ("length", 1e-6),
    "微米": ("length", 1e-6), "mm": ("length", 1e-3), "毫米": ("length", 1e-3), "cm": ("length", 1e-2),
    "厘米": ("length", 1e-2), "m": ("length", 1.0), "米": ("length", 1.0), "km": ("length", 1e3), "公里": ("length", 1e3),
    "mg": ("mass", 1e-6), "毫克": ("mass", 1e-6), "g": ("mass", 1e-3), "克": ("mass", 1e-3),
    "kg": ("mass", 1.0), "千克": ("mass", 1.0), "公斤": ("mass", 1.0), "t": ("mass", 1e3), "吨": ("mass", 1e3),
    "ms": ("time", 1e-3), "毫秒": ("time", 1e-3), "s": ("time", 1.0), "秒": ("time", 1.0),
    "min": ("time", 60.0), "分钟": ("time", 60.0), "h": ("time", 3600.0), "小时": ("time", 3600.0),
    "d": ("time", 86400.0), "天": ("time", 86400.0), "年": ("time", 31_536_000.0),
    "w": ("power", 1.0), "W": ("power", 1.0), "瓦": ("power", 1.0), "kW": ("power", 1e3), "kw": ("power", 1e3),
    "千瓦": ("power", 1e3), "MW": ("power", 1e6), "兆瓦": ("power", 1e6),
    "Pa": ("pressure", 1.0), "kPa": ("pressure", 1e3), "MPa": ("pressure", 1e6), "GPa": ("pressure", 1e9),
    "Wh": ("energy", 1.0), "kWh": ("energy", 1e3), "度": ("energy", 1e3),
    "Wh/kg": ("specific_energy", 1.0), "mAh/g": ("specific_capacity", 1.0),
    "℃": ("temperature", 1.0), "°C": ("temperature", 1.0), "度C": ("temperature", 1.0),
    "次": ("count", 1.0), "万次": ("count", 1e4), "周": ("count", 1.0), "圈": ("count", 1.0),
    "V": ("voltage", 1.0), "kV": ("voltage", 1e3), "Hz": ("frequency", 1.0), "kHz": ("frequency", 1e3),
    "MHz": ("frequency", 1e6), "GHz": ("frequency", 1e9), "dB": ("db", 1.0),
}  # fmt: skip
_UNIT_PATTERN = "|".join(sorted((re.escape(u) for u in UNITS), key=len, reverse=True))
_NUMBER = r"(\d+(?:\.\d+)?)\s*(万)?"
_LINK = r"[^。；;！!？?\n\d]{0,14}?"  # words between the name and its number, within one clause
_RANGE = re.compile(
    rf"{_NUMBER}\s*(?:{_UNIT_PATTERN})?\s*(?:~|～|-|–|至|到)\s*{_NUMBER}\s*({_UNIT_PATTERN})?"
)
_SINGLE = re.compile(rf"{_NUMBER}\s*({_UNIT_PATTERN})?")

MEETS, SHORT, UNKNOWN = "meets", "short", "unknown"
LABELS = {MEETS: "达到", SHORT: "未达到", UNKNOWN: "未说明"}


@dataclass(frozen=True)
class Stated:
    value: float
    unit: str
    text: str  # the words it was read from
    high: float | None = None  # the upper end, when a range is stated


@dataclass(frozen=True)
class Verdict:
    status: str  # meets / short / unknown
    stated: Stated | None
    detail: str

    @property
    def label(self) -> str:
        return LABELS[self.status]


def _names(name: str) -> list[str]:
    """The indicator's name and its shorter cores: 「电池循环寿命」 is also stated as 「循环寿命」."""
    name = re.sub(r"\s+", "", name)
    out = [name]
    for prefix in ("电池", "产品", "设备", "系统", "平均", "综合", "整体"):
        if name.startswith(prefix) and len(name) - len(prefix) >= 2:
            out.append(name[len(prefix) :])
    return out


def stated_values(text: str, name: str) -> list[Stated]:
    """Every number the text gives for the indicator (a range gives both ends)."""
    found: list[Stated] = []
    compact = text.replace("\u3000", " ")
    for alias in _names(name):
        head = re.escape(alias) + _LINK
        for match in re.finditer(head + "(?=\\d)", compact):
            tail = compact[match.end() : match.end() + 40]
            said = compact[match.start() : match.end()]
            ranged = _RANGE.match(tail)
            if ranged:
                low = float(ranged.group(1)) * (1e4 if ranged.group(2) else 1.0)
                high = float(ranged.group(3)) * (1e4 if ranged.group(4) else 1.0)
                low, high = min(low, high), max(low, high)
                found.append(Stated(low, ranged.group(5) or "", said + tail[: ranged.end()], high))
                continue
            single = _SINGLE.match(tail)
            if single:
                value = float(single.group(1)) * (1e4 if single.group(2) else 1.0)
                found.append(Stated(value, single.group(3) or "", said + tail[: single.end()]))
        if found:
            break
    return found


def _convert(value: float, unit: str, target_unit: str) -> float | None:
    if unit == target_unit or (not unit and not target_unit):
        return value
    if not unit:
        return value  # the number is written without a unit next to the indicator's name
    if not target_unit:
        return None
    a, b = UNITS.get(unit), UNITS.get(target_unit)
    if a is None or b is None or a[0] != b[0]:
        return None
    return value * a[1] / b[1]


def compare(
    text: str, name: str, comparison: str, value: float, value_max: float | None, unit: str
) -> Verdict:
    """Meets when any stated value satisfies the indicator; short when values are stated and
    none does; unknown when the text states none that can be compared."""

    def ok(v: float) -> bool:
        if comparison == ">=":
            return v >= value
        if comparison == "<=":
            return v <= value
        if comparison == "range":
            return value <= v <= (value_max if value_max is not None else value)
        return abs(v - value) <= max(abs(value) * 0.01, 1e-9)

    # A stated range must hold at both ends (「3–5 ms」 does not promise ≤ 4 ms).
    candidates: list[tuple[list[float], Stated]] = []
    for stated in stated_values(text, name):
        ends = [stated.value] if stated.high is None else [stated.value, stated.high]
        converted = [_convert(v, stated.unit, unit) for v in ends]
        values = [c for c in converted if c is not None]
        if len(values) == len(ends):
            candidates.append((values, stated))
    if not candidates:
        return Verdict(UNKNOWN, None, "成果材料中未找到该指标的数值")
    for values, stated in candidates:
        if all(ok(v) for v in values):
            return Verdict(MEETS, stated, f"成果写明「{stated.text.strip()}」")
    stated = candidates[0][1]
    return Verdict(SHORT, stated, f"成果写明「{stated.text.strip()}」")


def describe(comparison: str, value: float, value_max: float | None, unit: str) -> str:
    def num(v: float) -> str:
        return f"{v:g}"

    if comparison == "range":
        return f"{num(value)}–{num(value_max if value_max is not None else value)} {unit}".strip()
    return f"{ {'>=': '≥', '<=': '≤', '=': '='}.get(comparison, comparison) } {num(value)} {unit}".strip()
