"""Database engine and sessions: SQLite (WAL) embedded by default, PostgreSQL by setting.

SQLite connections get WAL, a busy timeout and foreign keys. Transactions that write begin with
``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing with "database is locked"
half-way through a read-then-write; read sessions begin deferred and never block writers.

Every change to a searchable row writes an `IndexOutbox` row in the same transaction (see
`_record_outbox`), so the index can always catch up with the database after a crash.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, create_engine

import matcher.tables  # noqa: F401  (every table on the metadata)
from matcher.config import Settings, get_settings
from matcher.errors import StorageError
from matcher.models import (
    EmbeddingJob,
    IndexOutbox,
    InvestorProfile,
    Need,
    Organization,
    Technology,
    utcnow,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN is deferred
    # and placed after the first read, which defeats BEGIN IMMEDIATE).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _sqlite_on_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for the URL, with the SQLite pragmas and begin behaviour described above."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            path = Path(database)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"无法创建数据库目录 {path.parent}：{exc.strerror or exc}"
                ) from exc
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(
        with_psycopg(parsed), echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20
    )


def with_psycopg(url: URL) -> URL:
    """PostgreSQL through psycopg 3 (a bare `postgresql://` URL would ask for psycopg2)."""
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("", "psycopg2"):
        return url.set(drivername="postgresql+psycopg")
    return url


def postgres_url(url: str, *, schema: str | None = None, database: str | None = None) -> str:
    """A PostgreSQL URL for psycopg 3, for another database of the same server and/or with its
    search_path set to one schema (tests and benchmarks each work in a schema of their own)."""
    parsed = with_psycopg(make_url(url))
    if database is not None:
        parsed = parsed.set(database=database)
    if schema is not None:
        parsed = parsed.set(query={**dict(parsed.query), "options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


_ENGINES: dict[str, Engine] = {}


def get_engine(settings: Settings | None = None) -> Engine:
    """The process-wide engine for the configured database (created once per URL)."""
    settings = settings or get_settings()
    url = settings.resolved_database_url
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = make_engine(url)
    return engine


def dispose_engines() -> None:
    """Close pooled connections (tests switch databases; restore replaces files)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def session_scope(engine: Engine | None = None, *, write: bool = True) -> Iterator[Session]:
    """A session that owns its transaction: commit on success, roll back on error.

    Write sessions on SQLite begin IMMEDIATE (take the write lock up front)."""
    engine = engine or get_engine()
    bind = engine.execution_options(sqlite_begin="IMMEDIATE") if write else engine
    session = Session(bind, expire_on_commit=False)
    try:
        yield session
        if write:
            session.commit()
        # A read session just closes: objects stay loaded (detached) for the caller to use.
    except OperationalError as exc:
        session.rollback()
        raise _storage_error(exc) from exc
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def snapshot_session(engine: Engine) -> Iterator[Session]:
    """A read-only session whose statements all see one snapshot of the database: REPEATABLE
    READ on PostgreSQL (a SQLite read transaction already is one). Followers read the outbox,
    the rows and the stored vectors in one, so what they apply is consistent."""
    bind = engine
    if not is_sqlite(engine):
        bind = engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    session = Session(bind, expire_on_commit=False)
    try:
        yield session
    except OperationalError as exc:
        raise _storage_error(exc) from exc
    finally:
        session.rollback()
        session.close()


def _storage_error(exc: OperationalError) -> Exception:
    message = str(exc.orig) if exc.orig else str(exc)
    lowered = message.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return StorageError("数据库是只读的：请检查数据目录的写权限")
    if "disk is full" in lowered or "no space" in lowered:
        return StorageError("磁盘已满：写入未完成，数据库保持原样")
    return exc


# --------------------------------------------------------------------------------------------
# outbox: one row per changed searchable object, in the same flush as the change
# --------------------------------------------------------------------------------------------

_COLLECTION_OF: dict[type, str] = {Technology: "technologies", Need: "needs"}
OUTBOX_WRITTEN = "duijie.outbox_written"  # session.info key: this transaction changed searchables
_RECORDED = (
    "duijie.outbox_recorded"  # session.info key: (collection, id) recorded in this transaction
)


def _collection_and_id(obj: Any) -> tuple[str, int] | None:
    kind = _COLLECTION_OF.get(type(obj))
    if kind is not None and obj.id is not None:
        return kind, obj.id
    if isinstance(obj, InvestorProfile):
        return "investors", obj.organization_id
    if isinstance(obj, Organization) and obj.kind == "investor" and obj.id is not None:
        return "investors", obj.id
    return None


@event.listens_for(OrmSession, "after_flush")
def _record_outbox(session: OrmSession, _flush_context: Any) -> None:
    changes: dict[tuple[str, int], None] = {}
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if obj in session.dirty and not session.is_modified(obj, include_collections=False):
            continue
        key = _collection_and_id(obj)
        if key is not None:
            changes[key] = None
    if any(isinstance(obj, IndexOutbox) for obj in session.new):
        session.info[OUTBOX_WRITTEN] = True  # rows added directly (e.g. a suspension)
    # One row per object and transaction is enough (followers and workers read the committed
    # state): an import that inserts and then updates a row does not queue it twice.
    recorded: set[tuple[str, int]] = session.info.setdefault(_RECORDED, set())
    changes = {key: None for key in changes if key not in recorded}
    if not changes:
        return
    recorded.update(changes)
    session.info[OUTBOX_WRITTEN] = True
    now = utcnow()
    rows = [{"collection": c, "item_id": i, "created_at": now} for c, i in changes]
    session.connection().execute(insert(IndexOutbox), rows)
    # The same change asks for its vectors: a worker computes them off the request path (the
    # job is dropped there at once when the text, and so the stored vector, did not change).
    session.connection().execute(insert(EmbeddingJob), [{**r, "attempts": 0} for r in rows])


@event.listens_for(OrmSession, "after_commit")
@event.listens_for(OrmSession, "after_soft_rollback")
def _forget_recorded(session: OrmSession, *_args: Any) -> None:
    # a new transaction (or a rolled-back savepoint, whose rows are gone) records again
    session.info.pop(_RECORDED, None)


def integrity_check(engine: Engine) -> str:
    """'ok' when the database is structurally sound."""
    with engine.connect() as conn:
        if is_sqlite(engine):
            return str(conn.execute(text("PRAGMA integrity_check")).scalar())
        conn.execute(text("SELECT 1"))
        return "ok"
