"""对接会 pages: the list, setting up a new event and the organizer's overview.

The other pages of an event: `event_invitations` (who to invite, import, registration),
`event_participants` (a participant's own page, requests, availability), `event_schedule`
(the grid, its edits, publishing, agendas, run sheets, briefs) and `event_outcomes` (check-in,
meeting outcomes, the report)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from matcher.errors import DomainError
from matcher.events import access, schedule, setup
from matcher.events.schemas import EventIn, SessionIn
from matcher.models import pk
from matcher.vocab import TECH_FIELDS
from web.deps import SignedInViewer, read_session, unit_of_work
from web.forms import parse
from web.responses import redirect
from web.routes.event_views import LABELS, event_context, participant_name
from web.templating import render

router = APIRouter(prefix="/events")
SESSION_ROWS = (("s1", "上午场"), ("s2", "下午场"))  # the form's two sessions on the first day


@router.get("", response_class=HTMLResponse)
def events_list(request: Request, viewer: SignedInViewer) -> HTMLResponse:
    with read_session(request) as session:
        events = access.events_visible_to(session=session, viewer=viewer)
    return render(request, "events/list.html", {"events": events, **LABELS})


@router.get("/new", response_class=HTMLResponse)
def new_event(request: Request, viewer: SignedInViewer) -> HTMLResponse:
    access.require_organizer(viewer)
    day = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    values = {
        "starts_on": day, "ends_on": "", "meeting_cap": "6", "tables": "20", "slot_minutes": "20",
        "s1_start": "09:00", "s1_end": "11:50", "s1_break": "10:20-10:30", "s2_start": "14:00", "s2_end": "16:50", "s2_break": "15:20-15:30",
    }  # fmt: skip
    return render(
        request, "events/form.html", {"values": values, "errors": {}, "fields": TECH_FIELDS}
    )


def _sessions(form: FormData) -> tuple[list[SessionIn], dict[str, str]]:
    """The form's sessions (a row left blank is no session), each on the first day."""
    rows: list[SessionIn] = []
    errors: dict[str, str] = {}
    for prefix, label in SESSION_ROWS:
        if not any(str(form.get(f"{prefix}_{part}") or "").strip() for part in ("start", "end")):
            continue
        names = {"start": f"{prefix}_start", "end": f"{prefix}_end", "breaks": f"{prefix}_break"}
        _values, row, found = parse(
            SessionIn, form, names={**names, "day": "starts_on"}, extra={"name": label}
        )
        for field, message in found.items():
            errors.setdefault(field, message)
        if row is not None:
            rows.append(row)
    return rows, errors


@router.post("/new", response_class=HTMLResponse)
async def create_event(request: Request, viewer: SignedInViewer) -> Response:
    access.require_organizer(viewer)
    form = await request.form()
    sessions, errors = _sessions(form)
    values, event, errors = parse(
        EventIn, form, lists=["theme_fields"], names={"sessions": "s1_start"},
        extra={"sessions": sessions}, errors=errors,
    )  # fmt: skip
    if event is not None:
        try:
            with unit_of_work(request) as session:
                event_id = pk(setup.create_event(session=session, viewer=viewer, event=event))
            return redirect(request, f"/events/{event_id}", "活动已创建")
        except DomainError as exc:
            errors[""] = exc.message
    return render(
        request,
        "events/form.html",
        {"values": values, "errors": errors, "fields": TECH_FIELDS},
        status_code=422,
    )


@router.get("/{event_id}", response_class=HTMLResponse)
def event_detail(request: Request, event_id: int, viewer: SignedInViewer) -> Response:
    with read_session(request) as session:
        event, _me = access.event_for_member(session=session, viewer=viewer, event_id=event_id)
        if not access.is_organizer(viewer, event):
            return RedirectResponse(f"/events/{event_id}/me", status_code=303)
        ctx = event_context(session, event)
        people_by_id = {pk(p): p for p in ctx["people"]}
        unscheduled = [
            {
                **u,
                "demand_name": participant_name(ctx, people_by_id[u["demand"]]),
                "supply_name": participant_name(ctx, people_by_id[u["supply"]]),
            }
            for u in (event.schedule_report or {}).get("unscheduled", [])
            if u["demand"] in people_by_id and u["supply"] in people_by_id
        ]
        meetings = schedule.meetings_of(session=session, event_id=event_id)
    counts: dict[int, int] = {}
    for m in meetings:
        counts[m.demand_id] = counts.get(m.demand_id, 0) + 1
        counts[m.supply_id] = counts.get(m.supply_id, 0) + 1
    return render(
        request,
        "events/detail.html",
        {**ctx, "unscheduled": unscheduled, "meeting_counts": counts, "meetings": meetings},
    )
