"""One review queue for everything a moderator must look at: results and needs waiting for
approval (pre-moderation) or published but not yet checked (post-moderation), challenges
waiting for approval, and — when registration review is on — organizations that registered
themselves. Approving or rejecting goes through each kind's own use case, so the rules (who may
moderate, what a rejection needs, who is told) stay in one place each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from matcher import accounts, listings, services
from matcher.access import Viewer, suspended_owners
from matcher.challenges import publishing
from matcher.challenges.models import Challenge
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.models import Need, Organization, Technology
from matcher.notifications import notify_org

KINDS = {
    "technology": "科技成果",
    "need": "需求",
    "challenge": "揭榜挂帅榜单",
    "organization": "注册单位",
}
PAGE_SIZE = 20


@dataclass(frozen=True)
class QueueItem:
    kind: str
    id: int
    title: str
    owner: str
    status: str
    waiting_since: dt.datetime
    excerpt: str
    link: str


def _listing_clause(model: Any) -> Any:
    return or_(
        col(model.status) == "pending",
        (col(model.status) == "published") & col(model.reviewed_at).is_(None),
    )


def _statements(kind: str, viewer: Viewer) -> Any:
    """What waits for this moderator: listings (an admin also sees those of suspended owners,
    as everywhere else), the challenges of the moderator's own agency, new organizations."""
    if kind in ("technology", "need"):
        model: Any = Technology if kind == "technology" else Need
        stmt = select(model).where(_listing_clause(model))
        if not viewer.is_admin:
            stmt = stmt.where(col(model.owner_id).not_in(suspended_owners()))
        return stmt
    if kind == "challenge":
        stmt = select(Challenge).where(Challenge.status == "pending")
        if not viewer.is_admin:
            stmt = stmt.where(
                col(Challenge.organizer_id).is_(None)
                | (col(Challenge.organizer_id) == viewer.organization_id)
            )
        return stmt
    if kind == "organization":
        return select(Organization).where(Organization.status == "pending")
    raise NotFound("未知的审核类型")


def counts(session: Session, viewer: Viewer) -> dict[str, int]:
    """How many items of each kind wait for this moderator."""
    out = {}
    for kind in KINDS:
        stmt = _statements(kind, viewer)
        out[kind] = int(session.exec(select(func.count()).select_from(stmt.subquery())).one())
    return out


def _item(session: Session, kind: str, row: Any, names: dict[int, str]) -> QueueItem:
    if kind == "organization":
        return QueueItem(
            kind, row.id, row.name, row.name, row.status, row.created_at,
            " · ".join(x for x in (row.province, row.city, row.industry) if x),
            f"/organizations/{row.id}",
        )  # fmt: skip
    owner_id = row.publisher_id if kind == "challenge" else row.owner_id
    text = (
        row.problem
        if kind == "challenge"
        else (row.summary if kind == "technology" else row.description)
    )
    link = {"technology": "/technologies/", "need": "/needs/", "challenge": "/challenges/"}[kind]
    return QueueItem(
        kind, row.id, row.title, names.get(owner_id, ""), row.status,
        row.updated_at, (text or "")[:160], f"{link}{row.id}",
    )  # fmt: skip


def review_queue(
    session: Session, viewer: Viewer, *, kind: str = "", page: int = 1
) -> tuple[list[QueueItem], int]:
    """The oldest waiting first, across kinds (or one kind), a page at a time."""
    if not viewer.is_staff:
        raise Forbidden("仅平台组织方和管理员可以审核")
    kinds = [kind] if kind else list(KINDS)
    rows: list[tuple[str, Any]] = []
    for k in kinds:
        rows.extend((k, r) for r in session.exec(_statements(k, viewer)))
    rows.sort(
        key=lambda kr: (kr[1].updated_at if kr[0] != "organization" else kr[1].created_at, kr[1].id)
    )
    total = len(rows)
    start = (max(page, 1) - 1) * PAGE_SIZE
    window = rows[start : start + PAGE_SIZE]
    owner_ids = {
        getattr(r, "publisher_id", None) or getattr(r, "owner_id", None) for _, r in window
    } - {None}
    names = dict(
        session.exec(
            select(Organization.id, Organization.name).where(
                col(Organization.id).in_(owner_ids or {-1})
            )
        ).all()
    )
    return [_item(session, k, r, names) for k, r in window], total  # type: ignore[arg-type]


def decide(
    session: Session, viewer: Viewer, *, kind: str, item_id: int, approve: bool, note: str = ""
) -> Any:
    """Approve or reject one queued item (a rejection needs its reason)."""
    if kind in ("technology", "need"):
        return listings.moderate(
            session=session, viewer=viewer, kind=kind, item_id=item_id, approve=approve, note=note
        )
    if kind == "challenge":
        challenge = session.get(Challenge, item_id)
        if challenge is None:
            raise NotFound("榜单不存在")
        return publishing.moderate(
            session=session, viewer=viewer, challenge=challenge, approve=approve, note=note
        )
    if kind == "organization":
        if not viewer.is_staff:
            raise Forbidden("仅平台组织方和管理员可以审核")
        org = session.get(Organization, item_id)
        if org is None:
            raise NotFound("单位不存在")
        if org.status != "pending":  # suspending and reinstating stay with admins (/admin)
            raise Conflict("该单位不在待审核状态：暂停或恢复单位请到管理后台操作")
        if not approve and not note.strip():
            raise ValidationFailed("不通过需填写原因")
        accounts.set_organization_status(
            session=session, organization=org, status="active" if approve else "rejected",
            actor_id=viewer.user_id,
        )  # fmt: skip
        notify_org(
            session, item_id, "moderation.organization",
            "贵单位的注册已通过审核，欢迎使用对接平台" if approve else f"贵单位的注册未通过审核：{note.strip()}",
            "/workspace",
        )  # fmt: skip
        services.audit(
            session=session, action="moderation.organization", actor_id=viewer.user_id,
            object_type="organization", object_id=item_id, detail={"approve": approve},
        )  # fmt: skip
        return org
    raise NotFound("未知的审核类型")
