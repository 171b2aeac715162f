"""What every 对接会 page module shares: the labels, the event's roster and rounds for a
template, a participant's display name and the inline error of an htmx fragment."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from markupsafe import escape
from sqlmodel import Session, col, select

from matcher.errors import DomainError
from matcher.events import setup
from matcher.events.models import (
    EVENT_STATUSES,
    GROUPS,
    MEETING_STATUSES,
    OUTCOMES,
    PARTICIPANT_STATUSES,
    RATINGS,
    REQUEST_STRENGTHS,
    Event,
    Participant,
)
from matcher.models import Organization, pk

LABELS = {
    "event_statuses": EVENT_STATUSES, "groups": GROUPS, "participant_statuses": PARTICIPANT_STATUSES,
    "strengths": REQUEST_STRENGTHS, "meeting_statuses": MEETING_STATUSES, "ratings": RATINGS, "outcomes": OUTCOMES,
}  # fmt: skip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def event_context(session: Session, event: Event) -> dict[str, Any]:
    """The event, its participants and their organizations, its rounds and tables, the labels;
    with `name_of` to print a participant."""
    people = setup.participants(session=session, event_id=pk(event))
    orgs = {
        pk(o): o
        for o in session.exec(
            select(Organization).where(
                col(Organization.id).in_({p.organization_id for p in people} or {-1})
            )
        )
    }
    ctx: dict[str, Any] = {
        "event": event,
        "people": people,
        "orgs": orgs,
        "slots": setup.event_slots(session=session, event_id=pk(event)),
        "tables": setup.event_tables(session=session, event_id=pk(event)),
        **LABELS,
    }
    ctx["name_of"] = lambda p: participant_name(ctx, p)
    return ctx


def participant_name(ctx: dict[str, Any], participant: Participant) -> str:
    org = ctx["orgs"].get(participant.organization_id)
    return (org.name if org else "?") + (f" · {participant.team}" if participant.team else "")


def fragment_error(exc: DomainError) -> HTMLResponse:
    return HTMLResponse(
        f'<span class="error">{escape(exc.message)}</span>', status_code=exc.status_code
    )
