"""揭榜挂帅 rules: who may publish, see, apply, review and decide, and what each step changes.

Every function takes the `Viewer` asking and checks it; pages and the API call these and nothing
else, so a rule (a conflict of interest, a deadline, an owner) holds on every path."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jieba
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from matcher import relevance, services
from matcher.access import Viewer, visibilities_for
from matcher.challenges import indicators as ind
from matcher.challenges.models import (
    APPLICATION_STATUSES,
    COMPARISONS,
    ELIGIBLE_KINDS,
    LISTED,
    RUBRIC,
    Application,
    ApplicationEvent,
    ApplicationPartner,
    Attachment,
    AwardMilestone,
    Challenge,
    ChallengeIndicator,
    ChallengeInvite,
    ExpertAssignment,
    ExpertConflict,
)
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.files import atomic_write_bytes
from matcher.leads import open_lead
from matcher.models import Lead, Organization, Technology, User, pk, utcnow
from matcher.notifications import notify_org, notify_user
from matcher.vocab import TECH_FIELDS

COI_YEARS = 3
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
MAX_ATTACHMENTS = 10


def today() -> dt.date:
    return dt.date.today()


# --------------------------------------------------------------------------------------------
# roles
# --------------------------------------------------------------------------------------------


def is_publisher(viewer: Viewer, challenge: Challenge) -> bool:
    return viewer.organization_id is not None and viewer.organization_id == challenge.publisher_id


def is_organizer(viewer: Viewer, challenge: Challenge) -> bool:
    """Admins, and organizers of the agency running the challenge (any organizer while no agency
    has taken it on)."""
    if not viewer.is_staff:
        return False
    return viewer.is_admin or challenge.organizer_id in (None, viewer.organization_id)


def can_manage(viewer: Viewer, challenge: Challenge) -> bool:
    """The publisher's users and the challenge's organizers."""
    return is_organizer(viewer, challenge) or is_publisher(viewer, challenge)


def require_organizer(viewer: Viewer, challenge: Challenge) -> None:
    if not viewer.is_staff:
        raise Forbidden("仅平台组织方可以操作")
    if not is_organizer(viewer, challenge):
        raise NotFound("榜单不存在")


def may_see_reviewers(viewer: Viewer, challenge: Challenge) -> bool:
    """Reviewers are anonymous to applicants and publishers unless the organizer publishes the
    panel; the challenge's organizers always know them."""
    return is_organizer(viewer, challenge) or challenge.panel_public


def can_see(viewer: Viewer, challenge: Challenge) -> bool:
    if can_manage(viewer, challenge):
        return True
    return challenge.status in LISTED and challenge.visibility in visibilities_for(viewer)


def get_challenge(session: Session, viewer: Viewer, challenge_id: int) -> Challenge:
    challenge = session.get(Challenge, challenge_id)
    if challenge is None or not can_see(viewer, challenge):
        raise NotFound("榜单不存在")
    return challenge


def managed_challenge(session: Session, viewer: Viewer, challenge_id: int) -> Challenge:
    challenge = get_challenge(session, viewer, challenge_id)
    if not can_manage(viewer, challenge):
        raise NotFound("榜单不存在")
    return challenge


def require_staff(viewer: Viewer) -> None:
    if not viewer.is_staff:
        raise Forbidden("仅平台组织方可以操作")


# --------------------------------------------------------------------------------------------
# publishing
# --------------------------------------------------------------------------------------------


@dataclass
class IndicatorIn:
    name: str
    comparison: str
    value: float
    value_max: float | None = None
    unit: str = ""


@dataclass
class ChallengeIn:
    title: str
    problem: str
    application_deadline: dt.date
    bounty: float = 0.0
    tech_field: str = ""
    rnd_budget: float | None = None
    min_trl: int | None = None
    review_on: dt.date | None = None
    start_on: dt.date | None = None
    acceptance_on: dt.date | None = None
    eligible_provinces: list[str] = field(default_factory=list)
    eligible_kinds: list[str] = field(default_factory=list)
    visibility: str = "public"
    indicators: list[IndicatorIn] = field(default_factory=list)


def validate_challenge(data: ChallengeIn) -> dict[str, str]:
    """Field → message in Chinese; empty when the challenge is valid."""
    errors: dict[str, str] = {}
    if not data.title.strip():
        errors["title"] = "请填写榜单名称"
    elif len(data.title) > 200:
        errors["title"] = "榜单名称不超过 200 字"
    if len(data.problem.strip()) < 20:
        errors["problem"] = "请用至少 20 个字描述要解决的问题"
    if data.tech_field and data.tech_field not in TECH_FIELDS:
        errors["field"] = "请选择技术领域"
    if not 0 <= data.bounty <= 1_000_000:
        errors["bounty"] = "揭榜经费应在 0–1,000,000 万元之间"
    if data.rnd_budget is not None and not 0 <= data.rnd_budget <= 10_000_000:
        errors["rnd_budget"] = "研发投入应为非负数（万元）"
    if data.min_trl is not None and not 1 <= data.min_trl <= 9:
        errors["min_trl"] = "成熟度应在 1–9 之间"
    if data.application_deadline < today():
        errors["application_deadline"] = "揭榜截止日期不能早于今天"
    order = [
        ("application_deadline", data.application_deadline),
        ("review_on", data.review_on),
        ("start_on", data.start_on),
        ("acceptance_on", data.acceptance_on),
    ]
    dated = [(k, d) for k, d in order if d is not None]
    for (_k1, d1), (k2, d2) in itertools.pairwise(dated):
        if d2 < d1:
            errors[k2] = "时间节点应依次为：揭榜截止 → 评审 → 启动 → 验收"
    if any(k not in ELIGIBLE_KINDS for k in data.eligible_kinds):
        errors["eligible_kinds"] = "单位类型只能是高校、科研院所、企业"
    if data.visibility not in ("public", "registered", "organizers"):
        errors["visibility"] = "可见范围应为公开、注册用户或仅组织方"
    for i, row in enumerate(data.indicators, start=1):
        if not row.name.strip():
            errors["indicators"] = f"第 {i} 项指标缺少名称"
        elif row.comparison not in COMPARISONS:
            errors["indicators"] = f"第 {i} 项指标的比较方式应为 ≥、≤、= 或区间"
        elif row.comparison == "range" and (row.value_max is None or row.value_max < row.value):
            errors["indicators"] = f"第 {i} 项指标是区间：请填写上限，且不小于下限"
        elif len(row.unit) > 20 or len(row.name) > 100:
            errors["indicators"] = f"第 {i} 项指标的名称或单位太长"
    if len(data.indicators) > 20:
        errors["indicators"] = "考核指标最多 20 项"
    return errors


