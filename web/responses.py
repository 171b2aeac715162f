"""Responses every route module shares: file downloads, redirects that carry a message.

A message after a redirect travels in a short-lived cookie signed with the site's key, never
in the URL: nobody can craft a link that shows an official-looking alert on this site."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

FLASH_COOKIE = "duijie_flash"
FLASH_SECONDS = 120


def download(data: bytes, filename: str, media_type: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


def _signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.secret_key, salt="duijie.flash")


def redirect(
    request: Request,
    url: str,
    message: str = "",
    *,
    level: Literal["ok", "error"] = "ok",
) -> RedirectResponse:
    """A 303 to a local URL, with an optional message shown once on the page it leads to."""
    response = RedirectResponse(url if url.startswith("/") else "/", status_code=303)
    if message:
        token = _signer(request).dumps({"level": level, "text": message[:500]})
        response.set_cookie(
            FLASH_COOKIE,
            token,
            max_age=FLASH_SECONDS,
            httponly=True,
            samesite="lax",
            secure=request.app.state.secure_cookies,
        )
    return response


def read_flash(request: Request) -> dict[str, Any] | None:
    token = request.cookies.get(FLASH_COOKIE)
    if not token:
        return None
    try:
        value = _signer(request).loads(token, max_age=FLASH_SECONDS)
    except BadSignature:
        return None
    if not isinstance(value, dict) or value.get("level") not in ("ok", "error"):
        return None
    return {"level": value["level"], "text": str(value.get("text", ""))}
