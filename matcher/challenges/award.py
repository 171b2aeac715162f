"""The decision and after: awarding a challenge to one application (the others are told), the
award's milestones, and their acceptance (验收) up to the challenge's."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from matcher import services
from matcher.access import Viewer
from matcher.challenges.access import can_manage, require_organizer
from matcher.challenges.applications import record_status
from matcher.challenges.models import Application, AwardMilestone, Challenge, ExpertAssignment
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.leads import open_lead
from matcher.models import pk, utcnow
from matcher.notifications import notify_org


def award(
    *,
    session: Session,
    viewer: Viewer,
    challenge: Challenge,
    application_id: int,
    amount: float,
    note: str = "",
) -> Application:
    """Record the decision: the winner, the award, its milestones; the others are told."""
    application = _awardable(session, viewer, challenge, application_id, amount)
    challenge.status = "awarded"
    challenge.award_application_id = application.id
    challenge.award_amount = amount
    session.add(challenge)
    application.status = "awarded"
    application.decision_note = note.strip()
    session.add(application)
    record_status(
        session=session, application=application, status="awarded", viewer=viewer, note=note.strip()
    )
    _turn_down_others(session, viewer, challenge, application)
    _plan_milestones(session, challenge, application, amount)
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


def _awardable(
    session: Session, viewer: Viewer, challenge: Challenge, application_id: int, amount: float
) -> Application:
    """The application to award, once the organizer, the stage, the amount and a score allow it."""
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
    return application


def _turn_down_others(
    session: Session, viewer: Viewer, challenge: Challenge, winner: Application
) -> None:
    for other in session.exec(
        select(Application).where(
            Application.challenge_id == challenge.id,
            Application.id != winner.id,
            col(Application.status).in_(("submitted", "under_review")),
        )
    ):
        other.status = "not_selected"
        session.add(other)
        record_status(session=session, application=other, status="not_selected", viewer=viewer)
        notify_org(
            session, other.organization_id, "challenge.decision",
            f"「{challenge.title}」评审结束，感谢揭榜；本次未入选", f"/challenges/{challenge.id}",
        )  # fmt: skip


def _plan_milestones(
    session: Session, challenge: Challenge, application: Application, amount: float
) -> None:
    """The application's milestones become the award's (one 项目验收 for the whole amount when
    it named none)."""
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


def milestones_of(*, session: Session, challenge_id: int) -> list[AwardMilestone]:
    return list(
        session.exec(
            select(AwardMilestone)
            .where(AwardMilestone.challenge_id == challenge_id)
            .order_by(col(AwardMilestone.position))
        )
    )


def update_milestone(
    *, session: Session, viewer: Viewer, milestone_id: int, action: str, note: str = ""
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
    if all(
        m.status == "accepted" for m in milestones_of(session=session, challenge_id=pk(challenge))
    ):
        challenge.status = "accepted"
        session.add(challenge)
    return row
