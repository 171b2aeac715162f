"""One Jinja2 environment for every page; `render` adds what every page needs and renders only
the named block for htmx requests, so a page and its fragment never drift apart."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from matcher import vocab
from matcher.text import highlight

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
env = templates.env
env.auto_reload = False  # templates ship with the package; no stat() of every file on every render
env.globals["vocab"] = vocab
env.globals["zip"] = zip
env.filters["label"] = vocab.label


def _price(value: float | None) -> str:
    return "面议" if value is None else f"{value:g} 万元"


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:g} 万元"


def _date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _days_left(value: dt.date | None) -> int | None:
    return None if value is None else (value - dt.date.today()).days


def _highlight(text: str, terms: list[str], limit: int | None = None) -> Markup:
    return Markup(highlight(text or "", terms or [], limit=limit))


def _tojson_attr(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


env.filters.update(
    price=_price,
    money=_money,
    date=_date,
    days_left=_days_left,
    highlight=_highlight,
    tojson_attr=_tojson_attr,
)


def is_htmx(request: Request) -> bool:
    return (
        request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
    )


def common_context(request: Request) -> dict[str, Any]:
    from web.deps import current_user, read_session, viewer_for
    from web.responses import read_flash
    from web.security import csrf_token

    user = current_user(request)
    unread = 0
    if user is not None:
        from matcher.notifications import unread_count

        with read_session(request) as session:
            unread = unread_count(session, user.id)  # type: ignore[arg-type]
    return {
        "request": request,
        "user": user,
        "viewer": viewer_for(user),
        "csrf_token": csrf_token(request),
        "unread": unread,
        "today": dt.date.today(),
        "flash": None if is_htmx(request) else read_flash(request),
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
) -> HTMLResponse:
    """The page, or only `block` of it when htmx asks (or when a block is forced)."""
    ctx = {**common_context(request), **(context or {})}
    if block is not None and (is_htmx(request) or block.startswith("!")):
        name = block.lstrip("!")
        tmpl = env.get_template(template)
        html = "".join(tmpl.blocks[name](tmpl.new_context(ctx)))
        return HTMLResponse(html, status_code=status_code)
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    if ctx.get("flash") is not None:
        from web.responses import FLASH_COOKIE

        response.delete_cookie(FLASH_COOKIE)  # shown once
    return response
