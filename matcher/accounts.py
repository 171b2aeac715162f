"""Accounts: registration, passwords (argon2), server-side sessions, API tokens, login limits.

A user of a suspended organization cannot sign in, and its sessions and API tokens stop working
while the suspension lasts. Failed sign-ins are limited per account *and client*, so a stranger
guessing passwords locks out only their own client, never the account's owner."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from matcher import services
from matcher.errors import Conflict, Forbidden, TooManyRequests, Unauthorized, ValidationFailed
from matcher.models import (
    ApiToken,
    LoginAttempt,
    Organization,
    OrganizationCreate,
    User,
    UserSession,
    utcnow,
)

SESSION_DAYS = 14
LOGIN_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT_AND_CLIENT = 5
MAX_FAILURES_PER_CLIENT = 20
# Failures on one account from many clients: beyond this, only clients that signed in to the
# account before (within KNOWN_CLIENT_DAYS) may keep trying — a distributed guess is stopped
# without locking the owner out.
MAX_FAILURES_PER_ACCOUNT = 50
KNOWN_CLIENT_DAYS = 60
REGISTRATIONS_PER_CLIENT_PER_HOUR = 5
ROLE_FOR_KIND = {
    "enterprise": "enterprise",
    "university": "university",
    "institute": "university",
    "investor": "enterprise",
    "agency": "organizer",
}
# argon2id with the library's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes). Looked up
# at each call, so the test suite can swap in the cheapest parameters (tests/conftest.py); hashes
# carry their own parameters, and a login rehashes a password whose parameters differ.
PASSWORD_HASHER = PasswordHasher()
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A valid hash of a random password: verifying against it makes a login for an unknown e-mail
# cost as much as one for a known e-mail, so timing does not reveal which accounts exist.
_DUMMY_HASH = PASSWORD_HASHER.hash(secrets.token_urlsafe(16))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_problem(password: str) -> str | None:
    if len(password) < 8:
        return "密码至少 8 位"
    if len(password) > 128:
        return "密码最多 128 位"
    if password.isdigit() or password.isalpha():
        return "密码需同时包含字母和数字（或符号）"
    return None


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email) or len(email) > 200:
        raise ValidationFailed("电子邮箱格式不正确")
    return email


def create_user(
    *,
    session: Session,
    email: str,
    name: str,
    password: str,
    role: str,
    organization_id: int | None,
    phone: str | None = None,
    expertise: str = "",
) -> User:
    email = normalize_email(email)
    expertise = expertise_problem_free(role, expertise)
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise Conflict("该邮箱已注册")
    problem = password_problem(password)
    if problem:
        raise ValidationFailed(problem)
    if not (name or "").strip():
        raise ValidationFailed("请填写姓名")
    user = User(
        email=email,
        name=name.strip()[:60],
        phone=(phone or "").strip() or None,
        password_hash=PASSWORD_HASHER.hash(password),
        role=role,
        organization_id=organization_id,
        expertise=expertise,
    )
    session.add(user)
    session.flush()
    return user


def expertise_problem_free(role: str, expertise: str) -> str:
    """An expertise profile (which makes a user a review expert), normalized; enterprise users
    may not be experts (they compete for the challenges they would review)."""
    expertise = " ".join((expertise or "").split())
    if expertise and role == "enterprise":
        raise ValidationFailed("企业用户不能担任评审专家（利益冲突）")
    return expertise[:2000]


def set_expertise(*, session: Session, user: User, expertise: str) -> User:
    user.expertise = expertise_problem_free(user.role, expertise)
    session.add(user)
    return user


def register(
    *,
    session: Session,
    organization: OrganizationCreate,
    email: str,
    name: str,
    password: str,
    phone: str | None,
    ip: str = "",
) -> tuple[Organization, User]:
    """Self-registration: a new enterprise, university or institute and its first user (at
    most a few per client and hour)."""
    if organization.kind not in ("enterprise", "university", "institute"):
        raise Forbidden("组织方、投资机构和管理员账号由平台管理员创建")
    if ip:
        from matcher.models import AuditLog

        recent = session.exec(
            select(func.count())
            .select_from(AuditLog)
            .where(
                AuditLog.action == "account.register",
                AuditLog.ip == ip[:64],
                col(AuditLog.at) >= utcnow() - dt.timedelta(hours=1),
            )
        ).one()
        if int(recent) >= REGISTRATIONS_PER_CLIENT_PER_HOUR:
            raise TooManyRequests("注册过于频繁，请一小时后再试")
    if services.organization_by_name(session=session, name=organization.name) is not None:
        raise Conflict(f"单位「{organization.name}」已在平台注册：请联系该单位的管理员为您开通账号")
    if organization.credit_code:
        clash = session.exec(
            select(Organization).where(Organization.credit_code == organization.credit_code)
        ).first()
        if clash is not None:
            raise Conflict("该统一社会信用代码已被其他单位使用")
    org = services.save_organization(session=session, data=organization)
    from matcher.config import get_settings

    if get_settings().registration_review:
        org.status = "pending"  # waits in the review queue; its users sign in once approved
        session.add(org)
    user = create_user(
        session=session,
        email=email,
        name=name,
        password=password,
        role=ROLE_FOR_KIND[organization.kind],
        organization_id=org.id,
        phone=phone,
    )
    services.audit(
        session=session,
        action="account.register",
        actor_id=user.id,
        object_type="organization",
        object_id=org.id,
        ip=ip[:64] or None,
    )
    return org, user


def _recent_failures(session: Session, *, email: str | None = None, ip: str | None = None) -> int:
    since = utcnow() - LOGIN_WINDOW
    stmt = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(col(LoginAttempt.at) >= since, col(LoginAttempt.success).is_(False))
    )
    if email is not None:
        stmt = stmt.where(LoginAttempt.email == email)
    if ip is not None:
        stmt = stmt.where(LoginAttempt.ip == ip)
    return int(session.exec(stmt).one())


def _known_client(session: Session, email: str, ip: str) -> bool:
    since = utcnow() - dt.timedelta(days=KNOWN_CLIENT_DAYS)
    return (
        session.exec(
            select(LoginAttempt.id).where(
                LoginAttempt.email == email,
                LoginAttempt.ip == ip,
                col(LoginAttempt.success).is_(True),
                col(LoginAttempt.at) >= since,
            )
        ).first()
        is not None
    )


def check_login_allowed(session: Session, email: str, ip: str) -> None:
    """Refuse a sign-in from a client that failed too often — on this account, or on any —
    and, when an account is under a distributed attack, from clients it has never used."""
    too_many = TooManyRequests("登录失败次数过多，请 15 分钟后再试")
    if _recent_failures(session, email=email, ip=ip) >= MAX_FAILURES_PER_ACCOUNT_AND_CLIENT:
        raise too_many
    if ip and _recent_failures(session, ip=ip) >= MAX_FAILURES_PER_CLIENT:
        raise too_many
    if _recent_failures(session, email=email) >= MAX_FAILURES_PER_ACCOUNT and not _known_client(
        session, email, ip
    ):
        raise too_many


def record_attempt(session: Session, email: str, ip: str, success: bool) -> None:
    session.add(LoginAttempt(email=email[:200], ip=ip[:64], success=success))


def verify_password(session: Session, email: str, password: str) -> User | None:
    """The user when the password matches (a rehash is stored when argon2's parameters changed)."""
    user = session.exec(select(User).where(User.email == email)).first()
    try:
        PASSWORD_HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    blocked = _organization_blocked(session, user)
    if blocked:
        raise Forbidden(blocked)
    if PASSWORD_HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = PASSWORD_HASHER.hash(password)
        session.add(user)
    return user


def new_session(*, session: Session, user: User, ip: str | None = None) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=hash_token(token),
            user_id=user.id,  # type: ignore[arg-type]
            expires_at=utcnow() + dt.timedelta(days=SESSION_DAYS),
            ip=(ip or "")[:64] or None,
        )
    )
    user.last_login_at = utcnow()
    session.add(user)
    return token


