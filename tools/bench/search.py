"""`duijie bench search`: indexing throughput, end-to-end search latency, the vector step alone,
memory, and ANN recall against exact search, on a collection of N items.

The collection is the 2,000 CSL abstracts varied to reach N. Encoding N texts with the
configured model would take hours at 100,000, so only the originals are encoded with it; each
varied copy gets the vector of its original perturbed with Gaussian noise and renormalized, and
token lists varied the same way (some words dropped, some borrowed from another abstract). The
output says so. Queries are real needs and titles, encoded with the model at query time (no
cache), so the search latency is the real one: encode, dense, lexical, fuse, filter."""

from __future__ import annotations

import json
import random
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from matcher.config import Settings
from tools.datasets import dataset

Progress = Callable[[str, float], None]
NOISE = 0.35  # per-dimension noise relative to 1/sqrt(dim): copies stay near their original


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    if not samples_ms:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    arr = np.asarray(samples_ms)
    return {f"p{p}": round(float(np.percentile(arr, p)), 2) for p in (50, 95, 99)}


@dataclass
class Originals:
    """The CSL abstracts encoded with the configured model, and tokenized."""

    vectors: np.ndarray
    tokens: list[list[str]]
    encode_docs_per_s: float


def run(
    settings: Settings, *, n: int = 100_000, queries: int = 300, progress: Progress | None = None
) -> dict[str, Any]:
    """Build a collection of N items in a throwaway workspace and measure it (see the module)."""
    from matcher.db import make_engine
    from matcher.embedding.encoder import Encoder
    from matcher.indexing import IndexManager
    from matcher.matching import Matcher
    from matcher.migrate import upgrade
    from matcher.text import get_lexer

    say = progress or (lambda _m, _f: None)
    rng = np.random.default_rng(2026)
    pyrng = random.Random(2026)
    with dataset("csl/docs.jsonl").open(encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh if line.strip()]
    probe = probe_queries(docs, queries, pyrng)

    with tempfile.TemporaryDirectory(prefix="duijie-bench-") as tmp:
        workspace = bench_workspace(settings, Path(tmp))
        engine = make_engine(workspace.resolved_database_url)
        upgrade(engine)
        insert_rows(engine, docs, n, say)
        encoder = Encoder(workspace, use_cache=False)
        lexer = get_lexer()
        originals = encode_originals(workspace, encoder, lexer, docs, say)
        collection, matrix, index_seconds = build_collection(
            settings, encoder, lexer, originals, len(docs), n, rng, pyrng, say
        )
        say("测量召回率", 0.0)
        # recall on stored vectors (a sample other than the one nprobe was tuned on)
        ivf = collection.vectors.kind == "ivf"
        recall = collection.vectors.recall_at(10, samples=300) if ivf else 1.0

        manager = IndexManager(engine, workspace, encoder=encoder, lexer=lexer)
        manager.collections = {"technologies": collection}
        matcher = Matcher(manager)
        matcher.search(probe[0], limit=10)  # warm-up: first-call allocations
        search_ms, vector_ms, query_vectors = time_queries(matcher, encoder, collection, probe, say)
        exact_ms = time_exact_search(matrix, query_vectors)
        del matrix
        say("测量真实查询的召回率", 0.0)
        query_recall = (
            collection.vectors.recall_at(10, queries=np.asarray(query_vectors)) if ivf else 1.0
        )
        result = {
            "n": n,
            "index_type": collection.vectors.kind,
            "index_docs_per_s": round(n / index_seconds, 1),
            "encode_docs_per_s": round(originals.encode_docs_per_s, 1),
            "search_ms": percentiles(search_ms),
            "vector_ms": percentiles(vector_ms),
            "exact_vector_ms": percentiles(exact_ms),
            "ann_recall@10": round(recall, 4),
            "ann_recall@10_queries": round(query_recall, 4),
            "nlist": collection.vectors.nlist,
            "nprobe": collection.vectors.nprobe,
            "rss_mb": rss_mb(),
            "queries": len(probe),
            "model": encoder.setting,
            "note": (
                f"{len(docs)} originals encoded with {encoder.setting}; the other {max(0, n - len(docs))} items reuse "
                "their original's vector with Gaussian noise (renormalized) and a varied token list; "
                "index_docs_per_s is insertion into FAISS + BM25 with vectors given (IVF training and nprobe tuning included), "
                "encode_docs_per_s is the model's own rate; ann_recall@10 uses stored vectors as queries, "
                "ann_recall@10_queries the benchmark's real queries (needs and titles); exact_vector_ms is brute force "
                "over the same vectors, measured in the same run"
            ),
        }
        engine.dispose()
        return result


