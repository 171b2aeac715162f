"""`duijie bench web`: concurrent clients against a live server on loopback.

A server (`duijie serve`, the configured data directory — the demo by default) is started on a
free port; N clients run a closed loop for S seconds, each request chosen at random: the search
fragment (what the search box fetches as the user types) or a technology's detail page followed
by its recommendations fragment (what a person waits for before the page is complete). Queries
are drawn from a pool of enterprise needs and result titles. Errors are counted, never retried."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlmodel import select

from matcher.config import Settings
from tools.datasets import dataset

ZIPF_S = 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def query_pool(size: int, seed: int = 7) -> list[str]:
    """Enterprise needs, result titles and keywords, in a fixed shuffled order (popularity rank)."""
    rng = random.Random(seed)
    with dataset("needs_dev.jsonl").open(encoding="utf-8") as fh:
        needs = [json.loads(line)["query"] for line in fh if line.strip()]
    titles: list[str] = []
    keywords: list[str] = []
    with dataset("csl/docs.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            titles.append(doc["title"])
            keywords.extend(doc.get("keywords") or [])
    pool = list(dict.fromkeys(needs + titles + keywords))
    rng.shuffle(pool)
    return pool[:size]


def zipf_sampler(n: int, rng: random.Random, s: float = ZIPF_S) -> Any:
    """Search traffic is Zipf-like: a few queries are frequent, most are rare."""
    weights = np.array([1.0 / (r**s) for r in range(1, n + 1)])
    cumulative = np.cumsum(weights / weights.sum())
    return lambda: int(np.searchsorted(cumulative, rng.random()))


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "count": 0}
    arr = np.asarray(samples)
    out: dict[str, float] = {f"p{p}": round(float(np.percentile(arr, p)), 1) for p in (50, 95, 99)}
    out["count"] = len(samples)
    return out


async def _client(
    base: str,
    until: float,
    rng: random.Random,
    queries: list[str],
    tech_ids: list[int],
    log: dict[str, Any],
    think_s: float,
    tokens: list[str] | None = None,
) -> None:
    """One person. With `tokens` (the mixed workload) a fifth of the actions write: posting a
    need, or expressing interest in a result, through the API as a signed-in enterprise."""
    pick = zipf_sampler(len(queries), rng)
    if think_s > 0:  # people do not all click at the same instant
        await asyncio.sleep(rng.uniform(0, 2 * think_s))
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
        while time.perf_counter() < until:
            started = time.perf_counter()
            roll = rng.random()
            try:
                if tokens and roll >= 0.8:
                    headers = {"Authorization": f"Bearer {rng.choice(tokens)}"}
                    if roll < 0.9:
                        kind = "create_need"
                        response = await client.post(
                            "/api/v1/my/needs",
                            headers=headers,
                            json={
                                "title": f"压测需求 {rng.randrange(10**6)}",
                                "description": queries[pick()][:500] or "需要技术支持",
                                "kind": "tech",
                            },
                        )
                        ok = response.status_code == 201
                    else:
                        kind = "interest"
                        response = await client.post(
                            "/api/v1/interests",
                            headers=headers,
                            json={
                                "technology_id": rng.choice(tech_ids),
                                "message": "希望进一步了解",
                            },
                        )
                        ok = response.status_code in (201, 409)  # 409: already expressed
                    if response.status_code >= 500:
                        log["5xx"] += 1
                elif roll < 0.5:
                    q = queries[pick()]
                    log["distinct"].add(q)
                    response = await client.get(
                        "/", params={"q": q}, headers={"HX-Request": "true"}
                    )
                    kind = "search"
                    ok = response.status_code == 200
                    log["5xx"] += response.status_code >= 500
                else:
                    tech = rng.choice(tech_ids)
                    page = await client.get(f"/technologies/{tech}")
                    similar = await client.get(
                        f"/technologies/{tech}/similar", headers={"HX-Request": "true"}
                    )
                    kind = "detail"
                    ok = page.status_code == 200 and similar.status_code == 200
                    log["5xx"] += max(page.status_code, similar.status_code) >= 500
            except httpx.HTTPError:
                kind, ok = "error", False
            elapsed = (time.perf_counter() - started) * 1000
            log["requests"] += 1
            if not ok:
                log["errors"] += 1
            else:
                log[kind].append(elapsed)
                log["all"].append(elapsed)
            if think_s > 0:  # a person reads the page before the next action
                await asyncio.sleep(rng.expovariate(1.0 / think_s))


async def _drive(
    base: str,
    clients: int,
    seconds: float,
    queries: list[str],
    tech_ids: list[int],
    think_s: float = 0.0,
    tokens: list[str] | None = None,
) -> dict[str, Any]:
    log: dict[str, Any] = {
        "requests": 0, "errors": 0, "5xx": 0, "search": [], "detail": [], "create_need": [],
        "interest": [], "all": [], "distinct": set(),
    }  # fmt: skip
    until = time.perf_counter() + seconds
    await asyncio.gather(
        *(
            _client(base, until, random.Random(i), queries, tech_ids, log, think_s, tokens)
            for i in range(clients)
        )
    )
    return log


def stop_group(proc: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM to the process and its children (its own session), SIGKILL after ``timeout``."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def serve(home: Path, workers: int, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`duijie serve` on a free loopback port for the data directory `home`; yields its URL."""
    port = _free_port()
    env = {**os.environ, "DUIJIE_HOME": str(home), **(extra_env or {})}
    server = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            if server.poll() is not None:
                raise RuntimeError(
                    "server exited: "
                    + (server.stderr.read().decode()[-2000:] if server.stderr else "")
                )
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        yield base
    finally:
        stop_group(server, timeout=30)


