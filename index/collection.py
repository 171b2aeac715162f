"""One searchable collection on disk: FAISS vectors + BM25 postings + a manifest.

A save writes every file into a fresh temporary directory beside the collection, fsyncs them,
records their sha256 in the manifest, then swaps the directory into place with ``os.replace``;
readers see the old directory or the new one, never half of each. ``load`` refuses a manifest
made for another model or dimension (IndexStale) and files that fail their checksum
(IndexCorrupt): the caller rebuilds from the database instead of serving an empty index."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.lexical import LexicalIndex
from index.vectors import VectorStore

FORMAT = (
    3  # 2: IVF replaces HNSW beyond the exact-search threshold; 3: outbox position, awaiting rows
)


class IndexStale(Exception):
    """The index on disk was built for another model, dimension or format."""


class IndexCorrupt(Exception):
    """A file of the index is missing or fails its checksum."""


def library_versions() -> dict[str, str]:
    import bm25s
    import faiss
    import jieba

    return {
        "faiss": faiss.__version__,
        "bm25s": bm25s.__version__,
        "jieba": getattr(jieba, "__version__", ""),
        "numpy": np.__version__,
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def directory_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Serialize saves of one collection across processes that share a data directory; loads
    take it shared, so a load never reads half of one save and half of another."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class Collection:
    name: str
    model_fingerprint: str
    model_name: str
    dim: int
    vectors: VectorStore
    lexical: LexicalIndex
    tokenizer_fingerprint: str
    last_outbox_id: int = 0
    # Where the collection stands in the database's change log (opaque here: see
    # matcher.outbox.Position) and the rows changed but still waiting for their vectors.
    position: dict[str, Any] = field(default_factory=dict)
    awaiting: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(
        cls,
        name: str,
        *,
        model_fingerprint: str,
        model_name: str,
        dim: int,
        tokenizer_fingerprint: str,
        kind: str = "flat",
    ) -> Collection:
        return cls(
            name=name,
            model_fingerprint=model_fingerprint,
            model_name=model_name,
            dim=dim,
            vectors=VectorStore(dim, kind),
            lexical=LexicalIndex(),
            tokenizer_fingerprint=tokenizer_fingerprint,
        )

    def __len__(self) -> int:
        return len(self.vectors)

    def ids(self) -> set[int]:
        return self.vectors.live_ids()

    def upsert(self, ids: list[int], vectors: np.ndarray, token_lists: list[list[str]]) -> None:
        self.vectors.upsert(ids, vectors)
        self.lexical.upsert(ids, token_lists)

    def remove(self, ids: list[int]) -> None:
        self.vectors.remove(ids)
        self.lexical.remove(ids)

    def manifest(self, files: dict[str, str]) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "collection": self.name,
            "model": self.model_name,
            "model_fingerprint": self.model_fingerprint,
            "tokenizer_fingerprint": self.tokenizer_fingerprint,
            "dim": self.dim,
            "count": len(self.vectors),
            "lexical_count": len(self.lexical),
            "index_type": self.vectors.kind,
            "ivf": None
            if self.vectors.kind == "flat"
            else {
                "nlist": self.vectors.nlist,
                "nprobe": self.vectors.nprobe,
                "trained_for": self.vectors.trained_for,
                "tuned_recall@10": self.vectors.tuned_recall,
            },
            "last_outbox_id": self.last_outbox_id,
            "outbox_position": self.position,
            "awaiting": sorted(self.awaiting),
            "libraries": library_versions(),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "checksums": files,
            **self.extra,
        }

    def save(self, path: Path) -> dict[str, Any]:
        """Write atomically to ``path`` (a directory)."""
        with directory_lock(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
            try:
                names = self.vectors.save(tmp) + self.lexical.save(tmp)
                checksums = {}
                for name in names:
                    with (tmp / name).open("rb") as fh:
                        os.fsync(fh.fileno())
                    checksums[name] = file_sha256(tmp / name)
                manifest = self.manifest(checksums)
                with (tmp / "manifest.json").open("w", encoding="utf-8") as fh:
                    json.dump(manifest, fh, ensure_ascii=False, indent=2)
                    fh.flush()
                    os.fsync(fh.fileno())
                _fsync_dir(tmp)
                old = None
                if path.exists():
                    old = path.with_name(f".old-{path.name}-{os.getpid()}-{time.time_ns()}")
                    os.replace(path, old)
                os.replace(tmp, path)
                _fsync_dir(path.parent)
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
                return manifest
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise

    @classmethod
    def load(
        cls, path: Path, *, model_fingerprint: str, dim: int, tokenizer_fingerprint: str
    ) -> Collection:
        with directory_lock(path, shared=True):
            return cls._load(
                path,
                model_fingerprint=model_fingerprint,
                dim=dim,
                tokenizer_fingerprint=tokenizer_fingerprint,
            )

    @classmethod
    def _load(
        cls, path: Path, *, model_fingerprint: str, dim: int, tokenizer_fingerprint: str
    ) -> Collection:
        manifest = read_manifest(path)
        if manifest is None:
            raise IndexCorrupt(f"{path}: manifest missing or unreadable")
        if manifest.get("format") != FORMAT:
            raise IndexStale(f"{path}: index format {manifest.get('format')} != {FORMAT}")
        if manifest.get("model_fingerprint") != model_fingerprint or manifest.get("dim") != dim:
            raise IndexStale(
                f"{path}: built for model {manifest.get('model')} ({manifest.get('model_fingerprint')})"
            )
        if manifest.get("tokenizer_fingerprint") != tokenizer_fingerprint:
            raise IndexStale(f"{path}: built with another lexical tokenizer")
        for name, expected in (manifest.get("checksums") or {}).items():
            file = path / name
            if not file.exists() or file_sha256(file) != expected:
                raise IndexCorrupt(f"{path}: {name} fails its checksum")
        try:
            vectors = VectorStore.load(path, dim, manifest["index_type"])
            lexical = LexicalIndex.load(path)
        except Exception as exc:  # a file that passed its checksum but cannot be parsed
            raise IndexCorrupt(f"{path}: {exc}") from exc
        if len(vectors) != manifest.get("count") or len(lexical) != manifest.get("lexical_count"):
            raise IndexCorrupt(f"{path}: counts disagree with the manifest")
        known = {"format", "collection", "model", "model_fingerprint", "tokenizer_fingerprint", "dim", "count",
                 "lexical_count", "index_type", "ivf", "last_outbox_id", "libraries", "saved_at", "checksums",
                 "outbox_position", "awaiting"}  # fmt: skip
        return cls(
            name=manifest["collection"],
            model_fingerprint=model_fingerprint,
            model_name=manifest.get("model", ""),
            dim=dim,
            vectors=vectors,
            lexical=lexical,
            tokenizer_fingerprint=tokenizer_fingerprint,
            last_outbox_id=int(manifest.get("last_outbox_id", 0)),
            position=dict(manifest.get("outbox_position") or {}),
            awaiting=[int(i) for i in manifest.get("awaiting") or []],
            extra={k: v for k, v in manifest.items() if k not in known},
        )


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((path / "manifest.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