def save_challenge(
    session: Session,
    viewer: Viewer,
    data: ChallengeIn,
    *,
    existing: Challenge | None = None,
    submit: bool = True,
    publisher_id: int | None = None,
) -> Challenge:
    """Create or edit a challenge; `submit` sends it to moderation (organizers' own challenges
    go straight out)."""
    if viewer.role not in ("enterprise", "organizer", "admin"):
        raise Forbidden("企业用户或平台组织方可以发布榜单")
    errors = validate_challenge(data)
    if errors:
        raise ValidationFailed("；".join(dict.fromkeys(errors.values())))
    if existing is not None:
        if not can_manage(viewer, existing):
            raise NotFound("榜单不存在")
        if existing.status not in ("draft", "pending", "rejected"):
            raise Conflict("榜单已发布，不能再修改内容")
        challenge = existing
    else:
        owner = viewer.organization_id if publisher_id is None else publisher_id
        if owner is None:
            raise ValidationFailed("请指定发榜单位")
        if publisher_id is not None and publisher_id != viewer.organization_id:
            require_staff(viewer)  # organizers publish on behalf of an enterprise or agency
        challenge = Challenge(
            publisher_id=owner,
            created_by=viewer.user_id,
            title="",
            problem="",
            application_deadline=data.application_deadline,
            organizer_id=viewer.organization_id if viewer.is_staff else None,
        )
    challenge.title = data.title.strip()
    challenge.problem = data.problem.strip()
    challenge.field = data.tech_field
    challenge.bounty = data.bounty
    challenge.rnd_budget = data.rnd_budget
    challenge.min_trl = data.min_trl
    challenge.application_deadline = data.application_deadline
    challenge.review_on = data.review_on
    challenge.start_on = data.start_on
    challenge.acceptance_on = data.acceptance_on
    challenge.eligible_provinces = list(data.eligible_provinces)
    challenge.eligible_kinds = list(data.eligible_kinds)
    challenge.visibility = data.visibility
    challenge.updated_at = utcnow()
    if submit:
        challenge.status = "open" if viewer.is_staff else "pending"
        if challenge.status == "open":
            challenge.published_at = utcnow()
    else:
        challenge.status = "draft"
    session.add(challenge)
    session.flush()
    for old in session.exec(
        select(ChallengeIndicator).where(ChallengeIndicator.challenge_id == challenge.id)
    ):
        session.delete(old)
    for i, row in enumerate(data.indicators):
        session.add(
            ChallengeIndicator(
                challenge_id=pk(challenge),
                position=i,
                name=row.name.strip(),
                comparison=row.comparison,
                value=row.value,
                value_max=row.value_max if row.comparison == "range" else None,
                unit=row.unit.strip(),
            )
        )
    services.audit(
        session=session,
        action="challenge.save",
        actor_id=viewer.user_id,
        object_type="challenge",
        object_id=challenge.id,
        detail={"status": challenge.status},
    )
    return challenge


def moderate(
    session: Session, viewer: Viewer, challenge: Challenge, *, approve: bool, note: str = ""
) -> Challenge:
    require_organizer(viewer, challenge)
    if challenge.status != "pending":
        raise Conflict("只有待审核的榜单可以审核")
    if not approve and not note.strip():
        raise ValidationFailed("请填写不通过的理由")
    if approve and challenge.organizer_id is None and not viewer.is_admin:
        challenge.organizer_id = viewer.organization_id  # the approving agency runs it
    challenge.status = "open" if approve else "rejected"
    challenge.moderation_note = note.strip()
    challenge.published_at = utcnow() if approve else None
    session.add(challenge)
    notify_org(
        session,
        challenge.publisher_id,
        "challenge.moderated",
        f"榜单「{challenge.title}」" + ("已通过审核并发布" if approve else f"未通过审核：{note}"),
        f"/challenges/{challenge.id}",
    )
    services.audit(
        session=session,
        action="challenge.moderate",
        actor_id=viewer.user_id,
        object_type="challenge",
        object_id=challenge.id,
        detail={"approve": approve},
    )
    return challenge


def indicators_of(session: Session, challenge_id: int) -> list[ChallengeIndicator]:
    return list(
        session.exec(
            select(ChallengeIndicator)
            .where(ChallengeIndicator.challenge_id == challenge_id)
            .order_by(col(ChallengeIndicator.position))
        )
    )


def challenge_text(challenge: Challenge, rows: list[ChallengeIndicator]) -> str:
    """What the engine reads: the problem in the publisher's words and the indicator names."""
    names = "、".join(r.name for r in rows)
    return f"{challenge.title}\n{challenge.problem}" + (f"\n考核指标：{names}" if names else "")


