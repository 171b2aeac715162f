"""Fitting the relevance calibration (`duijie eval calibration --fit`): the logistic fit and its
thresholds, cross-validation by query, the four documented figures, and storage per fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from matcher import relevance
from tools.evaluation import calibration as calib


def _rows(seed: int = 0) -> list[calib.QueryRows]:
    """Synthetic queries: answerable ones whose answer leads on coverage and cosine, and
    unanswerable ones whose best candidate does not stand out."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(60):
        answerable = q < 45
        features = rng.normal(0, 0.2, (10, 6)) + np.array([0.85, 1.0, -0.02, 0.02, -0.02, 0.1])
        correct = np.zeros(10, dtype=bool)
        if answerable:
            features[0] += np.array([0.03, 3.0, 0.04, 0.1, 0.05, 0.5])
            correct[0] = True
        rows.append(
            calib.QueryRows(
                f"q{q}",
                f"g{q // 2}",
                answerable,
                list(range(10)),
                correct,
                features,
                features[:, 0],
            )
        )
    return rows


def test_the_fit_separates_answers_and_picks_thresholds_for_precision() -> None:
    rows = _rows()
    cal = calib.fit(rows)
    x = np.concatenate([r.features for r in rows])
    y = np.concatenate([r.correct for r in rows])
    p = cal.probability(x)
    assert p[y].mean() > 0.8 > 0.2 > p[~y].mean()
    assert cal.high >= calib.HIGH_FLOOR and cal.related <= cal.high
    above = p >= cal.high
    assert y[above].mean() >= calib.TARGET_HIGH
    # at most 10% of the unanswerable queries reach 相关 with any candidate
    reach = [
        bool((cal.probability(r.features) >= cal.related).any()) for r in rows if not r.answerable
    ]
    assert sum(reach) <= calib.UNANSWERED_RELATED_MAX * len(reach)


def test_cross_validation_keeps_groups_together_and_reports_the_four_figures() -> None:
    rows = _rows(1)
    folds = calib.folds_of(rows)
    by_group: dict[str, set[int]] = {}
    for r, f in zip(rows, folds, strict=True):
        by_group.setdefault(r.group, set()).add(f)
    assert all(len(f) == 1 for f in by_group.values())
    result = calib.cross_validate(rows)
    for key in ("engine", "raw_cosine"):
        assert set(result[key]) >= {"auroc", "precision_high", "coverage_high", "false_confidence"}
    assert result["engine"]["auroc"] > 0.9 and len(result["folds"]) == calib.FOLDS


def test_figures_count_as_documented() -> None:
    def row(answerable: bool, correct_first: bool, scores: list[float]) -> calib.QueryRows:
        n = len(scores)
        correct = np.zeros(n, dtype=bool)
        correct[0] = correct_first
        return calib.QueryRows(
            "q", "g", answerable, list(range(n)), correct, np.zeros((n, 6)), np.array(scores)
        )

    rows = [
        row(True, True, [0.9, 0.1]),  # 高度相关 and right
        row(True, False, [0.8, 0.2]),  # 高度相关 but wrong
        row(True, True, [0.3, 0.1]),  # not confident
        row(False, False, [0.4, 0.7]),  # unanswerable with a 高度相关 at rank 2
        row(False, False, [0.2, 0.1]),
    ]
    got = calib.figures(rows, [r.cosine for r in rows], [0.5] * len(rows))
    assert got["precision_high"] == 0.5 and got["coverage_high"] == round(2 / 3, 4)
    assert got["false_confidence"] == 0.5
    # AUROC of the top-1 score, answerable vs unanswerable: (0.9, 0.8, 0.3) vs (0.4, 0.2)
    assert got["auroc"] == round(5 / 6, 4)


def test_calibration_is_stored_per_fingerprint_and_falls_back(tmp_path: Path) -> None:
    relevance.forget_loaded()
    assert relevance.load(tmp_path, "fp-none", "tok").source == "fallback"
    cal = calib.fit(_rows())
    cal.model_fingerprint, cal.tokenizer_fingerprint = "fp-1", "tok"
    path = relevance.save(cal, tmp_path)
    assert path.parent == tmp_path / "calibration"
    relevance.forget_loaded()
    loaded = relevance.load(tmp_path, "fp-1", "tok")
    assert loaded.source == "fitted" and loaded.high == pytest.approx(cal.high, abs=1e-4)
    # another model's or another tokenizer's calibration is never used
    relevance.forget_loaded()
    assert relevance.load(tmp_path, "fp-2", "tok").source == "fallback"
    assert relevance.load(tmp_path, "fp-1", "other").source == "fallback"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["features"] = ["something", "else"]
    path.write_text(json.dumps(data), encoding="utf-8")
    relevance.forget_loaded()
    assert relevance.load(tmp_path, "fp-1", "tok").source == "fallback"
    relevance.forget_loaded()
