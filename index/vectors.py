"""Dense vectors in FAISS, keyed by database ids.

Small collections use exact inner-product search (``IndexIDMap2`` over ``IndexFlatIP``), which
supports removal. Beyond a size threshold the store is an HNSW graph, which FAISS cannot remove
from: a replaced or deleted vector is tombstoned (its label is retired and filtered out of
results) and the graph is compacted when tombstones pile up. Labels are internal; ``ids`` maps
them back to database ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np

faiss: Any = _faiss  # the bundled stubs lack the search-parameter classes used here

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
COMPACT_RATIO = 0.2


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(
        np.asarray(vectors, dtype=np.float32).reshape(-1, vectors.shape[-1])
    )


class VectorStore:
    def __init__(self, dim: int, kind: str = "flat") -> None:
        if kind not in ("flat", "hnsw"):
            raise ValueError(kind)
        self.dim = dim
        self.kind = kind
        self.index: Any = self._new_index()
        self.label_of: dict[int, int] = {}  # database id → live label
        self.ids = np.zeros(0, dtype=np.int64)  # label → database id
        self.next_label = 0
        self.dead = 0

    def _new_index(self) -> Any:
        if self.kind == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        hnsw = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        return hnsw

    def __len__(self) -> int:
        return len(self.label_of)

    def live_ids(self) -> set[int]:
        return set(self.label_of)

    def upsert(self, ids: list[int], vectors: np.ndarray) -> None:
        """Add or replace vectors for these database ids."""
        if not ids:
            return
        self.remove(ids)
        matrix = _as_matrix(vectors)
        labels = np.arange(self.next_label, self.next_label + len(ids), dtype=np.int64)
        self.next_label += len(ids)
        if self.kind == "flat":
            self.index.add_with_ids(matrix, labels)
        else:
            self.index.add(matrix)  # HNSW labels are insertion order, which equals `labels`
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        for db_id, label in zip(ids, labels.tolist(), strict=True):
            self.label_of[int(db_id)] = label

    def remove(self, ids: list[int]) -> None:
        labels = [self.label_of.pop(int(i)) for i in ids if int(i) in self.label_of]
        if not labels:
            return
        if self.kind == "flat":
            self.index.remove_ids(np.asarray(labels, dtype=np.int64))
        for label in labels:
            self.ids[label] = -1
        self.dead += len(labels)
        if self.kind == "hnsw" and self.dead > COMPACT_RATIO * max(len(self.label_of), 1):
            self.compact()

    def compact(self) -> None:
        """Rebuild without retired labels (the only way to drop vectors from HNSW)."""
        live = sorted(self.label_of.items(), key=lambda kv: kv[1])
        vectors = self.vectors_for([label for _, label in live])
        db_ids = [db_id for db_id, _ in live]
        self.index = self._new_index()
        self.label_of = {}
        self.ids = np.zeros(0, dtype=np.int64)
        self.next_label = 0
        self.dead = 0
        self.upsert(db_ids, vectors)

    def vectors_for(self, labels: list[int]) -> np.ndarray:
        if not labels:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.kind == "flat":
            return np.stack([self.index.reconstruct(int(label)) for label in labels])
        return self.index.reconstruct_batch(np.asarray(labels, dtype=np.int64))

    def vector(self, db_id: int) -> np.ndarray | None:
        label = self.label_of.get(int(db_id))
        if label is None:
            return None
        return self.vectors_for([label])[0]

    def search(
        self, query: np.ndarray, k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """(database id, inner product) best first; only ids in ``allowed`` when given."""
        if not self.label_of or k <= 0:
            return []
        q = _as_matrix(query)[:1]
        params = None
        if allowed is not None:
            labels = [self.label_of[i] for i in allowed if i in self.label_of]
            if not labels:
                return []
            selector = faiss.IDSelectorBatch(np.asarray(labels, dtype=np.int64))
            if self.kind == "flat":
                params = faiss.SearchParameters(sel=selector)
            else:
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k))
            want = min(k, len(labels))
        else:
            want = min(k + (self.dead if self.kind == "hnsw" else 0), self.next_label)
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, want))
        scores, labels_found = (
            self.index.search(q, want, params=params) if params else self.index.search(q, want)
        )
        out: list[tuple[int, float]] = []
        for label, score in zip(labels_found[0].tolist(), scores[0].tolist(), strict=True):
            if label < 0:
                continue
            db_id = int(self.ids[label])
            if db_id < 0 or self.label_of.get(db_id) != label:
                continue
            out.append((db_id, float(score)))
            if len(out) >= k:
                break
        return out

    def exact_search(self, query: np.ndarray, k: int) -> list[int]:
        """Brute force over the live vectors (the reference that ANN recall is measured against)."""
        live = sorted(self.label_of.items(), key=lambda kv: kv[1])
        matrix = self.vectors_for([label for _, label in live])
        scores = matrix @ _as_matrix(query)[0]
        top = np.argsort(-scores)[:k]
        return [live[i][0] for i in top.tolist()]

    def recall_at(self, k: int = 10, samples: int = 200, seed: int = 0) -> float:
        """ANN recall@k against exact search, with stored vectors as queries."""
        if self.kind == "flat" or not self.label_of:
            return 1.0
        rng = np.random.default_rng(seed)
        ids = list(self.label_of)
        picks = rng.choice(len(ids), size=min(samples, len(ids)), replace=False)
        hits = 0
        total = 0
        for pick in picks.tolist():
            q = self.vector(ids[pick])
            assert q is not None
            truth = set(self.exact_search(q, k))
            found = {i for i, _ in self.search(q, k)}
            hits += len(truth & found)
            total += len(truth)
        return hits / max(total, 1)

    # --- persistence -------------------------------------------------------------------------
    def save(self, directory: Path) -> list[str]:
        faiss.write_index(self.index, str(directory / "vectors.faiss"))
        np.save(directory / "vector_ids.npy", self.ids)
        return ["vectors.faiss", "vector_ids.npy"]

    @classmethod
    def load(cls, directory: Path, dim: int, kind: str) -> VectorStore:
        store = cls(dim, kind)
        store.index = faiss.read_index(str(directory / "vectors.faiss"))
        if kind == "hnsw":
            store.index.hnsw.efSearch = HNSW_EF_SEARCH
        store.ids = np.load(directory / "vector_ids.npy")
        store.next_label = len(store.ids)
        store.label_of = {
            int(db_id): label for label, db_id in enumerate(store.ids.tolist()) if db_id >= 0
        }
        store.dead = store.next_label - len(store.label_of)
        if store.index.d != dim:
            raise ValueError(f"dimension {store.index.d} != {dim}")
        return store
