"""`duijie bench ingest`: how fast written documents become searchable on every host, and how
fast a new host is ready — from stored vectors, against encoding everything again.

On a fresh schema of a PostgreSQL database, two `duijie serve` processes with data directories
of their own stand in for two hosts. N research results (the 2,000 CSL abstracts, varied so that
every text is distinct and really encoded) are imported as catalogs of 1,000 rows, half of them
while one `duijie worker` runs, half while two do (the cores split between them). The clock runs
from the first import until both hosts have every document in their index. Then a third host
starts on a new data directory (its ready time, and how many documents it encoded: none), and
the same catalog is indexed by `duijie index rebuild` on another new data directory after the
stored vectors are deleted — what a new host had to do before vectors were stored. All in one
run, so the figures compare."""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from matcher import vocab
from matcher.config import Settings
from matcher.db import postgres_url
from tools.bench.cluster import (
    Process,
    WebHost,
    spawn,
    start_web,
    start_worker,
    stopping,
    wait_until,
)
from tools.datasets import dataset

CATALOG_ROWS = 1000
UNIVERSITIES = 40
Progress = Callable[[str, float], None]
NOTE = (
    "docs_per_s: documents of the round / seconds from its first import until both hosts "
    "have all of them in their index (write_s: the imports alone). Fresh host: process start "
    "to ready with every document (stored vectors) vs `duijie index rebuild` on a new data "
    "directory after deleting the stored vectors (what a new host did before); both include "
    "starting Python and loading the model."
)


def _documents(n: int) -> list[dict[str, Any]]:
    """N distinct research results from the CSL abstracts: variant k of abstract i borrows a
    sentence of another abstract, so no two texts (and no two vectors) are the same."""
    with dataset("csl/docs.jsonl").open(encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh if line.strip()]
    rng = random.Random(2026)
    out = []
    for i in range(n):
        base = docs[i % len(docs)]
        variant = i // len(docs)
        summary = base["abstract"]
        if variant:
            other = docs[rng.randrange(len(docs))]["abstract"]
            summary = f"{summary}{other.split('.')[0][:80]}。（第{variant + 1}版）"
        out.append(
            {
                "code": f"B{i:06d}",
                "title": base["title"] + (f"（第{variant + 1}版）" if variant else ""),
                "summary": summary,
                "keywords": "；".join(base.get("keywords") or []),
                "field": vocab.TECH_FIELDS[i % len(vocab.TECH_FIELDS)],
                "owner": f"基准测试大学{i % UNIVERSITIES:02d}",
            }
        )
    return out


def _catalog(rows: list[dict[str, Any]]) -> bytes:
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    lines = ["编号,成果名称,所属单位,技术领域,成果简介,关键词,成熟度,合作方式"]
    for r in rows:
        fields = [r["code"], cell(r["title"]), r["owner"], r["field"], cell(r["summary"])]
        lines.append(",".join([*fields, cell(r["keywords"]), "5", "转让"]))
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Bench:
    """One run's database schema, environment for the processes, and their data directories."""

    settings: Settings
    engine: Engine
    env: dict[str, str]
    homes: Path
    say: Progress

    def home(self, name: str) -> Path:
        """A process's data directory, sharing the built models."""
        path = self.homes / name
        path.mkdir(parents=True, exist_ok=True)
        link = path / "models"
        if not link.exists():
            link.symlink_to(self.settings.models_dir.resolve(), target_is_directory=True)
        return path

    def import_technologies(self, rows: list[dict[str, Any]], filename: str) -> None:
        from matcher.catalog import import_catalog

        import_catalog(
            engine=self.engine, kind="technologies", data=_catalog(rows), filename=filename,
            settings=self.settings,
        )  # fmt: skip


