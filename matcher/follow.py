"""Following the database from a background thread: web processes keep their index replica
caught up, workers wake for new encoding jobs.

On PostgreSQL, triggers NOTIFY `duijie_index` when outbox rows commit and `duijie_jobs` when jobs
do (see migration 0008): a follower LISTENs on a connection of its own and acts within
milliseconds. Polling stays as the fallback — a notification lost with a dropped connection, a
proxy that does not pass them — so the worst case is one polling interval. On SQLite, the
processes of one data directory poll (and a process wakes its own follower directly)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from matcher.db import is_sqlite

INDEX_CHANNEL = "duijie_index"
JOBS_CHANNEL = "duijie_jobs"
_log = logging.getLogger(__name__)


def libpq_url(engine: Engine) -> str:
    """The engine's database as a libpq connection string (psycopg's own form)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class Wakeup:
    """Wait until something happened or a timeout passed: a NOTIFY on `channel` (PostgreSQL) or
    a `poke()` from this process. A lost connection is reopened on the next wait."""

    def __init__(self, engine: Engine, channel: str) -> None:
        self.engine = engine
        self.channel = channel
        self._event = threading.Event()
        self._conn: Any = None
        self._listen = not is_sqlite(engine)

    def poke(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """True when woken (by a notification or a poke), False after the timeout."""
        if self._event.is_set():
            self._event.clear()
            return True
        if not self._listen:
            woken = self._event.wait(timeout)
            self._event.clear()
            return woken
        try:
            conn = self._connection()
            woken = False
            for _note in conn.notifies(timeout=timeout, stop_after=1):
                woken = True
            if woken:  # many commits, one wake-up
                for _note in conn.notifies(timeout=0.001):
                    pass
            if self._event.is_set():
                self._event.clear()
                woken = True
            return woken
        except Exception as exc:  # the server restarted, the network dropped: poll meanwhile
            _log.warning("LISTEN %s lost (%s); polling until it is back", self.channel, exc)
            self.close()
            woken = self._event.wait(min(timeout, 1.0))
            self._event.clear()
            return woken

    def listen(self) -> None:
        if self._listen:
            try:
                self._connection()
            except Exception as exc:
                _log.warning("LISTEN %s failed (%s); polling", self.channel, exc)

    def _connection(self) -> Any:
        if self._conn is None:
            import psycopg

            conn = psycopg.connect(libpq_url(self.engine), autocommit=True, connect_timeout=10)
            conn.execute(f"LISTEN {self.channel}")
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


class Loop:
    """Run `step` in a daemon thread whenever woken, and at least every `poll_s` seconds."""

    def __init__(
        self, name: str, step: Callable[[], Any], wakeup: Wakeup, *, poll_s: float = 1.0
    ) -> None:
        self.name = name
        self.step = step
        self.wakeup = wakeup
        self.poll_s = poll_s
        self.stopping = threading.Event()  # set by stop(); long steps may check it
        self._thread: threading.Thread | None = None

    def start(self) -> Loop:
        self.wakeup.listen()  # before the first step: nothing committed meanwhile is missed
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def poke(self) -> None:
        self.wakeup.poke()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self.wakeup.poke()
        if self._thread is not None:
            self._thread.join(timeout)
        self.wakeup.close()

    def _run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self.step()
                failures = 0
            except Exception:  # the next round retries; the database keeps every change
                failures += 1
                _log.exception("%s failed", self.name)
                time.sleep(min(30.0, 0.5 * 2**failures))
            if self.stopping.is_set():
                break
            self.wakeup.wait(self.poll_s)


def follow_index(manager: Any, *, poll_s: float = 1.0) -> Loop:
    """Keep an IndexManager caught up: a change committed by any process, on any host, is
    applied here within a notification's latency (polling every `poll_s` at worst)."""
    return Loop(
        "duijie-index-follower",
        manager.catch_up,
        Wakeup(manager.engine, INDEX_CHANNEL),
        poll_s=poll_s,
    ).start()