def user_for_session(session: Session, token: str | None) -> User | None:
    if not token:
        return None
    row = session.exec(
        select(UserSession).where(UserSession.token_hash == hash_token(token))
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at < utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or _organization_blocked(session, user):
        return None
    return user


def _organization_blocked(session: Session, user: User) -> str:
    """Why the user's organization may not act now (suspended, or awaiting review), or ''."""
    if user.organization_id is None:
        return ""
    org = session.get(Organization, user.organization_id)
    if org is None or org.status == "active":
        return ""
    if org.status == "pending":
        return "所在单位的注册正在审核中：审核通过后即可登录"
    if org.status == "rejected":
        return "所在单位的注册未通过审核：请联系平台组织方"
    return "所在单位已被暂停使用：请联系平台管理员"


def revoke_session(*, session: Session, token: str | None) -> None:
    if not token:
        return
    row = session.exec(
        select(UserSession).where(UserSession.token_hash == hash_token(token))
    ).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)


def revoke_all_sessions(*, session: Session, user_id: int) -> None:
    for row in session.exec(
        select(UserSession).where(
            UserSession.user_id == user_id, col(UserSession.revoked_at).is_(None)
        )
    ):
        row.revoked_at = utcnow()
        session.add(row)


def new_api_token(*, session: Session, user: User, name: str = "") -> str:
    token = "dj_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=hash_token(token), user_id=user.id, name=name[:60]))  # type: ignore[arg-type]
    return token


def user_for_api_token(session: Session, token: str) -> User:
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("API 令牌无效或已撤销")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("API 令牌所属账号已停用")
    if _organization_blocked(session, user):
        raise Forbidden("API 令牌所属单位已被暂停使用或尚未通过审核")
    return user


def set_organization_status(
    *, session: Session, organization: Organization, status: str, actor_id: int | None
) -> Organization:
    """Suspend (or reactivate) an organization: its users' sessions end at once, sign-in and API
    tokens are refused while it lasts, and its listings leave search and every page (the
    outbox tells each index to drop them, and to bring them back on reactivation)."""
    from matcher.errors import ValidationFailed as Invalid
    from matcher.models import IndexOutbox, Need, Technology

    if status not in ("active", "suspended", "rejected"):
        raise Invalid("未知的状态")
    organization.status = status
    organization.updated_at = utcnow()
    session.add(organization)
    if status == "suspended":
        for member in session.exec(select(User).where(User.organization_id == organization.id)):
            revoke_all_sessions(session=session, user_id=member.id)  # type: ignore[arg-type]
    for model, collection in ((Technology, "technologies"), (Need, "needs")):
        for item_id in session.exec(select(model.id).where(model.owner_id == organization.id)):
            if item_id is not None:
                session.add(IndexOutbox(collection=collection, item_id=item_id))
    services.audit(
        session=session,
        action="admin.org_status",
        actor_id=actor_id,
        object_type="organization",
        object_id=organization.id,
        detail={"status": status},
    )
    return organization
