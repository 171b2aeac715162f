"""Distil a static-embedding model (sentence_transformers StaticEmbedding) from the e5 model.

The recipe (model2vec's distillation, then the tokenlearn idea, then whitening):

1. Vocabulary: the most frequent words of jieba's dictionary, every CJK character in it, the
   technical terms of the CSL keywords and the Latin tokens of the CSL abstracts. The tokenizer
   is a ``tokenizers`` Unigram model scored with jieba's word log-probabilities, so its Viterbi
   segmentation is jieba's maximum-probability segmentation.
2. Each vocabulary item is embedded with the teacher (the mean of its own output token vectors),
   centred, and weighted by SIF (a / (a + p(word))) so frequent words count little.
3. tokenlearn: the vectors are trained so that mean-pooled sentence vectors match the teacher's
   on a corpus of Chinese sentences (STS-B train, CSL titles and abstracts) — never a test split.
4. Whitening: the covariance of the corpus' sentence vectors is whitened and cut to 256
   dimensions; being linear, it folds into the vectors, so the result is still a plain
   StaticEmbedding that loads with ``SentenceTransformer(path)``.

Everything is seeded and single-process so the same inputs give the same files."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from matcher.config import Settings
from tools.datasets import dataset

STATIC_RECIPE = "static-tokenlearn-whiten-1"
TOP_WORDS = 60_000
DEFAULT_WORD_FREQ = 5
SIF_A = 1e-4
DIM = 256
EPOCHS = 4
LEARNING_RATE = 3e-3
BATCH = 256
SEED = 20261127
Progress = Callable[[str, float], None]


def jieba_dictionary() -> dict[str, int]:
    import jieba

    path = Path(jieba.__file__).with_name("dict.txt")
    freq: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2:
                freq[parts[0]] = int(parts[1])
    return freq


def static_sources(teacher_manifest: dict[str, Any]) -> dict[str, Any]:
    import jieba

    return {
        "recipe": STATIC_RECIPE,
        "teacher": teacher_manifest.get("fingerprint", ""),
        "jieba": getattr(jieba, "__version__", ""),
        "top_words": TOP_WORDS,
        "dim": DIM,
    }


def build_vocabulary(freq: dict[str, int], docs: list[dict[str, Any]]) -> list[str]:
    top = sorted(freq, key=lambda w: (-freq[w], w))[:TOP_WORDS]
    chars = sorted({c for w in freq for c in w if "\u4e00" <= c <= "\u9fff"})
    keywords: set[str] = set()
    latin: dict[str, int] = {}
    for doc in docs:
        for kw in doc.get("keywords") or []:
            kw = kw.strip().lower()
            if 1 < len(kw) <= 12 and not re.search(r"\s", kw):
                keywords.add(kw)
        for token in re.findall(r"[a-z]+", (doc["title"] + " " + doc["abstract"]).lower()):
            latin[token] = latin.get(token, 0) + 1
    ascii_tokens = sorted(t for t, c in latin.items() if c >= 2)
    basics = list("abcdefghijklmnopqrstuvwxyz0123456789")
    return list(dict.fromkeys([*top, *chars, *sorted(keywords), *ascii_tokens, *basics]))


def build_tokenizer(vocab: list[str], freq: dict[str, int]):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    total = float(sum(freq.values()))
    pieces = [("[UNK]", 0.0)] + [
        (w, math.log(max(freq.get(w, DEFAULT_WORD_FREQ), 1) / total)) for w in vocab
    ]
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=0, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Punctuation(),
            pre_tokenizers.Digits(individual_digits=False),
        ]
    )
    return tokenizer


def _teacher_word_vectors(teacher: Any, words: list[str], progress: Progress) -> np.ndarray:
    """Mean of each word's own output token vectors (no <s>, </s> or bare metaspace)."""
    import torch

    from matcher.embedding.encoder import embedding_dimension

    tok = teacher.tokenizer
    model = teacher[0].auto_model
    space_id = tok.convert_tokens_to_ids("▁")
    out = np.zeros((len(words), int(embedding_dimension(teacher) or 0)), dtype=np.float32)
    order = sorted(range(len(words)), key=lambda i: (len(words[i]), i))
    batch = 512
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        feats = tok([words[i] for i in idx], padding=True, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**feats).last_hidden_state
        mask = feats["attention_mask"].clone()
        lengths = mask.sum(1)
        mask[:, 0] = 0
        mask[torch.arange(len(idx)), lengths - 1] = 0
        mask = mask * (feats["input_ids"] != space_id)
        weights = mask.unsqueeze(-1).float()
        vectors = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
        out[idx] = vectors.numpy()
        progress(
            f"教师模型编码词表 {min(start + batch, len(order))}/{len(order)}",
            (start + batch) / len(order),
        )
    return out


