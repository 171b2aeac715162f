"""Expert review: who may review (conflict-of-interest screening), assigning experts, declared
conflicts, scoring against the rubric, and the rankings that aggregate the scores."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from matcher import services
from matcher.access import Viewer
from matcher.challenges.access import require_organizer, require_staff
from matcher.challenges.applications import (
    applications_of,
    confirmed_partner_ids,
    record_status,
)
from matcher.challenges.models import (
    RUBRIC,
    Application,
    Challenge,
    ExpertAssignment,
    ExpertConflict,
)
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.models import Lead, Organization, User, pk, utcnow
from matcher.notifications import notify_user

COI_YEARS = 3


def experts(*, session: Session) -> list[User]:
    """Users with an expertise profile."""
    return list(
        session.exec(
            select(User)
            .where(col(User.is_active).is_(True), User.expertise != "")
            .order_by(col(User.name))
        )
    )


def conflicts(*, session: Session, expert: User, application: Application) -> list[str]:
    """Why `expert` may not review `application` (empty when there is no conflict of interest):
    the same organization as the applicant, a confirmed partner or the publisher, a lead or a
    joint application with them in the last three years, or a conflict the expert declared.
    Partners count only once they confirmed (an unconfirmed name blocks nobody)."""
    challenge = session.get(Challenge, application.challenge_id)
    publisher = challenge.publisher_id if challenge else None
    applicants = {
        application.organization_id,
        *confirmed_partner_ids(session=session, application=application),
    }
    parties = applicants | ({publisher} if publisher else set())
    names = {
        o.id: o.name
        for o in session.exec(
            select(Organization).where(col(Organization.id).in_(applicants | {publisher or -1}))
        )
    }
    reasons: list[str] = []
    mine = expert.organization_id
    if mine is not None and mine in applicants:
        reasons.append(f"专家就职于申请单位「{names.get(mine, mine)}」")
    if mine is not None and mine == publisher:
        reasons.append(f"专家就职于发榜单位「{names.get(mine, mine)}」")
    if mine is not None and mine not in applicants:
        reasons += _recent_ties(session, mine, application, applicants, parties, names)
    declared = session.exec(
        select(ExpertConflict).where(
            ExpertConflict.expert_id == expert.id,
            col(ExpertConflict.organization_id).in_(parties),
        )
    ).first()
    if declared is not None:
        reasons.append(
            f"专家声明与「{names.get(declared.organization_id, '申请单位')}」存在利益关系"
            + (f"（{declared.note}）" if declared.note else "")
        )
    return reasons


def _recent_ties(
    session: Session,
    mine: int,
    application: Application,
    applicants: set[int],
    parties: set[int],
    names: dict[int | None, str],
) -> list[str]:
    """A lead between the expert's organization and the parties, or a joint application with an
    applicant, within the last COI_YEARS."""
    reasons = []
    since = utcnow() - dt.timedelta(days=365 * COI_YEARS)
    lead = session.exec(
        select(Lead).where(
            col(Lead.created_at) >= since,
            or_(
                and_(col(Lead.supplier_id) == mine, col(Lead.demander_id).in_(parties)),
                and_(col(Lead.demander_id) == mine, col(Lead.supplier_id).in_(parties)),
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
            *confirmed_partner_ids(session=session, application=other_app),
        }
        shared = together & applicants
        if mine in together and shared:
            reasons.append(
                f"专家所在单位近三年与「{names.get(next(iter(shared)), '申请单位')}」联合申报过项目"
            )
            break
    return reasons


def assign_expert(
    *, session: Session, viewer: Viewer, application: Application, expert_id: int
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
    reasons = conflicts(session=session, expert=expert, application=application)
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
    _start_review(session, viewer, challenge, application)
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


def _start_review(
    session: Session, viewer: Viewer, challenge: Challenge, application: Application
) -> None:
    """The first expert puts the application under review, and a challenge past its deadline
    into review."""
    if application.status == "submitted":
        application.status = "under_review"
        session.add(application)
        record_status(
            session=session, application=application, status="under_review", viewer=viewer
        )
    if challenge.status == "open" and dt.date.today() > challenge.application_deadline:
        challenge.status = "reviewing"
        session.add(challenge)


def record_refusal(
    *, session: Session, viewer: Viewer, application_id: int, expert_id: int, reason: str
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
    *, session: Session, viewer: Viewer, organization_id: int, note: str = ""
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
            *confirmed_partner_ids(session=session, application=application),
        }:
            session.delete(assignment)
    return row


def my_assignments(*, session: Session, viewer: Viewer) -> list[ExpertAssignment]:
    return list(
        session.exec(
            select(ExpertAssignment)
            .where(ExpertAssignment.expert_id == (viewer.user_id or -1))
            .order_by(col(ExpertAssignment.created_at).desc())
        )
    )


def assignment_for(*, session: Session, viewer: Viewer, assignment_id: int) -> ExpertAssignment:
    row = session.get(ExpertAssignment, assignment_id)
    if row is None or row.expert_id != viewer.user_id:
        raise NotFound("评审任务不存在")
    return row


def submit_score(
    *,
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


def rankings(*, session: Session, viewer: Viewer, challenge: Challenge) -> list[Ranking]:
    """Scores aggregated per application: mean total, per-criterion means and the spread
    (standard deviation) that shows where experts disagree."""
    out = []
    for application in applications_of(session=session, viewer=viewer, challenge=challenge):
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
