"""Calibrated relevance: one figure per hit, and the label people read.

A raw cosine of multilingual-e5 is not a relevance statement: every Chinese text lands between
0.75 and 0.90, nonsense included. What does tell an answer from a near miss is the evidence
around it — how far the hit's cosine stands above the rest of the catalog's candidates, whether
the need's specific words (weighted by the platform's IDF) appear in it, and by how much it leads
the next candidate on each side. `evidence` computes those features for every candidate of a
query; a logistic model turns them into a probability that the hit answers the query. The model
is fitted on the shared needs sets (answerable and unanswerable; `duijie eval calibration --fit`,
also run by `duijie model build`) and stored per model and tokenizer fingerprint, so a model
change recalibrates instead of reusing another model's scale.

Labels: 高度相关 / 相关 / 弱相关 at probability thresholds chosen for precision (see README,
"Relevance"). Below 相关 nothing is recommended, pushed or scheduled unless someone asked for it.
Every channel — search, recommendations, teams, events, challenges, the API — reads the figure
and the label from here."""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from matcher.datasets import datasets_dir

_log = logging.getLogger(__name__)

HIGH, RELATED, WEAK = "high", "related", "weak"
LABELS = {HIGH: "高度相关", RELATED: "相关", WEAK: "弱相关"}
ORDER = {HIGH: 2, RELATED: 1, WEAK: 0}

FEATURES = (
    "cosine",  # the dense cosine of the hit
    "cosine_z",  # (cosine − median of the catalog's top candidates) / their spread
    "cosine_lead",  # cosine − the best other candidate's cosine (> 0 only for the first)
    "bm25",  # BM25 / the query's total IDF: how much of the query's information it matches
    "bm25_lead",  # (BM25 − the best other candidate's BM25) / the query's total IDF
    "coverage",  # IDF-weighted share of the query's words the hit contains
)
P_FLOOR = 1e-4  # probabilities below it (or above 1 − it) print as 0 (or 100)
REFERENCE_DEPTH = 100  # candidates per side the margins are measured against (fixed: same figure
# in every channel, whatever depth or filter the channel uses)
# The calibration is fitted on needs written out (60–200 characters); below this length (a title,
# a few keywords) `duijie eval retrieval` measured the fused order as better at rank 1 (titles
# 0.9805 vs 0.9735, keywords 0.986 vs 0.9805), so those keep it. The figure and label are the same.
ORDER_MIN_CHARS = 40
BM25_K1 = 1.2  # index/lexical.py's k1: BM25 of one term is at most idf × (k1 + 1)


@dataclass
class Reference:
    """A query's candidate field, unfiltered: the catalog-wide top cosines and BM25 scores."""

    cosines: np.ndarray  # best first
    bm25: np.ndarray  # best first
    idf_total: float  # sum of the IDF of the query's distinct words (unknown words count fully)
    query_idf: dict[str, float] = field(default_factory=dict)  # word → IDF

    @property
    def median(self) -> float:
        return float(np.median(self.cosines)) if self.cosines.size else 0.0

    @property
    def spread(self) -> float:
        if self.cosines.size < 3:
            return 0.05
        q75, q25 = np.percentile(self.cosines, [75, 25])
        return max(float(q75 - q25), 0.005)


def reference_for(
    cosines: list[float], bm25: list[float], query_tokens: list[str], idf: Any, max_idf: float
) -> Reference:
    """`idf(token)` is the platform's IDF (0 for a word no listing contains: such a word counts
    with `max_idf`, so a query of unknown words has nothing covered)."""
    query_idf: dict[str, float] = {}
    for token in dict.fromkeys(query_tokens):
        value = float(idf(token))
        query_idf[token] = value if value > 0 else max_idf
    return Reference(
        np.asarray(sorted(cosines, reverse=True)[:REFERENCE_DEPTH], dtype=np.float64),
        np.asarray(sorted(bm25, reverse=True)[:REFERENCE_DEPTH], dtype=np.float64),
        float(sum(query_idf.values())),
        query_idf,
    )


def _best_other(sorted_desc: np.ndarray, value: float) -> float:
    """The best value among the others: the second when this one is the best."""
    if sorted_desc.size == 0:
        return 0.0
    if value >= sorted_desc[0] - 1e-9:
        return float(sorted_desc[1]) if sorted_desc.size > 1 else 0.0
    return float(sorted_desc[0])