def training_corpus(docs: list[dict[str, Any]]) -> list[str]:
    rows = [
        line.rstrip("\n").split("\t")
        for line in dataset("sts/stsb_train.tsv").open(encoding="utf-8")
    ]
    sentences = [s for r in rows for s in r[:2] if s]
    return list(
        dict.fromkeys([*sentences, *(d["title"] for d in docs), *(d["abstract"] for d in docs)])
    )


def _token_ids(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    return [
        [i for i in e.ids if i != 0] or [0]
        for e in tokenizer.encode_batch(texts, add_special_tokens=False)
    ]


def build_static(
    target: Path, teacher_dir: Path, settings: Settings, progress: Progress
) -> dict[str, Any]:
    """Distil the e5 teacher into static token vectors (see the module) and save the model."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    from matcher.embedding.encoder import read_manifest

    if not read_manifest(teacher_dir):
        from matcher.errors import ModelUnavailable

        raise ModelUnavailable("蒸馏静态模型需要先构建 e5 模型（duijie model build 会先构建它）")
    started = time.time()
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True, warn_only=True)
    teacher = SentenceTransformer(str(teacher_dir), device="cpu")

    progress("读取词典与语料", 0.01)
    freq = jieba_dictionary()
    docs = [json.loads(line) for line in dataset("csl/docs.jsonl").open(encoding="utf-8")]
    vocab = build_vocabulary(freq, docs)
    tokenizer = build_tokenizer(vocab, freq)

    words = _teacher_word_vectors(
        teacher, vocab, lambda m, f: progress(m, 0.02 + 0.33 * min(f, 1.0))
    )
    base = sif_weighted(words, vocab, freq)
    corpus = training_corpus(docs)
    targets = _teacher_sentence_vectors(teacher, corpus, progress)
    del teacher

    ids = _token_ids(tokenizer, corpus)
    trained = _tokenlearn(base, ids, targets, progress)
    final = whitened(trained, ids)

    progress("保存模型", 0.97)
    static = StaticEmbedding(tokenizer, embedding_weights=final, base_model="duijie e5")
    model = SentenceTransformer(modules=[static, Normalize()], device="cpu")
    model.save(str(target))
    _pin_module_types(target)
    scores = evaluate_static(target)
    progress("完成", 1.0)
    return {
        "dim": DIM,
        "vocab": len(vocab) + 1,
        "corpus_texts": len(corpus),
        "build_seconds": round(time.time() - started, 1),
        "scores": scores,
    }


def sif_weighted(words: np.ndarray, vocab: list[str], freq: dict[str, int]) -> np.ndarray:
    """The teacher's word vectors, centred and weighted by SIF (frequent words weigh less), under
    a zero row for the unknown token."""
    base = np.vstack([np.zeros((1, words.shape[1]), np.float32), words - words.mean(0)])
    total = float(sum(freq.values()))
    probs = np.array([1.0] + [freq.get(w, DEFAULT_WORD_FREQ) / total for w in vocab])
    sif = SIF_A / (SIF_A + probs)
    sif[0] = 0.0
    return (base * sif[:, None]).astype(np.float32)


def _teacher_sentence_vectors(teacher: Any, corpus: list[str], progress: Progress) -> np.ndarray:
    """What the static model learns to reproduce: the teacher's vector of each corpus text."""
    from matcher.embedding.encoder import embedding_dimension

    targets = np.zeros((len(corpus), int(embedding_dimension(teacher) or 0)), dtype=np.float32)
    step = 256
    for start in range(0, len(corpus), step):
        targets[start : start + step] = teacher.encode(
            corpus[start : start + step],
            prompt="query: ",
            batch_size=64,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        progress(
            f"教师模型编码语料 {min(start + step, len(corpus))}/{len(corpus)}",
            0.35 + 0.5 * (start + step) / len(corpus),
        )
    return targets


def _tokenlearn(
    base: np.ndarray, ids: list[list[int]], targets: np.ndarray, progress: Progress
) -> np.ndarray:
    """Token vectors trained so that each text's mean token vector points where the teacher's
    vector of it does (cosine loss, Adam, seeded order)."""
    import torch

    weights = torch.nn.Parameter(torch.tensor(base))
    goal = torch.tensor(targets)
    goal = goal / goal.norm(dim=1, keepdim=True)
    optimizer = torch.optim.Adam([weights], lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(SEED)
    n = len(ids)
    for epoch in range(EPOCHS):
        order = torch.randperm(n, generator=generator).tolist()
        for start in range(0, n, BATCH):
            rows = order[start : start + BATCH]
            flat = torch.tensor([t for r in rows for t in ids[r]])
            offsets = torch.tensor(np.cumsum([0] + [len(ids[r]) for r in rows[:-1]]))
            pooled = torch.nn.functional.embedding_bag(flat, weights, offsets, mode="mean")
            loss = (1 - torch.nn.functional.cosine_similarity(pooled, goal[rows])).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        progress(f"tokenlearn 第 {epoch + 1}/{EPOCHS} 轮", 0.85 + 0.1 * (epoch + 1) / EPOCHS)
    return weights.detach().numpy().astype(np.float64)


def whitened(trained: np.ndarray, ids: list[list[int]]) -> np.ndarray:
    """Whitening of the corpus' sentence vectors, folded into the token vectors and cut to DIM."""
    sentences = np.stack([trained[r].mean(0) for r in ids])
    mu = sentences.mean(0)
    cov = np.cov((sentences - mu).T)
    u, s, _ = np.linalg.svd(cov)
    projection = u[:, :DIM] / np.sqrt(s[:DIM] + 1e-12)
    final = ((trained - mu) @ projection).astype(np.float32)
    final[0] = 0.0
    return np.ascontiguousarray(np.round(final, 6))  # rounding keeps the files byte-stable


def _pin_module_types(target: Path) -> None:
    """Write module types by their long-standing public names, which every sentence-transformers
    release since 3.x resolves, rather than this release's internal module path."""
    path = target / "modules.json"
    modules = json.loads(path.read_text())
    for module in modules:
        if module["type"].endswith("StaticEmbedding"):
            module["type"] = "sentence_transformers.models.StaticEmbedding"
        elif module["type"].endswith("Normalize"):
            module["type"] = "sentence_transformers.models.Normalize"
    path.write_text(json.dumps(modules, indent=2))
    config = target / "config_sentence_transformers.json"
    data = json.loads(config.read_text())
    data.pop("__version__", None)  # no library versions in the files: the fingerprint stays stable
    config.write_text(json.dumps(data, indent=2))


def evaluate_static(path: Path) -> dict[str, float]:
    """STS-B valid (dev) and the test sets, measured on the built files (seconds for a static model)."""
    from tools.evaluation.sts import score_model_on_sets

    return score_model_on_sets(str(path), sets=("stsb_valid", "stsb", "sohu_dd", "sohu_dc"))
