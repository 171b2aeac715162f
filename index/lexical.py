"""BM25 postings over pre-tokenized documents (bm25s), keyed by database ids.

bm25s builds a static sparse matrix, so the store keeps each document's token ids and rebuilds
the matrix lazily after changes (seconds at 100,000 documents). Until then, removed or replaced
documents are masked out of every score, so a search never returns a deleted document."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import bm25s
import numpy as np

K1 = 1.2
B = 0.75


class LexicalIndex:
    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.terms: list[str] = []  # token id → token (the inverse of vocab)
        self.docs: dict[int, np.ndarray] = {}  # database id → token ids
        self.row_ids = np.zeros(0, dtype=np.int64)  # BM25 row → database id (-1 when retired)
        self.row_of: dict[int, int] = {}
        self.model: bm25s.BM25 | None = None
        self.dirty = False
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self.docs)

    def live_ids(self) -> set[int]:
        return set(self.docs)

    def _ids_for(self, tokens: list[str], *, grow: bool) -> np.ndarray:
        out = []
        for token in tokens:
            idx = self.vocab.get(token)
            if idx is None:
                if not grow:
                    continue
                idx = self.vocab[token] = len(self.terms)
                self.terms.append(token)
            out.append(idx)
        return np.asarray(out, dtype=np.int32)

    def upsert(self, ids: list[int], token_lists: list[list[str]]) -> None:
        with self._lock:
            for db_id, tokens in zip(ids, token_lists, strict=True):
                self.docs[int(db_id)] = self._ids_for(tokens, grow=True)
                row = self.row_of.pop(int(db_id), None)
                if row is not None:
                    self.row_ids[row] = -1  # stale until the rebuild
            self.dirty = True

    def remove(self, ids: list[int]) -> None:
        with self._lock:
            for db_id in ids:
                self.docs.pop(int(db_id), None)
                row = self.row_of.pop(int(db_id), None)
                if row is not None:
                    self.row_ids[row] = -1
            self.dirty = True

    def rebuild(self) -> None:
        """Recompute the BM25 matrix from the stored token ids."""
        with self._lock:
            order = sorted(self.docs)
            corpus = [self.docs[i].tolist() for i in order]
            inverse = self.terms
            model = bm25s.BM25(k1=K1, b=B, method="lucene")
            if corpus:
                # bm25s wants a dense vocabulary of the ids actually used, plus its empty token.
                used = sorted({t for doc in corpus for t in doc})
                remap = {old: new for new, old in enumerate(used)}
                vocab = {inverse[old]: new for old, new in remap.items()}
                vocab[""] = len(vocab)
                tokenized = bm25s.tokenization.Tokenized(
                    ids=[[remap[t] for t in doc] or [vocab[""]] for doc in corpus], vocab=vocab
                )
                model.index(tokenized, show_progress=False)
            self.model = model
            self.row_ids = np.asarray(order, dtype=np.int64)
            self.row_of = {db_id: row for row, db_id in enumerate(order)}
            self.dirty = False

    def _ensure_model(self) -> bm25s.BM25 | None:
        if self.dirty or self.model is None:
            self.rebuild()
        return self.model

    def _raw_scores(self, tokens: list[str]) -> np.ndarray | None:
        model = self._ensure_model()
        if model is None or not self.row_of:
            return None
        known = [t for t in dict.fromkeys(tokens) if t in model.vocab_dict and t != ""]
        if not known:
            return None
        raw = np.asarray(model.get_scores(known), dtype=np.float32)
        raw[self.row_ids < 0] = 0.0  # retired rows (removed or replaced since the last rebuild)
        return raw

    def top(
        self, tokens: list[str], k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """The k best (database id, BM25 score), best first; only ids in ``allowed`` when given."""
        with self._lock:
            raw = self._raw_scores(tokens)
            if raw is None or k <= 0:
                return []
            if allowed is not None:
                rows = np.fromiter(
                    (self.row_of[i] for i in allowed if i in self.row_of), dtype=np.int64
                )
                if rows.size == 0:
                    return []
                masked = np.zeros_like(raw)
                masked[rows] = raw[rows]
                raw = masked
            hits = int(np.count_nonzero(raw > 0))
            if hits == 0:
                return []
            k = min(k, hits)
            picked = np.argpartition(-raw, k - 1)[:k] if k < raw.size else np.arange(raw.size)
            picked = picked[np.argsort(-raw[picked], kind="stable")]
            return [(int(self.row_ids[r]), float(raw[r])) for r in picked.tolist() if raw[r] > 0]

    def scores(self, tokens: list[str], allowed: set[int] | None = None) -> dict[int, float]:
        """BM25 score of every matching live document (ids restricted to ``allowed`` if given)."""
        return dict(self.top(tokens, len(self.docs), allowed))

    def scores_of(self, tokens: list[str], ids: list[int]) -> dict[int, float]:
        """BM25 of the given documents (0 for one that shares no word with the query)."""
        with self._lock:
            raw = self._raw_scores(tokens)
            if raw is None:
                return {int(i): 0.0 for i in ids}
            return {
                int(i): float(raw[self.row_of[int(i)]]) if int(i) in self.row_of else 0.0
                for i in ids
            }

    def max_idf(self) -> float:
        """The IDF a word no document contains would have."""
        n = len(self.docs)
        return float(np.log(1 + (n + 0.5) / 0.5)) if n else 0.0

    def document_tokens(self, db_id: int) -> list[str]:
        ids = self.docs.get(int(db_id))
        if ids is None:
            return []
        return [self.terms[i] for i in ids.tolist()]

    def idf(self, token: str) -> float:
        """Inverse document frequency over live documents (for explaining matches)."""
        with self._lock:
            model = self._ensure_model()
            if model is None or token not in model.vocab_dict or not self.row_of:
                return 0.0
            n = len(self.row_of)
            col = model.vocab_dict[token]
            indptr = model.scores["indptr"]
            df = int(indptr[col + 1] - indptr[col])
            return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    # --- persistence -------------------------------------------------------------------------
    def save(self, directory: Path) -> list[str]:
        with self._lock:
            order = sorted(self.docs)
            lengths = np.asarray([len(self.docs[i]) for i in order], dtype=np.int64)
            flat = np.concatenate([self.docs[i] for i in order]) if order else np.zeros(0, np.int32)
            np.save(directory / "lexical_ids.npy", np.asarray(order, dtype=np.int64))
            np.save(directory / "lexical_lengths.npy", lengths)
            np.save(directory / "lexical_tokens.npy", flat.astype(np.int32))
            (directory / "lexical_vocab.json").write_text(
                json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8"
            )
        return [
            "lexical_ids.npy",
            "lexical_lengths.npy",
            "lexical_tokens.npy",
            "lexical_vocab.json",
        ]

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        index = cls()
        index.vocab = json.loads((directory / "lexical_vocab.json").read_text(encoding="utf-8"))
        index.terms = [""] * len(index.vocab)
        for token, idx in index.vocab.items():
            index.terms[idx] = token
        order = np.load(directory / "lexical_ids.npy")
        lengths = np.load(directory / "lexical_lengths.npy")
        flat = np.load(directory / "lexical_tokens.npy")
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        for i, db_id in enumerate(order.tolist()):
            index.docs[int(db_id)] = flat[bounds[i] : bounds[i + 1]]
        index.dirty = True
        return index
