"""The index primitives: vectors (exact and HNSW), BM25 postings, atomic persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.collection import Collection, IndexCorrupt, IndexStale
from index.lexical import LexicalIndex
from index.vectors import VectorStore


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_vectors_upsert_replace_remove_and_filter(kind: str) -> None:
    rng = np.random.default_rng(0)
    store = VectorStore(16, kind)
    vecs = _unit(rng, 50, 16)
    store.upsert(list(range(100, 150)), vecs)
    assert len(store) == 50
    assert store.search(vecs[7], 1)[0][0] == 107
    # replacing 107's vector moves it; the old vector no longer finds it
    store.upsert([107], vecs[8:9])
    top = [i for i, _ in store.search(vecs[7], 3)]
    assert 107 not in top[:1] and len(store) == 50
    store.remove([108])
    assert 108 not in [i for i, _ in store.search(vecs[8], 5)]
    assert [i for i, _ in store.search(vecs[9], 5, allowed={120, 121})] in ([120, 121], [121, 120])
    assert store.search(vecs[9], 5, allowed=set()) == []


def test_hnsw_recall_against_exact_is_measured() -> None:
    rng = np.random.default_rng(1)
    store = VectorStore(32, "hnsw")
    store.upsert(list(range(3000)), _unit(rng, 3000, 32))
    assert store.recall_at(10, samples=50) >= 0.9


def test_hnsw_compacts_after_many_removals() -> None:
    rng = np.random.default_rng(2)
    store = VectorStore(8, "hnsw")
    store.upsert(list(range(100)), _unit(rng, 100, 8))
    store.remove(list(range(50)))
    assert store.dead == 0 and len(store) == 50 and store.next_label == 50


def test_lexical_scores_mask_removed_documents_before_rebuild() -> None:
    lex = LexicalIndex()
    lex.upsert([1, 2, 3], [["高炉", "炉况", "监测"], ["食品", "包装"], ["高炉", "煤气"]])
    assert [i for i, _ in lex.top(["高炉", "监测"], 5)] == [1, 3]
    lex.remove([1])
    assert [i for i, _ in lex.top(["高炉", "监测"], 5)] == [3]
    lex.upsert([3], [["食品", "保鲜"]])
    assert lex.top(["高炉"], 5) == []
    assert lex.idf("食品") > 0
    assert lex.top(["不存在"], 5) == []


def _collection(dim: int = 8) -> Collection:
    rng = np.random.default_rng(3)
    col = Collection.empty(
        "technologies",
        model_fingerprint="m1",
        model_name="tiny",
        dim=dim,
        tokenizer_fingerprint="t1",
    )
    col.upsert([1, 2, 3], _unit(rng, 3, dim), [["高炉"], ["食品"], ["煤气"]])
    col.last_outbox_id = 42
    return col


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    col = _collection()
    manifest = col.save(tmp_path / "technologies")
    assert (
        manifest["count"] == 3
        and manifest["last_outbox_id"] == 42
        and "faiss" in manifest["libraries"]
    )
    loaded = Collection.load(
        tmp_path / "technologies", model_fingerprint="m1", dim=8, tokenizer_fingerprint="t1"
    )
    assert loaded.ids() == {1, 2, 3} and loaded.last_outbox_id == 42
    assert [i for i, _ in loaded.lexical.top(["食品"], 3)] == [2]
    assert not list(tmp_path.glob(".tmp-*")) and not list(tmp_path.glob(".old-*"))


def test_load_refuses_another_model_and_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "technologies"
    _collection().save(path)
    with pytest.raises(IndexStale):
        Collection.load(path, model_fingerprint="other", dim=8, tokenizer_fingerprint="t1")
    with pytest.raises(IndexStale):
        Collection.load(path, model_fingerprint="m1", dim=8, tokenizer_fingerprint="other")
    data = bytearray((path / "vectors.faiss").read_bytes())
    data[-5] ^= 0xFF
    (path / "vectors.faiss").write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt):
        Collection.load(path, model_fingerprint="m1", dim=8, tokenizer_fingerprint="t1")
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt):
        Collection.load(path, model_fingerprint="m1", dim=8, tokenizer_fingerprint="t1")


def test_manifest_records_what_the_issue_asks(tmp_path: Path) -> None:
    _collection().save(tmp_path / "c")
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    for key in (
        "model_fingerprint",
        "dim",
        "count",
        "last_outbox_id",
        "libraries",
        "checksums",
        "index_type",
    ):
        assert key in manifest
