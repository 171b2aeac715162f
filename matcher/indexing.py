"""Keep the search index in step with the database.

Every write to a searchable row leaves an `IndexOutbox` row in the same transaction. The index
applies outbox rows in id order and records the last applied id in its manifest, so a process
that crashes loses nothing: on restart it loads the last saved index and replays the rest. A
collection whose manifest does not match the configured model or tokenizer, or whose files fail
their checksum, is rebuilt from the database, never served empty."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from index.collection import Collection, IndexCorrupt, IndexStale, read_manifest
from matcher.access import suspended_owners
from matcher.config import Settings, get_settings
from matcher.db import session_scope
from matcher.embedding.encoder import Encoder, get_encoder
from matcher.errors import StorageError
from matcher.models import IndexOutbox, InvestorProfile, Need, Organization, Technology
from matcher.text import Lexer, get_lexer, investor_text, need_text, technology_text

COLLECTIONS = ("technologies", "needs", "investors")
Progress = Callable[[str, float], None]
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Document:
    id: int
    text: str


def indexable_documents(
    session: Session, collection: str, ids: list[int] | None = None
) -> list[Document]:
    """The rows of a collection that search may return (published, of an organization that is
    not suspended), with their matching text."""
    if collection == "technologies":
        stmt = select(Technology).where(
            Technology.status == "published", col(Technology.owner_id).not_in(suspended_owners())
        )
        if ids is not None:
            stmt = stmt.where(col(Technology.id).in_(ids))
        return [Document(t.id, technology_text(t)) for t in session.exec(stmt) if t.id is not None]
    if collection == "needs":
        stmt_n = select(Need).where(
            Need.status == "published", col(Need.owner_id).not_in(suspended_owners())
        )
        if ids is not None:
            stmt_n = stmt_n.where(col(Need.id).in_(ids))
        return [Document(n.id, need_text(n)) for n in session.exec(stmt_n) if n.id is not None]
    if collection == "investors":
        stmt_i = select(Organization, InvestorProfile).join(
            InvestorProfile, col(InvestorProfile.organization_id) == col(Organization.id)
        )
        stmt_i = stmt_i.where(Organization.kind == "investor")
        if ids is not None:
            stmt_i = stmt_i.where(col(Organization.id).in_(ids))
        return [
            Document(o.id, investor_text(o, p)) for o, p in session.exec(stmt_i) if o.id is not None
        ]
    raise ValueError(collection)


META_COLUMNS: dict[str, tuple[Any, ...]] = {
    "technologies": (
        Technology.id, Technology.status, Technology.owner_id, Technology.field,
        Technology.trl, Technology.price, Technology.valid_until,
    ),
    "needs": (Need.id, Need.status, Need.owner_id, Need.visibility, Need.field, Need.min_trl, Need.budget),
    "investors": (Organization.id, Organization.kind),
}  # fmt: skip


def load_meta(session: Session, collection: str, ids: list[int] | None = None) -> dict[int, Any]:
    """The few columns filters and soft signals need, per indexed row (plain Core rows)."""
    columns = META_COLUMNS[collection]
    stmt = select(*columns)
    if ids is not None:
        stmt = stmt.where(columns[0].in_(ids))
    return {row.id: row for row in session.connection().execute(stmt)}


def max_outbox_id(session: Session) -> int:
    return int(session.exec(select(func.max(IndexOutbox.id))).one() or 0)


class IndexManager:
    """The collections of one data directory, loaded once per process and kept caught up."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings | None = None,
        *,
        encoder: Encoder | None = None,
        lexer: Lexer | None = None,
        save_interval_s: float = 0.0,
    ) -> None:
        self.engine = engine
        self.settings = settings or get_settings()
        self._encoder = encoder
        self._lexer = lexer
        self.collections: dict[str, Collection] = {}
        self.lock = threading.RLock()  # held by searches and by swapping changes in
        self._catch_up_lock = threading.Lock()  # one catch-up at a time
        self.save_interval_s = save_interval_s
        self._unsaved: set[str] = set()
        self._last_save = 0.0
        self.rebuilt: dict[str, str] = {}  # collection → why it was rebuilt at open
        self.version = 0  # bumped whenever the searchable content changes (keys result caches)
        # Filter columns of every indexed row, kept with the index so a search does not query
        # them for hundreds of candidates; the rows finally shown are always re-read from the database.
        self.meta: dict[str, dict[int, Any]] = {name: {} for name in COLLECTIONS}

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = get_encoder(self.settings)
        return self._encoder

    @property
    def lexer(self) -> Lexer:
        if self._lexer is None:
            self._lexer = get_lexer()
        return self._lexer

    def path(self, name: str) -> Path:
        return self.settings.index_dir / name

    # --- lifecycle ---------------------------------------------------------------------------
    def open(self, progress: Progress | None = None) -> IndexManager:
        with self.lock:
            for name in COLLECTIONS:
                self.collections[name] = self._load_or_rebuild(name, progress)
            self.catch_up(force_save=True)
            with session_scope(self.engine, write=False) as session:
                for name in COLLECTIONS:
                    self.meta[name] = load_meta(session, name)
        return self

    def _load_or_rebuild(self, name: str, progress: Progress | None) -> Collection:
        path = self.path(name)
        if read_manifest(path) is None:
            self.rebuilt[name] = "no index yet"
            return self.rebuild(name, progress)
        try:
            return Collection.load(
                path,
                model_fingerprint=self.encoder.fingerprint,
                dim=self.encoder.dim,
                tokenizer_fingerprint=self.lexer.fingerprint,
            )
        except (IndexStale, IndexCorrupt) as exc:
            _log.warning("rebuilding index %s: %s", name, exc)
            self.rebuilt[name] = str(exc)
            return self.rebuild(name, progress)

    def _kind_for(self, count: int) -> str:
        return "ivf" if count > self.settings.index_exact_max else "flat"

    def rebuild(self, name: str, progress: Progress | None = None) -> Collection:
        """Build a collection from the database and save it."""
        with session_scope(self.engine, write=False) as session:
            # Read the outbox position first: anything written after it is replayed later.
            position = max_outbox_id(session)
            documents = indexable_documents(session, name)
        collection = Collection.empty(
            name,
            model_fingerprint=self.encoder.fingerprint,
            model_name=self.encoder.setting,
            dim=self.encoder.dim,
            tokenizer_fingerprint=self.lexer.fingerprint,
            kind=self._kind_for(len(documents)),
        )
        self._apply(collection, documents, [], progress=progress, label=name)
        collection.last_outbox_id = position
        if collection.vectors.kind == "ivf":
            collection.extra["ann_recall@10"] = round(collection.vectors.recall_at(10), 4)
        self._write(collection, name)
        with self.lock:
            self.collections[name] = collection
            self.version += 1
        return collection

    def _apply(
        self,
        collection: Collection,
        documents: list[Document],
        removed: list[int],
        *,
        progress: Progress | None = None,
        label: str = "",
    ) -> None:
        if removed:
            collection.remove(removed)
        if not documents:
            return
        say = progress or (lambda _m, _f: None)
        texts = [d.text for d in documents]
        vectors = self.encoder.encode_documents(
            texts,
            progress=lambda done, total: say(f"{label}：编码 {done}/{total}", done / max(total, 1)),
        )
        tokens = self.lexer.tokens_many(texts)
        collection.upsert([d.id for d in documents], np.asarray(vectors), tokens)
        say(f"{label}：完成", 1.0)

    def catch_up(self, *, force_save: bool = False) -> int:
        """Apply pending outbox rows; returns how many changes were applied.

        The slow part (reading rows, encoding) runs without the search lock; only swapping the
        changes into the collections holds it, so searches are not held up by an update."""
        with self._catch_up_lock:
            if not self.collections:
                return 0
            start = min(c.last_outbox_id for c in self.collections.values())
            prepared: list[
                tuple[str, list[Document], list[int], dict[int, Any], list[int], int, Any]
            ] = []
            with session_scope(self.engine, write=False) as session:
                rows = session.exec(
                    select(IndexOutbox)
                    .where(col(IndexOutbox.id) > start)
                    .order_by(col(IndexOutbox.id))
                ).all()
                pending: dict[str, dict[int, None]] = {name: {} for name in self.collections}
                last: dict[str, int] = {}
                for row in rows:
                    collection = self.collections.get(row.collection)
                    if collection is None or row.id is None or row.id <= collection.last_outbox_id:
                        continue
                    pending[row.collection][row.item_id] = None
                    last[row.collection] = row.id
                for name, items in pending.items():
                    if not items:
                        continue
                    ids = list(items)
                    documents = indexable_documents(session, name, ids)
                    present = {d.id for d in documents}
                    encoded = self._encode(documents)
                    prepared.append(
                        (
                            name,
                            documents,
                            [i for i in ids if i not in present],
                            load_meta(session, name, ids),
                            ids,
                            last[name],
                            encoded,
                        )
                    )
            applied = 0
            for name, documents, removed, fresh, ids, last_id, encoded in prepared:
                collection = self.collections[name]
                doc_ids = [d.id for d in documents]
                # A change that retrains the IVF cells or switches exact ↔ IVF is built here,
                # outside the search lock (searches use the old vectors meanwhile); only the
                # swap holds it. Catch-ups are serialized, so nothing else changes the vectors.
                replacement = self._replacement(collection, removed, doc_ids, encoded)
                with self.lock:
                    if self.collections.get(name) is not collection:
                        pass  # rebuilt meanwhile from the database; later rows replay on it
                    elif replacement is not None:
                        collection.vectors = replacement
                        if removed:
                            collection.lexical.remove(removed)
                        if documents:
                            collection.lexical.upsert(doc_ids, encoded[1])
                    else:
                        if removed:
                            collection.remove(removed)
                        if documents:
                            collection.upsert(doc_ids, encoded[0], encoded[1])
                    collection.last_outbox_id = max(collection.last_outbox_id, last_id)
                    meta = dict(self.meta.get(name, {}))
                    for i in ids:
                        if i in fresh:
                            meta[i] = fresh[i]
                        else:
                            meta.pop(i, None)
                    self.meta[name] = meta
                    self._unsaved.add(name)
                applied += len(ids)
            if applied:
                self.version += 1
            if self._unsaved and (
                force_save or time.monotonic() - self._last_save >= self.save_interval_s
            ):
                try:
                    self.save()
                except StorageError as exc:
                    # The changes are committed and applied in memory; searches stay right. The
                    # save is retried at the next interval (and the outbox replays on restart).
                    if force_save:
                        raise
                    logging.getLogger(__name__).error("%s", exc.message)
                    self._last_save = time.monotonic()
            return applied

    def _encode(self, documents: list[Document]) -> Any:
        if not documents:
            return None
        texts = [d.text for d in documents]
        return np.asarray(self.encoder.encode_documents(texts)), self.lexer.tokens_many(texts)

    def _replacement(
        self, collection: Collection, removed: list[int], ids: list[int], encoded: Any
    ) -> Any:
        """The collection's vectors rebuilt with this change, when applying it in place would be
        slow (IVF retraining) or the size now wants the other kind of index; else None."""
        vectors = collection.vectors
        present = vectors.label_of  # membership only: no copy of a million ids per catch-up
        added = len({i for i in ids if i not in present})
        size = len(present) - len({i for i in removed if i in present}) + added
        wanted = self._kind_for(size)
        if wanted == vectors.kind and not vectors.needs_retrain(added):
            return None
        empty = np.zeros((0, vectors.dim), dtype=np.float32)
        return vectors.replaced(wanted, removed, ids, encoded[0] if ids else empty)

    def save(self) -> None:
        with self.lock:
            for name in sorted(self._unsaved):
                self._write(self.collections[name], name)
            self._unsaved.clear()
            self._last_save = time.monotonic()

    def _write(self, collection: Any, name: str) -> None:
        """Save one collection; a full disk or a read-only directory is a clear error and the
        previous index stays in place (the save is atomic, the outbox replays what is missing)."""
        try:
            collection.save(self.path(name))
        except OSError as exc:
            import errno

            reason = {
                errno.ENOSPC: "磁盘已满",
                errno.EDQUOT: "磁盘配额已满",
                errno.EROFS: "数据目录是只读的",
                errno.EACCES: "没有写权限",
                errno.EPERM: "没有写权限",
            }.get(exc.errno or 0, exc.strerror or str(exc))
            raise StorageError(
                f"检索索引未能保存（{reason}）：{self.path(name)}；原有索引保持不变，空间或权限恢复后会自动补上"
            ) from exc

    def close(self) -> None:
        """Persist what was applied since the last save (the outbox would replay it anyway)."""
        if self._unsaved:
            self.save()

    # --- inspection --------------------------------------------------------------------------
    def verify(self) -> dict[str, dict[str, Any]]:
        """Database ids against index ids, per collection (after catching up, as a restart does)."""
        self.catch_up(force_save=True)
        report: dict[str, dict[str, Any]] = {}
        with session_scope(self.engine, write=False) as session:
            for name, collection in self.collections.items():
                db_ids = {d.id for d in indexable_documents(session, name)}
                vec_ids = collection.vectors.live_ids()
                lex_ids = collection.lexical.live_ids()
                report[name] = {
                    "database": len(db_ids),
                    "vectors": len(vec_ids),
                    "lexical": len(lex_ids),
                    "missing": sorted(db_ids - vec_ids)[:20],
                    "extra": sorted(vec_ids - db_ids)[:20],
                    "lexical_mismatch": sorted(vec_ids ^ lex_ids)[:20],
                    "ok": db_ids == vec_ids == lex_ids,
                }
        return report

    def status(self) -> dict[str, dict[str, Any]]:
        with session_scope(self.engine, write=False) as session:
            head = max_outbox_id(session)
        out: dict[str, dict[str, Any]] = {}
        for name in COLLECTIONS:
            manifest = read_manifest(self.path(name)) or {}
            out[name] = {
                "count": manifest.get("count"),
                "index_type": manifest.get("index_type"),
                "model": manifest.get("model"),
                "model_fingerprint": manifest.get("model_fingerprint"),
                "dim": manifest.get("dim"),
                "last_outbox_id": manifest.get("last_outbox_id"),
                "pending_changes": max(0, head - int(manifest.get("last_outbox_id") or 0)),
                "saved_at": manifest.get("saved_at"),
                "ann_recall@10": manifest.get(
                    "ann_recall@10", 1.0 if manifest.get("index_type") == "flat" else None
                ),
                "ivf": manifest.get("ivf"),
                "libraries": manifest.get("libraries"),
            }
        return out
