"""Vectors computed once per model and kept in the database, and the queue of rows to encode.

A row's vector is stored with the model's fingerprint and a hash of the prompt and text it came
from, so any process on any host — a second web process, a new host, a restart after the index
directory was lost, a restored backup — loads it instead of encoding again; a hash that differs
from the row's current text marks the vector stale. Every change to a searchable row also writes
an `EmbeddingJob` (see `matcher.db`); workers claim jobs, encode, and store.

Storing is the one place where races between encoders are settled. Under a per-row lock
(PostgreSQL advisory locks, taken in a fixed order; SQLite's single writer), it first deletes the
jobs of those rows that no one else holds, then reads each row's text again and stores a vector
only when it was computed from that very text; a row whose text changed since it was encoded is
put back in the queue. So a stored vector is never older than the row's text at the time, a job
is never dropped unless its text got a vector, and two workers holding the same row cannot
overwrite a newer vector with an older one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from matcher.documents import COLLECTIONS, Document, indexable_documents
from matcher.models import EmbeddingJob, EmbeddingVector, IndexOutbox, utcnow

ROLE_DOCUMENT = "document"
ROLE_QUERY = "query"
# Rows that are also matched *as queries*: a need against the research results (its text under
# the query prompt). Their query vector is computed with the document one, off the request path.
QUERY_COLLECTIONS = ("needs",)
CHUNK = 1000
MAX_ATTEMPTS = 5
# advisory-lock class ids (the two-int form): one per collection, unlikely to collide with others
_LOCK_CLASS = {name: 0x64750000 + i for i, name in enumerate(COLLECTIONS)}
Progress = Callable[[int, int], None]


def text_hash(prompt: str, text: str) -> str:
    return hashlib.sha256(f"{prompt}\x1f{text}".encode()).hexdigest()[:32]


def pack(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def unpack(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")


@dataclass(frozen=True)
class Model:
    """What a stored vector is keyed by: the model's fingerprint; its prompts go into the hash."""

    fingerprint: str
    dim: int
    document_prompt: str
    query_prompt: str

    @classmethod
    def of(cls, encoder: Any) -> Model:
        return cls(encoder.fingerprint, encoder.dim, encoder.document_prompt, encoder.query_prompt)

    def roles(self, collection: str) -> tuple[str, ...]:
        if collection in QUERY_COLLECTIONS:
            return (ROLE_DOCUMENT, ROLE_QUERY)
        return (ROLE_DOCUMENT,)

    def hash(self, role: str, text_: str) -> str:
        return text_hash(self.query_prompt if role == ROLE_QUERY else self.document_prompt, text_)


@dataclass(frozen=True)
class Scope:
    """Which queued jobs an encoder takes: those naming its model, and — when it serves the
    configured model (workers, web processes) — those naming none. A run preparing another
    model (`duijie index prepare`) takes only its own."""

    fingerprint: str
    default_model: bool = True

    def clause(self) -> Any:
        named = col(EmbeddingJob.fingerprint) == self.fingerprint
        return (col(EmbeddingJob.fingerprint).is_(None) | named) if self.default_model else named

    @property
    def requeue_as(self) -> str | None:
        return None if self.default_model else self.fingerprint


@dataclass
class Encoded:
    collection: str
    item_id: int
    vectors: dict[str, tuple[str, np.ndarray]]  # role → (text hash, vector)
    tokens: list[str] | None = None  # the text's lexical tokens (when a lexer was given)
    tokenizer: str | None = None


@dataclass(frozen=True)
class Stored:
    """A stored document vector, with the tokens kept beside it (None: from another tokenizer)."""

    hash: str
    vector: np.ndarray
    tokens: list[str] | None = None


@dataclass
class StoreResult:
    stored: list[tuple[str, int]] = field(default_factory=list)
    requeued: int = 0
    gone: int = 0  # no longer searchable: nothing to store


@dataclass(frozen=True)
class Job:
    id: int
    collection: str
    item_id: int


