"""In-app notifications: one row per user; a text rendered for that user.

A notification about a listing is rendered per recipient (`notify_org_rendered`), so a text that
names a need is never sent to someone who may not see that need."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func
from sqlmodel import Session, col, select

from matcher.access import Viewer
from matcher.models import Notification, User, pk, utcnow


def notify_user(session: Session, user_id: int, kind: str, text: str, link: str = "") -> None:
    session.add(Notification(user_id=user_id, kind=kind, text=text[:500], link=link[:300]))


def members(session: Session, org_id: int) -> list[User]:
    return list(
        session.exec(
            select(User).where(User.organization_id == org_id, col(User.is_active).is_(True))
        )
    )


def notify_org(session: Session, org_id: int, kind: str, text: str, link: str = "") -> None:
    for user in members(session, org_id):
        notify_user(session, pk(user), kind, text, link)


def notify_org_rendered(
    session: Session, org_id: int, kind: str, render: Callable[[Viewer], str], link: str = ""
) -> None:
    """Notify every member of an organization with a text rendered for that member."""
    for user in members(session, org_id):
        viewer = Viewer(user_id=user.id, organization_id=user.organization_id, role=user.role)
        notify_user(session, pk(user), kind, render(viewer), link)


def unread_count(session: Session, user_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, col(Notification.read_at).is_(None))
    )
    return int(session.exec(stmt).one())


def mark_read(session: Session, user_id: int, notification_id: int | None = None) -> None:
    stmt = select(Notification).where(
        Notification.user_id == user_id, col(Notification.read_at).is_(None)
    )
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    for row in session.exec(stmt):
        row.read_at = utcnow()
        session.add(row)
