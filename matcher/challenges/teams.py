"""Finding the teams most likely to solve a challenge, checking their results against its
indicators, and inviting them to apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from matcher import relevance, services
from matcher.access import Viewer
from matcher.challenges import indicators as ind
from matcher.challenges.access import can_manage
from matcher.challenges.models import (
    ELIGIBLE_KINDS,
    Application,
    Challenge,
    ChallengeIndicator,
    ChallengeInvite,
)
from matcher.challenges.publishing import challenge_text, indicators_of
from matcher.errors import Conflict, NotFound
from matcher.models import Organization, Technology, pk
from matcher.notifications import notify_org


@dataclass
class IndicatorCheck:
    indicator: ChallengeIndicator
    verdict: ind.Verdict
    technology_title: str = ""


@dataclass
class Candidate(relevance.Labelled):
    organization: Organization
    score: float
    reason: str
    technologies: list[Any]  # matching.Hit
    checks: list[IndicatorCheck]
    trl_fit: str
    eligible: bool
    eligibility_note: str
    track_record: dict[str, int]
    invited: bool = False
    applied: bool = False
    parts: dict[str, float] = field(default_factory=dict)
    relevance: float = 0.0  # the team's best result's calibrated relevance (matcher.relevance)
    label: str = "weak"

    @property
    def meets(self) -> int:
        return sum(1 for c in self.checks if c.verdict.status == ind.MEETS)


def eligibility(challenge: Challenge, org: Organization) -> tuple[bool, str]:
    if challenge.eligible_kinds and org.kind not in challenge.eligible_kinds:
        kinds = "、".join(ELIGIBLE_KINDS[k] for k in challenge.eligible_kinds)
        return False, f"仅限{kinds}揭榜"
    if challenge.eligible_provinces and org.province not in challenge.eligible_provinces:
        return False, f"仅限{'、'.join(challenge.eligible_provinces)}的单位揭榜"
    if org.id == challenge.publisher_id:
        return False, "发榜单位不能揭榜"
    return True, "符合揭榜条件"


def check_indicators(
    rows: list[ChallengeIndicator], technologies: list[Technology]
) -> list[IndicatorCheck]:
    """Per indicator, the best verdict over the team's matching results (meets > short > unknown)."""
    rank = {ind.MEETS: 0, ind.SHORT: 1, ind.UNKNOWN: 2}
    out = []
    for row in rows:
        best: IndicatorCheck | None = None
        for tech in technologies:
            text = f"{tech.title}。{tech.summary}。{'；'.join(tech.keywords or [])}"
            verdict = ind.compare(
                text, row.name, row.comparison, row.value, row.value_max, row.unit
            )
            if best is None or rank[verdict.status] < rank[best.verdict.status]:
                best = IndicatorCheck(row, verdict, tech.title)
        out.append(best or IndicatorCheck(row, ind.compare("", row.name, "=", 0, None, "")))
    return out


def trl_fit(min_trl: int | None, trls: list[int]) -> tuple[str, float]:
    """How the team's most mature result compares with the required TRL, and the factor on its
    score (a team below the requirement counts 0.8)."""
    if min_trl is None or not trls:
        return ("—" if not trls else f"TRL {max(trls)}"), 1.0
    if max(trls) >= min_trl:
        return f"TRL {max(trls)} ≥ 要求的 {min_trl}", 1.0
    return f"TRL {max(trls)} 低于要求的 {min_trl}", 0.8