def run(
    settings: Settings,
    *,
    clients: int = 20,
    seconds: float = 30.0,
    workers: int = 2,
    queries: int = 5000,
    think_s: float = 1.0,
) -> dict[str, Any]:
    from matcher.db import get_engine, session_scope
    from matcher.models import Technology

    engine = get_engine(settings)
    with session_scope(engine, write=False) as session:
        tech_ids = [
            i
            for i in session.exec(
                select(Technology.id).where(Technology.status == "published")
            ).all()
            if i
        ]
    if not tech_ids:
        from matcher.errors import DomainError

        raise DomainError("数据库中没有已发布的成果：请先运行 duijie demo-data")
    pool = query_pool(queries)
    with serve(settings.home, workers) as base:
        # A short warm-up, not measured: every worker's first requests compile templates and
        # statements and open connections, which a running site has long done.
        asyncio.run(_drive(base, clients, 5.0, pool[-200:], tech_ids, think_s))
        log = asyncio.run(_drive(base, clients, seconds, pool, tech_ids, think_s))
    return {
        "clients": clients,
        "seconds": seconds,
        "workers": workers,
        "think_s": think_s,
        "requests": log["requests"],
        "errors": log["errors"],
        "requests_per_s": round(log["requests"] / seconds, 1),
        "endpoints": {"search": percentiles(log["search"]), "detail": percentiles(log["detail"])},
        "query_pool": len(pool),
        "distinct_queries": len(log["distinct"]),
        "note": (
            f"each client is a person: after each answer it waits a random think time (mean {think_s:g} s, "
            f"exponential; 0 = a closed loop with no pause); search queries drawn Zipf-like (s={ZIPF_S}) from {len(pool)} needs, titles and keywords; "
            "a repeated query reuses its ranking from the result cache (rows are always re-read)"
        ),
    }


def _level(log: dict[str, Any], clients: int, seconds: float) -> dict[str, Any]:
    total = max(log["requests"], 1)
    return {
        "clients": clients,
        "requests": log["requests"],
        "requests_per_s": round(log["requests"] / seconds, 1),
        "errors": log["errors"],
        "error_rate": round(log["errors"] / total, 5),
        "5xx": log["5xx"],
        "latency_ms": percentiles(log["all"]),
        "by_action": {
            k: percentiles(log[k])["p95"] for k in ("search", "detail", "create_need", "interest")
        },
    }


@contextlib.contextmanager
def embedding_worker(home: Path, extra_env: dict[str, str]) -> Iterator[None]:
    """`duijie worker` for the data directory `home` (PostgreSQL: encoding is its job)."""
    env = {**os.environ, "DUIJIE_HOME": str(home), **extra_env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "worker"], env=env,
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        yield
    finally:
        stop_group(proc, timeout=60)


