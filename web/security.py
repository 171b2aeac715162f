"""CSRF protection, security headers and request-size limits for the site.

CSRF: every browser gets a random `duijie_anon` cookie; the token is an HMAC of the session
cookie (or, before login, of that anonymous cookie) with the secret key. Forms carry it in a
hidden `csrf_token` field and htmx sends it in the `X-CSRF-Token` header (set once on <body>).
State-changing requests without the right token get 403. The JSON API authenticates with bearer
tokens only (no cookies), so it needs no CSRF token."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import JSONResponse, PlainTextResponse, Response

from matcher.errors import Forbidden

SESSION_COOKIE = "duijie_session"
ANON_COOKIE = "duijie_anon"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)


def csrf_key(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE) or request.state.anon_id


def csrf_token_for(secret: str, key: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{key}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    return csrf_token_for(request.app.state.secret_key, csrf_key(request))


async def csrf_guard(request: Request) -> None:
    """App-wide dependency: refuse an unsafe request whose token does not match."""
    if request.method not in UNSAFE_METHODS or request.url.path.startswith("/api/"):
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, csrf_token(request)):
        raise Forbidden("请求已过期或来源不明（CSRF 校验失败）：请刷新页面后重试")


class SecurityMiddleware(BaseHTTPMiddleware):
    """Anonymous cookie, upload size limit before the body is read, and security headers."""

    def __init__(self, app: object, *, max_body_bytes: int, secure_cookies: bool) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.max_body_bytes = max_body_bytes
        self.secure_cookies = secure_cookies

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body_bytes:
            message = f"上传内容过大：上限 {self.max_body_bytes // 1048576} MB"
            if request.url.path.startswith("/api/"):
                return JSONResponse({"detail": message}, status_code=413)
            return PlainTextResponse(message, status_code=413)
        anon = request.cookies.get(ANON_COOKIE)
        fresh = anon is None or len(anon) < 20
        request.state.anon_id = secrets.token_urlsafe(24) if fresh else anon
        response = await call_next(request)
        if fresh:
            response.set_cookie(
                ANON_COOKIE,
                request.state.anon_id,
                httponly=True,
                samesite="lax",
                secure=self.secure_cookies,
                max_age=86400 * 30,
            )
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if self.secure_cookies:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
