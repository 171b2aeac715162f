"""In-app notifications: the bell's count (polled by htmx), the list, marking read."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from matcher.models import Notification
from matcher.notifications import mark_read
from web.deps import CurrentUser, current_user, read_session, unit_of_work
from web.templating import render

router = APIRouter()


@router.get("/notifications/count", response_class=HTMLResponse)
def count(request: Request) -> Response:
    if current_user(request) is None:
        return HTMLResponse('<span id="bell-count" class="count zero"></span>')
    return render(request, "notifications/_count.html")


@router.get("/notifications", response_class=HTMLResponse)
def notifications(request: Request, user: CurrentUser) -> HTMLResponse:
    """The latest notifications; opening the list reads them (the new ones stay marked on this
    page, and the bell's count drops to zero)."""
    with read_session(request) as session:
        rows = session.exec(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(col(Notification.created_at).desc())
            .limit(100)
        ).all()
    fresh = {row.id for row in rows if row.read_at is None}
    if fresh:
        with unit_of_work(request) as session:
            mark_read(session, user.id)  # type: ignore[arg-type]
    return render(request, "notifications/list.html", {"rows": rows, "fresh": fresh})


@router.post("/notifications/read")
def read_all(request: Request, user: CurrentUser) -> Response:
    with unit_of_work(request) as session:
        mark_read(session, user.id)  # type: ignore[arg-type]
    return RedirectResponse("/notifications", status_code=303)
