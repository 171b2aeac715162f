"""对接会 schedule pages: generating it, the grid and its edits, publishing, and what the
schedule hands out (agendas as a page, Excel and .ics, run sheets, meeting briefs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from matcher.access import Viewer
from matcher.errors import DomainError, NotFound
from matcher.events import access, exports, schedule, setup
from matcher.events.models import Event, Participant
from matcher.models import pk
from web.deps import EngineMatcher, SignedInViewer, read_session, unit_of_work
from web.responses import download, redirect
from web.routes.event_views import XLSX, event_context
from web.templating import render

router = APIRouter(prefix="/events")


@router.post("/{event_id}/schedule")
def generate(
    request: Request, event_id: int, viewer: SignedInViewer, matcher: EngineMatcher
) -> Response:
    try:
        with unit_of_work(request) as session:
            event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
            result = schedule.generate_schedule(
                session=session, viewer=viewer, matcher=matcher, event=event
            )
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        return redirect(request, f"/events/{event_id}", exc.message, level="error")
    return redirect(
        request, f"/events/{event_id}/grid", f"已生成日程：{len(result.meetings)} 场洽谈"
    )


@router.get("/{event_id}/grid", response_class=HTMLResponse)
def grid(request: Request, event_id: int, viewer: SignedInViewer) -> HTMLResponse:
    with read_session(request) as session:
        event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
        ctx = event_context(session, event)
        data = exports.grid(session=session, event=event, viewer=viewer)
    return render(request, "events/grid.html", {**ctx, **data})


Edit = Callable[[Session, Event], Any]


def _edit(request: Request, event_id: int, viewer: Viewer, action: Edit) -> Response:
    """One edit of the draft schedule, back to the grid with what happened."""
    try:
        with unit_of_work(request) as session:
            event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
            action(session, event)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        return redirect(request, f"/events/{event_id}/grid", exc.message, level="error")
    return redirect(request, f"/events/{event_id}/grid", "已保存")


@router.post("/{event_id}/meetings/{meeting_id}/move")
def move(
    request: Request,
    event_id: int,
    meeting_id: int,
    viewer: SignedInViewer,
    slot: Annotated[int, Form()],
    table_id: Annotated[int, Form()],
) -> Response:
    return _edit(request, event_id, viewer, lambda s, e: schedule.move_meeting(
        session=s, viewer=viewer, event=e, meeting_id=meeting_id, slot=slot, table_id=table_id,
    ))  # fmt: skip


@router.post("/{event_id}/meetings/{meeting_id}/swap")
def swap(
    request: Request,
    event_id: int,
    meeting_id: int,
    viewer: SignedInViewer,
    other_id: Annotated[int, Form()],
) -> Response:
    return _edit(request, event_id, viewer, lambda s, e: schedule.swap_meetings(
        session=s, viewer=viewer, event=e, first_id=meeting_id, second_id=other_id,
    ))  # fmt: skip


@router.post("/{event_id}/meetings/{meeting_id}/remove")
def remove(request: Request, event_id: int, meeting_id: int, viewer: SignedInViewer) -> Response:
    return _edit(request, event_id, viewer, lambda s, e: schedule.remove_meeting(
        session=s, viewer=viewer, event=e, meeting_id=meeting_id,
    ))  # fmt: skip


@router.post("/{event_id}/meetings/add")
def add(
    request: Request, event_id: int, viewer: SignedInViewer,
    demand_id: Annotated[int, Form()], supply_id: Annotated[int, Form()], slot: Annotated[int, Form()], table_id: Annotated[int, Form()],
) -> Response:  # fmt: skip
    return _edit(request, event_id, viewer, lambda s, e: schedule.add_meeting(
        session=s, viewer=viewer, event=e, demand_id=demand_id, supply_id=supply_id, slot=slot,
        table_id=table_id,
    ))  # fmt: skip


@router.post("/{event_id}/publish")
def publish(
    request: Request, event_id: int, viewer: SignedInViewer, undo: Annotated[str, Form()] = ""
) -> Response:
    try:
        with unit_of_work(request) as session:
            event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
            change = schedule.unpublish if undo == "1" else schedule.publish
            change(session=session, viewer=viewer, event=event)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        return redirect(request, f"/events/{event_id}", exc.message, level="error")
    return redirect(request, f"/events/{event_id}", "已撤回发布" if undo == "1" else "日程已发布")


# --- outputs -------------------------------------------------------------------------------


@router.get("/{event_id}/agenda/{participant_id:int}", response_class=HTMLResponse)
def agenda_page(
    request: Request, event_id: int, participant_id: int, viewer: SignedInViewer
) -> HTMLResponse:
    with read_session(request) as session:
        event, participant = _agenda_of(session, viewer, event_id, participant_id)
        ctx = event_context(session, event)
        rows = exports.agenda(session=session, event=event, participant=participant, viewer=viewer)
    return render(request, "events/agenda.html", {**ctx, "participant": participant, "rows": rows})


def _agenda_of(
    session: Session, viewer: Viewer, event_id: int, participant_id: int
) -> tuple[Event, Participant]:
    event = access.get_event(session=session, event_id=event_id)
    participant = access.participant_for(
        session=session, viewer=viewer, event=event, participant_id=participant_id
    )
    return event, participant


@router.get("/{event_id}/agenda/{participant_id}.xlsx")
def agenda_xlsx(
    request: Request, event_id: int, participant_id: int, viewer: SignedInViewer
) -> Response:
    with read_session(request) as session:
        event, participant = _agenda_of(session, viewer, event_id, participant_id)
        data = exports.agenda_xlsx(session=session, event=event, who=[participant], viewer=viewer)
    return download(data, f"洽谈日程-{participant_id}.xlsx", XLSX)


@router.get("/{event_id}/agenda/{participant_id}.ics")
def agenda_ics(
    request: Request, event_id: int, participant_id: int, viewer: SignedInViewer
) -> Response:
    with read_session(request) as session:
        event, participant = _agenda_of(session, viewer, event_id, participant_id)
        data = exports.agenda_ics(
            session=session, event=event, participant=participant, viewer=viewer,
            host=request.url.hostname or "duijie",
        )  # fmt: skip
    return download(data, f"洽谈日程-{participant_id}.ics", "text/calendar; charset=utf-8")


@router.get("/{event_id}/agendas.xlsx")
def all_agendas(request: Request, event_id: int, viewer: SignedInViewer) -> Response:
    with read_session(request) as session:
        event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
        who = setup.participants(session=session, event_id=event_id, active_only=True)
        data = exports.agenda_xlsx(session=session, event=event, who=who, viewer=viewer)
    return download(data, f"全部洽谈日程-{event_id}.xlsx", XLSX)


@router.get("/{event_id}/tables/{table_id}", response_class=HTMLResponse)
def run_sheet(
    request: Request, event_id: int, table_id: int, viewer: SignedInViewer
) -> HTMLResponse:
    with read_session(request) as session:
        event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
        ctx = event_context(session, event)
        table = next((t for t in ctx["tables"] if pk(t) == table_id), None)
        if table is None:
            raise NotFound("桌位不存在")
        rows = exports.run_sheet(session=session, event=event, table_id=table_id)
    people = {pk(p): p for p in ctx["people"]}
    return render(
        request, "events/run_sheet.html", {**ctx, "table": table, "rows": rows, "people": people}
    )


@router.get("/{event_id}/meetings/{meeting_id}/brief", response_class=HTMLResponse)
def brief(request: Request, event_id: int, meeting_id: int, viewer: SignedInViewer) -> HTMLResponse:
    with read_session(request) as session:
        event = access.get_event(session=session, event_id=event_id)
        meeting = access.meeting_for(
            session=session, viewer=viewer, event=event, meeting_id=meeting_id
        )
        data = exports.brief(session=session, event=event, meeting=meeting, viewer=viewer)
    return render(request, "events/brief.html", data)
