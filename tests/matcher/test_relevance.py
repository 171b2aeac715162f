"""Calibrated relevance: evidence, the logistic fit, thresholds, storage per fingerprint,
the reasons shown with a hit, and the schedule's relevance rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matcher import reasons, relevance
from matcher.events import scheduling


def _ref(tokens: list[str], idf: dict[str, float]) -> relevance.Reference:
    cosines = [0.80 + 0.001 * i for i in range(50)]
    return relevance.reference_for(cosines, [5.0, 3.0, 1.0], tokens, lambda t: idf.get(t, 0.0), 7.6)


def test_a_query_of_unknown_words_covers_nothing() -> None:
    ref = _ref(["asdfqwer"], {})
    x = relevance.evidence(0.85, 0.0, {"高炉", "炉况"}, ref)
    features = dict(zip(relevance.FEATURES, x.tolist(), strict=True))
    assert features["coverage"] == 0.0 and features["bm25"] == 0.0
    assert features["cosine_lead"] > 0  # it is the nearest vector, which alone proves nothing
    assert relevance.FALLBACK.label(float(relevance.FALLBACK.probability(x)[0])) == relevance.WEAK


def test_evidence_measures_leads_over_the_other_candidates() -> None:
    ref = _ref(["高炉", "炉况"], {"高炉": 3.0, "炉况": 5.0})
    first = relevance.evidence(0.849, 5.0, {"高炉", "炉况"}, ref)
    second = relevance.evidence(0.848, 3.0, {"高炉"}, ref)
    f = dict(zip(relevance.FEATURES, first.tolist(), strict=True))
    s = dict(zip(relevance.FEATURES, second.tolist(), strict=True))
    assert f["cosine_lead"] == pytest.approx(0.001) and s["cosine_lead"] < 0
    assert f["bm25_lead"] > 0 > s["bm25_lead"]
    assert f["coverage"] == pytest.approx(1.0) and s["coverage"] == pytest.approx(3 / 8)
    assert f["cosine_z"] <= relevance.Z_LIMIT


def test_display_value_puts_the_thresholds_at_fixed_points() -> None:
    cal = relevance.Calibration([0.0] * 6, 0.0, [0.0] * 6, [1.0] * 6, high=0.6, related=0.1)
    assert cal.display_value(0.1) == pytest.approx(0.5)
    assert cal.display_value(0.6) == pytest.approx(0.8)
    values = [cal.display_value(p) for p in np.linspace(0.0001, 0.9999, 50)]
    assert values == sorted(values) and values[0] == pytest.approx(0.0, abs=1e-6)
    assert values[-1] == pytest.approx(1.0)
    for p in (0.05, 0.3, 0.9):  # label and figure agree on every side of the thresholds
        label = cal.label(p)
        figure = relevance.Relevance(cal.display_value(p), label).figure
        assert (figure >= 80) == (label == relevance.HIGH)
        assert (50 <= figure < 80) == (label == relevance.RELATED)


def test_the_shipped_calibration_matches_its_features() -> None:
    shipped = sorted(relevance.shipped_dir().glob("relevance-*.json"))
    assert shipped, "the built-in e5 model's calibration ships with the package"
    for path in shipped:
        cal = relevance.Calibration.from_json(json.loads(path.read_text(encoding="utf-8")))
        assert cal.source == "fitted" and 0 < cal.related <= cal.high < 1
        cv = cal.figures["cross_validated"]["engine"]
        assert cv["precision_high"] >= 0.9 and cv["false_confidence"] <= 0.1


# --- reasons -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word", ["基于", "系统", "得到", "过程", "各个", "应用", "采用", "10", "3.5"]
)
def test_filler_words_are_not_shared_terms(word: str) -> None:
    assert not reasons.is_domain_term(word)


@pytest.mark.parametrize("word", ["热轧", "带钢", "表面缺陷", "脓毒症", "船体", "炉况"])
def test_domain_words_are_shared_terms(word: str) -> None:
    assert reasons.is_domain_term(word)


def test_words_common_on_the_platform_are_not_shared_terms() -> None:
    idf = {"热轧": 6.0, "钢材": 0.2}  # 钢材 is in most listings
    terms = reasons.domain_terms(
        ["钢材", "热轧", "基于"], {"钢材", "热轧", "基于"}, lambda t: idf.get(t, 0.0), 1000
    )
    assert terms == ["热轧"]


def test_the_matched_passage_quotes_the_clauses_that_share_the_most() -> None:
    from matcher.text import get_lexer

    lexer = get_lexer()
    need = "我厂是一家中型钢厂。热轧带钢表面缺陷靠人工目检，漏检多；希望引进在线检测系统。"
    hit = "本文研究了图像处理方法。提出一种热轧带钢表面缺陷的在线识别算法，准确率高。"
    terms = ["热轧", "带钢", "表面缺陷"]
    passage = reasons.matched_passage(need, hit, terms, lexer.tokens, lambda t: 5.0)
    assert passage is not None
    assert "热轧带钢表面缺陷" in passage.query and "热轧带钢表面缺陷" in passage.hit
    assert passage.sentence().startswith("您的需求『") and "对应成果中『" in passage.sentence()
    assert (
        reasons.matched_passage(need, "完全无关的文字。", terms, lexer.tokens, lambda t: 5.0)
        is None
    )


# --- the schedule's relevance rule ---------------------------------------------------------


def test_pairs_below_related_meet_only_when_both_sides_asked() -> None:
    problem = scheduling.Problem(
        demand=[1, 2],
        supply=[10, 11],
        value={(1, 10): 0.9, (1, 11): 0.3, (2, 10): 0.3, (2, 11): 0.3},
        slots=3,
        tables=2,
        must={(1, 11)},  # one side insists on a weak pair
        want={(2, 11)},
        related={(1, 10)},
        asked_by_both={(2, 11)},  # both sides asked for this weak pair
    )
    result = scheduling.solve(problem)
    met = {(m.demand, m.supply) for m in result.meetings}
    assert met == {(1, 10), (2, 11)}  # (2, 10) would fill a seat, but nobody asked for it
    assert not scheduling.check(problem, result.meetings)
    assert not scheduling.unrequested_below_related(problem, result.meetings)
    reasons_of = {(u.demand, u.supply): u.reason for u in result.unscheduled}
    assert "相关" in reasons_of[(1, 11)]
    bad = [scheduling.Placed(2, 10, 0, 0, 0.3, False)]
    assert scheduling.unrequested_below_related(problem, bad)
