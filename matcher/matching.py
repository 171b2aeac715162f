"""The matching engine: search and recommendations with their reasons.

Every request goes the same way: encode the probe text with the query prompt, take the best
dense candidates (FAISS) and the best lexical candidates (BM25 over jieba tokens), fuse the two
rankings, give every candidate its calibrated relevance (matcher.relevance: one figure and one
label, 高度相关 / 相关 / 弱相关, for every channel), keep only what the viewer may see and what the
hard filters allow (checked against the database, so a deleted or hidden row is never returned
nor counted), adjust by soft signals (field, TRL, price against budget, freshness), collapse
near-duplicates, and explain each hit (matcher.reasons): the label and figure, the evidence, the
shared domain terms and matched passage, the adjustments and the gaps. Search counts and lists
what reaches 相关; when nothing does, it returns the closest weak hits apart."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from matcher import partners, relevance, scoring
from matcher.access import (
    ANONYMOUS,
    Viewer,
    can_see_need,
    can_see_technology,
    suspended_owners,
    visible_needs_clause,
)
from matcher.db import session_scope
from matcher.embedding import store
from matcher.errors import NotFound
from matcher.filters import Filters, allowed_ids
from matcher.hits import (
    Hit,
    TeamHit,
    build_hit,
    collapse_duplicates,
    read_rows,
    readable_need,
    row_visible,
)
from matcher.indexing import IndexManager
from matcher.models import Need, Technology
from matcher.scoring import DEPTH, Scored
from matcher.text import need_text, technology_text

SEARCH_DEPTH = 100  # the search box shows ten pages at most
RESULT_CACHE_SIZE = 2_000
CLOSEST = 5  # weak hits shown under the empty state


@dataclass
class SearchResult:
    """`total` counts the hits labelled 相关 or better — what the page may call results. When
    there are none, `closest` holds the nearest weak hits, shown under a weaker heading."""

    total: int
    hits: list[Hit]
    terms: list[str]
    closest: list[Hit] = field(default_factory=list)
    weak: int = 0  # hits below 相关, not listed

    @property
    def empty(self) -> bool:
        """Nothing reaches 相关: the page says so honestly (暂无高度匹配的成果)."""
        return not self.hits


class Matcher:
    def __init__(
        self,
        manager: IndexManager,
        engine: Engine | None = None,
        *,
        fusion: str = "relative",
        calibration: relevance.Calibration | None = None,
        rank_by_relevance: bool = True,
    ) -> None:
        self.manager = manager
        self.engine = engine or manager.engine
        self.fusion = fusion
        self._calibration = calibration  # None: the one stored for the model's fingerprint
        # With a fitted calibration the order of a need-length query is the relevance figure
        # plus the soft signals — the parts the chart shows. A short query (a title, a few
        # keywords) and a model nobody calibrated keep the fused order.
        self.rank_by_relevance = rank_by_relevance
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._cache_lock = threading.Lock()

    # --- retrieval core ----------------------------------------------------------------------
    def candidates(
        self,
        collection: str,
        text: str,
        *,
        allowed: set[int] | None = None,
        depth: int = DEPTH,
        vector: np.ndarray | None = None,
        exclude: int | None = None,
    ) -> tuple[list[Scored], list[str]]:
        """Fused candidates (best first), each with its calibrated relevance, and the query's
        lexical tokens. `exclude` leaves one item out entirely (a listing compared with the
        others: it must not be its own competitor when margins are measured)."""
        index = self.manager.collections[collection]
        if vector is None:
            vector = self.manager.encoder.encode_queries([text])[0]
        tokens = self.manager.lexer.tokens(text)
        extra = 1 if exclude is not None else 0

        def drop(found: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
            return [d for d in found if d[0] != exclude][:k]

        with self.manager.lock:
            dense = drop(index.vectors.search(vector, depth + extra, allowed), depth)
            lexical = drop(index.lexical.top(tokens, depth + extra, allowed), depth)
            if allowed is None and depth >= relevance.REFERENCE_DEPTH:
                ref_dense, ref_lexical = dense, lexical
            else:  # margins are measured against the whole catalog, whatever the filters
                k = relevance.REFERENCE_DEPTH
                ref_dense = drop(index.vectors.search(vector, k + extra), k)
                ref_lexical = drop(index.lexical.top(tokens, k + extra), k)
            fused = scoring.fuse(dense, lexical, method=self.fusion)
            self.assess(
                collection, vector, tokens, fused, ref_dense, ref_lexical,
                order=len(text) >= relevance.ORDER_MIN_CHARS,
            )  # fmt: skip
        return fused, tokens

    @property
    def calibration(self) -> relevance.Calibration:
        if self._calibration is not None:
            return self._calibration
        return relevance.load(
            self.manager.settings.home,
            self.manager.encoder.fingerprint,
            self.manager.lexer.fingerprint,
        )

    def assess(
        self,
        collection: str,
        vector: np.ndarray,
        tokens: list[str],
        items: list[Scored],
        ref_dense: list[tuple[int, float]],
        ref_lexical: list[tuple[int, float]],
        *,
        order: bool = True,
    ) -> None:
        """Set each candidate's evidence, calibrated relevance and label (see matcher.relevance);
        with `order`, rank them by it (see relevance.ORDER_MIN_CHARS)."""
        if not items:
            return
        index = self.manager.collections[collection]
        lexical = index.lexical
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        no_cosine = [s for s in items if s.dense_rank is None]
        if no_cosine:
            labels = [index.vectors.label_of.get(s.id) for s in no_cosine]
            present = [
                (s, label) for s, label in zip(no_cosine, labels, strict=True) if label is not None
            ]
            if present:
                matrix = index.vectors.vectors_for([label for _, label in present])
                for (s, _), cosine in zip(present, (matrix @ query).tolist(), strict=True):
                    s.dense = float(cosine)
        no_bm25 = [s.id for s in items if s.lexical_rank is None]
        if no_bm25 and tokens:
            found = lexical.scores_of(tokens, no_bm25)
            for s in items:
                if s.lexical_rank is None:
                    s.lexical = found.get(s.id, 0.0)
        ref = relevance.reference_for(
            [c for _, c in ref_dense],
            [b for _, b in ref_lexical],
            tokens,
            lexical.idf,
            lexical.max_idf(),
        )
        rows = np.stack(
            [
                relevance.evidence(s.dense, s.lexical, set(lexical.document_tokens(s.id)), ref)
                for s in items
            ]
        )
        calibration = self.calibration
        probabilities = calibration.probability(rows)
        ranked = order and self.rank_by_relevance and calibration.source != "fallback"
        for s, row, p in zip(items, rows, probabilities.tolist(), strict=True):
            s.evidence = row
            s.probability = float(p)
            s.relevance = calibration.display_value(float(p))
            s.label = calibration.label(float(p))
            if ranked:
                s.parts = {"relevance": s.relevance}
                s.score = s.relevance
        if ranked:
            items.sort(key=lambda s: (-s.score, s.id))

    def dense_only(self, collection: str, text: str, depth: int = 10) -> list[tuple[int, float]]:
        vector = self.manager.encoder.encode_queries([text])[0]
        with self.manager.lock:
            return self.manager.collections[collection].vectors.search(vector, depth)

    def lexical_only(self, collection: str, text: str, depth: int = 10) -> list[tuple[int, float]]:
        tokens = self.manager.lexer.tokens(text)
        with self.manager.lock:
            return self.manager.collections[collection].lexical.top(tokens, depth)

    # --- search box --------------------------------------------------------------------------
    def search(
        self,
        text: str,
        *,
        collection: str = "technologies",
        filters: Filters | None = None,
        viewer: Viewer = ANONYMOUS,
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResult:
        filters = filters or Filters()
        text = (text or "").strip()
        key = self._cache_key(collection, text, filters, viewer, limit, offset)
        with session_scope(self.engine, write=False) as session:
            cached = self._cache_get(key)
            if cached is None:
                allowed = allowed_ids(session, collection, filters, viewer)
                if not text:
                    return self._browse(session, collection, allowed, viewer, limit, offset)
                cached = self._rank(session, collection, text, allowed, viewer, limit, offset)
                if key is not None:
                    self._cache_put(key, cached)
            total, weak, page, closest, tokens = cached
            # The ranking may be reused; the rows are always read again, so an edit shows at
            # once and a row deleted or hidden since is dropped (and no longer counted).
            rows = read_rows(session, collection, [s.id for s in page + closest])

            def shown(items: list[Scored]) -> list[Hit]:
                return [
                    build_hit(self.manager, collection, s, rows[s.id], tokens, text)
                    for s in items
                    if s.id in rows and row_visible(collection, rows[s.id], viewer)
                ]

            hits, near = shown(page), shown(closest)
            return SearchResult(
                total=total - (len(page) - len(hits)),
                hits=hits,
                terms=tokens,
                closest=near,
                weak=weak,
            )

    def ranking(self, text: str, *, collection: str = "technologies", limit: int = 10) -> list[int]:
        """The engine's order for a query, whatever the labels (for evaluations): what search
        ranks before the 相关 threshold splits results from the closest weak ones."""
        with session_scope(self.engine, write=False) as session:
            _total, _weak, page, _closest, _tokens = self._rank(
                session, collection, text, None, ANONYMOUS, limit, 0, split=False
            )
            return [s.id for s in page]

    def _rank(
        self,
        session: Session,
        collection: str,
        text: str,
        allowed: set[int] | None,
        viewer: Viewer,
        limit: int,
        offset: int,
        *,
        split: bool = True,
    ) -> tuple[int, int, list[Scored], list[Scored], list[str]]:
        """(how many reach 相关, how many fall below, the page of those that reach it, the closest
        below it when none does, the query's tokens)."""
        fused, tokens = self.candidates(collection, text, allowed=allowed, depth=SEARCH_DEPTH)
        meta = self.candidate_meta(session, collection, [s.id for s in fused])
        visible = [s for s in fused if s.id in meta and row_visible(collection, meta[s.id], viewer)]
        if collection == "technologies":
            for item in visible:
                scoring.apply_freshness(item, meta[item.id].valid_until)
                scoring.total(item)
        visible.sort(key=lambda s: (-s.score, s.id))
        head = collapse_duplicates(self.manager, collection, visible[: offset + limit + 20])
        visible = head + visible[offset + limit + 20 :]
        related = [s for s in visible if relevance.at_least(s.label) or not split]
        weak = [s for s in visible if not relevance.at_least(s.label)] if split else []
        page = related[offset : offset + limit]
        closest = weak[:CLOSEST] if not related and offset == 0 else []
        return len(related), len(weak), page, closest, tokens

    # --- result cache ------------------------------------------------------------------------
    def _cache_key(
        self, collection: str, text: str, filters: Filters, viewer: Viewer, limit: int, offset: int
    ) -> tuple[Any, ...] | None:
        """Rankings depend on the query, the filters, what the viewer may see, and the index
        state; repeated searches (the same words typed again, the next page) reuse them."""
        if not text:
            return None
        audience: tuple[Any, ...] = ()
        if collection == "needs":  # needs are filtered by visibility and by their owner
            audience = (
                viewer.is_staff,
                viewer.is_authenticated,
                viewer.organization_id,
                viewer.is_admin,
            )
        elif viewer.is_admin or viewer.organization_id is not None:
            audience = (viewer.organization_id, viewer.is_admin)
        return (self.manager.version, collection, text, repr(filters), audience, limit, offset)

    def _cache_get(self, key: tuple[Any, ...] | None) -> Any:
        if key is None:
            return None
        with self._cache_lock:
            value = self._cache.get(key)
            if value is not None:
                self._cache.move_to_end(key)
            return value

    def _cache_put(self, key: tuple[Any, ...], value: Any) -> None:
        with self._cache_lock:
            self._cache[key] = value
            while len(self._cache) > RESULT_CACHE_SIZE:
                self._cache.popitem(last=False)

    def _browse(
        self,
        session: Session,
        collection: str,
        allowed: set[int] | None,
        viewer: Viewer,
        limit: int,
        offset: int,
    ) -> SearchResult:
        """An empty query lists the newest visible items (filters still apply)."""
        model: Any = {"technologies": Technology, "needs": Need}.get(collection)
        if model is None:
            return SearchResult(0, [], [])
        stmt = select(model).where(
            col(model.status) == "published", col(model.owner_id).not_in(suspended_owners())
        )
        if collection == "needs":
            stmt = select(Need).where(visible_needs_clause(viewer), col(Need.status) == "published")
        if allowed is not None:
            stmt = stmt.where(col(model.id).in_(allowed or {-1}))
        rows = list(session.exec(stmt.order_by(col(model.updated_at).desc(), col(model.id).desc())))
        rows = [r for r in rows if row_visible(collection, r, viewer)]
        hits = [
            Hit(collection, r.id, 0.0, {}, [], "最新发布", item=r)
            for r in rows[offset : offset + limit]
        ]
        return SearchResult(total=len(rows), hits=hits, terms=[])

    # --- recommendations ---------------------------------------------------------------------
    def technologies_for_need(
        self, need_id: int, *, viewer: Viewer = ANONYMOUS, limit: int = 10
    ) -> list[Hit]:
        """Need → the research results most likely to solve it."""
        with session_scope(self.engine, write=False) as session:
            need = readable_need(session, need_id, viewer)
            fused, tokens = self.candidates(
                "technologies", need_text(need), vector=self.need_vector(session, need)
            )
            meta = self.candidate_meta(session, "technologies", [s.id for s in fused])
            out = []
            for item in fused:
                tech = meta.get(item.id)
                if (
                    tech is None
                    or not can_see_technology(tech, viewer)
                    or tech.status != "published"
                ):
                    continue
                scoring.apply_field(item, tech.field, need.field)
                scoring.apply_trl(item, tech.trl, need.min_trl)
                scoring.apply_budget(item, tech.price, need.budget)
                scoring.apply_freshness(item, tech.valid_until)
                scoring.total(item)
                out.append(item)
            out.sort(key=lambda s: (-s.score, s.id))
            out = collapse_duplicates(self.manager, "technologies", out[: limit + 20])[:limit]
            rows = read_rows(session, "technologies", [s.id for s in out])
            text = need_text(need)
            return [
                build_hit(self.manager, "technologies", s, rows[s.id], tokens, text) for s in out
            ]

    def needs_for_technology(
        self, technology_id: int, *, viewer: Viewer = ANONYMOUS, limit: int = 10
    ) -> list[Hit]:
        """Technology → the enterprises' needs it could answer (only needs the viewer may see)."""
        with session_scope(self.engine, write=False) as session:
            tech = session.get(Technology, technology_id)
            if tech is None or not can_see_technology(tech, viewer):
                raise NotFound("科技成果不存在")
            allowed = set(session.exec(select(Need.id).where(visible_needs_clause(viewer))).all())
            allowed.discard(None)  # type: ignore[arg-type]
            fused, tokens = self.candidates("needs", technology_text(tech), allowed=allowed)  # type: ignore[arg-type]
            rows = read_rows(session, "needs", [s.id for s in fused[: limit * 5 + 50]])
            out = []
            for item in fused:
                need = rows.get(item.id)
                if need is None or not can_see_need(need, viewer) or need.status != "published":
                    continue
                if need.owner_id == tech.owner_id:
                    continue
                scoring.apply_field(item, tech.field, need.field)
                scoring.apply_trl(item, tech.trl, need.min_trl)
                scoring.apply_budget(item, tech.price, need.budget)
                scoring.total(item)
                out.append(item)
            out.sort(key=lambda s: (-s.score, s.id))
            text = technology_text(tech)
            return [
                build_hit(
                    self.manager, "needs", s, rows[s.id], tokens, text, quoting=("您的成果", "需求")
                )
                for s in out[:limit]
            ]

    def similar_technologies(
        self, technology_id: int, *, viewer: Viewer = ANONYMOUS, limit: int = 6
    ) -> list[Hit]:
        with session_scope(self.engine, write=False) as session:
            tech = session.get(Technology, technology_id)
            if tech is None or not can_see_technology(tech, viewer):
                raise NotFound("科技成果不存在")
            text = technology_text(tech)
            key = (self.manager.version, "similar", technology_id, limit)
            cached = self._cache_get(key)
            if cached is None:
                # encoded as a query (cached), so that its relevance is on the calibrated scale
                fused, tokens = self.candidates(
                    "technologies", text, depth=relevance.REFERENCE_DEPTH, exclude=technology_id
                )
                meta = self.candidate_meta(session, "technologies", [s.id for s in fused])
                out = [s for s in fused if s.id in meta and meta[s.id].status == "published"]
                cached = (
                    collapse_duplicates(self.manager, "technologies", out[: limit + 20])[:limit],
                    tokens,
                )
                self._cache_put(key, cached)
            page, tokens = cached
            rows = read_rows(session, "technologies", [s.id for s in page])
            hits = [
                build_hit(
                    self.manager,
                    "technologies",
                    s,
                    rows[s.id],
                    tokens,
                    text,
                    quoting=("本成果", "该成果"),
                )
                for s in page
                if s.id in rows and rows[s.id].status == "published"
            ]
            return hits

    def teams_for_need(
        self, need_id: int, *, viewer: Viewer = ANONYMOUS, limit: int = 10, depth: int = DEPTH
    ) -> list[TeamHit]:
        """Need → organizations ranked by their technologies: the best result counts fully, the
        next ones less (a team with several relevant results is more likely to deliver), plus a
        small bonus for a track record of accepted leads and contracts on the platform."""
        with session_scope(self.engine, write=False) as session:
            need = readable_need(session, need_id, viewer)
            return self.teams_for_text(
                session,
                need_text(need),
                vector=self.need_vector(session, need),
                viewer=viewer,
                limit=limit,
                depth=depth,
                min_trl=need.min_trl,
                exclude_org=need.owner_id,
            )

    def teams_for_text(self, session: Session, text: str, **options: Any) -> list[TeamHit]:
        """Text (a need, a challenge) → teams: see matcher.partners.teams_for_text."""
        return partners.teams_for_text(self, session, text, **options)

    def investors_for_need(
        self, need_id: int, *, viewer: Viewer = ANONYMOUS, limit: int = 10
    ) -> list[Hit]:
        """Financing need → investors: see matcher.partners.investors_for_need."""
        return partners.investors_for_need(self, need_id, viewer=viewer, limit=limit)

    # --- a need as the probe ------------------------------------------------------------------
    def need_vector(self, session: Session, need: Need) -> np.ndarray | None:
        """The need's query vector as a worker stored it (None: not computed for this text yet,
        and the caller encodes it)."""
        if need.id is None:
            return None
        model = store.Model.of(self.manager.encoder)
        return store.query_vector(session, model, "needs", need.id, need_text(need))

    def matching_pending(self, need_id: int) -> bool:
        """True while a published need waits for a worker to compute its vectors: its page says
        matching is running and asks again, instead of encoding inside the request."""
        with session_scope(self.engine, write=False) as session:
            need = session.get(Need, need_id)
            if need is None or need.status != "published":
                return False
            return self.need_vector(session, need) is None

    # --- helpers -----------------------------------------------------------------------------
    def candidate_meta(self, session: Session, collection: str, ids: list[int]) -> dict[int, Any]:
        """Filter columns of the candidates, from the index's copy (rows shown are re-read)."""
        meta = self.manager.meta.get(collection)
        if not meta:
            from matcher.documents import load_meta

            return load_meta(session, collection, ids) if ids else {}
        return {i: meta[i] for i in ids if i in meta}


def today() -> dt.date:
    return dt.date.today()
