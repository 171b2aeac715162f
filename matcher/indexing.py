"""Keep the search index in step with the database.

Every write to a searchable row leaves an `IndexOutbox` row (and an encoding job) in the same
transaction. A collection remembers its *position* in that log and applies what committed since.

The position is not "the last applied id": on PostgreSQL ids are handed out at insert time but
transactions commit in any order, so a change with a lower id can commit after a higher one was
applied. There the position is a database snapshot (`pg_current_snapshot()`: the first
unassigned transaction id and the transactions then in progress), and a trigger stamps each
outbox row with its writer's transaction id: the rows new to a collection are exactly those
whose writer was in progress or had not started at its snapshot, whatever the commit order; a
rolled-back writer simply never shows up, and the cost of a catch-up is the rows committed since.
SQLite serializes writers, so ids become visible in order and the last id is the position.

Each catch-up reads the new outbox rows, the rows they name and their stored vectors in one
snapshot. A row whose vector for this model is stored (and was computed from its current text)
is applied; one without waits (`awaiting`) until a worker stores it, which writes an outbox row
of its own. The index never encodes documents unless it is told to (`encode_inline`, what the
command line and tests use); web processes leave that to workers. The position and the awaiting
rows are saved with the index, so a process that crashes loses nothing: on restart it loads the
last saved index and replays the rest. A collection whose manifest does not match the
configured model or tokenizer, whose files fail their checksum, or whose position belongs to
another database, is rebuilt — from the stored vectors, so a new host or a restart after a lost
index directory encodes nothing that was encoded before."""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session

from index.collection import Collection, IndexCorrupt, IndexStale, read_manifest
from matcher.config import Settings, get_settings
from matcher.db import session_scope, snapshot_session
from matcher.documents import COLLECTIONS, Document, indexable_documents, load_meta
from matcher.embedding import store
from matcher.embedding.encoder import Encoder, get_encoder
from matcher.errors import StorageError
from matcher.outbox import Position, new_rows
from matcher.text import Lexer, get_lexer

Progress = Callable[[str, float], None]
# A row that has waited this long for its vector gets a job naming this process's model (its
# jobs were taken by workers of another model, e.g. halfway through a model change).
RESCUE_AFTER_S = 30.0
ENCODE_CHUNK = 512  # inline encoding stores its vectors every this many rows
_log = logging.getLogger(__name__)


# A row ready to apply: its text, its vector, and its tokens when they were stored with it.
Ready = tuple[Document, np.ndarray, list[str] | None]


