"""`duijie eval calibration`: does the relevance label tell an answer from a near miss?

The CSL abstracts are indexed in a throwaway workspace (as in `duijie eval retrieval`). Every
query of the answerable files (each answered by one abstract) and of the unanswerable files
(answered by none) is run through the engine; the top 10 candidates of each, with their evidence
(`matcher.relevance.evidence`), are the rows. The figures are cross-validated: queries are split
into 5 folds, grouped by the abstract that answers them (a need and its rewording by another
writer are never on both sides); in each fold the logistic model *and* its thresholds are fitted
on the other folds only, and the held-out fold is labelled with them. So every figure printed is
measured on queries the calibration never saw. The raw-cosine baseline gets the same treatment:
its threshold for 高度相关 is chosen on the training folds for the same precision.

With `--fit`, the calibration is then fitted on every query given and stored for the configured
model's fingerprint (the data directory's `calibration/`), where the engine reads it."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from matcher import relevance
from matcher.config import Settings
from tools.datasets import dataset
from tools.evaluation.retrieval import build_workspace, load_queries

TOP = 10
FOLDS = 5
TARGET_HIGH = 0.9  # precision wanted of 高度相关 (candidates at or above its threshold)
HIGH_FLOOR = 0.5  # and never below "more likely than not the answer"
UNANSWERED_RELATED_MAX = 0.1  # at most this share of unanswerable needs may show a 相关 hit
Progress = Callable[[str, float], None]


@dataclass
class QueryRows:
    """One query's top candidates as the engine ranks them."""

    query_id: str
    group: str  # queries answered by the same abstract share a group
    answerable: bool
    ids: list[int]
    correct: np.ndarray  # bool per candidate
    features: np.ndarray  # candidates × FEATURES
    cosine: np.ndarray  # the raw cosine per candidate


def default_files() -> tuple[list[Path], list[Path]]:
    return (
        [dataset("needs_dev.jsonl"), dataset("needs_dev_alt.jsonl")],
        [dataset("needs_dev_unanswerable.jsonl")],
    )


