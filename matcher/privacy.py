"""Personal information operations (个人信息保护法): a user downloads their data, and deletes
their account.

Deletion erases the person, not the organization's listings: the account's name, e-mail,
phone and expertise are erased (the row stays as 「已注销用户」 so history and foreign keys hold),
sessions, API tokens, notifications, login attempts and declared conflicts are deleted, and
the person's contact details are removed from their own records: listings of their own
organization that they created or that carry their e-mail or phone — never another
organization's listing that happens to carry the same (unverified) phone or e-mail. It goes through the
same save path as an edit, so the outbox brings the index (and with it the result cache, keyed
by the index version) up to date, and later exports no longer contain them. The audit log
keeps that the deletion happened, never the erased values."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from matcher import accounts, services
from matcher.challenges.models import ExpertAssignment, ExpertConflict
from matcher.errors import Forbidden, ValidationFailed
from matcher.models import (
    ApiToken,
    AuditLog,
    Interest,
    LoginAttempt,
    Need,
    Notification,
    Organization,
    Technology,
    User,
    UserSession,
    utcnow,
)

DELETED_NAME = "已注销用户"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def own_listings(session: Session, user: User) -> list[Any]:
    """The listings that are this person's own records: of their own organization, and created
    by them or carrying their e-mail or phone as the contact."""
    if user.organization_id is None:
        return []
    out: list[Any] = []
    for model in models_of_listings():
        matches = [col(model.created_by) == user.id, col(model.contact_email) == user.email]
        if user.phone:
            matches.append(col(model.contact_phone) == user.phone)
        out.extend(
            session.exec(
                select(model)
                .where(col(model.owner_id) == user.organization_id, or_(*matches))
                .order_by(col(model.id))
            )
        )
    return out


def export_user_data(session: Session, user: User) -> dict[str, Any]:
    """Everything duijie holds about this person, as JSON-ready data."""
    org = session.get(Organization, user.organization_id) if user.organization_id else None
    listings: list[dict[str, Any]] = []
    for row in own_listings(session, user):
        kind = "technology" if isinstance(row, Technology) else "need"
        listings.append(
            {"kind": kind, "id": row.id, "title": row.title, "contact_name": row.contact_name,
             "contact_phone": row.contact_phone, "contact_email": row.contact_email}
        )  # fmt: skip
    return {
        "exported_at": utcnow().isoformat(),
        "account": {
            "id": user.id, "email": user.email, "name": user.name, "phone": user.phone,
            "role": user.role, "expertise": user.expertise, "created_at": _iso(user.created_at),
            "last_login_at": _iso(user.last_login_at),
        },
        "organization": {"id": org.id, "name": org.name, "kind": org.kind} if org else None,
        "listings_with_my_contact_details": listings,
        "interests_sent": [
            {"id": i.id, "technology_id": i.technology_id, "need_id": i.need_id, "message": i.message,
             "status": i.status, "created_at": _iso(i.created_at)}
            for i in session.exec(select(Interest).where(Interest.from_user_id == user.id))
        ],
        "notifications": [
            {"text": n.text, "link": n.link, "created_at": _iso(n.created_at), "read_at": _iso(n.read_at)}
            for n in session.exec(select(Notification).where(Notification.user_id == user.id))
        ],
        "api_tokens": [
            {"name": t.name, "created_at": _iso(t.created_at), "last_used_at": _iso(t.last_used_at)}
            for t in session.exec(select(ApiToken).where(ApiToken.user_id == user.id))
        ],
        "sessions": len(session.exec(select(UserSession.id).where(UserSession.user_id == user.id)).all()),
        "reviews": [
            {"application_id": a.application_id, "scores": a.scores, "comment": a.comment,
             "submitted_at": _iso(a.submitted_at)}
            for a in session.exec(select(ExpertAssignment).where(ExpertAssignment.expert_id == user.id))
        ],
        "activity": [
            {"at": _iso(a.at), "action": a.action, "object_type": a.object_type, "object_id": a.object_id}
            for a in session.exec(
                select(AuditLog).where(AuditLog.actor_id == user.id).order_by(col(AuditLog.at))
            )
        ],
    }  # fmt: skip


def delete_account(session: Session, user: User, password: str) -> dict[str, int]:
    """Erase the person (see the module's docstring); returns what was removed."""
    if not user.is_active:
        raise Forbidden("账号已停用")
    if accounts.verify_password(session, user.email, password) is None:
        raise ValidationFailed("密码不正确，账号未注销")
    if user.role == "admin":
        others = session.exec(
            select(User).where(
                User.role == "admin", col(User.is_active).is_(True), User.id != user.id
            )
        ).first()
        if others is None:
            raise Forbidden("这是最后一个管理员账号：请先设置另一位管理员")
    email, phone, name = user.email, user.phone, user.name
    removed = {"listings_scrubbed": 0}
    for row in own_listings(session, user):
        mine = row.contact_email == email or (phone and row.contact_phone == phone)
        if mine or row.contact_name == name:
            row.contact_email = None if row.contact_email == email else row.contact_email
            row.contact_phone = None if phone and row.contact_phone == phone else row.contact_phone
            if row.contact_name == name:
                row.contact_name = None
            row.updated_at = utcnow()
            session.add(row)  # the outbox row follows from the flush (see matcher.db)
            removed["listings_scrubbed"] += 1
    owned: list[tuple[str, Any]] = [
        ("sessions", select(UserSession).where(UserSession.user_id == user.id)),
        ("api_tokens", select(ApiToken).where(ApiToken.user_id == user.id)),
        ("notifications", select(Notification).where(Notification.user_id == user.id)),
        ("declared_conflicts", select(ExpertConflict).where(ExpertConflict.expert_id == user.id)),
    ]
    for label, stmt in owned:
        rows = session.exec(stmt).all()
        removed[label] = len(rows)
        for row in rows:
            session.delete(row)
    attempts = session.exec(select(LoginAttempt).where(LoginAttempt.email == email)).all()
    removed["loginattempt"] = len(attempts)
    for row in attempts:
        session.delete(row)
    user.email = f"deleted-{user.id}-{secrets.token_hex(4)}@deleted.invalid"
    user.name = DELETED_NAME
    user.phone = None
    user.expertise = ""
    user.password_hash = "!deleted"
    user.is_active = False
    session.add(user)
    services.audit(
        session=session,
        action="account.delete",
        actor_id=user.id,
        object_type="user",
        object_id=user.id,
        detail={k: v for k, v in removed.items()},
    )
    return removed


def models_of_listings() -> tuple[Any, ...]:
    return (Technology, Need)
