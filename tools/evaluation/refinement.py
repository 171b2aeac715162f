"""Two general ways to put the right result first, measured one by one by `duijie eval retrieval`
(each switched on alone and together, from the same run). Neither raised Recall@1 on the shared
needs sets — focusing left it unchanged, sentence matching lowered it on needs_dev_alt — so the
engine does not use them; they stay here to be measured again when the model or the data change.
What did help, ranking by the calibrated relevance, is the engine's (matcher.relevance).

**Need-text focusing.** An enterprise writes its context around its problem: who it is, how it
works today, what it hopes to buy. The dense model reads all of it; the answer usually shares
only the technical core. The focused query is the need's own domain terms (the same filter the
reasons use: no filler, no everyday words, no words common on the platform), most specific
first; its vector is averaged with the full text's, so the core weighs more without losing the
context.

**Sentence-level matching.** A long abstract may answer the need in one sentence while the rest
is about method and results, which dilutes the abstract's single vector. For the leading
candidates, each sentence is encoded (passage prompt, cached like every embedding) and the best
sentence's cosine joins the abstract's; the leading candidates are then fused again."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from matcher import reasons

FOCUS_TERMS = 12
FOCUS_MIN_CHARS = 40  # focusing is for needs written out; titles and keyword lists are left alone
SENTENCE_TOP = 20  # leading candidates whose sentences are compared
_SENTENCE = re.compile(r"(?<=[。；;！!？?])|(?<=(?<!\d)\.)(?!\d)|\n")


def focus_text(
    text: str, tokens: list[str], platform_idf: Callable[[str], float], documents: int
) -> str:
    """The need's domain terms, most specific first (empty when it has fewer than three)."""
    seen = set(tokens)
    terms = reasons.domain_terms(tokens, seen, platform_idf, documents, limit=FOCUS_TERMS)
    return " ".join(terms) if len(terms) >= 3 else ""


def focused_vector(encoder: Any, text: str, focus: str) -> np.ndarray:
    """The mean of the full need's and its focus's query vectors, normalized."""
    if not focus:
        return encoder.encode_queries([text])[0]
    both = encoder.encode_queries([text, focus])
    vector = both[0] + both[1]
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def sentences(text: str, *, min_chars: int = 8, max_chars: int = 160) -> list[str]:
    """Sentences of an abstract (Chinese or Western full stops; 3.5 is not split)."""
    out = []
    for piece in _SENTENCE.split(text or ""):
        piece = piece.strip()
        if len(piece) >= min_chars:
            out.append(piece[:max_chars])
    return out


def best_sentence_cosines(
    encoder: Any, query_vector: np.ndarray, texts: Sequence[str]
) -> list[float]:
    """For each text, the cosine of its best-matching sentence (its own cosine when it has one
    sentence or none)."""
    split = [sentences(t) for t in texts]
    flat = [s for parts in split for s in parts]
    vectors = encoder.encode_documents(flat) if flat else np.zeros((0, len(query_vector)))
    scores = vectors @ np.asarray(query_vector, dtype=np.float32) if flat else np.zeros(0)
    out, i = [], 0
    for parts in split:
        n = len(parts)
        out.append(float(scores[i : i + n].max()) if n else float("nan"))
        i += n
    return out


def rerank_by_sentences(
    items: list[Any],
    best_sentence: list[float],
    *,
    weight: float = 0.5,
) -> list[Any]:
    """Fuse the leading candidates again with dense = (1 − w)·abstract cosine + w·best sentence
    cosine (relative fusion over these candidates); the rest keep their order behind them."""
    head = items[: len(best_sentence)]
    if len(head) < 2:
        return items
    dense = np.asarray(
        [
            (1 - weight) * s.dense + weight * (b if b == b else s.dense)
            for s, b in zip(head, best_sentence, strict=True)
        ]
    )
    lexical = np.asarray([s.lexical for s in head])

    def scaled(values: np.ndarray) -> np.ndarray:
        lo, hi = float(values.min()), float(values.max())
        return (values - lo) / (hi - lo) if hi > lo else np.ones_like(values)

    fused = 0.5 * scaled(dense) + 0.5 * scaled(lexical)
    order = sorted(range(len(head)), key=lambda i: (-fused[i], head[i].id))
    return [head[i] for i in order] + items[len(head) :]