# --- reading -------------------------------------------------------------------------------


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def stored_vectors(
    session: Session,
    fingerprint: str,
    collection: str,
    ids: list[int] | None = None,
    role: str = ROLE_DOCUMENT,
    *,
    tokenizer: str | None = None,
) -> dict[int, Stored]:
    """id → the stored vector (all of the collection when ids is None); with `tokenizer`, also
    the tokens stored beside it when they come from that tokenizer."""
    columns = [
        col(EmbeddingVector.item_id),
        col(EmbeddingVector.text_hash),
        col(EmbeddingVector.vector),
    ]
    if tokenizer is not None:
        columns += [col(EmbeddingVector.tokens), col(EmbeddingVector.tokenizer)]
    base = select(*columns).where(
        col(EmbeddingVector.fingerprint) == fingerprint,
        col(EmbeddingVector.collection) == collection,
        col(EmbeddingVector.role) == role,
    )
    out: dict[int, Stored] = {}
    batches = [None] if ids is None else list(_chunks(ids))
    for chunk in batches:
        stmt = base if chunk is None else base.where(col(EmbeddingVector.item_id).in_(chunk))
        for row in session.connection().execute(stmt):
            values: tuple[Any, ...] = tuple(row)
            tokens = None
            if tokenizer is not None and values[4] == tokenizer and values[3] is not None:
                tokens = json.loads(values[3])
            out[int(values[0])] = Stored(values[1], unpack(values[2]), tokens)
    return out


def stored_hashes(
    session: Session,
    fingerprint: str,
    collection: str,
    ids: list[int] | None = None,
    role: str = ROLE_DOCUMENT,
) -> dict[int, str]:
    base = select(col(EmbeddingVector.item_id), col(EmbeddingVector.text_hash)).where(
        col(EmbeddingVector.fingerprint) == fingerprint,
        col(EmbeddingVector.collection) == collection,
        col(EmbeddingVector.role) == role,
    )
    out: dict[int, str] = {}
    batches = [None] if ids is None else list(_chunks(ids))
    for chunk in batches:
        stmt = base if chunk is None else base.where(col(EmbeddingVector.item_id).in_(chunk))
        for item_id, hash_ in session.connection().execute(stmt):
            out[int(item_id)] = hash_
    return out


def query_vector(
    session: Session, model: Model, collection: str, item_id: int, text_: str
) -> np.ndarray | None:
    """The stored query vector of a row (a need), when it was computed from this text."""
    found = stored_vectors(session, model.fingerprint, collection, [item_id], ROLE_QUERY)
    hit = found.get(item_id)
    if hit is None or hit.hash != model.hash(ROLE_QUERY, text_):
        return None
    return hit.vector


def needing_vectors(
    session: Session, model: Model, collection: str, documents: list[Document]
) -> list[Document]:
    """The documents some of whose vectors are missing or were computed from another text."""
    ids = [d.id for d in documents]
    todo: dict[int, Document] = {}
    for role in model.roles(collection):
        hashes = stored_hashes(session, model.fingerprint, collection, ids, role)
        for d in documents:
            if hashes.get(d.id) != model.hash(role, d.text):
                todo[d.id] = d
    return [d for d in documents if d.id in todo]


# --- encoding ------------------------------------------------------------------------------


def encode(
    encoder: Any,
    model: Model,
    items: list[tuple[str, Document]],
    progress: Progress | None = None,
    lexer: Any = None,
) -> list[Encoded]:
    """Every vector of these documents (the query vector too where the collection has one),
    and their lexical tokens when a lexer is given."""
    if not items:
        return []
    texts = [d.text for _, d in items]
    total = len(items) + sum(1 for c, _ in items if c in QUERY_COLLECTIONS)
    say = progress or (lambda _done, _total: None)
    documents = np.asarray(
        encoder.encode_documents(texts, progress=lambda done, _t: say(done, total))
    )
    query_rows = [i for i, (c, _) in enumerate(items) if c in QUERY_COLLECTIONS]
    queries = (
        np.asarray(
            encoder.encode_queries(
                [texts[i] for i in query_rows],
                progress=lambda done, _t: say(len(items) + done, total),
            )
        )
        if query_rows
        else np.zeros((0, model.dim), np.float32)
    )
    out = [
        Encoded(c, d.id, {ROLE_DOCUMENT: (model.hash(ROLE_DOCUMENT, d.text), documents[i])})
        for i, (c, d) in enumerate(items)
    ]
    for row, i in enumerate(query_rows):
        out[i].vectors[ROLE_QUERY] = (model.hash(ROLE_QUERY, texts[i]), queries[row])
    if lexer is not None:
        for e, tokens in zip(out, lexer.tokens_many(texts), strict=True):
            e.tokens, e.tokenizer = tokens, lexer.fingerprint
    return out


