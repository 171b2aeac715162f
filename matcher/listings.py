"""Use cases of the core listings — technologies (科技成果) and needs (需求): publish, edit,
withdraw, renew, close, ask for review again, and moderate.

Pages, the JSON API and the catalog import all call these; none of them decides ownership or
state transitions by itself. Moderation state belongs to moderators: an owner may move its
listing between its own states (draft, published, withdrawn, …) but never out of 待审核
(pending) or 已驳回 (rejected) — from rejected it may only ask for review again. With
``DUIJIE_MODERATION=pre`` a listing an owner publishes waits as pending until a moderator
approves it. Every change is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlmodel import Session

from matcher import services
from matcher.access import Viewer, listing_visible, owns
from matcher.config import get_settings
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.models import (
    Need,
    NeedCreate,
    Organization,
    Technology,
    TechnologyCreate,
    User,
    pk,
    utcnow,
)

Kind = Literal["technology", "need"]
MODERATED = ("pending", "rejected")
RENEW_DAYS = 365
# The states an owner may put its own listing in (moderators own pending and rejected).
OWNER_STATES: dict[str, tuple[str, ...]] = {
    "technology": ("draft", "published", "withdrawn", "transferred"),
    "need": ("draft", "published", "closed", "fulfilled"),
}
LABELS = {"technology": "成果", "need": "需求"}


def _model(kind: str) -> Any:
    if kind not in LABELS:
        raise NotFound("页面不存在")
    return Technology if kind == "technology" else Need


def require_organization(viewer: Viewer) -> int:
    if viewer.organization_id is None:
        raise Forbidden("该账号不属于任何单位")
    return viewer.organization_id


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def visible_technology(*, session: Session, viewer: Viewer, technology_id: int) -> Technology:
    tech = session.get(Technology, technology_id)
    if tech is None or not listing_visible(session, viewer, tech):
        raise NotFound("科技成果不存在或未发布")
    return tech


def visible_need(*, session: Session, viewer: Viewer, need_id: int) -> Need:
    need = session.get(Need, need_id)
    if need is None or not listing_visible(session, viewer, need):
        raise NotFound("需求不存在或无权查看")
    return need


def own_listing(*, session: Session, viewer: Viewer, kind: str, item_id: int) -> Any:
    """The viewer's organization's own listing, else 404 (another's is never acknowledged)."""
    row = session.get(_model(kind), item_id)
    if row is None or not owns(viewer, row.owner_id):
        raise NotFound(f"{LABELS[kind]}不存在")
    return row


def own_technology(*, session: Session, viewer: Viewer, technology_id: int) -> Technology:
    return own_listing(session=session, viewer=viewer, kind="technology", item_id=technology_id)  # type: ignore[no-any-return]


def own_need(*, session: Session, viewer: Viewer, need_id: int) -> Need:
    return own_listing(session=session, viewer=viewer, kind="need", item_id=need_id)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# state
# --------------------------------------------------------------------------------------------


def owner_status(kind: str, current: str | None, requested: str) -> str:
    """The state an owner's request leads to, or a Conflict saying why it may not.

    `current` is None for a new listing. Publishing under pre-moderation leads to pending."""
    if requested not in OWNER_STATES[kind]:
        raise Conflict("「待审核」「已驳回」由平台审核人员设置，发布方不能自行设置")
    if current in MODERATED and requested != current:
        if current == "rejected":
            raise Conflict(
                f"该{LABELS[kind]}已被驳回：请修改后点击「申请重新审核」，审核通过后才会重新发布"
            )
        raise Conflict(f"该{LABELS[kind]}正在审核中，审核完成前不能更改状态")
    if requested == "published" and current != "published" and _pre_moderation():
        return "pending"
    return requested


def _pre_moderation() -> bool:
    return get_settings().moderation == "pre"


def _set_status(row: Any, status: str) -> None:
    if status == "published" and row.status != "published" and isinstance(row, Technology):
        row.published_at = utcnow()
    row.status = status
    row.updated_at = utcnow()


def _audit(
    session: Session, viewer: Viewer, action: str, kind: str, row: Any, **detail: Any
) -> None:
    services.audit(
        session=session,
        action=f"{kind}.{action}",
        actor_id=viewer.user_id,
        object_type=kind,
        object_id=row.id,
        detail=detail,
    )


# --------------------------------------------------------------------------------------------
# owners' use cases
# --------------------------------------------------------------------------------------------


def _saver(kind: str) -> Any:
    return services.save_technology if kind == "technology" else services.save_need


def create_listing(*, session: Session, viewer: Viewer, kind: str, data: Any) -> Any:
    """Publish (or save as a draft) a listing of the viewer's organization."""
    owner_id = require_organization(viewer)
    data = data.model_copy(update={"status": owner_status(kind, None, data.status)})
    row = _saver(kind)(session=session, data=data, owner_id=owner_id)
    row.created_by = viewer.user_id
    row.reviewed_at = None  # into the review queue
    session.add(row)
    _audit(session, viewer, "create", kind, row, status=row.status)
    return row


def update_listing(*, session: Session, viewer: Viewer, kind: str, item_id: int, data: Any) -> Any:
    """Edit the viewer's organization's own listing; its state changes only as an owner may
    change it (a rejected or pending listing keeps its state)."""
    row = own_listing(session=session, viewer=viewer, kind=kind, item_id=item_id)
    status = (
        row.status if data.status == row.status else owner_status(kind, row.status, data.status)
    )
    data = data.model_copy(update={"code": row.code, "status": status})
    _saver(kind)(session=session, data=data, owner_id=row.owner_id, existing=row)
    row.reviewed_at = None  # a changed text is checked again
    session.add(row)
    _audit(session, viewer, "update", kind, row, status=row.status)
    return row


def create_technology(*, session: Session, viewer: Viewer, data: TechnologyCreate) -> Technology:
    return create_listing(session=session, viewer=viewer, kind="technology", data=data)  # type: ignore[no-any-return]


def update_technology(
    *, session: Session, viewer: Viewer, technology_id: int, data: TechnologyCreate
) -> Technology:
    return update_listing(  # type: ignore[no-any-return]
        session=session, viewer=viewer, kind="technology", item_id=technology_id, data=data
    )


def create_need(*, session: Session, viewer: Viewer, data: NeedCreate) -> Need:
    return create_listing(session=session, viewer=viewer, kind="need", data=data)  # type: ignore[no-any-return]


def update_need(*, session: Session, viewer: Viewer, need_id: int, data: NeedCreate) -> Need:
    return update_listing(  # type: ignore[no-any-return]
        session=session, viewer=viewer, kind="need", item_id=need_id, data=data
    )


def change_status(*, session: Session, viewer: Viewer, kind: str, item_id: int, status: str) -> Any:
    """An owner moves its listing to one of its own states (withdraw, close, republish, …)."""
    row = own_listing(session=session, viewer=viewer, kind=kind, item_id=item_id)
    final = owner_status(kind, row.status, status)
    if final != row.status:
        _set_status(row, final)
        session.add(row)
    _audit(session, viewer, "status", kind, row, status=row.status)
    return row


def withdraw_technology(*, session: Session, viewer: Viewer, technology_id: int) -> Technology:
    return change_status(  # type: ignore[no-any-return]
        session=session, viewer=viewer, kind="technology", item_id=technology_id, status="withdrawn"
    )


def close_need(*, session: Session, viewer: Viewer, need_id: int) -> Need:
    return change_status(  # type: ignore[no-any-return]
        session=session, viewer=viewer, kind="need", item_id=need_id, status="closed"
    )


def renew_technology(*, session: Session, viewer: Viewer, technology_id: int) -> Technology:
    """Another year of validity; a withdrawn or draft result is published again (unless it is
    under moderation, which only a moderator ends)."""
    tech = own_technology(session=session, viewer=viewer, technology_id=technology_id)
    if tech.status in MODERATED:
        owner_status("technology", tech.status, "published")  # raises the reason
    tech.valid_until = dt.date.today() + dt.timedelta(days=RENEW_DAYS)
    if tech.status in ("withdrawn", "draft"):
        _set_status(tech, owner_status("technology", tech.status, "published"))
    tech.updated_at = utcnow()
    session.add(tech)
    _audit(session, viewer, "renew", "technology", tech, status=tech.status)
    return tech


def request_review(*, session: Session, viewer: Viewer, kind: str, item_id: int) -> Any:
    """A rejected listing's owner asks for another review (after editing it)."""
    row = own_listing(session=session, viewer=viewer, kind=kind, item_id=item_id)
    if row.status != "rejected":
        raise Conflict(f"只有被驳回的{LABELS[kind]}可以申请重新审核")
    _set_status(row, "pending")
    session.add(row)
    notify_moderators(
        session, "moderation.request", f"「{row.title}」申请重新审核", "/admin#moderation"
    )
    _audit(session, viewer, "request_review", kind, row)
    return row


def notify_moderators(session: Session, kind: str, text: str, link: str) -> None:
    from sqlmodel import col, select

    from matcher.notifications import notify_user

    for user in session.exec(
        select(User).where(
            col(User.role).in_(("organizer", "admin")), col(User.is_active).is_(True)
        )
    ):
        notify_user(session, pk(user), kind, text, link)


# --------------------------------------------------------------------------------------------
# moderators' use case
# --------------------------------------------------------------------------------------------


def _status_label(kind: str, status: str) -> str:
    from matcher import vocab

    labels = vocab.TECH_STATUSES if kind == "technology" else vocab.NEED_STATUSES
    return vocab.label(labels, status)


def moderate(
    *, session: Session, viewer: Viewer, kind: str, item_id: int, approve: bool, note: str = ""
) -> Any:
    """Approve (publish) or reject with a reason; only organizers and admins moderate."""
    if not viewer.is_staff:
        raise Forbidden("仅平台组织方和管理员可以审核")
    row = session.get(_model(kind), item_id)
    if row is None:
        raise NotFound("条目不存在")
    from matcher.notifications import notify_org

    was = row.status
    # Moderation decides on what is waiting or public, never on an owner's own drafts or
    # closed listings: approving publishes what is pending (or undoes a rejection, or marks a
    # public listing checked); rejecting takes down what is pending or public.
    if approve and not (was in ("pending", "rejected") or (was == "published")):
        raise Conflict(f"该条目当前为「{_status_label(kind, was)}」，不在审核范围内")
    if not approve and was not in ("pending", "published"):
        raise Conflict(f"该条目当前为「{_status_label(kind, was)}」，不能驳回")
    row.reviewed_at = utcnow()
    if approve:
        _set_status(row, "published")
        row.moderation_note = None
        text = f"您发布的《{row.title}》已通过审核并发布"
    else:
        if not note.strip():
            raise ValidationFailed("驳回需填写原因")
        _set_status(row, "rejected")
        row.moderation_note = note.strip()[:1000]
        text = f"您发布的《{row.title}》被驳回：{row.moderation_note}"
    session.add(row)
    if not (approve and was == "published"):  # a check that changes nothing tells nobody
        notify_org(
            session,
            row.owner_id,
            f"moderation.{'publish' if approve else 'reject'}",
            text,
            "/workspace",
        )
    services.audit(
        session=session,
        action=f"moderation.{'publish' if approve else 'reject'}",
        actor_id=viewer.user_id,
        object_type=kind,
        object_id=item_id,
    )
    return row


def form_defaults(*, session: Session, user: User) -> dict[str, str]:
    """What a new listing's form starts with: the organization's province and city and the
    signed-in person as the contact — the values almost every listing repeats."""
    org = session.get(Organization, user.organization_id) if user.organization_id else None
    values = {
        "province": (org.province if org else None) or "",
        "city": (org.city if org else None) or "",
        "industry": (org.industry if org else None) or "",
        "contact_name": user.name or "",
        "contact_phone": user.phone or "",
        "contact_email": user.email or "",
    }
    return {k: v for k, v in values.items() if v}
