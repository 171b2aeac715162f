"""What a ranked candidate becomes on a page: a `Hit` with its label, figure, reasons and the
matched passage; the rows it is read from and who may see them; near-duplicates folded together.
Search, recommendations, teams and investors all build their cards here, so every channel shows
the same relevance label and reason for the same candidate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlmodel import Session

from matcher import reasons, relevance
from matcher.access import Viewer, can_see_need, can_see_technology
from matcher.errors import NotFound
from matcher.indexing import IndexManager
from matcher.models import Need, Organization, Technology
from matcher.scoring import Scored

DUPLICATE_COSINE = 0.985


@dataclass
class Hit(relevance.Labelled):
    collection: str
    id: int
    score: float
    parts: dict[str, float]
    terms: list[str]
    reason: str
    gaps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    item: Any = None  # the Technology / Need / Organization row
    relevance: float = 0.0  # the calibrated figure, 0–1 (matcher.relevance); the site prints 0–100
    label: str = "weak"  # high / related / weak (matcher.relevance)
    probability: float = 0.0  # the calibrated probability behind it
    match: str | None = None  # 您的需求『…』对应成果中『…』
    assessed: bool = False  # False for a listing shown without a query (newest first)


@dataclass
class TeamHit(relevance.Labelled):
    """A team (organization) for a need: its relevance and label are its best result's."""

    organization: Organization
    score: float  # the ranking: the parts' sum
    technologies: list[Hit]
    track_record: dict[str, int]
    reason: str
    parts: dict[str, float] = field(default_factory=dict)
    relevance: float = 0.0
    label: str = "weak"


def readable_need(session: Session, need_id: int, viewer: Viewer) -> Need:
    need = session.get(Need, need_id)
    if need is None or not can_see_need(need, viewer):
        raise NotFound("需求不存在")
    return need


def read_rows(session: Session, collection: str, ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    model: Any = {"technologies": Technology, "needs": Need, "investors": Organization}[collection]
    # Plain Core rows (attribute access like the model, without the ORM's identity map):
    # these are only read, to render and to re-check visibility.
    table = model.__table__
    rows = session.connection().execute(table.select().where(table.c.id.in_(ids)))
    return {r.id: r for r in rows}


def row_visible(collection: str, row: Any, viewer: Viewer) -> bool:
    if collection == "technologies":
        return row.status == "published" and can_see_technology(row, viewer)
    if collection == "needs":
        return row.status == "published" and can_see_need(row, viewer)
    return True


def collapse_duplicates(
    manager: IndexManager, collection: str, items: list[Scored]
) -> list[Scored]:
    """Fold near-duplicate listings (nearly the same vector) into the best-ranked of them."""
    if len(items) < 2:
        return items
    vectors = manager.collections[collection].vectors
    with manager.lock:
        labels = [vectors.label_of.get(s.id) for s in items]
        present = [i for i, label in enumerate(labels) if label is not None]
        matrix = vectors.vectors_for([labels[i] for i in present])  # type: ignore[misc]
    row_of = {i: r for r, i in enumerate(present)}
    sims = matrix @ matrix.T if len(present) else np.zeros((0, 0))
    kept: list[int] = []
    out: list[Scored] = []
    for i, item in enumerate(items):
        r = row_of.get(i)
        twin = None
        if r is not None:
            for k in kept:
                if sims[r, row_of[k]] >= DUPLICATE_COSINE:
                    twin = items[k]
                    break
        if twin is not None:
            twin.notes.append(f"另有相似条目 #{item.id}")
            twin.duplicates.append(item.id)
            continue
        if r is not None:
            kept.append(i)
        out.append(item)
    return out


def build_hit(
    manager: IndexManager,
    collection: str,
    item: Scored,
    row: Any,
    tokens: list[str],
    query_text: str = "",
    *,
    quoting: tuple[str, str] | None = None,
) -> Hit:
    """`quoting` names the two texts of the matched passage, e.g. ("您的需求", "成果")."""
    lexical = manager.collections[collection].lexical
    terms = reasons.domain_terms(
        tokens, set(lexical.document_tokens(item.id)), lexical.idf, len(lexical)
    )
    match = None
    hit_text = {
        "technologies": lambda: f"{row.title}。{row.summary}",
        "needs": lambda: f"{row.title}。{row.description}",
    }.get(collection)
    if hit_text is not None and query_text:
        passage = reasons.matched_passage(
            query_text, hit_text(), terms, manager.lexer.tokens, lexical.idf
        )
        if passage is not None:
            default = ("您的需求", "成果") if collection == "technologies" else ("您的描述", "需求")
            match = passage.sentence(*(quoting or default))
    label = item.label
    parts = {"relevance": round(item.relevance, 4)}
    parts.update(
        {k: round(v, 4) for k, v in item.parts.items() if k not in ("semantic", "lexical")}
    )
    return Hit(
        collection=collection,
        id=item.id,
        score=round(item.score, 4),
        parts=parts,
        terms=terms,
        reason=explain(item, terms),
        gaps=list(item.gaps),
        notes=list(item.notes),
        duplicates=list(item.duplicates),
        item=row,
        relevance=round(item.relevance, 4),
        probability=round(item.probability, 4),
        label=label,
        match=match,
        assessed=True,
    )


def semantic_phrase(item: Scored) -> str:
    """How close the meaning is, against the rest of the catalog (not a raw cosine, whose scale
    says little: every Chinese text is 0.8 to this model)."""
    if item.evidence is None:
        return ""
    lead, z = float(item.evidence[2]), float(item.evidence[1])
    if lead > 0.0:
        return "在全部候选中语义最接近"
    if z >= 3.0:
        return "语义明显接近（远高于一般候选）"
    if z >= 1.5:
        return "语义较接近"
    return "语义接近程度一般"


def explain(item: Scored, terms: list[str]) -> str:
    """One line, the same shape on every card: the relevance label and figure, the evidence it
    was calibrated from (meaning, shared domain terms), then the ranking's adjustments and gaps."""
    rel = relevance.Relevance(item.relevance, item.label)
    bits = [f"{rel.text}（相关度 {rel.figure}）"]
    evidence = [semantic_phrase(item)]
    evidence.append("共同专业词：" + "、".join(terms[:5]) if terms else "没有共同的专业词")
    bits.append("，".join(e for e in evidence if e))
    bits.extend(item.notes[:2])
    if item.gaps:
        bits.append("差距：" + "；".join(item.gaps))
    return "；".join(bits)