def list_challenges(
    session: Session,
    viewer: Viewer,
    *,
    status: str = "",
    field_name: str = "",
    q: str = "",
    mine: bool = False,
) -> list[Challenge]:
    """Listed challenges the viewer may see (and the viewer's own in any state), filtered; a
    query ranks by how many of its words appear in the title (twice) and the problem."""
    stmt = select(Challenge)
    if mine:
        stmt = stmt.where(Challenge.publisher_id == (viewer.organization_id or -1))
    elif not viewer.is_staff:
        stmt = stmt.where(
            or_(
                col(Challenge.status).in_(LISTED)
                & col(Challenge.visibility).in_(visibilities_for(viewer)),
                col(Challenge.publisher_id) == (viewer.organization_id or -1),
            )
        )
    if status == "open":
        stmt = stmt.where(Challenge.status == "open")
    elif status == "closed":
        stmt = stmt.where(col(Challenge.status).in_(("reviewing", "closed")))
    elif status == "awarded":
        stmt = stmt.where(col(Challenge.status).in_(("awarded", "accepted")))
    elif status:
        stmt = stmt.where(Challenge.status == status)
    if field_name:
        stmt = stmt.where(Challenge.field == field_name)
    rows = list(session.exec(stmt.order_by(col(Challenge.updated_at).desc()).limit(500)))
    words = [w for w in jieba.lcut_for_search(q.strip()) if len(w.strip()) > 1] if q else []
    if q and not words:
        words = [q.strip()]
    if words:
        scored = [(sum(2 * (w in c.title) + (w in c.problem) for w in words), c) for c in rows]
        rows = [c for s, c in sorted(scored, key=lambda sc: -sc[0]) if s > 0]
    return rows


# --------------------------------------------------------------------------------------------
# finding teams
# --------------------------------------------------------------------------------------------


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


def find_teams(
    session: Session, viewer: Viewer, matcher: Any, challenge: Challenge, *, limit: int = 10
) -> list[Candidate]:
    """Organizations ranked by their results' relevance (best result first, more results
    counting less), track record, TRL fit and eligibility, with indicator checks."""
    if not can_manage(viewer, challenge):
        raise NotFound("榜单不存在")
    rows = indicators_of(session, pk(challenge))
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
    out: list[Candidate] = []
    for team in teams:
        org = team.organization
        ok, note = eligibility(challenge, org)
        techs = [session.get(Technology, hit.id) for hit in team.technologies]
        techs_found = [t for t in techs if t is not None]
        trls = [t.trl for t in techs_found if t.trl]
        if challenge.min_trl is None or not trls:
            trl_fit = "—" if not trls else f"TRL {max(trls)}"
            trl_factor = 1.0
        elif max(trls) >= challenge.min_trl:
            trl_fit, trl_factor = f"TRL {max(trls)} ≥ 要求的 {challenge.min_trl}", 1.0
        else:
            trl_fit, trl_factor = f"TRL {max(trls)} 低于要求的 {challenge.min_trl}", 0.8
        checks = check_indicators(rows, techs_found)
        meets = sum(1 for c in checks if c.verdict.status == ind.MEETS)
        shorts = sum(1 for c in checks if c.verdict.status == ind.SHORT)
        indicator_bonus = 0.03 * meets - 0.02 * shorts
        score = team.score * trl_factor + indicator_bonus - (0 if ok else 1.0)
        reason = team.reason
        if meets:
            reason += f"；{meets} 项考核指标已有成果达到"
        out.append(
            Candidate(
                organization=org, score=round(score, 4), reason=reason,
                technologies=team.technologies, checks=checks, trl_fit=trl_fit,
                eligible=ok, eligibility_note=note, track_record=team.track_record,
                invited=org.id in invited, applied=org.id in applied,
                parts={**team.parts, "indicators": indicator_bonus, "trl_factor": trl_factor},
                relevance=team.relevance, label=team.label,
            )
        )  # fmt: skip
    # teams that reach 相关 first: the threshold that rules recommendations rules this list too
    out.sort(key=lambda c: (not c.recommendable, -c.score, c.organization.id or 0))
    return out[:limit]