@contextlib.contextmanager
def _pg_copy(settings: Settings, backup_dir: Path, home: Path) -> Iterator[Settings]:
    """A new PostgreSQL database on the same server, restored from the backup; dropped after."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from matcher import backup as backups
    from matcher.db import make_engine

    url = make_url(settings.resolved_database_url)
    name = f"duijie_bench_web_{os.getpid()}_{int(time.time())}"
    admin = make_engine(url.render_as_string(hide_password=False)).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    copy = settings.model_copy(
        update={
            "home": home,
            "database_url": url.set(database=name).render_as_string(hide_password=False),
        }
    )
    try:
        backups.restore(copy, backup_dir)
        yield copy
    finally:
        from matcher.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.engine.dispose()


def _bench_home(root: Path, name: str, settings: Settings) -> Path:
    home = root / name
    home.mkdir()
    (home / "models").symlink_to(settings.models_dir.resolve(), target_is_directory=True)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    (home / "cache").symlink_to(settings.cache_dir.resolve(), target_is_directory=True)
    return home


def run_ramp(
    settings: Settings,
    *,
    levels: list[int],
    seconds: float = 15.0,
    workers: int = 2,
    think_s: float = 0.0,
    max_p99_ms: float = 1000.0,
    max_error_rate: float = 0.001,
) -> dict[str, Any]:
    """The mixed workload (search 50%, detail with recommendations 30%, post a need 10%, express
    interest 10%) at rising concurrency until errors, a 5xx or p99 > 1 s. It runs on a copy of
    the data (made with `duijie backup` / `restore`), so the writes never reach it.

    On PostgreSQL the copy is a new database on the same server, vectors are computed by one
    `duijie worker` process, and the ramp runs twice in the same run: with one web process and
    with `workers` web processes, so the figures compare."""
    from matcher import backup as backups
    from matcher.db import get_engine

    sqlite = settings.resolved_database_url.startswith("sqlite")
    with tempfile.TemporaryDirectory(prefix="duijie-bench-web-") as tmp:
        root = Path(tmp)
        backups.backup(settings, get_engine(settings), root / "backup")
        if sqlite:
            home = _bench_home(root, "home", settings)
            copy = settings.model_copy(update={"home": home, "database_url": None})
            backups.restore(copy, root / "backup")
            return _ramp(copy, levels, seconds, workers, think_s, max_p99_ms, max_error_rate)
        configurations = []
        for processes in dict.fromkeys((1, workers)):
            home = _bench_home(root, f"home-{processes}", settings)
            with _pg_copy(settings, root / "backup", home) as copy:
                configurations.append(
                    _ramp(copy, levels, seconds, processes, think_s, max_p99_ms, max_error_rate)
                )
        main = configurations[-1]
        main["database"] = "postgresql"
        main["worker_processes"] = 1
        main["single_process"] = configurations[0] if len(configurations) > 1 else None
        return main


def _ramp(
    copy: Settings,
    levels: list[int],
    seconds: float,
    workers: int,
    think_s: float,
    max_p99_ms: float,
    max_error_rate: float,
) -> dict[str, Any]:
    from matcher import accounts
    from matcher.db import make_engine, session_scope
    from matcher.errors import DomainError
    from matcher.models import Technology, User

    home = copy.home
    sqlite = copy.resolved_database_url.startswith("sqlite")
    engine = make_engine(copy.resolved_database_url)
    with session_scope(engine) as session:
        tech_ids = [
            i
            for i in session.exec(
                select(Technology.id).where(Technology.status == "published")
            ).all()
            if i
        ]
        users = session.exec(
            select(User).where(User.role == "enterprise", User.organization_id != None)  # noqa: E711
        ).all()[:40]
        tokens = [accounts.new_api_token(session=session, user=u, name="bench") for u in users]
    engine.dispose()
    if not tech_ids or not tokens:
        raise DomainError("数据目录中没有成果或企业账号：请先运行 duijie demo-data")
    pool = query_pool(5000)
    results: list[dict[str, Any]] = []
    held: dict[str, Any] | None = None
    env = {"DUIJIE_DATABASE_URL": "" if sqlite else copy.resolved_database_url}
    encoder = contextlib.nullcontext() if sqlite else embedding_worker(home, env)
    with encoder, serve(home, workers, env) as base:
        asyncio.run(_drive(base, 4, 5.0, pool[-200:], tech_ids, think_s, tokens))
        for clients in levels:
            log = asyncio.run(_drive(base, clients, seconds, pool, tech_ids, think_s, tokens))
            level = _level(log, clients, seconds)
            level["held"] = (
                level["error_rate"] < max_error_rate
                and level["5xx"] == 0
                and level["latency_ms"]["p99"] <= max_p99_ms
            )
            results.append(level)
            if not level["held"]:
                break
            held = level
    return {
        "workload": "search 50% · detail+recommendations 30% · create need 10% · express interest 10%",
        "seconds_per_level": seconds,
        "workers": workers,
        "think_s": think_s,
        "criteria": f"errors < {max_error_rate:.1%}, no 5xx, p99 ≤ {max_p99_ms:g} ms",
        "levels": results,
        "held": {
            "clients": held["clients"], "requests_per_s": held["requests_per_s"],
            "p99_ms": held["latency_ms"]["p99"],
        } if held else None,
    }  # fmt: skip
