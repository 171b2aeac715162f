"""Dependencies shared by routes: sessions, the viewer, the engine (Annotated aliases, one place)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from matcher import accounts
from matcher.access import ANONYMOUS, Viewer
from matcher.db import session_scope
from matcher.errors import Forbidden, Unauthorized
from matcher.matching import Matcher
from matcher.models import User
from web.security import SESSION_COOKIE


def get_read_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine, write=False) as session:
        yield session


def get_write_session(request: Request) -> Iterator[Session]:
    """The request's transaction: commit when the route returns, roll back when it raises."""
    with session_scope(request.app.state.engine, write=True) as session:
        yield session


ReadSession = Annotated[Session, Depends(get_read_session)]
WriteSession = Annotated[Session, Depends(get_write_session)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def current_user(request: Request) -> User | None:
    """The signed-in user of this browser (looked up once per request)."""
    if hasattr(request.state, "user"):
        return request.state.user  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token:
        with session_scope(request.app.state.engine, write=False) as session:
            user = accounts.user_for_session(session, token)
    request.state.user = user
    return user


def viewer_for(user: User | None) -> Viewer:
    if user is None:
        return ANONYMOUS
    return Viewer(user_id=user.id, organization_id=user.organization_id, role=user.role)


def current_viewer(request: Request) -> Viewer:
    return viewer_for(current_user(request))


def require_user(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise Unauthorized("请先登录")
    return user


def require_staff(request: Request) -> User:
    user = require_user(request)
    if user.role not in ("organizer", "admin"):
        raise Forbidden("仅组织方和管理员可以访问")
    return user


def require_admin(request: Request) -> User:
    user = require_user(request)
    if user.role != "admin":
        raise Forbidden("仅管理员可以访问")
    return user


def get_matcher(request: Request) -> Matcher:
    return request.app.state.matcher  # type: ignore[no-any-return]


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]
CurrentUser = Annotated[User, Depends(require_user)]
OptionalUser = Annotated[User | None, Depends(current_user)]
StaffUser = Annotated[User, Depends(require_staff)]
AdminUser = Annotated[User, Depends(require_admin)]
EngineMatcher = Annotated[Matcher, Depends(get_matcher)]
