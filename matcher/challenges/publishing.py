"""Publishing a challenge: writing it (with its indicators), moderation, and the listing."""

from __future__ import annotations

import jieba
from sqlalchemy import or_
from sqlmodel import Session, col, select

from matcher import services
from matcher.access import Viewer, visibilities_for
from matcher.challenges.access import can_manage, require_organizer, require_staff
from matcher.challenges.models import LISTED, Challenge, ChallengeIndicator
from matcher.challenges.schemas import ChallengeIn, IndicatorIn
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.models import pk, utcnow
from matcher.notifications import notify_org

EDITABLE = ("draft", "pending", "rejected")  # after publication the content is fixed


def save_challenge(
    *,
    session: Session,
    viewer: Viewer,
    data: ChallengeIn,
    existing: Challenge | None = None,
    submit: bool = True,
    publisher_id: int | None = None,
) -> Challenge:
    """Create or edit a challenge; `submit` sends it to moderation (organizers' own challenges
    go straight out)."""
    if viewer.role not in ("enterprise", "organizer", "admin"):
        raise Forbidden("企业用户或平台组织方可以发布榜单")
    if existing is not None:
        challenge = _editable(viewer, existing)
    else:
        challenge = _new_challenge(viewer, data, publisher_id)
    _write_content(challenge, data)
    _set_status(challenge, viewer, submit=submit)
    session.add(challenge)
    session.flush()
    _replace_indicators(session, challenge, data.indicators)
    services.audit(
        session=session,
        action="challenge.save",
        actor_id=viewer.user_id,
        object_type="challenge",
        object_id=challenge.id,
        detail={"status": challenge.status},
    )
    return challenge


def _editable(viewer: Viewer, challenge: Challenge) -> Challenge:
    if not can_manage(viewer, challenge):
        raise NotFound("榜单不存在")
    if challenge.status not in EDITABLE:
        raise Conflict("榜单已发布，不能再修改内容")
    return challenge


def _new_challenge(viewer: Viewer, data: ChallengeIn, publisher_id: int | None) -> Challenge:
    owner = viewer.organization_id if publisher_id is None else publisher_id
    if owner is None:
        raise ValidationFailed("请指定发榜单位")
    if publisher_id is not None and publisher_id != viewer.organization_id:
        require_staff(viewer)  # organizers publish on behalf of an enterprise or agency
    return Challenge(
        publisher_id=owner,
        created_by=viewer.user_id,
        title="",
        problem="",
        application_deadline=data.application_deadline,
        organizer_id=viewer.organization_id if viewer.is_staff else None,
    )


def _write_content(challenge: Challenge, data: ChallengeIn) -> None:
    challenge.title = data.title
    challenge.problem = data.problem
    challenge.field = data.tech_field
    challenge.bounty = data.bounty or 0.0
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


def _set_status(challenge: Challenge, viewer: Viewer, *, submit: bool) -> None:
    if not submit:
        challenge.status = "draft"
        return
    challenge.status = "open" if viewer.is_staff else "pending"
    if challenge.status == "open":
        challenge.published_at = utcnow()


def _replace_indicators(session: Session, challenge: Challenge, rows: list[IndicatorIn]) -> None:
    for old in session.exec(
        select(ChallengeIndicator).where(ChallengeIndicator.challenge_id == challenge.id)
    ):
        session.delete(old)
    for i, row in enumerate(rows):
        session.add(
            ChallengeIndicator(
                challenge_id=pk(challenge),
                position=i,
                name=row.name,
                comparison=row.comparison,
                value=row.value,
                value_max=row.value_max if row.comparison == "range" else None,
                unit=row.unit,
            )
        )


def moderate(
    *, session: Session, viewer: Viewer, challenge: Challenge, approve: bool, note: str = ""
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


def indicators_of(*, session: Session, challenge_id: int) -> list[ChallengeIndicator]:
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


STATUS_FILTERS = {
    "open": ("open",),
    "closed": ("reviewing", "closed"),
    "awarded": ("awarded", "accepted"),
}


def list_challenges(
    *,
    session: Session,
    viewer: Viewer,
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
    if status:
        stmt = stmt.where(col(Challenge.status).in_(STATUS_FILTERS.get(status, (status,))))
    if field_name:
        stmt = stmt.where(Challenge.field == field_name)
    rows = list(session.exec(stmt.order_by(col(Challenge.updated_at).desc()).limit(500)))
    return _ranked(rows, q) if q else rows


def _ranked(rows: list[Challenge], q: str) -> list[Challenge]:
    words = [w for w in jieba.lcut_for_search(q.strip()) if len(w.strip()) > 1] or [q.strip()]
    scored = [(sum(2 * (w in c.title) + (w in c.problem) for w in words), c) for c in rows]
    return [c for s, c in sorted(scored, key=lambda sc: -sc[0]) if s > 0]
