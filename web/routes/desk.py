"""Each role's home: the organizer's desk (events, challenges, the review queue, the figures).

Signing in lands each role where its work is: enterprises and universities on their workspace,
organizers here, admins in the back office (see `home_for`)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import col, select

from matcher import moderation, services
from matcher.challenges.access import is_organizer
from matcher.challenges.models import CHALLENGE_STATUSES, Challenge
from matcher.events import access as event_access
from matcher.events.models import EVENT_STATUSES
from matcher.models import User
from web.deps import ReadSession, StaffUser, viewer_for
from web.templating import render

router = APIRouter()


def home_for(user: User) -> str:
    """Where a signed-in user's work is."""
    if user.role == "admin":
        return "/admin"
    if user.role == "organizer":
        return "/desk"
    if user.organization_id is None:  # e.g. a review expert without an organization
        return "/reviews" if user.expertise else "/"
    return "/workspace"


@router.get("/desk", response_class=HTMLResponse)
def desk(request: Request, user: StaffUser, session: ReadSession) -> HTMLResponse:
    viewer = viewer_for(user)
    today = dt.date.today()
    events = event_access.events_visible_to(session=session, viewer=viewer)
    upcoming = sorted((e for e in events if e.ends_on >= today), key=lambda e: e.starts_on)
    managed = [
        c
        for c in session.exec(
            select(Challenge)
            .where(col(Challenge.status).in_(("pending", "open", "reviewing", "awarded")))
            .order_by(col(Challenge.application_deadline))
        )
        if is_organizer(viewer, c)
    ]
    return render(
        request,
        "desk.html",
        {
            "figures": services.platform_figures(session=session),
            "queue": moderation.counts(session, viewer_for(user)),
            "kinds": moderation.KINDS,
            "upcoming": upcoming[:8],
            "past": [e for e in events if e.ends_on < today][:5],
            "challenges": managed[:10],
            "event_statuses": EVENT_STATUSES,
            "challenge_statuses": CHALLENGE_STATUSES,
        },
    )
