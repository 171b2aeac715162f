"""`duijie bench web`: concurrent clients against a live server on loopback.

A server (`duijie serve`, the configured data directory — the demo by default) is started on a
free port; N clients run a closed loop for S seconds, each request chosen at random: the search
fragment (what the search box fetches as the user types) or a technology's detail page followed
by its recommendations fragment (what a person waits for before the page is complete). Queries
are drawn from a pool of enterprise needs and result titles. Errors are counted, never retried."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlmodel import select

from matcher.config import Settings
from matcher.datasets import dataset

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
) -> None:
    pick = zipf_sampler(len(queries), rng)
    if think_s > 0:  # people do not all click at the same instant
        await asyncio.sleep(rng.uniform(0, 2 * think_s))
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
        while time.perf_counter() < until:
            started = time.perf_counter()
            try:
                if rng.random() < 0.5:
                    q = queries[pick()]
                    log["distinct"].add(q)
                    response = await client.get(
                        "/", params={"q": q}, headers={"HX-Request": "true"}
                    )
                    kind = "search"
                    ok = response.status_code == 200
                else:
                    tech = rng.choice(tech_ids)
                    page = await client.get(f"/technologies/{tech}")
                    similar = await client.get(
                        f"/technologies/{tech}/similar", headers={"HX-Request": "true"}
                    )
                    kind = "detail"
                    ok = page.status_code == 200 and similar.status_code == 200
            except httpx.HTTPError:
                kind, ok = "error", False
            elapsed = (time.perf_counter() - started) * 1000
            log["requests"] += 1
            if not ok:
                log["errors"] += 1
            else:
                log[kind].append(elapsed)
            if think_s > 0:  # a person reads the page before the next action
                await asyncio.sleep(rng.expovariate(1.0 / think_s))


async def _drive(
    base: str,
    clients: int,
    seconds: float,
    queries: list[str],
    tech_ids: list[int],
    think_s: float = 0.0,
) -> dict[str, Any]:
    log: dict[str, Any] = {
        "requests": 0,
        "errors": 0,
        "search": [],
        "detail": [],
        "distinct": set(),
    }
    until = time.perf_counter() + seconds
    await asyncio.gather(
        *(
            _client(base, until, random.Random(i), queries, tech_ids, log, think_s)
            for i in range(clients)
        )
    )
    return log


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
    port = _free_port()
    env = {**os.environ, "DUIJIE_HOME": str(settings.home)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
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
        pool = query_pool(queries)
        # A short warm-up, not measured: every worker's first requests compile templates and
        # statements and open connections, which a running site has long done.
        asyncio.run(_drive(base, clients, 5.0, pool[-200:], tech_ids, think_s))
        log = asyncio.run(_drive(base, clients, seconds, pool, tech_ids, think_s))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
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