def probe_queries(docs: list[dict[str, Any]], queries: int, pyrng: random.Random) -> list[str]:
    """The evaluation needs, then random titles up to ``queries``."""
    with dataset("needs_dev.jsonl").open(encoding="utf-8") as fh:
        need_queries = [json.loads(line)["query"] for line in fh if line.strip()]
    return need_queries + [
        d["title"] for d in pyrng.sample(docs, k=max(0, queries - len(need_queries)))
    ]


def bench_workspace(settings: Settings, root: Path) -> Settings:
    """A throwaway data directory that shares the built models and the encoding cache."""
    (root / "models").symlink_to(settings.models_dir.resolve(), target_is_directory=True)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    (root / "cache").symlink_to(settings.cache_dir.resolve(), target_is_directory=True)
    return settings.model_copy(update={"home": root, "database_url": None})


def insert_rows(engine: Any, docs: list[dict[str, Any]], n: int, say: Progress) -> None:
    """The originals and their varied copies as rows (bulk insert: the bench measures search,
    not import)."""
    from sqlalchemy import insert
    from sqlmodel import select

    from matcher.db import session_scope
    from matcher.models import Organization, Technology, utcnow

    say("写入数据库", 0.0)
    now = utcnow()
    with session_scope(engine) as session:
        session.add(Organization(name="基准测试单位", kind="institute"))
        session.flush()
        org_id = session.exec(select(Organization.id)).one()
    rows = []
    for i in range(n):
        doc = docs[i % len(docs)]
        copy = i // len(docs)
        rows.append(
            {
                "id": i + 1,
                "code": f"B{i}",
                "title": doc["title"] if copy == 0 else f"{doc['title']}（{copy}）",
                "summary": doc["abstract"],
                "field": "新材料",
                "keywords": doc.get("keywords") or [],
                "trl": 5,
                "ip_items": [],
                "cooperation_modes": ["转让"],
                "owner_id": org_id,
                "status": "published",
                "created_at": now,
                "updated_at": now,
            }
        )
    with engine.begin() as conn:
        for start in range(0, n, 20_000):
            conn.execute(insert(Technology), rows[start : start + 20_000])
            say("写入数据库", (start + 20_000) / n)


def encode_originals(
    workspace: Settings, encoder: Any, lexer: Any, docs: list[dict[str, Any]], say: Progress
) -> Originals:
    """The model's own rate on 100 abstracts (no cache), then every original's vector (from the
    cache when eval/index made them) and tokens."""
    from matcher.embedding.encoder import Encoder
    from matcher.text import technology_text

    texts = [
        technology_text(
            type(
                "T",
                (),
                {
                    "title": d["title"],
                    "keywords": d.get("keywords") or [],
                    "summary": d["abstract"],
                },
            )
        )
        for d in docs
    ]
    cached = Encoder(workspace)
    started = time.perf_counter()
    sample = texts[:100]
    encoder.encode_documents(sample)
    encode_docs_per_s = len(sample) / (time.perf_counter() - started)
    vectors = cached.encode_documents(
        texts, progress=lambda d, t: say(f"编码原始摘要 {d}/{t}", d / t)
    )
    return Originals(vectors, lexer.tokens_many(texts), encode_docs_per_s)