def evidence(cosine: float, bm25: float, doc_tokens: set[str], ref: Reference) -> np.ndarray:
    """The feature vector of one candidate (see FEATURES)."""
    total = ref.idf_total or 1.0
    covered = sum(v for t, v in ref.query_idf.items() if t in doc_tokens)
    best_cos = _best_other(ref.cosines, cosine)
    best_bm = _best_other(ref.bm25, bm25)
    return np.array(
        [
            cosine,
            min(max((cosine - ref.median) / ref.spread, -Z_LIMIT), Z_LIMIT),
            cosine - best_cos,
            bm25 / (total * (BM25_K1 + 1)),
            (bm25 - best_bm) / (total * (BM25_K1 + 1)),
            covered / total,
        ],
        dtype=np.float64,
    )


# --------------------------------------------------------------------------------------------
# the calibration: a logistic model and its thresholds
# --------------------------------------------------------------------------------------------


@dataclass
class Calibration:
    """p(relevant) = σ(w · (x − mean) / scale + b); labels at probability thresholds."""

    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]
    high: float  # p ≥ high → 高度相关
    related: float  # p ≥ related → 相关
    model_fingerprint: str = ""
    tokenizer_fingerprint: str = ""
    source: str = "fallback"
    figures: dict[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] = FEATURES

    def probability(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x)
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = z @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -30, 30)))

    def label(self, p: float) -> str:
        if p >= self.high:
            return HIGH
        if p >= self.related:
            return RELATED
        return WEAK

    def display_value(self, p: float) -> float:
        """The figure people read, 0–1 (the site prints 0–100): a monotone map of the
        probability, linear in log-odds between anchors, so that 相关 starts at 0.50 and 高度相关
        at 0.80 whatever the thresholds a calibration arrived at."""
        lo, hi = logit(P_FLOOR), logit(1 - P_FLOOR)
        t_rel, t_high, x = logit(self.related), logit(self.high), logit(p)
        if x >= t_high:
            value = 0.8 + 0.2 * (x - t_high) / max(hi - t_high, 1e-9)
        elif x >= t_rel:
            value = 0.5 + 0.3 * (x - t_rel) / max(t_high - t_rel, 1e-9)
        else:
            value = 0.5 * (x - lo) / max(t_rel - lo, 1e-9)
        return float(min(max(value, 0.0), 1.0))

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "mean": [round(v, 6) for v in self.mean],
            "scale": [round(v, 6) for v in self.scale],
            "thresholds": {"high": round(self.high, 4), "related": round(self.related, 4)},
            "model_fingerprint": self.model_fingerprint,
            "tokenizer_fingerprint": self.tokenizer_fingerprint,
            "source": self.source,
            "figures": self.figures,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        if tuple(data.get("features", ())) != FEATURES:
            raise ValueError("calibration made for other features")
        return cls(
            weights=[float(w) for w in data["weights"]],
            bias=float(data["bias"]),
            mean=[float(v) for v in data["mean"]],
            scale=[float(v) for v in data["scale"]],
            high=float(data["thresholds"]["high"]),
            related=float(data["thresholds"]["related"]),
            model_fingerprint=str(data.get("model_fingerprint", "")),
            tokenizer_fingerprint=str(data.get("tokenizer_fingerprint", "")),
            source=str(data.get("source", "file")),
            figures=dict(data.get("figures", {})),
        )


