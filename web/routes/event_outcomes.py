"""对接会 pages on the day and after: check-in, each meeting's outcome, the event report."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from matcher.errors import DomainError, ValidationFailed
from matcher.events import access, exports, outcomes, schedule, setup
from matcher.events.models import Meeting
from matcher.events.schemas import OutcomeIn
from matcher.models import pk
from web.deps import SignedInViewer, read_session, unit_of_work
from web.forms import parse
from web.responses import download
from web.routes.event_views import LABELS, XLSX, event_context, fragment_error
from web.templating import render

router = APIRouter(prefix="/events")


@router.get("/{event_id}/checkin", response_class=HTMLResponse)
def checkin_page(request: Request, event_id: int, viewer: SignedInViewer) -> HTMLResponse:
    with read_session(request) as session:
        event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
        ctx = event_context(session, event)
        meetings = schedule.meetings_of(session=session, event_id=event_id)
        feedback = {
            pk(m): outcomes.feedback_of(session=session, meeting_id=pk(m)) for m in meetings
        }
    people = {pk(p): p for p in ctx["people"]}
    return render(
        request,
        "events/checkin.html",
        {**ctx, "meetings": meetings, "by_id": people, "feedback": feedback,
         "contract_of": outcomes.contract_of},
    )  # fmt: skip


@router.post("/{event_id}/participants/{participant_id}/checkin", response_class=HTMLResponse)
def checkin(
    request: Request, event_id: int, participant_id: int, viewer: SignedInViewer
) -> HTMLResponse:
    with unit_of_work(request) as session:
        event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
        setup.check_in(session=session, viewer=viewer, event=event, participant_id=participant_id)
    return HTMLResponse('<span class="badge ok">已签到</span>')


@router.post("/{event_id}/meetings/{meeting_id}/outcome", response_class=HTMLResponse)
async def outcome(
    request: Request, event_id: int, meeting_id: int, viewer: SignedInViewer
) -> HTMLResponse:
    """One side's own feedback on a meeting, or the organizer's (see matcher.events.outcomes)."""
    with read_session(request) as session:  # who may record comes before what was typed
        event = access.get_event(session=session, event_id=event_id)
        access.meeting_for(session=session, viewer=viewer, event=event, meeting_id=meeting_id)
    _values, record, errors = parse(OutcomeIn, await request.form(), names={"outcome": "result"})
    try:
        if record is None:
            raise ValidationFailed(next(iter(errors.values())))
        with unit_of_work(request) as session:
            event = access.get_event(session=session, event_id=event_id)
            row = outcomes.record_feedback(
                session=session, viewer=viewer, event=event, meeting_id=meeting_id, outcome=record
            )
            meeting = session.get(Meeting, row.meeting_id)
            lead = meeting.lead_id if meeting else None
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return fragment_error(exc)
    extra = f'，双方已同意交换联系方式：<a href="/leads/{lead}">对接线索</a>' if lead else ""
    return HTMLResponse(f'<span class="badge ok">已记录{extra}</span>')


@router.get("/{event_id}/report", response_class=HTMLResponse)
def report(request: Request, event_id: int, viewer: SignedInViewer) -> HTMLResponse:
    with read_session(request) as session:
        event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
        data = outcomes.report(session=session, event=event)
    return render(request, "events/report.html", {"event": event, "report": data, **LABELS})


@router.get("/{event_id}/report.xlsx")
def report_xlsx(request: Request, event_id: int, viewer: SignedInViewer) -> Response:
    with read_session(request) as session:
        event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
        data = exports.report_xlsx(session=session, event=event, viewer=viewer)
    return download(data, f"活动报告-{event.name}.xlsx", XLSX)
