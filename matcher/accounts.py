"""Accounts: registration, passwords (argon2), server-side sessions, API tokens, login limits."""

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
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 20
ROLE_FOR_KIND = {
    "enterprise": "enterprise",
    "university": "university",
    "institute": "university",
    "investor": "enterprise",
    "agency": "organizer",
}
_hasher = PasswordHasher()
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A valid hash of a random password: verifying against it makes a login for an unknown e-mail
# cost as much as one for a known e-mail, so timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


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
        password_hash=_hasher.hash(password),
        role=role,
        organization_id=organization_id,
        expertise=expertise,
    )
    session.add(user)
    session.flush()
    return user


def register(
    *,
    session: Session,
    organization: OrganizationCreate,
    email: str,
    name: str,
    password: str,
    phone: str | None,
) -> tuple[Organization, User]:
    """Self-registration: a new enterprise, university or institute and its first user."""
    if organization.kind not in ("enterprise", "university", "institute"):
        raise Forbidden("组织方、投资机构和管理员账号由平台管理员创建")
    if services.organization_by_name(session=session, name=organization.name) is not None:
        raise Conflict(f"单位「{organization.name}」已在平台注册：请联系该单位的管理员为您开通账号")
    if organization.credit_code:
        clash = session.exec(
            select(Organization).where(Organization.credit_code == organization.credit_code)
        ).first()
        if clash is not None:
            raise Conflict("该统一社会信用代码已被其他单位使用")
    org = services.save_organization(session=session, data=organization)
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


def check_login_allowed(session: Session, email: str, ip: str) -> None:
    if _recent_failures(session, email=email) >= MAX_FAILURES_PER_EMAIL or (
        ip and _recent_failures(session, ip=ip) >= MAX_FAILURES_PER_IP
    ):
        raise TooManyRequests("登录失败次数过多，请 15 分钟后再试")


def record_attempt(session: Session, email: str, ip: str, success: bool) -> None:
    session.add(LoginAttempt(email=email[:200], ip=ip[:64], success=success))


def verify_password(session: Session, email: str, password: str) -> User | None:
    """The user when the password matches (a rehash is stored when argon2's parameters changed)."""
    user = session.exec(select(User).where(User.email == email)).first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
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
    if user is None or not user.is_active:
        return None
    return user


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
    return user