# Used when no calibration was fitted for the configured model (a hub model, a tiny test model):
# a hand-set rule on the scale-free evidence — the share of the query's specific words the hit
# contains above all, its BM25 share, a little for standing out among the candidates — never the
# raw cosine, whose scale differs from model to model. Deliberately cautious: a query whose words
# no listing contains stays 弱相关 however its vector falls.
FALLBACK = Calibration(
    weights=[0.0, 0.2, 5.0, 3.0, 1.0, 6.0],
    bias=-4.5,
    mean=[0.0] * len(FEATURES),
    scale=[1.0] * len(FEATURES),
    high=0.85,
    related=0.5,
    source="fallback",
)
Z_LIMIT = 8.0  # a lead over the median counts up to this many spreads (tiny catalogs)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """L2-regularized logistic regression on standardized features (L-BFGS through SciPy):
    (weights, bias, mean, scale)."""
    from scipy.optimize import minimize

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    w0 = np.zeros(z.shape[1] + 1)
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    n = sw.sum()

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        logit = z @ w + b
        # log(1 + e^t) − y t, numerically stable
        ll = np.logaddexp(0.0, logit) - y * logit
        p = 1.0 / (1.0 + np.exp(-logit))
        grad_logit = (p - y) * sw
        value = float((ll * sw).sum() / n + 0.5 * l2 * (w @ w) / n)
        grad = np.concatenate([z.T @ grad_logit / n + l2 * w / n, [grad_logit.sum() / n]])
        return value, grad

    result = minimize(loss, w0, jac=True, method="L-BFGS-B")
    return result.x[:-1], float(result.x[-1]), mean, scale


def precision_threshold(
    scores: np.ndarray, correct: np.ndarray, target: float, *, minimum: int = 5
) -> float:
    """The lowest score above which at least `target` of the items are correct (counting at
    least `minimum` items), or just above the highest score when no such cut exists."""
    order = np.argsort(-scores)
    s, c = scores[order], correct[order].astype(float)
    hits = np.cumsum(c)
    best = float(s[0]) + 1e-6 if s.size else 1.0
    for i in range(s.size):
        if i + 1 >= minimum and hits[i] / (i + 1) >= target:
            best = float(s[i])
    return best


# --------------------------------------------------------------------------------------------
# storage: one JSON per model fingerprint, in the data directory or shipped with the package
# --------------------------------------------------------------------------------------------


def file_name(model_fingerprint: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in model_fingerprint)
    return f"relevance-{safe}.json"


def calibration_dir(home: Path) -> Path:
    return home / "calibration"


def shipped_dir() -> Path:
    """Calibrations fitted for the built-in models (their fingerprints are reproducible)."""
    return datasets_dir() / "calibration"


def save(calibration: Calibration, home: Path) -> Path:
    """Write atomically into the data directory."""
    directory = calibration_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / file_name(calibration.model_fingerprint)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".relevance-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(calibration.to_json(), fh, ensure_ascii=False, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


_LOADED: dict[tuple[str, str, str], Calibration] = {}
_LOAD_LOCK = threading.Lock()


def load(home: Path, model_fingerprint: str, tokenizer_fingerprint: str) -> Calibration:
    """The calibration of this model and tokenizer: the data directory's, else the shipped one,
    else the cautious fallback."""
    key = (str(home), model_fingerprint, tokenizer_fingerprint)
    with _LOAD_LOCK:
        cached = _LOADED.get(key)
    if cached is not None:
        return cached
    found = FALLBACK
    for directory in (calibration_dir(home), shipped_dir()):
        path = directory / file_name(model_fingerprint)
        if not path.exists():
            continue
        try:
            candidate = Calibration.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _log.warning("calibration %s unreadable (%s); trying the next", path, exc)
            continue
        if (
            candidate.tokenizer_fingerprint
            and candidate.tokenizer_fingerprint != tokenizer_fingerprint
        ):
            _log.warning("calibration %s was fitted with another tokenizer; not used", path)
            continue
        found = candidate
        break
    with _LOAD_LOCK:
        _LOADED[key] = found
    return found


def forget_loaded() -> None:
    """Drop loaded calibrations (after a new fit)."""
    with _LOAD_LOCK:
        _LOADED.clear()


# --------------------------------------------------------------------------------------------
# what people read
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relevance:
    value: float  # the 0–1 figure (Calibration.display_value)
    label: str  # high / related / weak

    @property
    def figure(self) -> int:
        """0–100, what the site prints."""
        return round(100 * self.value)

    @property
    def text(self) -> str:
        return LABELS[self.label]

    @property
    def at_least_related(self) -> bool:
        return ORDER[self.label] >= ORDER[RELATED]


NONE = Relevance(0.0, WEAK)


def at_least(label: str, wanted: str = RELATED) -> bool:
    return ORDER.get(label, 0) >= ORDER[wanted]


def describe_figure(relevance: Relevance) -> str:
    return f"相关度 {relevance.figure}（{relevance.text}）"


def logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


class Labelled:
    """What every hit, team and candidate shows of its relevance: the figure (0–100), the label
    text, and whether it may be recommended (相关 or better). Subclasses carry `relevance` (the
    display value, 0–1) and `label`."""

    relevance: float
    label: str

    @property
    def figure(self) -> int:
        return round(100 * self.relevance)

    @property
    def label_text(self) -> str:
        return LABELS[self.label]

    @property
    def recommendable(self) -> bool:
        """相关 or better: what may be shown as 推荐, counted, pushed, scheduled or invited."""
        return at_least(self.label)