def find_teams(
    *, session: Session, viewer: Viewer, matcher: Any, challenge: Challenge, limit: int = 10
) -> list[Candidate]:
    """Organizations ranked by their results' relevance (best result first, more results
    counting less), track record, TRL fit and eligibility, with indicator checks."""
    if not can_manage(viewer, challenge):
        raise NotFound("榜单不存在")
    rows = indicators_of(session=session, challenge_id=pk(challenge))
    teams = matcher.teams_for_text(
        session,
        challenge_text(challenge, rows),
        limit=limit * 3,
        exclude_org=challenge.publisher_id,
        eligible_kinds=tuple(challenge.eligible_kinds or ELIGIBLE_KINDS),
    )
    invited = set(
        session.exec(
            select(ChallengeInvite.organization_id).where(
                ChallengeInvite.challenge_id == challenge.id
            )
        ).all()
    )
    applied = set(
        session.exec(
            select(Application.organization_id).where(
                Application.challenge_id == challenge.id, Application.status != "draft"
            )
        ).all()
    )
    out = [_candidate(session, challenge, rows, team) for team in teams]
    for c in out:
        c.invited, c.applied = c.organization.id in invited, c.organization.id in applied
    # teams that reach 相关 first: the threshold that rules recommendations rules this list too
    out.sort(key=lambda c: (not c.recommendable, -c.score, c.organization.id or 0))
    return out[:limit]


def _candidate(
    session: Session, challenge: Challenge, rows: list[ChallengeIndicator], team: Any
) -> Candidate:
    """One team (a `matching.TeamHit`) scored for this challenge: TRL fit, indicators met or
    missed, eligibility (an ineligible team sinks to the bottom)."""
    org = team.organization
    ok, note = eligibility(challenge, org)
    techs = [session.get(Technology, hit.id) for hit in team.technologies]
    techs_found = [t for t in techs if t is not None]
    fit, trl_factor = trl_fit(challenge.min_trl, [t.trl for t in techs_found if t.trl])
    checks = check_indicators(rows, techs_found)
    meets = sum(1 for c in checks if c.verdict.status == ind.MEETS)
    shorts = sum(1 for c in checks if c.verdict.status == ind.SHORT)
    indicator_bonus = 0.03 * meets - 0.02 * shorts
    score = team.score * trl_factor + indicator_bonus - (0 if ok else 1.0)
    reason = team.reason + (f"；{meets} 项考核指标已有成果达到" if meets else "")
    return Candidate(
        organization=org, score=round(score, 4), reason=reason,
        technologies=team.technologies, checks=checks, trl_fit=fit,
        eligible=ok, eligibility_note=note, track_record=team.track_record,
        parts={**team.parts, "indicators": indicator_bonus, "trl_factor": trl_factor},
        relevance=team.relevance, label=team.label,
    )  # fmt: skip


def invite(
    *,
    session: Session,
    viewer: Viewer,
    challenge: Challenge,
    organization_id: int,
    reason: str = "",
    score: float = 0.0,
) -> ChallengeInvite:
    if not can_manage(viewer, challenge):
        raise NotFound("榜单不存在")
    if challenge.status != "open":
        raise Conflict("榜单发布（审核通过）后才能邀请揭榜")
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFound("单位不存在")
    ok, note = eligibility(challenge, org)
    if not ok:
        raise Conflict(f"不能邀请：{note}")
    existing = session.exec(
        select(ChallengeInvite).where(
            ChallengeInvite.challenge_id == challenge.id,
            ChallengeInvite.organization_id == organization_id,
        )
    ).first()
    if existing is not None:
        return existing
    row = ChallengeInvite(
        challenge_id=pk(challenge),
        organization_id=organization_id,
        reason=reason.strip()[:1000],
        score=score,
        invited_by=viewer.user_id,
    )
    session.add(row)
    notify_org(
        session,
        organization_id,
        "challenge.invite",
        f"邀请揭榜「{challenge.title}」（经费 {challenge.bounty:g} 万元）"
        + (f"：{reason.strip()}" if reason.strip() else ""),
        f"/challenges/{challenge.id}",
    )
    services.audit(
        session=session,
        action="challenge.invite",
        actor_id=viewer.user_id,
        object_type="challenge",
        object_id=challenge.id,
        detail={"organization_id": organization_id},
    )
    return row