def run(
    settings: Settings,
    *,
    n: int,
    model: str | None = None,
    database_url: str | None = None,
    work_dir: Path,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Both rounds, the fresh host and the re-encoding baseline, on a temporary schema that is
    dropped afterwards."""
    from matcher.db import make_engine
    from matcher.errors import DomainError
    from matcher.migrate import upgrade

    say = progress or (lambda _m, _f: None)
    url = database_url or settings.resolved_database_url
    if not url.startswith("postgresql"):
        raise DomainError(
            "bench ingest 需要 PostgreSQL：设置 DUIJIE_DATABASE_URL 或 --database-url（它在其中新建一个临时 schema）"
        )
    model = model or settings.embedding_model
    cores = os.cpu_count() or 1
    schema = f"bench_ingest_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    bench_url = postgres_url(url, schema=schema)
    engine = make_engine(bench_url)
    work_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "DUIJIE_DATABASE_URL": bench_url,
        "DUIJIE_EMBEDDING_MODEL": model,
        "DUIJIE_EMBEDDED_WORKER": "off",
        "DUIJIE_SECRET_KEY": uuid.uuid4().hex * 2,
    }
    bench = Bench(settings, engine, env, work_dir, say)
    try:
        upgrade(engine)
        _import_universities(bench)
        documents = _documents(n)
        halves = [documents[: n // 2], documents[n // 2 :]]
        result: dict[str, Any] = {
            "n": n, "model": model, "cores": cores, "database": "postgresql",
            "catalog_rows": CATALOG_ROWS, "rounds": [],
        }  # fmt: skip
        with stopping([]) as running:
            say("启动两台主机", 0.0)
            hosts = [start_web(f"host-{h}", bench.home(f"host-{h}"), env) for h in "ab"]
            running.extend(hosts)
            total = 0
            for workers_count, rows in zip((1, 2), halves, strict=True):
                total += len(rows)
                result["rounds"].append(
                    _measure_round(bench, running, hosts, workers_count, rows, total, cores)
                )
            encoded_by_hosts = sum(h.index()["documents_encoded"] for h in hosts)
            from_stored, fresh_info = _time_fresh_host(bench, running, n)
        reencode = _time_reencoding(bench)
        result["fresh_host"] = {
            "documents": n,
            "from_stored_vectors_s": round(from_stored, 2),
            "from_stored_vectors_documents_encoded": fresh_info["documents_encoded"],
            "from_stored_vectors_loaded": fresh_info["loaded_vectors"],
            "re_encoding_s": round(reencode, 2),
            "speedup": round(reencode / max(from_stored, 1e-6), 1),
        }
        result["documents_encoded_by_web_hosts"] = encoded_by_hosts
        result["note"] = NOTE
        return result
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _import_universities(bench: Bench) -> None:
    from matcher.catalog import import_catalog

    orgs = "单位名称,单位类型\n" + "".join(
        f"基准测试大学{i:02d},高校\n" for i in range(UNIVERSITIES)
    )
    import_catalog(
        engine=bench.engine,
        kind="organizations",
        data=orgs.encode(),
        filename="o.csv",
        settings=bench.settings,
    )


def _measure_round(
    bench: Bench,
    running: list[Any],
    hosts: list[WebHost],
    workers_count: int,
    rows: list[dict[str, Any]],
    total: int,
    cores: int,
) -> dict[str, Any]:
    """Import ``rows`` while ``workers_count`` workers run, until both hosts can search all
    ``total`` documents; the workers are stopped afterwards."""
    threads = max(1, cores // workers_count)
    workers = [
        start_worker(f"worker-{workers_count}-{i}", bench.home(f"worker-{i}"), bench.env,
                     batch_size=64, threads=threads)
        for i in range(workers_count)
    ]  # fmt: skip
    running.extend(workers)
    _wait_listening(workers)
    started = time.monotonic()
    for start in range(0, len(rows), CATALOG_ROWS):
        chunk = rows[start : start + CATALOG_ROWS]
        bench.import_technologies(chunk, f"c{start}.csv")
        bench.say(f"{workers_count} 个 worker：写入 {start + len(chunk)}/{len(rows)}",
                  (start + len(chunk)) / len(rows))  # fmt: skip
    written = time.monotonic() - started
    on_host = _until_all(hosts, total, started, bench.say, f"{workers_count} 个 worker")
    elapsed = max(on_host.values())
    for worker in workers:
        worker.stop()
        running.remove(worker)
    return {
        "workers": workers_count,
        "threads_per_worker": threads,
        "documents": len(rows),
        "write_s": round(written, 2),
        "searchable_on_both_s": round(elapsed, 2),
        "searchable_s_per_host": {k: round(v, 2) for k, v in on_host.items()},
        "lag_after_last_write_s": round(elapsed - written, 2),
        "docs_per_s": round(len(rows) / elapsed, 1),
    }


def _time_fresh_host(bench: Bench, running: list[Any], n: int) -> tuple[float, dict[str, Any]]:
    """A new host: a new data directory, no index; it loads the stored vectors. Seconds until
    it has all ``n`` documents, and its index report."""
    bench.say("新主机：载入已存向量", 0.0)
    started = time.monotonic()
    fresh = start_web("host-c", bench.home("host-c"), bench.env)
    running.append(fresh)
    wait_until(lambda: fresh.count() == n, timeout=3600, every=0.2, what="host C")
    from_stored = time.monotonic() - started
    return from_stored, fresh.index()


def _time_reencoding(bench: Bench) -> float:
    """Before stored vectors, a new host encoded everything itself: `duijie index rebuild` on a
    new data directory after the stored vectors are deleted."""
    bench.say("对照：删除已存向量后重建（重新编码）", 0.0)
    with bench.engine.begin() as conn:
        conn.execute(text("DELETE FROM embeddingvector"))
    started = time.monotonic()
    rebuild = spawn(
        "rebuild", ["index", "rebuild"], {**bench.env, "DUIJIE_HOME": str(bench.home("host-d"))},
        bench.homes / "rebuild.log",
    )  # fmt: skip
    code = rebuild.popen.wait()
    reencode = time.monotonic() - started
    if code != 0:
        raise RuntimeError(f"index rebuild failed:\n{rebuild.tail()}")
    return reencode


def _wait_listening(workers: list[Process]) -> None:
    """Workers print a line once the model is loaded and they are about to take jobs."""
    for worker in workers:

        def listening(w: Process = worker) -> bool:
            return "worker " in w.tail(20000) or not w.alive()

        wait_until(listening, timeout=600, every=0.2, what=f"{worker.name} to start")
        if not worker.alive():
            raise RuntimeError(f"{worker.name} exited:\n{worker.tail()}")


def _until_all(
    hosts: list[WebHost], total: int, started: float, say: Progress, label: str
) -> dict[str, float]:
    """Seconds from `started` until each host has `total` documents and none waiting."""
    done: dict[str, float] = {}
    deadline = time.monotonic() + 4 * 3600
    while len(done) < len(hosts):
        for host in hosts:
            if host.process.name in done:
                continue
            if not host.process.alive():
                raise RuntimeError(f"{host.process.name} exited:\n{host.process.tail()}")
            info = host.index()["collections"]["technologies"]
            if info["count"] >= total and info["awaiting_vectors"] == 0:
                done[host.process.name] = time.monotonic() - started
            else:
                say(f"{label}：{host.process.name} 已可检索 {info['count']}/{total}",
                    info["count"] / max(total, 1))  # fmt: skip
        if time.monotonic() > deadline:
            raise TimeoutError("documents never became searchable on every host")
        time.sleep(0.2)
    return done