def engine_rows(
    matcher: Any, text: str, *, exclude: int | None = None, top: int = TOP
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The engine's top candidates (search depth, no filters) with their evidence; `exclude`
    removes one listing from the catalog entirely (the margins are measured without it too)."""
    from matcher.matching import SEARCH_DEPTH
    from matcher.scoring import fuse

    manager = matcher.manager
    index = manager.collections["technologies"]
    vector = manager.encoder.encode_queries([text])[0]
    tokens = manager.lexer.tokens(text)
    extra = 1 if exclude is not None else 0
    with manager.lock:
        dense = [d for d in index.vectors.search(vector, SEARCH_DEPTH + extra) if d[0] != exclude]
        lexical = [d for d in index.lexical.top(tokens, SEARCH_DEPTH + extra) if d[0] != exclude]
        dense, lexical = dense[:SEARCH_DEPTH], lexical[:SEARCH_DEPTH]
        fused = fuse(dense, lexical, method=matcher.fusion)
        matcher.assess("technologies", vector, tokens, fused, dense, lexical)
    fused.sort(key=lambda s: (-s.score, s.id))
    head = fused[:top]
    features = (
        np.stack([s.evidence for s in head]) if head else np.zeros((0, len(relevance.FEATURES)))
    )
    return [s.id for s in head], features, np.asarray([s.dense for s in head])


def collect(
    matcher: Any,
    queries: Sequence[tuple[str, str, set[int], bool]],
    progress: Progress | None = None,
) -> list[QueryRows]:
    out = []
    for i, (query_id, text, relevant, answerable) in enumerate(queries):
        ids, features, cosine = engine_rows(matcher, text)
        group = ",".join(sorted(map(str, relevant))) if relevant else query_id
        out.append(
            QueryRows(
                query_id,
                group,
                answerable,
                ids,
                np.asarray([d in relevant for d in ids], dtype=bool),
                features,
                cosine,
            )
        )
        if progress and i % 10 == 0:
            progress(f"候选证据：{i}/{len(queries)}", i / max(len(queries), 1))
    return out


def folds_of(rows: list[QueryRows], k: int = FOLDS) -> list[int]:
    """A fold per query, by a hash of its group (deterministic, groups kept together)."""
    groups = sorted({r.group for r in rows}, key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    fold_of_group = {g: i % k for i, g in enumerate(groups)}
    return [fold_of_group[r.group] for r in rows]


def fit(rows: list[QueryRows]) -> relevance.Calibration:
    """Logistic model on every candidate row, then the thresholds:

    - 高度相关: the lowest probability above which at least 90% of the candidates are the
      answer, and not below 0.5;
    - 相关: the lowest probability that at most 10% of the unanswerable needs reach with any of
      their top candidates (so that a need the catalog cannot answer gets the honest empty
      state), and not above 高度相关."""
    x = np.concatenate([r.features for r in rows])
    y = np.concatenate([r.correct for r in rows]).astype(float)
    weights, bias, mean, scale = relevance.fit_logistic(x, y)
    calibration = relevance.Calibration(
        weights=weights.tolist(),
        bias=bias,
        mean=mean.tolist(),
        scale=scale.tolist(),
        high=1.0,
        related=1.0,
        source="fitted",
    )
    p = calibration.probability(x)
    calibration.high = max(HIGH_FLOOR, relevance.precision_threshold(p, y, TARGET_HIGH))
    unanswered = sorted(
        (
            float(calibration.probability(r.features).max())
            for r in rows
            if not r.answerable and r.ids
        ),
        reverse=True,
    )
    if unanswered:
        allowed = int(np.floor(UNANSWERED_RELATED_MAX * len(unanswered)))
        # just above the best candidate of the (allowed + 1)-th most confident unanswerable need
        related = unanswered[allowed] + 1e-6 if allowed < len(unanswered) else 0.0
    else:
        related = relevance.precision_threshold(p, y, 0.5)
    calibration.related = min(calibration.high, related)
    return calibration


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positive or not negative:
        return float("nan")
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def figures(rows: list[QueryRows], scores: list[np.ndarray], high: list[float]) -> dict[str, float]:
    """The four figures from per-query candidate scores and per-query 高度相关 thresholds."""
    answerable = [(r, s, h) for r, s, h in zip(rows, scores, high, strict=True) if r.answerable]
    unanswerable = [
        (r, s, h) for r, s, h in zip(rows, scores, high, strict=True) if not r.answerable
    ]
    top_a = [float(s[0]) if s.size else 0.0 for _, s, _ in answerable]
    top_u = [float(s[0]) if s.size else 0.0 for _, s, _ in unanswerable]
    confident = [(r, s, h) for r, s, h in answerable if s.size and s[0] >= h]
    return {
        "auroc": round(auroc(top_a, top_u), 4),
        "precision_high": round(
            sum(bool(r.correct[0]) for r, _, _ in confident) / len(confident), 4
        )
        if confident
        else 0.0,
        "coverage_high": round(len(confident) / max(len(answerable), 1), 4),
        "false_confidence": round(
            sum(1 for _, s, h in unanswerable if s.size and bool((s >= h).any()))
            / max(len(unanswerable), 1),
            4,
        ),
    }


def cross_validate(rows: list[QueryRows], k: int = FOLDS) -> dict[str, Any]:
    """Out-of-fold figures for the engine's calibration and for raw-cosine thresholds."""
    fold = folds_of(rows, k)
    engine_scores: list[np.ndarray] = [np.zeros(0)] * len(rows)
    engine_high: list[float] = [1.0] * len(rows)
    engine_related: list[float] = [1.0] * len(rows)
    cosine_high: list[float] = [1.0] * len(rows)
    thresholds = []
    for f in range(k):
        train = [r for r, g in zip(rows, fold, strict=True) if g != f]
        if not train:
            continue
        calibration = fit(train)
        x = np.concatenate([r.cosine for r in train])
        y = np.concatenate([r.correct for r in train]).astype(float)
        t_cos = relevance.precision_threshold(x, y, TARGET_HIGH)
        thresholds.append(
            {
                "fold": f,
                "high": round(calibration.high, 4),
                "related": round(calibration.related, 4),
                "cosine_high": round(t_cos, 4),
            }
        )
        for i, (r, g) in enumerate(zip(rows, fold, strict=True)):
            if g == f:
                engine_scores[i] = calibration.probability(r.features) if r.ids else np.zeros(0)
                engine_high[i] = calibration.high
                engine_related[i] = calibration.related
                cosine_high[i] = t_cos
    # The engine ranks by the calibrated relevance: rank 1 is the candidate with the highest
    # held-out probability; the raw-cosine baseline labels those same hits.
    rows, engine_scores = _reorder(rows, engine_scores)
    engine = figures(rows, engine_scores, engine_high)
    related_answerable = [
        (r, s, t)
        for r, s, t in zip(rows, engine_scores, engine_related, strict=True)
        if r.answerable
    ]
    engine["coverage_related"] = round(
        sum(1 for _, s, t in related_answerable if s.size and s[0] >= t)
        / max(len(related_answerable), 1),
        4,
    )
    rel_conf = [(r, s, t) for r, s, t in related_answerable if s.size and s[0] >= t]
    engine["precision_related"] = (
        round(sum(bool(r.correct[0]) for r, _, _ in rel_conf) / len(rel_conf), 4)
        if rel_conf
        else 0.0
    )
    unans = [
        (s, t)
        for r, s, t in zip(rows, engine_scores, engine_related, strict=True)
        if not r.answerable
    ]
    engine["unanswerable_with_related"] = round(
        sum(1 for s, t in unans if s.size and bool((s >= t).any())) / max(len(unans), 1), 4
    )
    raw = figures(rows, [r.cosine for r in rows], cosine_high)
    answerable = [r for r in rows if r.answerable]
    engine["recall@1"] = round(
        sum(bool(r.correct[0]) for r in answerable) / max(len(answerable), 1), 4
    )
    return {"engine": engine, "raw_cosine": raw, "folds": thresholds}


def _reorder(
    rows: list[QueryRows], scores: list[np.ndarray]
) -> tuple[list[QueryRows], list[np.ndarray]]:
    out_rows, out_scores = [], []
    for r, s in zip(rows, scores, strict=True):
        order = np.argsort(-s, kind="stable") if s.size else np.arange(0)
        out_rows.append(
            QueryRows(
                r.query_id,
                r.group,
                r.answerable,
                [r.ids[i] for i in order],
                r.correct[order],
                r.features[order],
                r.cosine[order],
            )
        )
        out_scores.append(s[order])
    return out_rows, out_scores


def legacy_figures(rows: list[QueryRows]) -> dict[str, float]:
    """The old rule: every hit in the dense top 10 was labelled 语义高度相关."""
    return figures(rows, [np.ones(len(r.ids)) for r in rows], [0.5] * len(rows))


def run(
    settings: Settings,
    *,
    answerable: Sequence[Path] | None = None,
    unanswerable: Sequence[Path] | None = None,
    fit_and_store: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    from matcher.db import session_scope
    from matcher.matching import Matcher
    from matcher.models import Technology

    default_a, default_u = default_files()
    answerable = list(answerable or default_a)
    unanswerable = list(unanswerable or default_u)
    with dataset("csl/docs.jsonl").open(encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh if line.strip()]
    with tempfile.TemporaryDirectory(prefix="duijie-calib-") as tmp:
        _ws, engine, manager = build_workspace(
            settings, Path(tmp) / "home", docs, progress, full=True
        )
        from sqlmodel import select

        with session_scope(engine, write=False) as session:
            id_of = {t.code: t.id for t in session.exec(select(Technology)) if t.code and t.id}
        queries: list[tuple[str, str, set[int], bool]] = []
        for path in answerable:
            for q in load_queries(path):
                relevant = {id_of[r] for r in q.get("relevant") or [] if r in id_of}
                if relevant:
                    queries.append((q["id"], q["query"], relevant, True))
        for path in unanswerable:
            for q in load_queries(path):
                queries.append((q["id"], q["query"], set(), False))
        matcher = Matcher(manager, rank_by_relevance=False)  # features of the fused top 10
        manager.encoder.encode_queries([q[1] for q in queries])
        rows = collect(matcher, queries, progress)
        result = cross_validate(rows)
        result["legacy_rule"] = legacy_figures(rows)
        result["answerable"] = sum(1 for r in rows if r.answerable)
        result["unanswerable"] = sum(1 for r in rows if not r.answerable)
        result["files"] = {
            "answerable": [str(p) for p in answerable],
            "unanswerable": [str(p) for p in unanswerable],
        }
        result["method"] = (
            f"{FOLDS}-fold cross-validation grouped by answering abstract; logistic model and "
            f"thresholds (高度相关: precision ≥ {TARGET_HIGH} and p ≥ {HIGH_FLOOR}; 相关: reached by "
            f"≤ {UNANSWERED_RELATED_MAX:.0%} of unanswerable needs) fitted on the training folds "
            "only; the raw cosine's 高度相关 threshold chosen on them for the same precision"
        )
        result["model_fingerprint"] = manager.encoder.fingerprint
        if fit_and_store:
            calibration = fit(rows)
            calibration.model_fingerprint = manager.encoder.fingerprint
            calibration.tokenizer_fingerprint = manager.lexer.fingerprint
            calibration.source = "fitted"
            calibration.figures = {
                "cross_validated": {"engine": result["engine"], "raw_cosine": result["raw_cosine"]},
                "answerable": result["answerable"],
                "unanswerable": result["unanswerable"],
                "files": [Path(p).name for p in [*answerable, *unanswerable]],
            }
            path = relevance.save(calibration, settings.home)
            relevance.forget_loaded()
            result["stored"] = {
                "path": str(path),
                "thresholds": {
                    "high": round(calibration.high, 4),
                    "related": round(calibration.related, 4),
                },
            }
        manager.close()
        engine.dispose()
    return result
