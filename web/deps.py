"""Dependencies shared by routes: the unit of work, the viewer, the engine (Annotated aliases,
one place).

There are exactly two ways to touch the database at the edge, for pages and API alike:
`ReadSession` (a dependency, or `read_session(request)` inside a route) for reading, and
`unit_of_work(request)` for writing — it commits when the block ends and, if searchable rows
changed, wakes this process's index follower and encoding worker: the request itself does no
index work and never encodes (workers compute vectors, the follower applies them)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from matcher import accounts
from matcher.access import ANONYMOUS, Viewer
from matcher.db import OUTBOX_WRITTEN, session_scope
from matcher.errors import Forbidden, Unauthorized
from matcher.matching import Matcher
from matcher.models import User
from web.security import SESSION_COOKIE


@contextmanager
def read_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine, write=False) as session:
        yield session


@contextmanager
def unit_of_work(request: Request) -> Iterator[Session]:
    """The request's write transaction: commit on success, roll back on error; after the commit
    the index follows when searchable rows changed (the outbox says so)."""
    with session_scope(request.app.state.engine, write=True) as session:
        yield session
    # read after the commit: its final flush is often the one that wrote the outbox rows
    changed = bool(session.info.get(OUTBOX_WRITTEN))
    index = getattr(request.app.state, "index", None)
    if changed and index is not None:
        if index.encode_inline:  # tests: the change is searchable in the next response
            index.catch_up()
            return
        # The request does no index work: the follower thread applies the change (woken here,
        # and by NOTIFY on PostgreSQL), a worker computes new vectors. What search shows is
        # re-read from the database anyway, so a withdrawn row never appears meanwhile.
        for name in ("embedding_worker", "index_follower"):
            loop = getattr(request.app.state, name, None)
            if loop is not None:
                loop.poke()


def get_read_session(request: Request) -> Iterator[Session]:
    with read_session(request) as session:
        yield session


ReadSession = Annotated[Session, Depends(get_read_session)]


def client_ip(request: Request) -> str:
    """The client's address; behind a trusted reverse proxy (DUIJIE_TRUSTED_PROXIES), the
    nearest address in X-Forwarded-For that is not itself a trusted proxy."""
    peer = request.client.host if request.client else ""
    trusted = _trusted(request.app.state.settings.trusted_proxies)
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop[:64]
    return peer


def _trusted(setting: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out = []
    for part in setting.split(","):
        part = part.strip()
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                continue
    return out


def _in(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def current_user(request: Request) -> User | None:
    """The signed-in user of this browser (looked up once per request)."""
    if hasattr(request.state, "user"):
        return request.state.user  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token:
        with read_session(request) as session:
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


def require_viewer(request: Request) -> Viewer:
    return viewer_for(require_user(request))


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
SignedInViewer = Annotated[Viewer, Depends(require_viewer)]
CurrentUser = Annotated[User, Depends(require_user)]
OptionalUser = Annotated[User | None, Depends(current_user)]
StaffUser = Annotated[User, Depends(require_staff)]
AdminUser = Annotated[User, Depends(require_admin)]
EngineMatcher = Annotated[Matcher, Depends(get_matcher)]
