"""Unit-aware 考核指标: quantities in Chinese and Latin units compared through pint."""

from __future__ import annotations

import pytest

from matcher.challenges import indicators as ind

# (what the result says, indicator name, comparison, target, unit, expected verdict)
UNIT_PAIRS = [
    # the case from the walk-through: 3 days of warning satisfy ≥ 72 hours
    ("系统可提前3天预警炉况异常", "预警提前量", ">=", 72, "小时", ind.MEETS),
    ("系统可提前2天预警炉况异常", "预警提前量", ">=", 72, "小时", ind.SHORT),
    ("预警提前量达到 80 小时", "预警提前量", ">=", 3, "天", ind.MEETS),
    ("单次充电续航时间 90 分钟", "续航时间", ">=", 1.5, "小时", ind.MEETS),
    ("单次充电续航时间 80 分钟", "续航时间", ">=", 1.5, "小时", ind.SHORT),
    ("响应时间不超过 45 秒", "响应时间", "<=", 1, "分钟", ind.MEETS),
    ("响应时间为 120 ms", "响应时间", "<=", 0.1, "s", ind.SHORT),
    ("循环寿命达到 1.5万次", "循环寿命", ">=", 12000, "次", ind.MEETS),
    ("循环寿命 8000 次", "循环寿命", ">=", 1, "万次", ind.SHORT),
    ("耐温可达 353.15 K", "耐温", ">=", 80, "℃", ind.MEETS),
    ("耐温可达 120℃", "耐温", ">=", 373.15, "K", ind.MEETS),
    ("耐温可达 90 ℃", "耐温", ">=", 373.15, "K", ind.SHORT),
    ("抗拉强度 1.2 GPa", "抗拉强度", ">=", 1000, "MPa", ind.MEETS),
    ("抗拉强度 850 MPa", "抗拉强度", ">=", 0.9, "GPa", ind.SHORT),
    ("识别准确率为 96.5%", "识别准确率", ">=", 95, "%", ind.MEETS),
    ("识别准确率为 93％", "识别准确率", ">=", 95, "%", ind.SHORT),
    ("日处理能力 0.5 吨", "日处理能力", ">=", 400, "千克", ind.MEETS),
    ("日处理能力 300 公斤", "日处理能力", ">=", 0.5, "吨", ind.SHORT),
    ("设备投资约 45 万元", "设备投资", "<=", 500000, "元", ind.MEETS),
    ("设备投资约 1.2亿元", "设备投资", "<=", 5000, "万元", ind.SHORT),
    ("检测精度 0.5 mm", "检测精度", "<=", 600, "μm", ind.MEETS),
    ("检测精度 8 微米", "检测精度", "<=", 0.005, "mm", ind.SHORT),
    ("额定功率 2 kW", "额定功率", ">=", 1500, "W", ind.MEETS),
    ("工作电压 10 kV", "工作电压", "=", 10000, "V", ind.MEETS),
    ("年处理量 3万吨", "年处理量", ">=", 20000, "吨", ind.MEETS),
    ("工作温度 -20 至 60 度", "工作温度", "<=", 70, "℃", ind.MEETS),
    ("每台年节电 5000 度", "年节电", ">=", 4000, "kWh", ind.MEETS),
]


@pytest.mark.parametrize(("text", "name", "comparison", "value", "unit", "expected"), UNIT_PAIRS)
def test_quantities_in_different_units_are_compared(
    text: str, name: str, comparison: str, value: float, unit: str, expected: str
) -> None:
    verdict = ind.compare(text, name, comparison, value, None, unit)
    assert verdict.status == expected, (text, verdict)
    assert verdict.stated is not None  # a verdict that compared something names what it read


def test_enough_unit_pairs_are_covered() -> None:
    pairs = {
        (t.split()[-1] if " " in t else t[-3:], unit) for t, _n, _c, _v, unit, _e in UNIT_PAIRS
    }
    assert len(UNIT_PAIRS) >= 20 and len(pairs) >= 20


@pytest.mark.parametrize(
    ("text", "name", "unit"),
    [
        ("系统可在线预警炉况异常", "预警提前量", "小时"),  # no value stated
        ("抗拉强度高，韧性好", "抗拉强度", "MPa"),
        ("识别准确率 96.5%", "抗拉强度", "MPa"),  # another indicator's value
        ("抗拉强度 850 MPa", "抗拉强度", "小时"),  # a unit of another dimension
        ("循环寿命 2000 次", "循环寿命", "%"),  # counts are not ratios
        ("处理成本 30 万元", "处理成本", "吨"),
        ("提前做好准备，培训 3 人", "预警提前量", "小时"),  # 人 is no time
    ],
)
def test_no_comparable_value_stays_unknown(text: str, name: str, unit: str) -> None:
    verdict = ind.compare(text, name, ">=", 1, None, unit)
    assert verdict.status == ind.UNKNOWN
    assert verdict.label == "未说明"


def test_conversions_go_through_pint() -> None:
    assert ind.convert(3, "天", "小时") == pytest.approx(72)
    assert ind.convert(80, "℃", "K") == pytest.approx(353.15)
    assert ind.convert(1.5, "万次", "次") == pytest.approx(15000)
    assert ind.convert(50, "万元", "元") == pytest.approx(500000)
    assert ind.convert(2, "吨", "千克") == pytest.approx(2000)
    assert ind.convert(1, "GPa", "MPa") == pytest.approx(1000)
    assert ind.convert(5, "度", "℃") == pytest.approx(5)  # 度 takes the target's meaning
    assert ind.convert(5, "度", "kWh") == pytest.approx(5)
    assert ind.convert(5, "%", "次") is None
    assert ind.convert(5, "克", "小时") is None
    assert ind.convert(5, "furlongs-ish", "小时") is None


def test_a_bare_number_next_to_a_fragment_of_the_name_proves_nothing() -> None:
    # 「提前」 is a core of 「预警提前量」, but 「提前 3 」 without a unit could be anything
    assert (
        ind.compare("比计划提前 3 完成", "预警提前量", ">=", 72, None, "小时").status == ind.UNKNOWN
    )
    # a bare number right after the full name is read in the target's unit, as before
    assert ind.compare("预警提前量 80", "预警提前量", ">=", 72, None, "小时").status == ind.MEETS
