"""考核指标 against what a result states: find the numbers a text gives for an indicator
(「循环寿命达到 2000 次以上」, 「识别准确率为 96.5%」, 「提前3天预警」) and compare them with the
challenge's target — meets / falls short / unknown.

Quantities are compared with pint (a maintained units library) through a Chinese alias table:
天/小时/分钟, 万次/次, ℃/K, MPa/GPa, %, 吨/千克, 万元/元 and the rest below. A stated value in a
unit of another dimension, or in no unit pint knows, is never compared: the verdict stays 未说明,
as it does when the text states no value at all.

A value is read after the indicator's name or one of its cores (「预警提前量」 is also stated as
「提前」: 「提前3天」), or just before it (「3天预警」). A value found through a core must carry a
unit of the target's dimension — a bare number next to a fragment of the name proves nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# The Chinese alias table: how a unit is written → (factor, pint unit). Factors carry the
# Chinese multipliers (万次 = 10⁴ 次, 万元 = 10⁴ 元) that pint has no prefix for.
ALIASES: dict[str, tuple[float, str]] = {
    # ratios
    "%": (1, "percent"), "％": (1, "percent"), "百分比": (1, "percent"), "‰": (1, "permille"),
    "ppm": (1, "ppm"),
    # length
    "nm": (1, "nanometer"), "纳米": (1, "nanometer"), "μm": (1, "micrometer"), "um": (1, "micrometer"),
    "微米": (1, "micrometer"), "mm": (1, "millimeter"), "毫米": (1, "millimeter"), "cm": (1, "centimeter"),
    "厘米": (1, "centimeter"), "m": (1, "meter"), "米": (1, "meter"), "km": (1, "kilometer"),
    "公里": (1, "kilometer"), "千米": (1, "kilometer"),
    # mass
    "mg": (1, "milligram"), "毫克": (1, "milligram"), "g": (1, "gram"), "克": (1, "gram"),
    "kg": (1, "kilogram"), "千克": (1, "kilogram"), "公斤": (1, "kilogram"), "斤": (0.5, "kilogram"),
    "t": (1, "metric_ton"), "吨": (1, "metric_ton"), "万吨": (1e4, "metric_ton"),
    # time
    "ms": (1, "millisecond"), "毫秒": (1, "millisecond"), "s": (1, "second"), "秒": (1, "second"),
    "秒钟": (1, "second"), "min": (1, "minute"), "分钟": (1, "minute"),
    "h": (1, "hour"), "小时": (1, "hour"), "个小时": (1, "hour"), "d": (1, "day"), "天": (1, "day"),
    "日": (1, "day"), "个月": (1, "month"), "年": (1, "year"),
    # power, energy, pressure
    "w": (1, "watt"), "W": (1, "watt"), "瓦": (1, "watt"), "kW": (1, "kilowatt"), "kw": (1, "kilowatt"),
    "千瓦": (1, "kilowatt"), "MW": (1, "megawatt"), "兆瓦": (1, "megawatt"),
    "Wh": (1, "watt_hour"), "kWh": (1, "kilowatt_hour"), "千瓦时": (1, "kilowatt_hour"),
    "Pa": (1, "pascal"), "帕": (1, "pascal"), "kPa": (1, "kilopascal"), "千帕": (1, "kilopascal"),
    "MPa": (1, "megapascal"), "兆帕": (1, "megapascal"), "GPa": (1, "gigapascal"), "吉帕": (1, "gigapascal"),
    "Wh/kg": (1, "watt_hour / kilogram"), "mAh/g": (1, "milliampere_hour / gram"),
    # temperature (absolute; pint handles the offset)
    "℃": (1, "degree_Celsius"), "°C": (1, "degree_Celsius"), "摄氏度": (1, "degree_Celsius"),
    "K": (1, "kelvin"), "开尔文": (1, "kelvin"),
    # counts, money
    "次": (1, "occurrence"), "万次": (1e4, "occurrence"), "周": (1, "occurrence"), "圈": (1, "occurrence"),
    "元": (1, "yuan"), "千元": (1e3, "yuan"), "万元": (1e4, "yuan"), "亿元": (1e8, "yuan"),
    # electrical, frequency, level
    "V": (1, "volt"), "kV": (1, "kilovolt"), "千伏": (1, "kilovolt"), "伏": (1, "volt"),
    "A": (1, "ampere"), "安": (1, "ampere"), "Hz": (1, "hertz"), "kHz": (1, "kilohertz"),
    "MHz": (1, "megahertz"), "GHz": (1, "gigahertz"), "dB": (1, "db_level"), "分贝": (1, "db_level"),
}  # fmt: skip
# 「度」 is ℃ next to a temperature and kWh next to electricity: it takes the target's meaning.
AMBIGUOUS: dict[str, tuple[tuple[float, str], ...]] = {
    "度": ((1, "degree_Celsius"), (1, "kilowatt_hour"))
}

_UNIT_WORDS = sorted([*ALIASES, *AMBIGUOUS], key=len, reverse=True)
_UNIT_PATTERN = "|".join(re.escape(u) for u in _UNIT_WORDS)
# A Latin unit must not run into a following Latin letter (「5 mm」 yes, 「5 mmol」 no).
_UNIT = rf"(?:{_UNIT_PATTERN})(?![A-Za-z])"
_NUMBER = r"(\d+(?:\.\d+)?)\s*(万|千|亿)?"
_LINK = r"[^。；;！!？?\n\d]{0,14}?"  # words between the name and its number, within one clause
_RANGE = re.compile(rf"{_NUMBER}\s*(?:{_UNIT})?\s*(?:~|～|-|–|至|到)\s*{_NUMBER}\s*({_UNIT})?")
_SINGLE = re.compile(rf"{_NUMBER}\s*({_UNIT})?")
_MULTIPLIER = {"万": 1e4, "千": 1e3, "亿": 1e8, None: 1.0, "": 1.0}

MEETS, SHORT, UNKNOWN = "meets", "short", "unknown"
LABELS = {MEETS: "达到", SHORT: "未达到", UNKNOWN: "未说明"}


@lru_cache(maxsize=1)
def registry() -> Any:
    import pint

    ureg: Any = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    ureg.define("occurrence = [occurrence]")  # 次: cycles, repetitions (not a ratio)
    ureg.define("yuan = [currency]")  # 元
    ureg.define("db_level = [sound_level]")  # dB compared as a plain level, never converted
    return ureg


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


_PREFIXES = ("电池", "产品", "设备", "系统", "平均", "综合", "整体", "最大", "最高", "最低")
_SUFFIXES = ("量", "值", "率", "能力", "时间", "时长", "水平", "指标")


def _names(name: str) -> tuple[list[str], list[str]]:
    """(the name and its shorter forms, its cores). 「电池循环寿命」 is also stated as
    「循环寿命」; 「预警提前量」 has the cores 「提前」 and 「预警」."""
    name = re.sub(r"\s+", "", name)
    full = [name]
    for prefix in _PREFIXES:
        if name.startswith(prefix) and len(name) - len(prefix) >= 2:
            full.append(name[len(prefix) :])
    cores: list[str] = []
    for form in list(full):
        for suffix in _SUFFIXES:
            if form.endswith(suffix) and len(form) - len(suffix) >= 2:
                cores.append(form[: -len(suffix)])
    if re.fullmatch(r"[\u4e00-\u9fff]{4,}", name):
        from matcher.text import get_lexer

        for word in get_lexer().tokens(name):
            if len(word) >= 2 and word not in full and word not in cores:
                cores.append(word)
    cores = [c for c in dict.fromkeys(cores) if c not in full]
    return full, cores


def _read(tail: str, said: str) -> tuple[Stated | None, int]:
    ranged = _RANGE.match(tail)
    if ranged:
        low = float(ranged.group(1)) * _MULTIPLIER[ranged.group(2)]
        high = float(ranged.group(3)) * _MULTIPLIER[ranged.group(4)]
        low, high = min(low, high), max(low, high)
        return Stated(low, ranged.group(5) or "", said + tail[: ranged.end()], high), ranged.end()
    single = _SINGLE.match(tail)
    if single:
        value = float(single.group(1)) * _MULTIPLIER[single.group(2)]
        return Stated(value, single.group(3) or "", said + tail[: single.end()]), single.end()
    return None, 0


def stated_values(text: str, name: str) -> list[Stated]:
    """Every number the text gives for the indicator (a range gives both ends); numbers found
    through a core of the name only when they carry a unit."""
    compact = text.replace("\u3000", " ")
    full, cores = _names(name)
    for aliases, need_unit in ((full, False), (cores, True)):
        found: list[Stated] = []
        for alias in aliases:
            head = re.escape(alias) + _LINK
            for match in re.finditer(head + "(?=\\d)", compact):
                tail = compact[match.end() : match.end() + 40]
                stated, _ = _read(tail, compact[match.start() : match.end()])
                if stated is not None and (stated.unit or not need_unit):
                    found.append(stated)
            # the value before the name: 「3天预警」, 「2000次循环寿命」
            before = re.compile(
                rf"{_NUMBER}\s*({_UNIT})[^。；;！!？?\n\d，,]{{0,4}}?{re.escape(alias)}"
            )
            for match in before.finditer(compact):
                value = float(match.group(1)) * _MULTIPLIER[match.group(2)]
                found.append(Stated(value, match.group(3), match.group(0)))
        if found:
            return found
    return []


def quantity(value: float, unit: str, target_unit: str = "") -> Any:
    """A pint quantity for a value written in a Chinese or Latin unit, or None if unknown."""
    ureg = registry()
    if unit in AMBIGUOUS:
        target = quantity(1.0, target_unit) if target_unit else None
        for meaning in AMBIGUOUS[unit]:
            q = ureg.Quantity(value * meaning[0], meaning[1])
            if target is not None and q.dimensionality == target.dimensionality:
                return q
        return None
    spec = ALIASES.get(unit)
    if spec is None:
        try:  # a unit written the way pint spells it (「kN」, 「mol/L」)
            parsed = ureg.parse_units(unit)
        except Exception:
            return None
        return ureg.Quantity(value, parsed)
    factor, name = float(spec[0]), spec[1]
    if factor != 1 and name in ("degree_Celsius", "kelvin"):
        return None
    return ureg.Quantity(value * factor, name)


def convert(value: float, unit: str, target_unit: str) -> float | None:
    """The value in the target's unit, or None when the two cannot be compared."""
    if unit == target_unit or not unit:
        return value  # no unit next to the indicator's name: read in the target's unit
    if not target_unit:
        return None
    source = quantity(value, unit, target_unit)
    target = quantity(1.0, target_unit)
    if source is None or target is None:
        return None
    try:
        # the target's own factor: a target in 万次 counts in units of 10⁴ 次
        return float(source.to(target.units).magnitude) / float(target.magnitude)
    except Exception:  # pint's DimensionalityError and offset-unit errors
        return None


def compare(
    text: str, name: str, comparison: str, value: float, value_max: float | None, unit: str
) -> Verdict:
    """Meets when any stated value satisfies the indicator; short when values are stated and
    none does; unknown when the text states none that can be compared."""

    def ok(v: float) -> bool:
        tolerance = max(abs(value) * 1e-9, 1e-9)  # 3 天 is 72 小时 exactly, after floating point
        if comparison == ">=":
            return v >= value - tolerance
        if comparison == "<=":
            return v <= value + tolerance
        if comparison == "range":
            top = value_max if value_max is not None else value
            return value - tolerance <= v <= top + tolerance
        return abs(v - value) <= max(abs(value) * 0.01, 1e-9)

    # A stated range must hold at both ends (「3–5 ms」 does not promise ≤ 4 ms).
    candidates: list[tuple[list[float], Stated]] = []
    for stated in stated_values(text, name):
        ends = [stated.value] if stated.high is None else [stated.value, stated.high]
        converted = [convert(v, stated.unit, unit) for v in ends]
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
