"""对接会 pages for the organizer's invitations: the planner's suggestions, inviting one or a
ticked batch, and importing registrations from a spreadsheet."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from matcher.catalog.reader import read_table
from matcher.errors import DomainError
from matcher.events import access, invitations
from matcher.events.reasons import Reasons
from web.deps import EngineMatcher, SignedInViewer, read_session, unit_of_work
from web.responses import redirect
from web.routes.event_views import LABELS, fragment_error
from web.templating import render

router = APIRouter(prefix="/events")


@router.get("/{event_id}/invite", response_class=HTMLResponse)
def invite_page(request: Request, event_id: int, viewer: SignedInViewer) -> HTMLResponse:
    with read_session(request) as session:
        event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
    return render(request, "events/invite.html", {"event": event, **LABELS})


@router.get("/{event_id}/invite/suggestions", response_class=HTMLResponse)
def invite_suggestions(
    request: Request, event_id: int, viewer: SignedInViewer, matcher: EngineMatcher
) -> HTMLResponse:
    with read_session(request) as session:
        event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
        suggestions = invitations.plan_invitations(
            session=session, matcher=matcher, event=event, demand_slots=30, supply_slots=40
        )
        reasons = Reasons(session, viewer).load(s.best for s in suggestions)
        rows = [(s, invitations.suggestion_reason(reasons, s)) for s in suggestions]
    return render(request, "events/_suggestions.html", {"event": event, "rows": rows, **LABELS})


@router.post("/{event_id}/invite", response_class=HTMLResponse)
def invite(
    request: Request, event_id: int, viewer: SignedInViewer,
    organization_id: Annotated[int, Form()], group: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
    need_id: Annotated[int | None, Form()] = None, technology_id: Annotated[int | None, Form()] = None,
) -> HTMLResponse:  # fmt: skip
    try:
        with unit_of_work(request) as session:
            event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
            invitations.invite(
                session=session, viewer=viewer, event=event, organization_id=organization_id,
                group=group, note=note, need_id=need_id, technology_id=technology_id,
            )  # fmt: skip
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return fragment_error(exc)
    return HTMLResponse('<span class="badge ok">已邀请</span>')


@router.post("/{event_id}/invite/batch")
async def invite_batch(request: Request, event_id: int, viewer: SignedInViewer) -> Response:
    """Invite every ticked suggestion at once; one that cannot be invited is named, the rest go."""
    with read_session(request) as session:  # who may invite comes before what was sent
        access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
    form = await request.form()
    picks = [str(v) for v in form.getlist("pick")][:200]
    if not picks:
        return redirect(
            request, f"/events/{event_id}/invite", "请先勾选要邀请的单位", level="error"
        )
    with unit_of_work(request) as session:
        event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
        invited, refused = invitations.invite_batch(
            session=session, viewer=viewer, event=event, picks=picks
        )
    message = f"已邀请 {invited} 家单位"
    if refused:
        message += f"；{len(refused)} 家未邀请：" + "；".join(dict.fromkeys(refused))
    return redirect(
        request,
        f"/events/{event_id}",
        message,
        level="error" if refused and not invited else "ok",
    )


@router.post("/{event_id}/participants/import", response_class=HTMLResponse)
async def import_participants(
    request: Request, event_id: int, viewer: SignedInViewer, file: Annotated[UploadFile, File()]
) -> Response:
    """An Excel or CSV of registrations: 单位名称, 分组 (需求方/成果方), 团队, 洽谈上限 — all or nothing."""
    with read_session(request) as session:  # who may import is checked before the file is read
        access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
    limit = request.app.state.settings.max_upload_mb * 1024 * 1024
    data = await file.read(limit + 1)
    table = read_table(data, file.filename or "upload.xlsx", max_bytes=limit, max_rows=5000)
    with unit_of_work(request) as session:
        event = access.event_for_organizer(session=session, viewer=viewer, event_id=event_id)
        count, problems = invitations.import_participants(
            session=session, viewer=viewer, event=event, table=table
        )
    return render(
        request,
        "events/_import_result.html",
        {"problems": problems, "count": count},
        status_code=422 if problems else 200,
        block="!result",
    )
