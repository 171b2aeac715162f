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
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from matcher import reasons, relevance, scoring
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
from matcher.indexing import IndexManager
from matcher.models import InvestorProfile, Lead, Need, Organization, Technology
from matcher.scoring import Scored
from matcher.text import need_text, technology_text

DEPTH = 200  # candidates taken from each side before fusion (recommendations)
SEARCH_DEPTH = 100  # the search box shows ten pages at most
RESULT_CACHE_SIZE = 2_000
DUPLICATE_COSINE = 0.985
CLOSEST = 5  # weak hits shown under the empty state


@dataclass
class Filters:
    """Hard filters of the search box and the API."""

    field: str | None = None
    province: str | None = None
    min_trl: int | None = None
    modes: tuple[str, ...] = ()
    max_price: float | None = None
    need_kind: str | None = None
    min_budget: float | None = None

    def active(self) -> bool:
        return any(
            v not in (None, (), "")
            for v in (
                self.field,
                self.province,
                self.min_trl,
                self.modes,
                self.max_price,
                self.need_kind,
                self.min_budget,
            )
        )


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
                allowed = self._allowed(session, collection, filters, viewer)
                if not text:
                    return self._browse(session, collection, allowed, viewer, limit, offset)
                cached = self._rank(session, collection, text, allowed, viewer, limit, offset)
                if key is not None:
                    self._cache_put(key, cached)
            total, weak, page, closest, tokens = cached
            # The ranking may be reused; the rows are always read again, so an edit shows at
            # once and a row deleted or hidden since is dropped (and no longer counted).
            rows = self._rows(session, collection, [s.id for s in page + closest])

            def shown(items: list[Scored]) -> list[Hit]:
                return [
                    self._hit(collection, s, rows[s.id], tokens, text)
                    for s in items
                    if s.id in rows and self._visible(collection, rows[s.id], viewer)
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
        meta = self._meta(session, collection, [s.id for s in fused])
        visible = [
            s for s in fused if s.id in meta and self._visible(collection, meta[s.id], viewer)
        ]
        if collection == "technologies":
            for item in visible:
                scoring.apply_freshness(item, meta[item.id].valid_until)
                scoring.total(item)
        visible.sort(key=lambda s: (-s.score, s.id))
        head = self._collapse(collection, visible[: offset + limit + 20])
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
        rows = [r for r in rows if self._visible(collection, r, viewer)]
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
            need = self._need(session, need_id, viewer)
            fused, tokens = self.candidates(
                "technologies", need_text(need), vector=self.need_vector(session, need)
            )
            meta = self._meta(session, "technologies", [s.id for s in fused])
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
            out = self._collapse("technologies", out[: limit + 20])[:limit]
            rows = self._rows(session, "technologies", [s.id for s in out])
            text = need_text(need)
            return [self._hit("technologies", s, rows[s.id], tokens, text) for s in out]

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
            rows = self._rows(session, "needs", [s.id for s in fused[: limit * 5 + 50]])
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
                self._hit("needs", s, rows[s.id], tokens, text, quoting=("您的成果", "需求"))
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
                meta = self._meta(session, "technologies", [s.id for s in fused])
                out = [s for s in fused if s.id in meta and meta[s.id].status == "published"]
                cached = (self._collapse("technologies", out[: limit + 20])[:limit], tokens)
                self._cache_put(key, cached)
            page, tokens = cached
            rows = self._rows(session, "technologies", [s.id for s in page])
            hits = [
                self._hit("technologies", s, rows[s.id], tokens, text, quoting=("本成果", "该成果"))
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
            need = self._need(session, need_id, viewer)
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

    def teams_for_text(
        self,
        session: Session,
        text: str,
        *,
        viewer: Viewer = ANONYMOUS,
        limit: int = 10,
        depth: int = DEPTH,
        min_trl: int | None = None,
        exclude_org: int | None = None,
        eligible_kinds: tuple[str, ...] = ("university", "institute", "enterprise"),
        provinces: tuple[str, ...] = (),
        vector: np.ndarray | None = None,
    ) -> list[TeamHit]:
        fused, tokens = self.candidates("technologies", text, depth=depth, vector=vector)
        meta = self._meta(session, "technologies", [s.id for s in fused])
        by_org: dict[int, list[Scored]] = defaultdict(list)
        for item in fused:
            tech = meta.get(item.id)
            if tech is None or tech.status != "published" or tech.owner_id == exclude_org:
                continue
            scoring.apply_trl(item, tech.trl, min_trl)
            scoring.total(item)
            by_org[tech.owner_id].append(item)
        orgs = {
            o.id: o
            for o in session.exec(
                select(Organization).where(col(Organization.id).in_(list(by_org)))
            )
        }
        records = self.track_records(session, list(by_org))

        for items in by_org.values():
            items.sort(key=lambda s: (-s.score, s.id))
        rows = self._rows(
            session, "technologies", [s.id for items in by_org.values() for s in items[:3]]
        )
        teams: list[TeamHit] = []
        for org_id, items in by_org.items():
            org = orgs.get(org_id)
            if org is None or org.kind not in eligible_kinds:
                continue
            if provinces and org.province not in provinces:
                continue
            record = records.get(org_id, {"accepted_leads": 0, "contracts": 0})
            bonus = min(0.1, 0.02 * record["accepted_leads"] + 0.04 * record["contracts"])
            best = [self._hit("technologies", s, rows[s.id], tokens, text) for s in items[:3]]
            top = max(items[:3], key=lambda s: (s.relevance, -s.id))
            related = [s for s in items if relevance.at_least(s.label)]
            # The order is the engine's (the best result counts fully, the next ones less, then
            # the track record); the figure and label shown are the team's best result's.
            parts = {
                "relevance": round(top.relevance, 4),
                "more_results": round(
                    sum(s.score * 0.5**i for i, s in enumerate(items[1:3], 1)), 4
                ),
                "track_record": round(bonus, 4),
            }
            shown = next(h for h in best if h.id == top.id)
            reason = (
                f"{shown.label_text}（相关度 {shown.figure}）：最相关成果《{shown.item.title}》"
                + (f"，另有 {len(related) - 1} 项相关成果" if len(related) > 1 else "")
            )
            # the platform's record of the team stays out of the reason: the reason travels into
            # the invitation the team receives, the record is the organizer's own note (shown apart)
            teams.append(
                TeamHit(
                    org,
                    round(sum(s.score * 0.5**i for i, s in enumerate(items[:3])) + bonus, 4),
                    best,
                    record,
                    reason,
                    parts,
                    relevance=top.relevance,
                    label=top.label,
                )
            )
        teams.sort(key=lambda t: (-t.score, t.organization.id or 0))
        return teams[:limit]

    @staticmethod
    def track_records(session: Session, org_ids: list[int]) -> dict[int, dict[str, int]]:
        if not org_ids:
            return {}
        leads = session.exec(select(Lead).where(col(Lead.supplier_id).in_(org_ids))).all()
        out: dict[int, dict[str, int]] = {i: {"accepted_leads": 0, "contracts": 0} for i in org_ids}
        for lead in leads:
            if lead.stage in ("negotiation", "signed", "registered", "interest"):
                out[lead.supplier_id]["accepted_leads"] += 1
            if lead.stage in ("signed", "registered"):
                out[lead.supplier_id]["contracts"] += 1
        return out

    def investors_for_need(
        self, need_id: int, *, viewer: Viewer = ANONYMOUS, limit: int = 10
    ) -> list[Hit]:
        """Financing need → investors: preference text plus stage, ticket size, field and region."""
        with session_scope(self.engine, write=False) as session:
            need = self._need(session, need_id, viewer)
            fused, tokens = self.candidates(
                "investors", need_text(need) + "\n" + (need.field or "")
            )
            ids = [s.id for s in fused]
            orgs = {
                o.id: o
                for o in session.exec(select(Organization).where(col(Organization.id).in_(ids)))
            }
            profiles = {
                p.organization_id: p
                for p in session.exec(
                    select(InvestorProfile).where(col(InvestorProfile.organization_id).in_(ids))
                )
            }
            out = []
            for item in fused:
                org, profile = orgs.get(item.id), profiles.get(item.id)
                if org is None or profile is None:
                    continue
                if profile.stages and need.stage and need.stage not in profile.stages:
                    continue  # hard filter: the investor does not do this stage
                if profile.regions and need.province and need.province not in profile.regions:
                    continue
                amount = need.amount
                if amount is not None:
                    if profile.ticket_max is not None and amount > profile.ticket_max * 3:
                        item.gaps.append(
                            f"融资金额 {amount:g} 万元远超其单笔上限 {profile.ticket_max:g} 万元"
                        )
                        item.parts["ticket"] = -0.1
                    elif profile.ticket_min is not None and amount < profile.ticket_min:
                        item.gaps.append(
                            f"融资金额 {amount:g} 万元低于其单笔下限 {profile.ticket_min:g} 万元"
                        )
                        item.parts["ticket"] = -0.05
                    else:
                        item.parts["ticket"] = 0.0
                        item.notes.append("金额在其单笔投资范围内")
                if need.stage and need.stage in profile.stages:
                    item.notes.append(f"投资阶段包含{need.stage}")
                    item.parts["stage"] = 0.03
                if need.field and profile.fields:
                    scoring.apply_field(
                        item, need.field if need.field in profile.fields else "", need.field
                    )
                if (
                    need.financing_type == "debt"
                    and "银行" not in org.name
                    and "贷款" not in profile.preference
                ):
                    item.parts["type"] = -0.05
                    item.gaps.append("需求为债权融资，该机构以股权投资为主")
                scoring.total(item)
                out.append(item)
            out.sort(key=lambda s: (-s.score, s.id))
            return [self._hit("investors", s, orgs[s.id], tokens) for s in out[:limit]]

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
    def _need(self, session: Session, need_id: int, viewer: Viewer) -> Need:
        need = session.get(Need, need_id)
        if need is None or not can_see_need(need, viewer):
            raise NotFound("需求不存在")
        return need

    def _allowed(
        self, session: Session, collection: str, filters: Filters, viewer: Viewer
    ) -> set[int] | None:
        """Ids passing the hard filters and visibility, or None when nothing restricts the search."""
        if collection == "technologies":
            if not filters.active():
                return None
            stmt = select(Technology.id).where(col(Technology.status) == "published")
            if filters.field:
                stmt = stmt.where(col(Technology.field) == filters.field)
            if filters.min_trl:
                stmt = stmt.where(col(Technology.trl) >= filters.min_trl)
            if filters.max_price is not None:
                stmt = stmt.where(
                    or_(col(Technology.price).is_(None), col(Technology.price) <= filters.max_price)
                )
            if filters.province:
                stmt = stmt.join(
                    Organization, col(Organization.id) == col(Technology.owner_id)
                ).where(col(Organization.province) == filters.province)
            ids = {i for i in session.exec(stmt).all() if i is not None}
            if filters.modes:
                wanted = set(filters.modes)
                rows = session.exec(
                    select(Technology.id, Technology.cooperation_modes).where(
                        col(Technology.id).in_(ids)
                    )
                )
                ids = {i for i, modes in rows if i is not None and wanted & set(modes or [])}
            return ids
        if collection == "needs":
            stmt_n = select(Need.id).where(
                visible_needs_clause(viewer), col(Need.status) == "published"
            )
            if filters.field:
                stmt_n = stmt_n.where(col(Need.field) == filters.field)
            if filters.province:
                stmt_n = stmt_n.where(col(Need.province) == filters.province)
            if filters.need_kind:
                stmt_n = stmt_n.where(col(Need.kind) == filters.need_kind)
            if filters.min_budget is not None:
                stmt_n = stmt_n.where(col(Need.budget) >= filters.min_budget)
            return {i for i in session.exec(stmt_n).all() if i is not None}
        return None

    def _meta(self, session: Session, collection: str, ids: list[int]) -> dict[int, Any]:
        """Filter columns of the candidates, from the index's copy (rows shown are re-read)."""
        meta = self.manager.meta.get(collection)
        if not meta:
            from matcher.indexing import load_meta

            return load_meta(session, collection, ids) if ids else {}
        return {i: meta[i] for i in ids if i in meta}

    @staticmethod
    def _rows(session: Session, collection: str, ids: list[int]) -> dict[int, Any]:
        if not ids:
            return {}
        model: Any = {"technologies": Technology, "needs": Need, "investors": Organization}[
            collection
        ]
        # Plain Core rows (attribute access like the model, without the ORM's identity map):
        # these are only read, to render and to re-check visibility.
        table = model.__table__
        rows = session.connection().execute(table.select().where(table.c.id.in_(ids)))
        return {r.id: r for r in rows}

    @staticmethod
    def _visible(collection: str, row: Any, viewer: Viewer) -> bool:
        if collection == "technologies":
            return row.status == "published" and can_see_technology(row, viewer)
        if collection == "needs":
            return row.status == "published" and can_see_need(row, viewer)
        return True

    def _collapse(self, collection: str, items: list[Scored]) -> list[Scored]:
        """Fold near-duplicate listings (nearly the same vector) into the best-ranked of them."""
        if len(items) < 2:
            return items
        vectors = self.manager.collections[collection].vectors
        with self.manager.lock:
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

    def _hit(
        self,
        collection: str,
        item: Scored,
        row: Any,
        tokens: list[str],
        query_text: str = "",
        *,
        quoting: tuple[str, str] | None = None,
    ) -> Hit:
        """`quoting` names the two texts of the matched passage, e.g. ("您的需求", "成果")."""
        lexical = self.manager.collections[collection].lexical
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
                query_text, hit_text(), terms, self.manager.lexer.tokens, lexical.idf
            )
            if passage is not None:
                default = (
                    ("您的需求", "成果") if collection == "technologies" else ("您的描述", "需求")
                )
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


def today() -> dt.date:
    return dt.date.today()
