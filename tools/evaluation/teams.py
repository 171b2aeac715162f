"""`duijie eval teams`: does finding teams for a challenge put the right organization first?

Each need in the query file is posted as a 揭榜挂帅 challenge (through the product's own
`save_challenge` and `find_teams`) on the demo data in a throwaway workspace — its evaluation
corpus: all 2,000 CSL abstracts under their demo owners, whatever the demo itself shows; the organization
that owns the need's relevant result is the one to find. Reported: Recall@5 and MRR over
organizations for the engine, and for BM25 alone and dense alone — their result rankings
aggregated to organizations the same way (best result fully, the next ones at half and a
quarter) — from the same run. The user's database and index are never touched."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matcher.config import Settings
from tools.datasets import dataset

K = 5
DEPTH = 100
Progress = Callable[[str, float], None]


def aggregate(ranked: list[tuple[int, float]], owner_of: dict[int, int]) -> list[int]:
    """Result ranking → organization ranking: scores normalized by the best one, each
    organization's three best results counted at 1, 1/2, 1/4."""
    if not ranked:
        return []
    top = max(score for _, score in ranked) or 1.0
    per_org: dict[int, list[float]] = defaultdict(list)
    for tech_id, score in ranked:
        if tech_id in owner_of:
            per_org[owner_of[tech_id]].append(score / top)
    totals = {
        org: sum(s * 0.5**i for i, s in enumerate(sorted(scores, reverse=True)[:3]))
        for org, scores in per_org.items()
    }
    return sorted(totals, key=lambda org: (-totals[org], org))


def org_metrics(rankings: list[list[int]], relevants: list[set[int]]) -> dict[str, float]:
    n = max(len(rankings), 1)
    recall = sum(1.0 for r, rel in zip(rankings, relevants, strict=True) if set(r[:K]) & rel) / n
    mrr = 0.0
    for ranked, rel in zip(rankings, relevants, strict=True):
        for i, org in enumerate(ranked[:20], start=1):
            if org in rel:
                mrr += 1.0 / i
                break
    return {"recall@5": round(recall, 4), "mrr": round(mrr / n, 4)}


def catalog_owners(engine: Any) -> tuple[dict[int, int], dict[str, int], int | None, int]:
    """(result → owner, result code → owner, the challenges' publisher, organizations with results)."""
    from sqlmodel import select

    from matcher.db import session_scope
    from matcher.models import Organization, Technology

    with session_scope(engine, write=False) as session:
        techs = session.exec(select(Technology)).all()
        owner_of = {t.id: t.owner_id for t in techs if t.id is not None}
        org_of_code = {t.code: t.owner_id for t in techs if t.code}
        publisher = (
            session.exec(select(Organization).where(Organization.kind == "agency")).first()
            or session.exec(select(Organization).where(Organization.kind == "enterprise")).first()
        )
        return (
            owner_of,
            org_of_code,
            publisher.id if publisher else None,
            len(set(owner_of.values())),
        )


def run(
    settings: Settings, *, queries_file: Path | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    from matcher.access import Viewer
    from matcher.challenges.publishing import save_challenge
    from matcher.challenges.schemas import ChallengeIn
    from matcher.challenges.teams import find_teams
    from matcher.db import make_engine, session_scope
    from matcher.indexing import IndexManager
    from matcher.matching import Matcher
    from matcher.migrate import upgrade
    from tools.demo.build import load_demo
    from tools.evaluation.retrieval import load_queries

    say = progress or (lambda _m, _f: None)
    queries = load_queries(queries_file or dataset("needs_dev.jsonl"))
    with tempfile.TemporaryDirectory(prefix="duijie-eval-teams-") as tmp:
        root = Path(tmp) / "home"
        root.mkdir(parents=True)
        workspace = settings.model_copy(update={"home": root, "database_url": None})
        (root / "models").symlink_to(settings.models_dir.resolve(), target_is_directory=True)
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        (root / "cache").symlink_to(settings.cache_dir.resolve(), target_is_directory=True)
        engine = make_engine(workspace.resolved_database_url)
        upgrade(engine)
        say("导入演示数据", 0.05)
        load_demo(engine, settings=workspace, evaluation=True)
        manager = IndexManager(engine, workspace).open(progress)
        matcher = Matcher(manager)
        owner_of, org_of_code, publisher_id, organizations = catalog_owners(engine)
        organizer = Viewer(user_id=None, organization_id=None, role="organizer")
        ranked: dict[str, list[list[int]]] = {"engine": [], "bm25": [], "dense": []}
        relevants: list[set[int]] = []
        deadline = dt.date.today() + dt.timedelta(days=60)
        for i, q in enumerate(queries):
            relevants.append({org_of_code[r] for r in q["relevant"] if r in org_of_code})
            with session_scope(engine) as session:
                challenge = save_challenge(
                    session=session,
                    viewer=organizer,
                    data=ChallengeIn(
                        title=q["query"][:40],
                        problem=q["query"],
                        application_deadline=deadline,
                        bounty=100,
                    ),
                    publisher_id=publisher_id,
                )
                found = find_teams(
                    session=session,
                    viewer=organizer,
                    matcher=matcher,
                    challenge=challenge,
                    limit=20,
                )
                ranked["engine"].append([c.organization.id for c in found if c.organization.id])
            ranked["bm25"].append(
                aggregate(matcher.lexical_only("technologies", q["query"], DEPTH), owner_of)
            )
            ranked["dense"].append(
                aggregate(matcher.dense_only("technologies", q["query"], DEPTH), owner_of)
            )
            say(f"榜单 {i + 1}/{len(queries)}", (i + 1) / max(len(queries), 1))
        manager.close()
        engine.dispose()
    result: dict[str, Any] = {
        "organizations": organizations,
        "queries": len(queries),
        "queries_file": str(queries_file or "needs_dev.jsonl"),
    }
    for name, rankings in ranked.items():
        result[name] = org_metrics(rankings, relevants)
    return result
