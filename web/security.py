"""CSRF protection, security headers and request-size limits for the site.

CSRF: every browser gets a random `duijie_anon` cookie; the token is an HMAC of the session
cookie (or, before login, of that anonymous cookie) with the secret key. Forms carry it in a
hidden `csrf_token` field and htmx sends it in the `X-CSRF-Token` header (set once on <body>).
State-changing requests without the right token get 403. The JSON API authenticates with bearer
tokens only (no cookies), so it needs no CSRF token."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from http.cookies import SimpleCookie
from typing import Any

from fastapi import HTTPException, Request

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
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def csrf_key(request: Request) -> str:
    return (
        request.cookies.get(SESSION_COOKIE) or request.scope.get("state", {}).get("anon_id") or ""
    )


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


MAX_FORM_BYTES = 1024 * 1024  # a form or JSON body that is not a file upload


class BodyTooLarge(HTTPException):
    """Raised while the body streams in, as soon as it passes the limit (FastAPI passes an
    HTTPException through its body parsing unchanged, so the answer is 413, not 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413, detail=f"上传内容过大：上限 {max(1, limit // 1048576)} MB"
        )


class SecurityMiddleware:
    """Pure ASGI (no per-request task like BaseHTTPMiddleware): enforces the body limit while
    the body streams in — a declared Content-Length over it is refused before reading, and a
    chunked body is cut off the moment it passes it (uploads may be as large as the upload
    limit, any other body 1 MB) — gives each browser its anonymous cookie, adds security
    headers."""

    def __init__(
        self,
        app: Any,
        *,
        max_body_bytes: int,
        secure_cookies: bool,
        max_form_bytes: int = MAX_FORM_BYTES,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_form_bytes = max_form_bytes
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").lower()
        limit = (
            self.max_body_bytes
            if content_type.startswith(b"multipart/form-data")
            else self.max_form_bytes
        )
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await self._too_large(scope, send, limit)
            return
        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message: dict[str, Any] = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        anon = None
        raw_cookie = headers.get(b"cookie")
        if raw_cookie:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(raw_cookie.decode("latin-1"))
            except Exception:
                jar = SimpleCookie()
            if ANON_COOKIE in jar and len(jar[ANON_COOKIE].value) >= 20:
                anon = jar[ANON_COOKIE].value
        fresh = anon is None
        scope.setdefault("state", {})["anon_id"] = anon or secrets.token_urlsafe(24)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers") or [])
                present = {k.lower() for k, _ in out}
                out.extend((k, v) for k, v in SECURITY_HEADERS if k not in present)
                if self.secure_cookies and b"strict-transport-security" not in present:
                    out.append((b"strict-transport-security", b"max-age=31536000"))
                if fresh:
                    cookie = f"{ANON_COOKIE}={scope['state']['anon_id']}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"
                    if self.secure_cookies:
                        cookie += "; Secure"
                    out.append((b"set-cookie", cookie.encode()))
                message = {**message, "headers": out}
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)

    async def _too_large(self, scope: dict[str, Any], send: Any, limit: int) -> None:
        message = f"上传内容过大：上限 {max(1, limit // 1048576)} MB"
        is_api = scope.get("path", "").startswith("/api/")
        body = (
            json.dumps({"detail": message}, ensure_ascii=False).encode()
            if is_api
            else message.encode()
        )
        content_type = b"application/json" if is_api else b"text/plain; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