# --- writing -------------------------------------------------------------------------------


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _lock_rows(session: Session, keys: list[tuple[str, int]]) -> None:
    """Per-row advisory locks until the transaction ends, in one fixed order (no deadlock)."""
    pairs = sorted({(_LOCK_CLASS[c], i) for c, i in keys})
    if not pairs:
        return
    session.connection().execute(
        text(
            "SELECT count(pg_advisory_xact_lock(k, i)) FROM "
            "(SELECT k, i FROM unnest(CAST(:ks AS int[]), CAST(:ids AS int[])) AS u(k, i) "
            "ORDER BY k, i) AS ordered"
        ),
        {"ks": [k for k, _ in pairs], "ids": [i for _, i in pairs]},
    )


def enqueue(
    session: Session, collection: str, ids: Iterable[int], fingerprint: str | None = None
) -> int:
    rows = [
        {"collection": collection, "item_id": i, "fingerprint": fingerprint, "attempts": 0,
         "created_at": utcnow()}
        for i in ids
    ]  # fmt: skip
    for start in range(0, len(rows), CHUNK):
        session.connection().execute(insert(EmbeddingJob), rows[start : start + CHUNK])
    return len(rows)


def claim_jobs(session: Session, scope: Scope, limit: int) -> list[Job]:
    """The oldest queued jobs this encoder takes; on PostgreSQL locked for this transaction and
    skipped by every other worker (a worker that dies releases them with its connection)."""
    stmt = (
        select(col(EmbeddingJob.id), col(EmbeddingJob.collection), col(EmbeddingJob.item_id))
        .where(scope.clause(), col(EmbeddingJob.attempts) < MAX_ATTEMPTS)
        .order_by(col(EmbeddingJob.id))
        .limit(limit)
    )
    if _is_pg(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return [Job(int(a or 0), b, int(c)) for a, b, c in session.connection().execute(stmt)]


def count_jobs(session: Session, *, after_id: int = 0, up_to: int | None = None) -> int:
    from sqlalchemy import func

    stmt = select(func.count()).select_from(EmbeddingJob).where(col(EmbeddingJob.id) > after_id)
    if up_to is not None:
        stmt = stmt.where(col(EmbeddingJob.id) <= up_to)
    return int(session.connection().execute(stmt).scalar() or 0)


def queued_items(session: Session, *, after_id: int, up_to: int) -> int:
    """Distinct rows with jobs among ids after_id..up_to (what one import queued, say)."""
    from sqlalchemy import func

    inner = (
        select(col(EmbeddingJob.collection), col(EmbeddingJob.item_id))
        .where(col(EmbeddingJob.id) > after_id, col(EmbeddingJob.id) <= up_to)
        .distinct()
        .subquery()
    )
    return int(session.connection().execute(select(func.count()).select_from(inner)).scalar() or 0)


def queued_for(session: Session, collection: str, ids: list[int], fingerprint: str) -> set[int]:
    """Which of these rows have a job an encoder of this model would still take."""
    out: set[int] = set()
    scope = Scope(fingerprint)
    for chunk in _chunks(ids):
        out.update(
            int(i)
            for i in session.connection().scalars(
                select(col(EmbeddingJob.item_id)).where(
                    col(EmbeddingJob.collection) == collection,
                    col(EmbeddingJob.item_id).in_(chunk),
                    scope.clause(),
                    col(EmbeddingJob.attempts) < MAX_ATTEMPTS,
                )
            )
        )
    return out


def last_job_id(session: Session) -> int:
    from sqlalchemy import func

    return int(session.connection().execute(select(func.max(EmbeddingJob.id))).scalar() or 0)


def count_attempt(session: Session, job_ids: list[int]) -> None:
    """A batch that failed to encode: its jobs count one more try (given up after MAX_ATTEMPTS)."""
    if job_ids:
        session.connection().execute(
            update(EmbeddingJob)
            .where(col(EmbeddingJob.id).in_(job_ids))
            .values(attempts=EmbeddingJob.attempts + 1)
        )


def store_vectors(
    session: Session,
    model: Model,
    encoded: list[Encoded],
    *,
    scope: Scope,
    claimed: Sequence[int] = (),
) -> StoreResult:
    """Store what was encoded, in the caller's write transaction (see the module docstring)."""
    result = StoreResult()
    conn = session.connection()
    pg = _is_pg(session)
    by_collection: dict[str, list[Encoded]] = {}
    for e in encoded:
        by_collection.setdefault(e.collection, []).append(e)
    if pg:
        _lock_rows(session, [(e.collection, e.item_id) for e in encoded])
    if claimed:
        for chunk in _chunks(list(claimed)):
            conn.execute(delete(EmbeddingJob).where(col(EmbeddingJob.id).in_(chunk)))
    for collection, items in by_collection.items():
        ids = [e.item_id for e in items]
        for chunk in _chunks(ids):
            mine = select(col(EmbeddingJob.id)).where(
                col(EmbeddingJob.collection) == collection,
                col(EmbeddingJob.item_id).in_(chunk),
                scope.clause(),
            )
            if pg:  # a job another worker holds is its own: it will store the same text or newer
                mine = mine.with_for_update(skip_locked=True)
            conn.execute(
                delete(EmbeddingJob).where(col(EmbeddingJob.id).in_(mine.scalar_subquery()))
            )
        current = {d.id: d.text for d in indexable_documents(session, collection, ids)}
        rows = []
        requeue = []
        for e in items:
            text_ = current.get(e.item_id)
            if text_ is None:
                result.gone += 1
                continue
            if any(model.hash(role, text_) != h for role, (h, _v) in e.vectors.items()):
                requeue.append(e.item_id)
                continue
            now = utcnow()
            for role, (hash_, vector) in e.vectors.items():
                lexical = role == ROLE_DOCUMENT and e.tokens is not None
                rows.append(
                    {"fingerprint": model.fingerprint, "collection": collection,
                     "item_id": e.item_id, "role": role, "text_hash": hash_, "dim": model.dim,
                     "vector": pack(vector), "updated_at": now,
                     "tokens": json.dumps(e.tokens, ensure_ascii=False) if lexical else None,
                     "tokenizer": e.tokenizer if lexical else None}
                )  # fmt: skip
            result.stored.append((collection, e.item_id))
        for start in range(0, len(rows), CHUNK):
            _upsert(session, rows[start : start + CHUNK], pg)
        if requeue:
            result.requeued += enqueue(session, collection, requeue, scope.requeue_as)
    stored = [
        {"collection": c, "item_id": i, "fingerprint": model.fingerprint, "created_at": utcnow()}
        for c, i in result.stored
    ]
    for start in range(0, len(stored), CHUNK):
        conn.execute(insert(IndexOutbox), stored[start : start + CHUNK])
    return result


def _upsert(session: Session, rows: list[dict[str, Any]], pg: bool) -> None:
    if not rows:
        return
    dialect_insert = postgresql.insert if pg else sqlite.insert
    stmt = dialect_insert(EmbeddingVector).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["fingerprint", "collection", "item_id", "role"],
        set_={
            "text_hash": stmt.excluded.text_hash,
            "dim": stmt.excluded.dim,
            "vector": stmt.excluded.vector,
            "tokens": stmt.excluded.tokens,
            "tokenizer": stmt.excluded.tokenizer,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    session.connection().execute(stmt)


def missing_for_model(session: Session, model: Model, collection: str) -> list[int]:
    """Searchable rows of a collection without a current vector for this model and no job
    queued for it yet (what a new model, or an upgrade from before stored vectors, must encode)."""
    documents = indexable_documents(session, collection)
    todo = needing_vectors(session, model, collection, documents)
    if not todo:
        return []
    queued = {
        int(i)
        for i in session.connection().scalars(
            select(col(EmbeddingJob.item_id)).where(
                col(EmbeddingJob.collection) == collection,
                (col(EmbeddingJob.fingerprint).is_(None))
                | (col(EmbeddingJob.fingerprint) == model.fingerprint),
                col(EmbeddingJob.attempts) < MAX_ATTEMPTS,
            )
        )
    }
    return [d.id for d in todo if d.id not in queued]


def vector_counts(session: Session) -> dict[str, dict[str, int]]:
    """fingerprint → collection → stored document vectors."""
    from sqlalchemy import func

    out: dict[str, dict[str, int]] = {}
    stmt = (
        select(col(EmbeddingVector.fingerprint), col(EmbeddingVector.collection), func.count())
        .where(col(EmbeddingVector.role) == ROLE_DOCUMENT)
        .group_by(EmbeddingVector.fingerprint, EmbeddingVector.collection)
    )
    for fp, collection, n in session.connection().execute(stmt):
        out.setdefault(fp, {})[collection] = int(n)
    return out
