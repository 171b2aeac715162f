"""Encoding workers: vectors are computed here, never inside a web request.

A worker claims the oldest queued jobs (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so any
number of workers on any number of hosts share the queue without taking the same rows), reads
the rows' current texts, encodes those whose stored vectors are missing or stale in one batch,
and stores the vectors in the same transaction that deletes the jobs (`store.store_vectors`).
A worker killed mid-batch never commits: its jobs are unlocked with its connection and taken by
another. On SQLite (one writer at a time) the jobs are read, encoded without holding the write
lock, then stored in a short write transaction; there the worker is a thread of `duijie serve`."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from matcher.config import Settings, get_settings
from matcher.db import is_sqlite, session_scope
from matcher.documents import COLLECTIONS, Document, indexable_documents
from matcher.embedding import store
from matcher.follow import JOBS_CHANNEL, Loop, Wakeup

_log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    claimed: int = 0
    encoded: int = 0
    stored: int = 0
    requeued: int = 0
    seconds: float = 0.0


class EmbeddingWorker:
    """Takes encoding jobs for one model (see `store.Scope`) and stores their vectors."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings | None = None,
        *,
        encoder: Any = None,
        batch_size: int | None = None,
        scope: store.Scope | None = None,
        on_batch: Callable[[BatchReport], None] | None = None,
        on_claimed: Callable[[list[store.Job]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or get_settings()
        if encoder is None:
            from matcher.embedding.encoder import get_encoder

            encoder = get_encoder(self.settings)
        self.encoder = encoder
        self.model = store.Model.of(encoder)
        from matcher.text import get_lexer

        self.lexer = get_lexer()  # tokens are stored with the vectors: hosts skip jieba too
        self.scope = scope or store.Scope(self.model.fingerprint)
        self.batch_size = batch_size or self.settings.embedding_batch_size
        self.on_batch = on_batch
        self.on_claimed = on_claimed
        self.name = f"duijie-worker {os.getpid()}"
        self.totals = BatchReport()
        self._loop: Loop | None = None

    # --- one batch -----------------------------------------------------------------------------
    def run_batch(self) -> BatchReport | None:
        """Claim, encode and store one batch; None when the queue held nothing for this model."""
        started = time.perf_counter()
        claimed: list[store.Job] = []
        try:
            if is_sqlite(self.engine):
                with self._sqlite_turn() as turn:
                    if not turn:
                        return None
                    with session_scope(self.engine, write=False) as session:
                        claimed, todo = self._claim(session)
                    if not claimed:
                        return None
                    encoded = store.encode(self.encoder, self.model, todo, lexer=self.lexer)
                    with session_scope(self.engine) as session:
                        result = self._store(session, encoded, claimed)
            else:
                with session_scope(self.engine) as session:
                    session.connection().execute(
                        text("SELECT set_config('application_name', :name, false)"),
                        {"name": self.name},
                    )
                    claimed, todo = self._claim(session)
                    if not claimed:
                        return None
                    encoded = store.encode(self.encoder, self.model, todo, lexer=self.lexer)
                    result = self._store(session, encoded, claimed)
        except Exception:
            if claimed:  # the batch rolled back; its jobs count a try (a text that always fails
                # to encode is given up after store.MAX_ATTEMPTS instead of blocking the queue)
                with session_scope(self.engine) as session:
                    store.count_attempt(session, [j.id for j in claimed])
            raise
        report = BatchReport(
            claimed=len(claimed),
            encoded=len(encoded),
            stored=len(result.stored),
            requeued=result.requeued,
            seconds=time.perf_counter() - started,
        )
        for key in ("claimed", "encoded", "stored", "requeued"):
            setattr(self.totals, key, getattr(self.totals, key) + getattr(report, key))
        self.totals.seconds += report.seconds
        _log.info(
            "batch: %d jobs, %d encoded, %d stored, %d requeued in %.2fs",
            report.claimed, report.encoded, report.stored, report.requeued, report.seconds,
        )  # fmt: skip
        if self.on_batch:
            self.on_batch(report)
        return report

    @contextlib.contextmanager
    def _sqlite_turn(self) -> Iterator[bool]:
        """SQLite has no row locks to share a queue by: one batch at a time per database file and
        model across processes (`duijie serve --workers N` runs N embedded workers); a process
        that finds the turn taken skips this round instead of encoding the same rows twice."""
        database = self.engine.url.database
        if not database or database == ":memory:":
            yield True
            return
        name = hashlib.sha256(f"{self.scope}".encode()).hexdigest()[:12]
        with open(f"{database}.encoding-{name}.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _claim(self, session: Session) -> tuple[list[store.Job], list[tuple[str, Document]]]:
        jobs = store.claim_jobs(session, self.scope, self.batch_size)
        if not jobs:
            return [], []
        if self.on_claimed:
            self.on_claimed(jobs)
        by_collection: dict[str, list[int]] = {}
        for job in jobs:
            by_collection.setdefault(job.collection, []).append(job.item_id)
        todo: list[tuple[str, Document]] = []
        for collection, ids in by_collection.items():
            if collection not in COLLECTIONS:
                continue
            documents = indexable_documents(session, collection, sorted(set(ids)))
            todo += [
                (collection, d)
                for d in store.needing_vectors(session, self.model, collection, documents)
            ]
        return jobs, todo

    def _store(
        self, session: Session, encoded: list[store.Encoded], claimed: list[store.Job]
    ) -> store.StoreResult:
        return store.store_vectors(
            session, self.model, encoded, scope=self.scope, claimed=[j.id for j in claimed]
        )

    # --- the queue ---------------------------------------------------------------------------
    def backfill(self) -> int:
        """Queue every searchable row that has no current vector for this model and no job yet:
        what a new model, or a database from before stored vectors, must encode."""
        queued = 0
        with session_scope(self.engine) as session:
            for collection in COLLECTIONS:
                ids = store.missing_for_model(session, self.model, collection)
                queued += store.enqueue(session, collection, ids, self.model.fingerprint)
        return queued

    def drain(self, *, stop: threading.Event | None = None) -> BatchReport:
        """Run batches until the queue holds nothing for this model (or `stop` is set)."""
        while not (stop and stop.is_set()):
            if self.run_batch() is None:
                break
        return self.totals

    def start(self, *, poll_s: float = 2.0) -> Loop:
        """Work in a background thread, woken by new jobs (NOTIFY on PostgreSQL, a poke or
        polling on SQLite)."""
        loop = Loop(
            "duijie-embedding-worker",
            lambda: self.drain(stop=loop.stopping),
            Wakeup(self.engine, JOBS_CHANNEL),
            poll_s=poll_s,
        )
        self._loop = loop.start()
        return loop

    def poke(self) -> None:
        if self._loop is not None:
            self._loop.poke()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