def invite(
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


# --------------------------------------------------------------------------------------------
# applications
# --------------------------------------------------------------------------------------------


@dataclass
class ApplicationIn:
    team: str
    leader: str
    approach: str
    budget: float | None = None
    milestones: list[dict[str, Any]] = field(default_factory=list)  # title, due (ISO), amount
    partner_names: list[str] = field(default_factory=list)
    cited_technology_ids: list[int] = field(default_factory=list)
    indicator_answers: dict[int, str] = field(default_factory=dict)  # indicator id → answer


def validate_application(data: ApplicationIn, *, submitting: bool) -> dict[str, str]:
    errors: dict[str, str] = {}
    if len(data.team) > 100:
        errors["team"] = "团队名称不超过 100 字"
    if submitting:
        if not data.team.strip():
            errors["team"] = "请填写揭榜团队"
        if not data.leader.strip():
            errors["leader"] = "请填写团队负责人"
        if len(data.approach.strip()) < 50:
            errors["approach"] = "请用至少 50 个字说明技术路线与方案"
        if data.budget is None:
            errors["budget"] = "请填写申请经费（万元）"
        if not data.milestones:
            errors["milestones"] = "至少填写一个里程碑"
    if any(len(a) > 200 for a in data.indicator_answers.values()):
        errors["indicators"] = "每项指标的回答不超过 200 字"
    if len(data.cited_technology_ids) > 20:
        errors["cited"] = "最多引用 20 项成果"
    if data.budget is not None and not 0 <= data.budget <= 1_000_000:
        errors["budget"] = "申请经费应为非负数（万元）"
    for i, m in enumerate(data.milestones, start=1):
        if not str(m.get("title", "")).strip():
            errors["milestones"] = f"第 {i} 个里程碑缺少内容"
        try:
            if m.get("due"):
                dt.date.fromisoformat(str(m["due"]))
        except ValueError:
            errors["milestones"] = f"第 {i} 个里程碑的日期格式应为 2027-06-30"
        if m.get("amount") not in (None, "") and not _is_number(m.get("amount")):
            errors["milestones"] = f"第 {i} 个里程碑的拨付金额应为数字（万元）"
    return errors


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def my_application(session: Session, viewer: Viewer, challenge: Challenge) -> Application | None:
    if viewer.organization_id is None:
        return None
    return session.exec(
        select(Application).where(
            Application.challenge_id == challenge.id,
            Application.organization_id == viewer.organization_id,
        )
    ).first()


def _timeline(
    session: Session, application: Application, status: str, viewer: Viewer, note: str = ""
) -> None:
    session.add(
        ApplicationEvent(
            application_id=pk(application), status=status, note=note, actor_id=viewer.user_id
        )
    )


def save_application(
    session: Session, viewer: Viewer, challenge: Challenge, data: ApplicationIn, *, submit: bool
) -> Application:
    if viewer.organization_id is None or viewer.role not in ("enterprise", "university"):
        raise Forbidden("请以高校、院所或企业的单位账号揭榜")
    if challenge.status != "open":
        raise Conflict("该榜单当前不接受揭榜")
    org = session.get(Organization, viewer.organization_id)
    if org is None:
        raise NotFound("单位不存在")
    ok, note = eligibility(challenge, org)
    if not ok:
        raise Conflict(f"不能揭榜：{note}")
    if submit and today() > challenge.application_deadline:
        raise Conflict(f"揭榜已于 {challenge.application_deadline.isoformat()} 截止")
    errors = validate_application(data, submitting=submit)
    if errors:
        raise ValidationFailed("；".join(dict.fromkeys(errors.values())))
    partners: list[Organization] = []
    for name in data.partner_names:
        if not name.strip():
            continue
        partner = services.organization_by_name(session=session, name=name.strip())
        if partner is None:
            raise ValidationFailed(f"联合申请单位「{name.strip()}」不在平台上")
        if partner.id != org.id and partner not in partners:
            partners.append(partner)
    cited = own_citable_results(session, viewer, data.cited_technology_ids)
    rows = indicators_of(session, pk(challenge))
    known = {pk(r) for r in rows}
    if set(data.indicator_answers) - known:
        raise ValidationFailed("回答了不属于本榜单的指标")
    answers = {str(k): v.strip() for k, v in data.indicator_answers.items() if v.strip()}
    application = my_application(session, viewer, challenge)
    if application is None:
        application = Application(
            challenge_id=pk(challenge), organization_id=pk(org), created_by=viewer.user_id
        )
    elif application.status not in ("draft", "withdrawn", "submitted"):
        raise Conflict("申请已进入评审，不能再修改")
    application.team = data.team.strip()
    application.leader = data.leader.strip()
    application.approach = data.approach.strip()
    application.budget = data.budget
    application.milestones = [
        {
            "title": str(m.get("title", "")).strip()[:200],
            "due": str(m.get("due") or ""),
            "amount": float(m["amount"]) if m.get("amount") not in (None, "") else None,
        }
        for m in data.milestones
    ]
    application.cited_technology_ids = [pk(t) for t in cited]
    application.indicator_answers = answers
    application.updated_at = utcnow()
    created = application.id is None
    before = application.status
    if submit:
        application.status = "submitted"
        application.submitted_at = utcnow()
    elif application.status == "withdrawn":
        application.status = "draft"
    session.add(application)
    session.flush()
    _name_partners(session, application, challenge, org, partners)
    if created or application.status != before:
        _timeline(session, application, application.status, viewer)
    if submit and before != "submitted":
        notify_org(
            session,
            challenge.publisher_id,
            "challenge.application",
            f"「{org.name}」揭榜「{challenge.title}」",
            f"/challenges/{challenge.id}",
        )
    return application


def own_citable_results(
    session: Session, viewer: Viewer, technology_ids: list[int]
) -> list[Technology]:
    """The applicant's own listed results among `technology_ids`; citing another organization's
    result, or one that is not listed, is refused."""
    if not technology_ids:
        return []
    rows = list(session.exec(select(Technology).where(col(Technology.id).in_(set(technology_ids)))))
    if len(rows) != len(set(technology_ids)) or any(
        t.owner_id != viewer.organization_id or t.status not in ("published", "transferred")
        for t in rows
    ):
        raise Forbidden("只能引用本单位已发布的成果")
    order = {tid: i for i, tid in enumerate(technology_ids)}
    return sorted(rows, key=lambda t: order[pk(t)])


def citable_results(session: Session, viewer: Viewer) -> list[Technology]:
    """What the applicant may cite: its organization's listed results."""
    if viewer.organization_id is None:
        return []
    return list(
        session.exec(
            select(Technology)
            .where(
                Technology.owner_id == viewer.organization_id,
                col(Technology.status).in_(("published", "transferred")),
            )
            .order_by(col(Technology.title))
        )
    )


@dataclass
class AnswerCheck:
    indicator: ChallengeIndicator
    answer: str
    verdict: ind.Verdict


def answer_checks(session: Session, application: Application) -> list[AnswerCheck]:
    """Each indicator with the applicant's answer and whether the stated figure meets it (the
    same unit-aware check the team search uses; no figure stays 未说明)."""
    out = []
    for row in indicators_of(session, application.challenge_id):
        answer = (application.indicator_answers or {}).get(str(row.id), "")
        verdict = ind.compare(
            f"{row.name}{answer}" if answer else "",
            row.name,
            row.comparison,
            row.value,
            row.value_max,
            row.unit,
        )
        out.append(AnswerCheck(row, answer, verdict))
    return out


def cited_results(session: Session, viewer: Viewer, application: Application) -> list[Technology]:
    """The results an application cites, as far as the viewer may see them."""
    from matcher.access import listing_visible

    ids = application.cited_technology_ids or []
    if not ids:
        return []
    rows = {pk(t): t for t in session.exec(select(Technology).where(col(Technology.id).in_(ids)))}
    return [rows[i] for i in ids if i in rows and listing_visible(session, viewer, rows[i])]


def _name_partners(
    session: Session,
    application: Application,
    challenge: Challenge,
    applicant: Organization,
    partners: list[Organization],
) -> None:
    """Keep the named co-applicants in step with the form: new ones are asked to confirm, ones
    no longer named are dropped; a partner's answer is kept while it stays named."""
    wanted = {pk(p) for p in partners}
    for row in session.exec(
        select(ApplicationPartner).where(ApplicationPartner.application_id == application.id)
    ):
        if row.organization_id not in wanted:
            session.delete(row)
        wanted.discard(row.organization_id)
    for org_id in wanted:
        session.add(ApplicationPartner(application_id=pk(application), organization_id=org_id))
        notify_org(
            session, org_id, "challenge.partner",
            f"「{applicant.name}」将贵单位列为揭榜「{challenge.title}」的联合申请单位：请确认或拒绝",
            f"/applications/{application.id}",
        )  # fmt: skip


def partners_of(
    session: Session, application: Application, *, confirmed_only: bool = False
) -> list[ApplicationPartner]:
    stmt = select(ApplicationPartner).where(ApplicationPartner.application_id == application.id)
    if confirmed_only:
        stmt = stmt.where(ApplicationPartner.status == "confirmed")
    return list(session.exec(stmt.order_by(col(ApplicationPartner.id))))


def confirmed_partner_ids(session: Session, application: Application) -> set[int]:
    return {p.organization_id for p in partners_of(session, application, confirmed_only=True)}


def decide_partnership(
    session: Session, viewer: Viewer, application_id: int, *, confirm: bool
) -> ApplicationPartner:
    """A named partner's own user confirms (or declines) joining the application."""
    row = session.exec(
        select(ApplicationPartner).where(
            ApplicationPartner.application_id == application_id,
            ApplicationPartner.organization_id == (viewer.organization_id or -1),
        )
    ).first()
    if row is None:
        raise NotFound("申请不存在")
    application = session.get(Application, application_id)
    if application is None or application.status in ("awarded", "not_selected"):
        raise Conflict("该申请已有评审结论")
    row.status = "confirmed" if confirm else "declined"
    row.decided_by = viewer.user_id
    row.decided_at = utcnow()
    session.add(row)
    partner = session.get(Organization, row.organization_id)
    notify_org(
        session, application.organization_id, "challenge.partner",
        f"「{partner.name if partner else '联合申请单位'}」" + ("已确认联合申请" if confirm else "拒绝了联合申请"),
        f"/applications/{application_id}",
    )  # fmt: skip
    services.audit(
        session=session,
        action="challenge.partner_" + ("confirm" if confirm else "decline"),
        actor_id=viewer.user_id,
        object_type="application",
        object_id=application_id,
    )
    return row


def withdraw_application(session: Session, viewer: Viewer, application: Application) -> None:
    if viewer.organization_id != application.organization_id:
        raise NotFound("申请不存在")
    if application.status not in ("draft", "submitted"):
        raise Conflict("申请已进入评审，不能撤回")
    application.status = "withdrawn"
    session.add(application)
    _timeline(session, application, "withdrawn", viewer)


def application_for(
    session: Session, viewer: Viewer, application_id: int
) -> tuple[Application, Challenge]:
    """The applicant, the challenge's managers (not drafts) and its assigned experts may read it."""
    application = session.get(Application, application_id)
    if application is None:
        raise NotFound("申请不存在")
    challenge = session.get(Challenge, application.challenge_id)
    if challenge is None:
        raise NotFound("申请不存在")
    if viewer.organization_id is not None and viewer.organization_id == application.organization_id:
        return application, challenge
    if (
        viewer.organization_id is not None
        and session.exec(
            select(ApplicationPartner).where(
                ApplicationPartner.application_id == application.id,
                ApplicationPartner.organization_id == viewer.organization_id,
            )
        ).first()
    ):
        return application, challenge  # a named partner reads what it is asked to join
    if application.status != "draft" and can_manage(viewer, challenge):
        return application, challenge
    if (
        viewer.user_id is not None
        and application.status != "draft"
        and session.exec(
            select(ExpertAssignment).where(
                ExpertAssignment.application_id == application.id,
                ExpertAssignment.expert_id == viewer.user_id,
            )
        ).first()
    ):
        return application, challenge
    raise NotFound("申请不存在")


def applications_of(session: Session, viewer: Viewer, challenge: Challenge) -> list[Application]:
    if not can_manage(viewer, challenge):
        raise NotFound("榜单不存在")
    return list(
        session.exec(
            select(Application)
            .where(Application.challenge_id == challenge.id, Application.status != "draft")
            .order_by(col(Application.submitted_at))
        )
    )


def timeline(session: Session, application_id: int) -> list[ApplicationEvent]:
    return list(
        session.exec(
            select(ApplicationEvent)
            .where(ApplicationEvent.application_id == application_id)
            .order_by(col(ApplicationEvent.at), col(ApplicationEvent.id))
        )
    )


# --- attachments ---------------------------------------------------------------------------


def _sniff(suffix: str, head: bytes) -> bool:
    """The bytes must be what the name says: PDF, OOXML (a zip) or legacy Office (OLE2)."""
    if suffix == ".pdf":
        return head.startswith(b"%PDF-")
    if suffix in (".docx", ".xlsx", ".pptx"):
        return head.startswith(b"PK\x03\x04")
    return head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def add_attachment(
    session: Session,
    viewer: Viewer,
    application: Application,
    filename: str,
    data: bytes,
    *,
    directory: Path,
    max_bytes: int,
) -> Attachment:
    if viewer.organization_id != application.organization_id:
        raise NotFound("申请不存在")
    if application.status not in ("draft", "submitted"):
        raise Conflict("申请已进入评审，不能再上传附件")
    name = Path(filename or "").name.strip()[:200]
    suffix = Path(name).suffix.lower()
    if suffix not in ATTACHMENT_TYPES:
        raise ValidationFailed(
            "附件只能是 PDF 或 Office 文件（.pdf .doc .docx .xls .xlsx .ppt .pptx）"
        )
    if not data:
        raise ValidationFailed("附件是空文件")
    if len(data) > max_bytes:
        raise ValidationFailed(f"附件超过 {max_bytes // (1024 * 1024)} MB 上限")
    if not _sniff(suffix, data[:8]):
        raise ValidationFailed(f"「{name}」的内容不是 {suffix} 文件")
    count = len(
        session.exec(select(Attachment.id).where(Attachment.application_id == application.id)).all()
    )
    if count >= MAX_ATTACHMENTS:
        raise ValidationFailed(f"每份申请最多 {MAX_ATTACHMENTS} 个附件")
    digest = hashlib.sha256(data).hexdigest()
    store_blob(directory, digest, data)
    row = Attachment(
        application_id=pk(application),
        filename=name,
        content_type=ATTACHMENT_TYPES[suffix],
        size=len(data),
        sha256=digest,
        uploaded_by=viewer.user_id,
    )
    session.add(row)
    session.flush()
    return row


def store_blob(directory: Path, digest: str, data: bytes) -> Path:
    """Content-addressed, written to a temporary file, fsynced, then moved into place."""
    target = directory / digest[:2] / digest
    if target.exists():
        return target
    return atomic_write_bytes(target, data, prefix=".upload-")


def attachments_of(session: Session, application_id: int) -> list[Attachment]:
    return list(
        session.exec(
            select(Attachment)
            .where(Attachment.application_id == application_id)
            .order_by(col(Attachment.id))
        )
    )


def remove_attachment(session: Session, viewer: Viewer, attachment_id: int) -> None:
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound("附件不存在")
    application = session.get(Application, row.application_id)
    if application is None or viewer.organization_id != application.organization_id:
        raise NotFound("附件不存在")
    if application.status not in ("draft", "submitted"):
        raise Conflict("申请已进入评审，不能删除附件")
    session.delete(row)


# --------------------------------------------------------------------------------------------
# review
# --------------------------------------------------------------------------------------------


def experts(session: Session) -> list[User]:
    """Users with an expertise profile."""
    return list(
        session.exec(
            select(User)
            .where(col(User.is_active).is_(True), User.expertise != "")
            .order_by(col(User.name))
        )
    )


def conflicts(session: Session, expert: User, application: Application) -> list[str]:
    """Why `expert` may not review `application` (empty when there is no conflict of interest):
    the same organization as the applicant, a confirmed partner or the publisher, a lead or a
    joint application with them in the last three years, or a conflict the expert declared.
    Partners count only once they confirmed (an unconfirmed name blocks nobody)."""
    challenge = session.get(Challenge, application.challenge_id)
    publisher = challenge.publisher_id if challenge else None
    applicant_orgs = {application.organization_id, *confirmed_partner_ids(session, application)}
    reasons: list[str] = []
    names = {
        o.id: o.name
        for o in session.exec(
            select(Organization).where(col(Organization.id).in_(applicant_orgs | {publisher or -1}))
        )
    }
    mine = expert.organization_id
    if mine is not None and mine in applicant_orgs:
        reasons.append(f"专家就职于申请单位「{names.get(mine, mine)}」")
    if mine is not None and mine == publisher:
        reasons.append(f"专家就职于发榜单位「{names.get(mine, mine)}」")
    applicant_orgs_and_publisher = applicant_orgs | ({publisher} if publisher else set())
    since = utcnow() - dt.timedelta(days=365 * COI_YEARS)
    if mine is not None and mine not in applicant_orgs:
        lead = session.exec(
            select(Lead).where(
                col(Lead.created_at) >= since,
                or_(
                    and_(
                        col(Lead.supplier_id) == mine,
                        col(Lead.demander_id).in_(applicant_orgs_and_publisher),
                    ),
                    and_(
                        col(Lead.demander_id) == mine,
                        col(Lead.supplier_id).in_(applicant_orgs_and_publisher),
                    ),
                ),
            )
        ).first()
        if lead is not None:
            other = lead.demander_id if lead.supplier_id == mine else lead.supplier_id
            reasons.append(f"专家所在单位近三年与「{names.get(other, other)}」有对接合作")
        for other_app in session.exec(
            select(Application).where(
                col(Application.created_at) >= since,
                Application.id != application.id,
                Application.status != "draft",
            )
        ):
            together = {
                other_app.organization_id,
                *confirmed_partner_ids(session, other_app),
            }
            shared = together & applicant_orgs
            if mine in together and shared:
                reasons.append(
                    f"专家所在单位近三年与「{names.get(next(iter(shared)), '申请单位')}」联合申报过项目"
                )
                break
    declared = session.exec(
        select(ExpertConflict).where(
            ExpertConflict.expert_id == expert.id,
            col(ExpertConflict.organization_id).in_(applicant_orgs_and_publisher),
        )
    ).first()
    if declared is not None:
        reasons.append(
            f"专家声明与「{names.get(declared.organization_id, '申请单位')}」存在利益关系"
            + (f"（{declared.note}）" if declared.note else "")
        )
    return reasons


def assign_expert(
    session: Session, viewer: Viewer, application: Application, expert_id: int
) -> ExpertAssignment:
    """Organizers assign experts; a conflicted assignment is refused with its reasons."""
    require_staff(viewer)
    challenge = session.get(Challenge, application.challenge_id)
    if challenge is None:
        raise NotFound("申请不存在")
    require_organizer(viewer, challenge)
    if application.status not in ("submitted", "under_review"):
        raise Conflict("只能为已提交的申请分配评审专家")
    expert = session.get(User, expert_id)
    if expert is None or not expert.is_active or not expert.expertise.strip():
        raise ValidationFailed("请选择有评审专长档案的专家")
    reasons = conflicts(session, expert, application)
    if reasons:  # callers record the refusal with record_refusal (this transaction rolls back)
        raise Conflict("利益冲突，不能分配：" + "；".join(reasons))
    existing = session.exec(
        select(ExpertAssignment).where(
            ExpertAssignment.application_id == application.id,
            ExpertAssignment.expert_id == expert_id,
        )
    ).first()
    if existing is not None:
        return existing
    row = ExpertAssignment(
        challenge_id=pk(challenge),
        application_id=pk(application),
        expert_id=expert_id,
        assigned_by=viewer.user_id,
    )
    session.add(row)
    if application.status == "submitted":
        application.status = "under_review"
        session.add(application)
        _timeline(session, application, "under_review", viewer)
    if challenge.status == "open" and today() > challenge.application_deadline:
        challenge.status = "reviewing"
        session.add(challenge)
    session.flush()
    notify_user(
        session,
        expert_id,
        "challenge.review",
        f"请评审「{challenge.title}」的一份揭榜申请",
        f"/reviews/{row.id}",
    )
    services.audit(
        session=session,
        action="challenge.assign",
        actor_id=viewer.user_id,
        object_type="application",
        object_id=application.id,
        detail={"expert_id": expert_id},
    )
    return row


def record_refusal(
    session: Session, viewer: Viewer, application_id: int, expert_id: int, reason: str
) -> None:
    """The audit trail of a refused assignment, written in its own transaction."""
    services.audit(
        session=session,
        action="challenge.assign_refused",
        actor_id=viewer.user_id,
        object_type="application",
        object_id=application_id,
        detail={"expert_id": expert_id, "reason": reason},
    )


def declare_conflict(
    session: Session, viewer: Viewer, organization_id: int, note: str = ""
) -> ExpertConflict:
    if viewer.user_id is None:
        raise Forbidden("请先登录")
    if session.get(Organization, organization_id) is None:
        raise NotFound("单位不存在")
    existing = session.exec(
        select(ExpertConflict).where(
            ExpertConflict.expert_id == viewer.user_id,
            ExpertConflict.organization_id == organization_id,
        )
    ).first()
    if existing is not None:
        return existing
    row = ExpertConflict(
        expert_id=viewer.user_id, organization_id=organization_id, note=note.strip()[:200]
    )
    session.add(row)
    # an assignment made before the declaration is withdrawn if not yet scored
    for assignment in session.exec(
        select(ExpertAssignment).where(
            ExpertAssignment.expert_id == viewer.user_id,
            col(ExpertAssignment.submitted_at).is_(None),
        )
    ):
        application = session.get(Application, assignment.application_id)
        if application and organization_id in {
            application.organization_id,
            *confirmed_partner_ids(session, application),
        }:
            session.delete(assignment)
    return row


def my_assignments(session: Session, viewer: Viewer) -> list[ExpertAssignment]:
    return list(
        session.exec(
            select(ExpertAssignment)
            .where(ExpertAssignment.expert_id == (viewer.user_id or -1))
            .order_by(col(ExpertAssignment.created_at).desc())
        )
    )


def assignment_for(session: Session, viewer: Viewer, assignment_id: int) -> ExpertAssignment:
    row = session.get(ExpertAssignment, assignment_id)
    if row is None or row.expert_id != viewer.user_id:
        raise NotFound("评审任务不存在")
    return row


def submit_score(
    session: Session,
    viewer: Viewer,
    assignment: ExpertAssignment,
    scores: dict[str, float],
    comment: str,
) -> ExpertAssignment:
    if assignment.expert_id != viewer.user_id:
        raise NotFound("评审任务不存在")
    challenge = session.get(Challenge, assignment.challenge_id)
    if challenge is None or challenge.status in ("awarded", "accepted", "closed"):
        raise Conflict("评审已结束")
    clean: dict[str, float] = {}
    for key, (label, top) in RUBRIC.items():
        value = scores.get(key)
        if value is None:
            raise ValidationFailed(f"请为「{label}」打分")
        if not 0 <= value <= top:
            raise ValidationFailed(f"「{label}」的分数应在 0–{top} 之间")
        clean[key] = float(value)
    if len(comment.strip()) < 10:
        raise ValidationFailed("请写至少 10 个字的评审意见")
    assignment.scores = clean
    assignment.total = round(sum(clean.values()), 2)
    assignment.comment = comment.strip()
    assignment.submitted_at = utcnow()
    session.add(assignment)
    return assignment


@dataclass
class Ranking:
    application: Application
    organization: Organization
    reviews: int
    assigned: int
    mean: float | None
    spread: float | None
    criteria: dict[str, float]


def rankings(session: Session, viewer: Viewer, challenge: Challenge) -> list[Ranking]:
    """Scores aggregated per application: mean total, per-criterion means and the spread
    (standard deviation) that shows where experts disagree."""
    out = []
    for application in applications_of(session, viewer, challenge):
        rows = session.exec(
            select(ExpertAssignment).where(ExpertAssignment.application_id == application.id)
        ).all()
        done = [r for r in rows if r.total is not None]
        totals = [r.total for r in done if r.total is not None]
        criteria = (
            {key: round(statistics.mean(r.scores.get(key, 0.0) for r in done), 1) for key in RUBRIC}
            if done
            else {}
        )
        org = session.get(Organization, application.organization_id)
        out.append(
            Ranking(
                application=application,
                organization=org,  # type: ignore[arg-type]
                reviews=len(done),
                assigned=len(rows),
                mean=round(statistics.mean(totals), 1) if totals else None,
                spread=round(statistics.pstdev(totals), 1) if len(totals) > 1 else None,
                criteria=criteria,
            )
        )
    out.sort(key=lambda r: (r.mean is None, -(r.mean or 0)))
    return out


def award(
    session: Session,
    viewer: Viewer,
    challenge: Challenge,
    application_id: int,
    *,
    amount: float,
    note: str = "",
) -> Application:
    """Record the decision: the winner, the award, its milestones; the others are told."""
    require_organizer(viewer, challenge)
    if challenge.status not in ("open", "reviewing"):
        raise Conflict("该榜单已有评审结论")
    application = session.get(Application, application_id)
    if application is None or application.challenge_id != challenge.id:
        raise NotFound("申请不存在")
    if application.status not in ("submitted", "under_review"):
        raise Conflict("只能从已提交的申请中确定揭榜方")
    if not 0 < amount <= max(challenge.bounty, 0.0) + 1e-9 and challenge.bounty > 0:
        raise ValidationFailed(f"揭榜经费应大于 0 且不超过榜单经费 {challenge.bounty:g} 万元")
    scored = session.exec(
        select(ExpertAssignment).where(
            ExpertAssignment.application_id == application.id,
            col(ExpertAssignment.submitted_at).is_not(None),
        )
    ).first()
    if scored is None:
        raise Conflict("该申请还没有专家评分，不能确定为揭榜方")
    challenge.status = "awarded"
    challenge.award_application_id = application.id
    challenge.award_amount = amount
    session.add(challenge)
    application.status = "awarded"
    application.decision_note = note.strip()
    session.add(application)
    _timeline(session, application, "awarded", viewer, note.strip())
    for other in session.exec(
        select(Application).where(
            Application.challenge_id == challenge.id,
            Application.id != application.id,
            col(Application.status).in_(("submitted", "under_review")),
        )
    ):
        other.status = "not_selected"
        session.add(other)
        _timeline(session, other, "not_selected", viewer)
        notify_org(
            session, other.organization_id, "challenge.decision",
            f"「{challenge.title}」评审结束，感谢揭榜；本次未入选", f"/challenges/{challenge.id}",
        )  # fmt: skip
    milestones = application.milestones or [{"title": "项目验收", "due": "", "amount": amount}]
    for i, m in enumerate(milestones):
        due = m.get("due") or None
        session.add(
            AwardMilestone(
                challenge_id=pk(challenge),
                application_id=pk(application),
                position=i,
                title=str(m.get("title") or f"里程碑 {i + 1}")[:200],
                due_on=dt.date.fromisoformat(due) if due else None,
                amount=m.get("amount"),
            )
        )
    open_lead(
        session=session,
        supplier_id=application.organization_id,
        demander_id=challenge.publisher_id,
        source="challenge",
        stage="signed",
        consent=f"揭榜挂帅「{challenge.title}」：揭榜方申请、发榜方确定揭榜",
        actor_id=viewer.user_id,
        supplier_user_id=application.created_by,
        demander_user_id=challenge.created_by,  # ignored unless a user of the publisher
        amount=amount,
    )
    notify_org(
        session, application.organization_id, "challenge.decision",
        f"恭喜：揭榜「{challenge.title}」成功，经费 {amount:g} 万元", f"/applications/{application.id}",
    )  # fmt: skip
    services.audit(
        session=session,
        action="challenge.award",
        actor_id=viewer.user_id,
        object_type="challenge",
        object_id=challenge.id,
        detail={"application_id": application.id, "amount": amount},
    )
    return application


def milestones_of(session: Session, challenge_id: int) -> list[AwardMilestone]:
    return list(
        session.exec(
            select(AwardMilestone)
            .where(AwardMilestone.challenge_id == challenge_id)
            .order_by(col(AwardMilestone.position))
        )
    )


def update_milestone(
    session: Session, viewer: Viewer, milestone_id: int, action: str, note: str = ""
) -> AwardMilestone:
    """The winner reports a milestone done (submit); the publisher or an organizer accepts it
    (验收) or sends it back; when all are accepted the challenge is accepted."""
    row = session.get(AwardMilestone, milestone_id)
    if row is None:
        raise NotFound("里程碑不存在")
    challenge = session.get(Challenge, row.challenge_id)
    application = session.get(Application, row.application_id)
    if challenge is None or application is None:
        raise NotFound("里程碑不存在")
    winner = viewer.organization_id == application.organization_id
    if not (winner or can_manage(viewer, challenge)):
        raise NotFound("里程碑不存在")
    if action == "submit":
        if not winner:
            raise Forbidden("由揭榜方提交里程碑成果")
        if row.status not in ("pending", "failed"):
            raise Conflict("该里程碑已提交")
        row.status = "submitted"
        notify_org(
            session, challenge.publisher_id, "challenge.milestone",
            f"「{challenge.title}」里程碑「{row.title}」待验收", f"/challenges/{challenge.id}",
        )  # fmt: skip
    elif action in ("accept", "fail"):
        if not can_manage(viewer, challenge):
            raise Forbidden("由发榜方或组织方验收")
        if row.status != "submitted":
            raise Conflict("只有待验收的里程碑可以验收")
        row.status = "accepted" if action == "accept" else "failed"
        row.accepted_at = utcnow() if action == "accept" else None
        notify_org(
            session, application.organization_id, "challenge.milestone",
            f"「{challenge.title}」里程碑「{row.title}」" + ("已验收" if action == "accept" else "未通过验收"),
            f"/applications/{application.id}",
        )  # fmt: skip
    else:
        raise ValidationFailed("未知操作")
    row.note = note.strip()[:2000] or row.note
    session.add(row)
    session.flush()
    if all(m.status == "accepted" for m in milestones_of(session, pk(challenge))):
        challenge.status = "accepted"
        session.add(challenge)
    return row


def status_label(status: str) -> str:
    return APPLICATION_STATUSES.get(status, status)


def parse_number(text: str, label: str) -> float | None:
    text = (text or "").strip().replace(",", "").replace("，", "")
    if not text:
        return None
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise ValidationFailed(f"{label}应为数字")
    return float(text)