def build_collection(
    settings: Settings,
    encoder: Any,
    lexer: Any,
    originals: Originals,
    n_docs: int,
    n: int,
    rng: np.random.Generator,
    pyrng: random.Random,
    say: Progress,
) -> tuple[Any, np.ndarray, float]:
    """The N-item collection (flat or IVF by size), its vector matrix and the indexing seconds."""
    from index.collection import Collection

    say("生成变体", 0.0)
    dim = originals.vectors.shape[1]
    kind = "ivf" if n > settings.index_exact_max else "flat"
    collection = Collection.empty(
        "technologies", model_fingerprint=encoder.fingerprint, model_name=encoder.setting, dim=dim,
        tokenizer_fingerprint=lexer.fingerprint, kind=kind,
    )  # fmt: skip
    all_ids: list[int] = []
    all_vectors: list[np.ndarray] = []
    all_tokens: list[list[str]] = []
    chunk = 50_000
    for start in range(0, n, chunk):
        ids = list(range(start + 1, min(n, start + chunk) + 1))
        all_ids += ids
        all_vectors.append(varied_vectors(originals.vectors, ids, n_docs, rng))
        all_tokens += varied_tokens(originals.tokens, ids, n_docs, pyrng)
        say(f"生成变体 {min(n, start + chunk)}/{n}", min(n, start + chunk) / n)
    say("建立索引", 0.0)
    matrix = np.concatenate(all_vectors)
    del all_vectors
    started = time.perf_counter()
    collection.upsert(all_ids, matrix, all_tokens)  # as a rebuild does: one batch
    collection.lexical.rebuild()
    return collection, matrix, time.perf_counter() - started


def varied_vectors(
    base: np.ndarray, ids: list[int], n_docs: int, rng: np.random.Generator
) -> np.ndarray:
    """Each item's original vector; a copy's perturbed with Gaussian noise and renormalized."""
    dim = base.shape[1]
    vecs = base[[(i - 1) % n_docs for i in ids]].copy()
    copies = np.asarray([(i - 1) // n_docs for i in ids]) > 0
    noise = rng.standard_normal(vecs.shape).astype(np.float32) * (NOISE / np.sqrt(dim))
    vecs[copies] += noise[copies]
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs


def varied_tokens(
    base: list[list[str]], ids: list[int], n_docs: int, pyrng: random.Random
) -> list[list[str]]:
    """Each item's original tokens; a copy drops some and borrows a few from another abstract."""
    token_lists = []
    for i in ids:
        tokens = base[(i - 1) % n_docs]
        if (i - 1) // n_docs > 0:
            keep = [t for t in tokens if pyrng.random() > 0.2]
            donor = base[pyrng.randrange(n_docs)]
            tokens = keep + pyrng.sample(donor, k=min(len(donor), 5))
        token_lists.append(tokens)
    return token_lists


def time_queries(
    matcher: Any, encoder: Any, collection: Any, probe: list[str], say: Progress
) -> tuple[list[float], list[float], list[np.ndarray]]:
    """Milliseconds of each end-to-end search and of its vector step alone, and the query vectors."""
    search_ms: list[float] = []
    vector_ms: list[float] = []
    query_vectors = []
    for i, query in enumerate(probe):
        started = time.perf_counter()
        matcher.search(query, limit=10)
        search_ms.append((time.perf_counter() - started) * 1000)
        qvec = encoder.encode_queries([query + " "])[0]
        started = time.perf_counter()
        collection.vectors.search(qvec, 10)
        vector_ms.append((time.perf_counter() - started) * 1000)
        query_vectors.append(qvec)
        if i % 20 == 0:
            say(f"查询 {i}/{len(probe)}", i / len(probe))
    return search_ms, vector_ms, query_vectors


def time_exact_search(matrix: np.ndarray, query_vectors: list[np.ndarray]) -> list[float]:
    """The baseline, side by side: brute force over every vector (what the ANN index replaces).

    In a loop of its own: numpy's BLAS threads spin after each call and would slow the next
    query's encoding, which is not what a server running the index sees."""
    exact_ms: list[float] = []
    for qvec in query_vectors:
        started = time.perf_counter()
        scores = matrix @ qvec
        np.argpartition(-scores, min(10, len(scores) - 1))[:10]
        exact_ms.append((time.perf_counter() - started) * 1000)
    return exact_ms
