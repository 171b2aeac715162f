"""对接会 pages for a participant: its own page (invitation, whom to meet, its agenda and the
outcome forms), registering, meeting requests and the rounds it cannot attend."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from matcher.errors import DomainError
from matcher.events import access, exports, invitations, outcomes, requests
from matcher.events.models import REQUEST_STRENGTHS
from matcher.events.reasons import Reasons
from matcher.models import pk
from web.deps import EngineMatcher, SignedInViewer, read_session, unit_of_work
from web.responses import redirect
from web.routes.event_views import event_context, fragment_error
from web.templating import render

router = APIRouter(prefix="/events")


@router.get("/{event_id}/me", response_class=HTMLResponse)
def my_event(
    request: Request, event_id: int, viewer: SignedInViewer, matcher: EngineMatcher
) -> HTMLResponse:
    with read_session(request) as session:
        event, me = access.event_for_member(session=session, viewer=viewer, event_id=event_id)
        ctx = event_context(session, event)
        recommendations: list[tuple[Any, str, Any]] = []
        asked: dict[int, str] = {}
        agenda: list[exports.AgendaRow] = []
        feedback: dict[int, dict[str, Any]] = {}
        invitation = (
            invitations.invitation_reason(session=session, viewer=viewer, participant=me)
            if me
            else ""
        )
        if me is not None and me.status in ("registered", "checked_in"):
            recommendations = requests.recommendations(
                session=session, matcher=matcher, reasons=Reasons(session, viewer), me=me,
                people=ctx["people"],
            )  # fmt: skip
            asked = requests.requests_from(session=session, event=event, me=me)
            if event.status in access.AGENDA_STATUSES:
                agenda = exports.agenda(session=session, event=event, participant=me, viewer=viewer)
                for row in agenda:
                    mine = outcomes.feedback_for_viewer(
                        session=session, viewer=viewer, event=event, meeting=row.meeting
                    )
                    day = outcomes.meeting_day(session=session, event=event, meeting=row.meeting)
                    feedback[pk(row.meeting)] = {**mine, "open": day <= dt.date.today()}
    return render(
        request,
        "events/me.html",
        {
            **ctx,
            "me": me,
            "invitation": invitation,
            "recommendations": recommendations,
            "requests": asked,
            "agenda": agenda,
            "feedback": feedback,
        },
    )


@router.post("/{event_id}/register")
def register(
    request: Request, event_id: int, viewer: SignedInViewer, accept: Annotated[str, Form()] = "1"
) -> Response:
    with unit_of_work(request) as session:
        event, _me = access.event_for_member(session=session, viewer=viewer, event_id=event_id)
        invitations.register(session=session, viewer=viewer, event=event, accept=accept == "1")
    return redirect(request, f"/events/{event_id}/me", "已报名" if accept == "1" else "已谢绝")


@router.post("/{event_id}/requests", response_class=HTMLResponse)
def set_request(
    request: Request,
    event_id: int,
    viewer: SignedInViewer,
    to_id: Annotated[int, Form()],
    strength: Annotated[str, Form()],
) -> HTMLResponse:
    try:
        with unit_of_work(request) as session:
            event, _me = access.event_for_member(session=session, viewer=viewer, event_id=event_id)
            requests.set_request(
                session=session, viewer=viewer, event=event, to_participant_id=to_id,
                strength=strength,
            )  # fmt: skip
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return fragment_error(exc)
    label = REQUEST_STRENGTHS.get(strength, "未标记")
    return HTMLResponse(f'<span class="badge ok">已标记：{label}</span>')


@router.post("/{event_id}/unavailable")
async def set_unavailable(request: Request, event_id: int, viewer: SignedInViewer) -> Response:
    form = await request.form()
    slots = [int(v) for v in form.getlist("slots") if isinstance(v, str) and v.isdigit()]
    with unit_of_work(request) as session:
        event, _me = access.event_for_member(session=session, viewer=viewer, event_id=event_id)
        requests.set_unavailable(session=session, viewer=viewer, event=event, slots=slots)
    return redirect(request, f"/events/{event_id}/me", "已保存不可参加的时段")