@dataclass
class _Change:
    name: str
    ids: list[int]
    ready: list[Ready]
    missing: list[Document]
    removed: list[int]
    meta: dict[int, Any]
    tokens: list[list[str]] = field(default_factory=list)


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
        encode_inline: bool = True,
        encode_at_open: bool = False,
    ) -> None:
        self.engine = engine
        self.settings = settings or get_settings()
        self._encoder = encoder
        self._lexer = lexer
        # True: rows without a stored vector are encoded here and then stored (the command line,
        # tests). False (web processes): they wait for a worker.
        self.encode_inline = encode_inline
        # True (the embedded SQLite site, whose own thread would encode them anyway): rows with
        # no stored vector are encoded while opening, so the site starts with a full index as
        # before; afterwards changes wait for the worker like everywhere else.
        self.encode_at_open = encode_at_open
        self._encoding_here = encode_inline
        self.collections: dict[str, Collection] = {}
        self.positions: dict[str, Position] = {}
        self.awaiting: dict[str, dict[int, float]] = {name: {} for name in COLLECTIONS}
        self._rescued: set[tuple[str, int]] = set()
        self.lock = threading.RLock()  # held by searches and by swapping changes in
        self._catch_up_lock = threading.Lock()  # one catch-up at a time
        self.save_interval_s = save_interval_s
        self._unsaved: set[str] = set()
        self._last_save = 0.0
        self.rebuilt: dict[str, str] = {}  # collection → why it was rebuilt at open
        self.loaded_vectors = 0  # vectors taken from the database when building collections
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

    @property
    def model(self) -> store.Model:
        return store.Model.of(self.encoder)

    def path(self, name: str) -> Path:
        return self.settings.index_dir / name

    def pending(self) -> dict[str, int]:
        """Rows per collection whose change waits for its vector."""
        return {name: len(items) for name, items in self.awaiting.items()}

    def is_searchable(self, name: str, item_id: int) -> bool:
        collection = self.collections.get(name)
        return (
            collection is not None
            and item_id in collection.vectors.label_of
            and item_id not in self.awaiting[name]
        )

    # --- lifecycle ---------------------------------------------------------------------------
    def open(self, progress: Progress | None = None) -> IndexManager:
        self._encoding_here = self.encode_inline or self.encode_at_open
        try:
            with self.lock:
                for name in COLLECTIONS:
                    self._install(name, self._load_or_rebuild(name, progress))
                self.catch_up(force_save=True, progress=progress)
                with session_scope(self.engine, write=False) as session:
                    for name in COLLECTIONS:
                        self.meta[name] = load_meta(session, name)
        finally:
            self._encoding_here = self.encode_inline
        return self

    def _install(self, name: str, collection: Collection) -> None:
        self.collections[name] = collection
        self.positions[name] = Position.from_dict(collection.position, collection.last_outbox_id)
        now = time.monotonic()
        self.awaiting[name] = {i: now for i in collection.awaiting}

    def _load_or_rebuild(self, name: str, progress: Progress | None) -> Collection:
        path = self.path(name)
        if read_manifest(path) is None:
            self.rebuilt[name] = "no index yet"
            return self.rebuild(name, progress, install=False)
        try:
            collection = Collection.load(
                path,
                model_fingerprint=self.encoder.fingerprint,
                dim=self.encoder.dim,
                tokenizer_fingerprint=self.lexer.fingerprint,
            )
            self._check_position(
                path, Position.from_dict(collection.position, collection.last_outbox_id)
            )
            return collection
        except (IndexStale, IndexCorrupt) as exc:
            _log.warning("rebuilding index %s: %s", name, exc)
            self.rebuilt[name] = str(exc)
            return self.rebuild(name, progress, install=False)

    def _check_position(self, path: Path, position: Position) -> None:
        """A saved position must belong to this database: a snapshot on PostgreSQL, an id on
        SQLite, never ahead of the database (a restored or another database: rebuild)."""
        with snapshot_session(self.engine) as session:
            here = Position.read(session)
        if (here.xmax is None) != (position.xmax is None):
            raise IndexStale(f"{path}: position recorded for another kind of database")
        if here.xmax is not None and position.xmax is not None and position.xmax > here.xmax:
            raise IndexStale(f"{path}: position ahead of this database (restored or another one)")
        if here.xmax is None and position.last_id > here.last_id:
            raise IndexStale(f"{path}: position ahead of this database (restored or another one)")

    def _kind_for(self, count: int) -> str:
        return "ivf" if count > self.settings.index_exact_max else "flat"

    def rebuild(
        self, name: str, progress: Progress | None = None, *, install: bool = True
    ) -> Collection:
        """Build a collection from the database — from the stored vectors, encoding (inline) or
        queueing (for workers) only the rows that have none for this model — and save it."""
        say = progress or (lambda _m, _f: None)
        model = self.model
        with snapshot_session(self.engine) as session:
            # One snapshot: the position, the rows and their vectors agree; anything committed
            # after it is new to the position and replayed by the next catch-up.
            position = Position.read(session)
            documents = indexable_documents(session, name)
            stored = store.stored_vectors(
                session, model.fingerprint, name, tokenizer=self.lexer.fingerprint
            )
        ready, missing = self._split(model, documents, stored)
        self.loaded_vectors += len(ready)
        say(f"{name}：载入已存向量 {len(ready)} 条", 0.0)
        awaiting: list[int] = []
        if missing and self._encoding_here:
            encoded = self._encode_and_store(
                [(name, d) for d in missing],
                progress=lambda done, total: say(
                    f"{name}：编码 {done}/{total}", done / max(total, 1)
                ),
            )
            ready += [(d, *encoded[(name, d.id)]) for d in missing if (name, d.id) in encoded]
        elif missing:
            awaiting = [d.id for d in missing]
            with session_scope(self.engine) as session:
                queued = set(store.missing_for_model(session, model, name))
                store.enqueue(
                    session, name, [i for i in awaiting if i in queued], model.fingerprint
                )
        collection = Collection.empty(
            name,
            model_fingerprint=self.encoder.fingerprint,
            model_name=self.encoder.setting,
            dim=self.encoder.dim,
            tokenizer_fingerprint=self.lexer.fingerprint,
            kind=self._kind_for(len(ready)),
        )
        if ready:
            ids = [d.id for d, _v, _t in ready]
            tokens: list[list[str]] = []
            step = 2000
            for start in range(0, len(ready), step):
                tokens += self._tokens(ready[start : start + step])
                say(f"{name}：分词 {len(tokens)}/{len(ready)}", len(tokens) / len(ready))
            collection.upsert(ids, np.stack([v for _d, v, _t in ready]), tokens)
        say(f"{name}：完成", 1.0)
        collection.last_outbox_id = position.last_id
        collection.position = position.as_dict()
        collection.awaiting = awaiting
        if collection.vectors.kind == "ivf":
            collection.extra["ann_recall@10"] = round(collection.vectors.recall_at(10), 4)
        self._write(collection, name)
        if install:
            with self.lock:
                self._install(name, collection)
                self.version += 1
        return collection

    def _split(
        self, model: store.Model, documents: list[Document], stored: dict[int, store.Stored]
    ) -> tuple[list[Ready], list[Document]]:
        """Rows whose stored vector was computed from their current text, and the others."""
        ready: list[Ready] = []
        missing: list[Document] = []
        for d in documents:
            hit = stored.get(d.id)
            if hit is not None and hit.hash == model.hash(store.ROLE_DOCUMENT, d.text):
                ready.append((d, hit.vector, hit.tokens))
            else:
                missing.append(d)
        return ready, missing

    def _tokens(self, ready: list[Ready]) -> list[list[str]]:
        """Stored tokens where there are, jieba for the rest."""
        todo = [i for i, (_d, _v, t) in enumerate(ready) if t is None]
        texts = [ready[i][0].text for i in todo]
        computed = dict(zip(todo, self.lexer.tokens_many(texts), strict=True))
        return [t if t is not None else computed[i] for i, (_d, _v, t) in enumerate(ready)]

    def _encode_and_store(
        self, items: list[tuple[str, Document]], progress: Callable[[int, int], None] | None = None
    ) -> dict[tuple[str, int], tuple[np.ndarray, list[str] | None]]:
        """Encode here (the inline mode) and store the vectors, a chunk at a time so that a long
        rebuild interrupted halfway keeps what it computed."""
        model = self.model
        scope = store.Scope(model.fingerprint)
        out: dict[tuple[str, int], tuple[np.ndarray, list[str] | None]] = {}
        for start in range(0, len(items), ENCODE_CHUNK):
            chunk = items[start : start + ENCODE_CHUNK]

            def step(done: int, _total: int, offset: int = start) -> None:
                if progress:
                    progress(offset + done, len(items))

            encoded = store.encode(self.encoder, model, chunk, progress=step, lexer=self.lexer)
            with session_scope(self.engine) as session:
                store.store_vectors(session, model, encoded, scope=scope)
            for e in encoded:
                out[(e.collection, e.item_id)] = (e.vectors[store.ROLE_DOCUMENT][1], e.tokens)
        if progress:
            progress(len(items), len(items))
        return out

    def catch_up(self, *, force_save: bool = False, progress: Progress | None = None) -> int:
        """Apply what committed since each collection's position; returns how many rows changed
        in the index (applied or removed).

        The slow parts (reading rows, tokenizing, encoding inline) run without the search lock;
        only swapping the changes into the collections holds it, so searches are not held up."""
        with self._catch_up_lock:
            return self._catch_up(force_save, progress)

    def _catch_up(self, force_save: bool, progress: Progress | None) -> int:
        if not self.collections:
            return 0
        model = self.model
        targets = dict(self.collections)
        names = list(targets)
        changes: list[_Change] = []
        with snapshot_session(self.engine) as session:
            now = Position.read(session)
            examine: dict[str, dict[int, None]] = {name: {} for name in names}
            for row in new_rows(session, [self.positions[n] for n in names]):
                name = row.collection
                if name not in examine or not self.positions[name].is_new(row.id, row.txid):
                    continue
                if row.fingerprint is None or (
                    row.fingerprint == model.fingerprint and row.item_id in self.awaiting[name]
                ):
                    examine[name][row.item_id] = None
            for name, items in examine.items():
                if items:
                    changes.append(self._read_change(session, model, name, list(items)))
        if self._encoding_here:
            todo = [(c.name, d) for c in changes for d in c.missing]
            if todo:
                say = progress or (lambda _m, _f: None)
                encoded = self._encode_and_store(
                    todo,
                    progress=lambda d, t: say(f"编码 {d}/{t}", d / max(t, 1)),
                )
                for c in changes:
                    c.ready += [(d, *encoded[(c.name, d.id)]) for d in c.missing]
                    c.missing = []
        for c in changes:
            c.tokens = self._tokens(c.ready)
        applied = sum(self._apply_change(c) for c in changes)
        with self.lock:
            # A position that moved with nothing to apply is not worth a save of its own:
            # replaying from the saved one re-reads a few rows and applies nothing.
            for name in names:
                if self.collections.get(name) is targets[name]:  # not rebuilt meanwhile
                    self.positions[name] = now
        if changes:
            self.version += 1
        if not self._encoding_here:
            self._rescue()
        self._maybe_save(force_save)
        return applied

    def _read_change(
        self, session: Session, model: store.Model, name: str, ids: list[int]
    ) -> _Change:
        documents = indexable_documents(session, name, ids)
        stored = store.stored_vectors(
            session, model.fingerprint, name, [d.id for d in documents],
            tokenizer=self.lexer.fingerprint,
        )  # fmt: skip
        ready, missing = self._split(model, documents, stored)
        present = {d.id for d in documents}
        return _Change(
            name, ids, ready, missing, [i for i in ids if i not in present],
            load_meta(session, name, ids),
        )  # fmt: skip

    def _apply_change(self, change: _Change) -> int:
        name = change.name
        collection = self.collections[name]
        doc_ids = [d.id for d, _v, _t in change.ready]
        matrix = (
            np.stack([v for _d, v, _t in change.ready]).astype(np.float32)
            if change.ready
            else np.zeros((0, collection.dim), np.float32)
        )
        # A change that retrains the IVF cells or switches exact ↔ IVF is built here, outside
        # the search lock (searches use the old vectors meanwhile); only the swap holds it.
        # Catch-ups are serialized, so nothing else changes the vectors.
        replacement = self._replacement(collection, change.removed, doc_ids, matrix)
        since = time.monotonic()
        with self.lock:
            if self.collections.get(name) is not collection:
                return 0  # rebuilt meanwhile from the database; later rows replay on it
            if replacement is not None:
                collection.vectors = replacement
                if change.removed:
                    collection.lexical.remove(change.removed)
                if doc_ids:
                    collection.lexical.upsert(doc_ids, change.tokens)
            else:
                if change.removed:
                    collection.remove(change.removed)
                if doc_ids:
                    collection.upsert(doc_ids, matrix, change.tokens)
            meta = dict(self.meta.get(name, {}))
            for i in change.ids:
                if i in change.meta:
                    meta[i] = change.meta[i]
                else:
                    meta.pop(i, None)
            self.meta[name] = meta
            waiting = self.awaiting[name]
            for i in doc_ids + change.removed:
                waiting.pop(i, None)
                self._rescued.discard((name, i))
            for d in change.missing:
                waiting.setdefault(d.id, since)
            self._unsaved.add(name)
        return len(doc_ids) + len(change.removed)

    def _rescue(self) -> None:
        """Rows that waited long for their vector while no job for them is queued any more — the
        workers that took it serve another model, as halfway through a model change — get a job
        naming this process's model. Rows still queued are looked at again later."""
        cutoff = time.monotonic() - RESCUE_AFTER_S
        late = {
            name: [i for i, t in items.items() if t < cutoff and (name, i) not in self._rescued]
            for name, items in self.awaiting.items()
        }
        if not any(late.values()):
            return
        fingerprint = self.encoder.fingerprint
        orphans: dict[str, list[int]] = {}
        try:
            with session_scope(self.engine) as session:
                for name, ids in late.items():
                    if ids:
                        queued = store.queued_for(session, name, ids, fingerprint)
                        orphans[name] = [i for i in ids if i not in queued]
                        store.enqueue(session, name, orphans[name], fingerprint)
        except Exception:  # the next catch-up tries again
            _log.exception("could not queue late rows for encoding")
            return
        now = time.monotonic()
        with self.lock:
            for name, ids in late.items():
                lost = set(orphans.get(name, []))
                self._rescued.update((name, i) for i in lost)
                for i in ids:
                    if i not in lost and i in self.awaiting[name]:
                        self.awaiting[name][i] = now  # still queued: look again later
                if lost:
                    _log.warning("%s: %d rows waited > %gs with no job left; queued for model %s",
                                 name, len(lost), RESCUE_AFTER_S, fingerprint)  # fmt: skip

    def _replacement(
        self, collection: Collection, removed: list[int], ids: list[int], matrix: np.ndarray
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
        return vectors.replaced(wanted, removed, ids, matrix)

    def _maybe_save(self, force: bool) -> None:
        if not self._unsaved or not (
            force or time.monotonic() - self._last_save >= self.save_interval_s
        ):
            return
        try:
            self.save()
        except StorageError as exc:
            # The changes are committed and applied in memory; searches stay right. The save is
            # retried at the next interval (and the outbox replays on restart).
            if force:
                raise
            _log.error("%s", exc.message)
            self._last_save = time.monotonic()

    def save(self) -> None:
        with self.lock:
            for name in sorted(self._unsaved):
                collection = self.collections[name]
                position = self.positions[name]
                collection.position = position.as_dict()
                collection.last_outbox_id = position.last_id
                collection.awaiting = list(self.awaiting[name])
                self._write(collection, name)
            self._unsaved.clear()
            self._last_save = time.monotonic()

    def _write(self, collection: Any, name: str) -> None:
        """Save one collection; a full disk or a read-only directory is a clear error and the
        previous index stays in place (the save is atomic, the outbox replays what is missing)."""
        try:
            collection.save(self.path(name))
        except OSError as exc:
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
                    "awaiting_vectors": len(self.awaiting[name]),
                    "missing": sorted(db_ids - vec_ids)[:20],
                    "extra": sorted(vec_ids - db_ids)[:20],
                    "lexical_mismatch": sorted(vec_ids ^ lex_ids)[:20],
                    "ok": db_ids == vec_ids == lex_ids,
                }
        return report

    def status(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        manifests = {name: read_manifest(self.path(name)) or {} for name in COLLECTIONS}
        with snapshot_session(self.engine) as session:
            Position.read(session)
            jobs = store.count_jobs(session)
            for name, manifest in manifests.items():
                position = Position.from_dict(
                    manifest.get("outbox_position") or {}, int(manifest.get("last_outbox_id") or 0)
                )
                pending = sum(
                    1
                    for row in new_rows(session, [position])
                    if row.collection == name and row.fingerprint is None
                    and position.is_new(row.id, row.txid)
                )  # fmt: skip
                manifest["pending_changes"] = pending
            stored = store.vector_counts(session)
        for name, manifest in manifests.items():
            out[name] = {
                "count": manifest.get("count"),
                "index_type": manifest.get("index_type"),
                "model": manifest.get("model"),
                "model_fingerprint": manifest.get("model_fingerprint"),
                "dim": manifest.get("dim"),
                "last_outbox_id": manifest.get("last_outbox_id"),
                "pending_changes": manifest["pending_changes"],
                "awaiting_vectors": len(manifest.get("awaiting") or []),
                "stored_vectors": stored.get(manifest.get("model_fingerprint") or "", {}).get(
                    name, 0
                ),
                "queued_jobs": jobs,
                "saved_at": manifest.get("saved_at"),
                "ann_recall@10": manifest.get(
                    "ann_recall@10", 1.0 if manifest.get("index_type") == "flat" else None
                ),
                "ivf": manifest.get("ivf"),
                "libraries": manifest.get("libraries"),
            }
        return out
