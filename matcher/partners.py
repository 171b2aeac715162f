"""Who could deliver: teams (organizations ranked by their results) for a need or a
challenge's text, and investors for a financing need. Both rank with the engine's candidates and
show the same relevance labels as search (matcher.hits)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np
from sqlmodel import Session, col, select

from matcher import relevance, scoring
from matcher.access import ANONYMOUS, Viewer
from matcher.db import session_scope
from matcher.hits import Hit, TeamHit, build_hit, read_rows, readable_need
from matcher.models import InvestorProfile, Lead, Organization
from matcher.scoring import DEPTH, Scored
from matcher.text import need_text

if TYPE_CHECKING:
    from matcher.matching import Matcher


def teams_for_text(
    matcher: Matcher,
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
    fused, tokens = matcher.candidates("technologies", text, depth=depth, vector=vector)
    meta = matcher.candidate_meta(session, "technologies", [s.id for s in fused])
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
        for o in session.exec(select(Organization).where(col(Organization.id).in_(list(by_org))))
    }
    records = track_records(session, list(by_org))

    for items in by_org.values():
        items.sort(key=lambda s: (-s.score, s.id))
    rows = read_rows(
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
        best = [
            build_hit(matcher.manager, "technologies", s, rows[s.id], tokens, text)
            for s in items[:3]
        ]
        top = max(items[:3], key=lambda s: (s.relevance, -s.id))
        related = [s for s in items if relevance.at_least(s.label)]
        # The order is the engine's (the best result counts fully, the next ones less, then
        # the track record); the figure and label shown are the team's best result's.
        parts = {
            "relevance": round(top.relevance, 4),
            "more_results": round(sum(s.score * 0.5**i for i, s in enumerate(items[1:3], 1)), 4),
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
    matcher: Matcher, need_id: int, *, viewer: Viewer = ANONYMOUS, limit: int = 10
) -> list[Hit]:
    """Financing need → investors: preference text plus stage, ticket size, field and region."""
    with session_scope(matcher.engine, write=False) as session:
        need = readable_need(session, need_id, viewer)
        fused, tokens = matcher.candidates("investors", need_text(need) + "\n" + (need.field or ""))
        ids = [s.id for s in fused]
        orgs = {
            o.id: o for o in session.exec(select(Organization).where(col(Organization.id).in_(ids)))
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
        return [build_hit(matcher.manager, "investors", s, orgs[s.id], tokens) for s in out[:limit]]
