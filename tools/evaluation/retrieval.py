"""`duijie eval retrieval`: the engine against BM25 alone and dense alone, from one run.

The 2,000 CSL abstracts are imported as technologies into a temporary workspace through the
product's own import and index code (title and keywords left out of the documents, so that
title → abstract and keywords → abstract are real tasks), then three query sets are run:
titles, keywords, and enterprise needs (`needs_dev.jsonl` by default). The user's database and
index are never touched; the embedding cache is shared, being content-addressed."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from matcher.config import Settings
from tools.datasets import dataset

K = 10
Progress = Callable[[str, float], None]


def ndcg_at(ranked: Sequence[int], relevant: set[int], k: int = K) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def metrics(rankings: list[list[int]], relevants: list[set[int]]) -> dict[str, float]:
    n = max(len(rankings), 1)
    out = {"ndcg@10": 0.0, "recall@1": 0.0, "recall@10": 0.0, "mrr@10": 0.0}
    for ranked, relevant in zip(rankings, relevants, strict=True):
        out["ndcg@10"] += ndcg_at(ranked, relevant)
        out["recall@1"] += len(set(ranked[:1]) & relevant) / max(len(relevant), 1)
        out["recall@10"] += len(set(ranked[:K]) & relevant) / max(len(relevant), 1)
        rr = 0.0
        for i, doc in enumerate(ranked[:K]):
            if doc in relevant:
                rr = 1.0 / (i + 1)
                break
        out["mrr@10"] += rr
    return {k: round(v / n, 4) for k, v in out.items()}


def load_queries(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def corpus_csv(docs: list[dict[str, Any]], owner: str, *, full: bool = False) -> bytes:
    """The abstracts as a technology catalog; `full` keeps their titles and keywords (as the
    demo's listings have them), otherwise they are left out so title → abstract is a real task."""
    from matcher.catalog.exporter import write_csv
    from tools.demo.suppliers import DISCIPLINE_FIELDS

    headers = [
        "编号",
        "成果名称",
        "所属单位",
        "技术领域",
        "成果简介",
        "成熟度",
        "合作方式",
        "关键词",
    ]
    rows = [
        [
            d["id"],
            d["title"] if full else "科技成果",
            owner,
            DISCIPLINE_FIELDS.get(d["discipline"], "现代服务与社会发展"),
            d["abstract"],
            "5",
            "技术咨询",
            "；".join(d.get("keywords") or []) if full else "",
        ]
        for d in docs
    ]
    return write_csv(headers, rows)


def build_workspace(
    settings: Settings,
    root: Path,
    docs: list[dict[str, Any]],
    progress: Progress | None = None,
    *,
    full: bool = False,
) -> Any:
    """A throwaway data directory holding the CSL corpus, indexed with the product's code."""
    from matcher.catalog.importer import import_catalog
    from matcher.db import make_engine
    from matcher.indexing import IndexManager
    from matcher.migrate import upgrade

    workspace = settings.model_copy(
        update={"home": root, "database_url": None, "import_max_rows": 10_000}
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / "models").symlink_to(settings.models_dir.resolve(), target_is_directory=True)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    (root / "cache").symlink_to(settings.cache_dir.resolve(), target_is_directory=True)
    engine = make_engine(workspace.resolved_database_url)
    upgrade(engine)
    owner = "CSL 评测语料"
    orgs = f"单位名称,单位类型\n{owner},科研院所\n".encode()
    import_catalog(
        engine=engine, kind="organizations", data=orgs, filename="eval-orgs.csv", settings=workspace
    )
    import_catalog(
        engine=engine,
        kind="technologies",
        data=corpus_csv(docs, owner, full=full),
        filename="eval-csl.csv",
        settings=workspace,
    )
    manager = IndexManager(engine, workspace).open(progress)
    return workspace, engine, manager


TECHNIQUES = {
    "baseline": (False, False),
    "focus": (True, False),
    "sentences": (False, True),
    "focus+sentences": (True, True),
}


def technique_ranking(
    matcher: Any, query: str, abstracts: dict[int, str], *, focus: bool, sentences: bool
) -> list[int]:
    """The engine's fused ranking with one or both Recall@1 techniques switched on
    (matcher.refinement), the rest of the path unchanged."""
    from matcher.matching import SEARCH_DEPTH
    from tools.evaluation import refinement

    manager = matcher.manager
    lexical = manager.collections["technologies"].lexical
    vector = manager.encoder.encode_queries([query])[0]
    if focus and len(query) >= refinement.FOCUS_MIN_CHARS:
        text = refinement.focus_text(query, manager.lexer.tokens(query), lexical.idf, len(lexical))
        vector = refinement.focused_vector(manager.encoder, query, text)
    fused, _ = matcher.candidates("technologies", query, vector=vector, depth=SEARCH_DEPTH)
    fused.sort(key=lambda s: (-s.score, s.id))
    if sentences:
        head = fused[: refinement.SENTENCE_TOP]
        best = refinement.best_sentence_cosines(
            manager.encoder, vector, [abstracts.get(s.id, "") for s in head]
        )
        fused = refinement.rerank_by_sentences(fused, best)
    return [s.id for s in fused[:K]]


def _calibrated_matchers(
    manager: Any, base: Any, need_sets: dict[str, list[dict[str, Any]]], id_of: dict[str, int]
) -> tuple[Any, dict[str, Any]]:
    """Matchers ranking by relevance: one per cross-validation fold (for the needs it held out)
    and one calibrated on every need (for titles and keywords, which no calibration saw)."""
    from matcher.matching import Matcher
    from tools.evaluation import calibration as calib

    queries: list[tuple[str, str, set[int], bool]] = []
    for needs in need_sets.values():
        for q in needs:
            relevant = {id_of[r] for r in q["relevant"] if r in id_of}
            if relevant:
                queries.append((q["id"], q["query"], relevant, True))
    for q in load_queries(dataset("needs_dev_unanswerable.jsonl")):
        queries.append((q["id"], q["query"], set(), False))
    rows = calib.collect(base, queries)
    folds = calib.folds_of(rows)
    text_of = {q[0]: q[1] for q in queries}
    per_query: dict[str, Any] = {}
    for f in range(calib.FOLDS):
        fitted = calib.fit([r for r, g in zip(rows, folds, strict=True) if g != f])
        matcher = Matcher(manager, calibration=fitted)
        for r, g in zip(rows, folds, strict=True):
            if g == f:
                per_query[text_of[r.query_id]] = matcher
    return Matcher(manager, calibration=calib.fit(rows)), per_query


def run(
    settings: Settings,
    *,
    queries_file: Path | None = None,
    fusions: Sequence[str] = ("relative", "rrf"),
    techniques: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every query set's figures for each fusion, BM25 alone, dense alone and the engine, and
    (with ``techniques``) for the Recall@1 techniques and the calibrated ranking."""
    from matcher.matching import Matcher

    say = progress or (lambda _m, _f: None)
    with dataset("csl/docs.jsonl").open(encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh if line.strip()]
    need_sets = (
        {"needs": load_queries(queries_file)}
        if queries_file
        else {
            "needs": load_queries(dataset("needs_dev.jsonl")),
            "needs_alt": load_queries(dataset("needs_dev_alt.jsonl")),
        }
    )
    with tempfile.TemporaryDirectory(prefix="duijie-eval-") as tmp:
        _workspace, engine, manager = build_workspace(settings, Path(tmp) / "home", docs, progress)
        id_of = technology_ids(engine)
        tasks = query_tasks(docs, need_sets, id_of)
        abstracts = {id_of[d["id"]]: d["abstract"] for d in docs if d["id"] in id_of}
        base = Matcher(manager, fusion="relative", rank_by_relevance=False)
        calibrated_for: dict[str, Any] = {}
        calibrated_all: Any = None
        if techniques:
            calibrated_all, calibrated_for = _calibrated_matchers(manager, base, need_sets, id_of)
        every_query = [q for items in tasks.values() for q, _ in items]
        manager.encoder.encode_queries(
            every_query, progress=lambda d, t: say(f"编码查询 {d}/{t}", d / max(t, 1))
        )
        # the fusions side by side (their own order), and the engine as the site runs it: ranked
        # by the relevance calibrated for this model (the shipped calibration was fitted on the
        # needs sets, so on those its row is not a held-out figure: see the techniques' table)
        matchers = {
            name: Matcher(manager, fusion=name, rank_by_relevance=False) for name in fusions
        }
        product = Matcher(manager)
        results: dict[str, Any] = {
            "corpus": len(docs),
            "queries_file": str(queries_file or "needs_dev.jsonl"),
            "tasks": {},
        }
        for task, items in tasks.items():
            relevants = [rel for _, rel in items]
            ranked = rank_task(task, items, matchers, product, say)
            task_result: dict[str, Any] = {
                name: metrics(r, relevants) for name, r in ranked.items()
            }
            task_result["queries"] = len(items)
            results["tasks"][task] = task_result
            if techniques:
                by_technique = technique_figures(task, items, base, abstracts, say)
                # ranking by the calibrated relevance: a need is ranked by the calibration of
                # the folds it was held out of; titles and keywords by one fitted on all needs
                ranked_c = [
                    technique_ranking(
                        calibrated_for.get(query, calibrated_all), query, abstracts,
                        focus=False, sentences=False,
                    )
                    for query, _ in items
                ]  # fmt: skip
                by_technique["calibrated"] = metrics(ranked_c, relevants)
                results.setdefault("techniques", {})[task] = by_technique
        manager.close()
        engine.dispose()
    results["fusion"] = fusions[0]
    results["calibration"] = product.calibration.source
    return results


def technology_ids(engine: Any) -> dict[str, int]:
    """The workspace's technology id of each abstract's code."""
    from sqlmodel import select

    from matcher.db import session_scope
    from matcher.models import Technology

    with session_scope(engine, write=False) as session:
        return {
            t.code: t.id for t in session.exec(select(Technology)) if t.code and t.id is not None
        }


def query_tasks(
    docs: list[dict[str, Any]],
    need_sets: dict[str, list[dict[str, Any]]],
    id_of: dict[str, int],
) -> dict[str, list[tuple[str, set[int]]]]:
    """Each task's (query, relevant ids): title → its abstract, keywords → its abstract, and
    every needs set."""
    return {
        "title": [(d["title"], {id_of[d["id"]]}) for d in docs],
        "keywords": [
            (" ".join(d.get("keywords") or []), {id_of[d["id"]]}) for d in docs if d.get("keywords")
        ],
        **{
            name: [(q["query"], {id_of[r] for r in q["relevant"] if r in id_of}) for q in needs]
            for name, needs in need_sets.items()
        },
    }


def rank_task(
    task: str,
    items: list[tuple[str, set[int]]],
    matchers: dict[str, Any],
    product: Any,
    say: Progress,
) -> dict[str, list[list[int]]]:
    """Every query's top K by each fusion, the engine, BM25 alone and dense alone."""
    ranked: dict[str, list[list[int]]] = {
        name: [] for name in [*matchers, "bm25", "dense", "engine"]
    }
    any_matcher = next(iter(matchers.values()))
    for i, (query, _) in enumerate(items):
        for name, matcher in matchers.items():
            ranked[name].append(matcher.ranking(query, limit=K))
        ranked["engine"].append(product.ranking(query, limit=K))
        ranked["bm25"].append([i for i, _ in any_matcher.lexical_only("technologies", query, K)])
        ranked["dense"].append([i for i, _ in any_matcher.dense_only("technologies", query, K)])
        if i % 50 == 0:
            say(f"{task}：{i}/{len(items)}", i / max(len(items), 1))
    return ranked


def technique_figures(
    task: str,
    items: list[tuple[str, set[int]]],
    base: Any,
    abstracts: dict[int, str],
    say: Progress,
) -> dict[str, Any]:
    """The task's figures with each combination of the Recall@1 techniques switched on."""
    relevants = [rel for _, rel in items]
    by_technique: dict[str, Any] = {}
    for name, (focus, sentences) in TECHNIQUES.items():
        ranked_t = []
        for i, (query, _) in enumerate(items):
            ranked_t.append(
                technique_ranking(base, query, abstracts, focus=focus, sentences=sentences)
            )
            if i % 50 == 0:
                say(f"{task} · {name}：{i}/{len(items)}", i / max(len(items), 1))
        by_technique[name] = metrics(ranked_t, relevants)
    return by_technique
