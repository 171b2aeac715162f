"""Test helpers: a tiny deterministic embedding model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from matcher.datasets import dataset


def _vector(token: str, dim: int) -> np.ndarray:
    seed = int(hashlib.sha256(token.encode()).hexdigest()[:8], 16)
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def build_tiny_model(target: Path, dim: int = 64) -> Path:
    """A StaticEmbedding over the characters of the CSL abstracts, saved as a normal directory."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    chars: set[str] = set()
    with dataset("csl/docs.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            chars.update(doc["title"] + doc["abstract"])
    vocab = ["[UNK]", *sorted(c for c in chars if not c.isspace())]
    tokenizer = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    weights = np.stack([np.zeros(dim, np.float32)] + [_vector(t, dim) for t in vocab[1:]])
    model = SentenceTransformer(
        modules=[StaticEmbedding(tokenizer, embedding_weights=weights), Normalize()], device="cpu"
    )
    model.save(str(target))
    (target / "duijie-model.json").write_text(
        json.dumps({"name": "tiny", "fingerprint": "tiny-test-model", "dim": dim})
    )
    return target
