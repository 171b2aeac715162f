"""对接会 pages: setup, who to invite, registration and requests, the schedule grid and its
edits, agendas (page, Excel, .ics), run sheets, meeting briefs, check-in, outcomes, report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from matcher.access import Viewer
from matcher.catalog.reader import read_table
from matcher.db import session_scope
from matcher.errors import DomainError, Forbidden, NotFound, ValidationFailed
from matcher.events import exports, service
from matcher.events.models import (
    EVENT_STATUSES,
    GROUPS,
    MEETING_STATUSES,
    OUTCOMES,
    PARTICIPANT_STATUSES,
    RATINGS,
    REQUEST_STRENGTHS,
    Event,
    Meeting,
    MeetingRequest,
    Participant,
)
from matcher.models import Organization, pk
from matcher.vocab import TECH_FIELDS
from web.deps import CurrentUser, EngineMatcher, viewer_for
from web.routes.workspace import _download
from web.templating import render, transaction

router = APIRouter(prefix="/events")
LABELS = {
    "event_statuses": EVENT_STATUSES, "groups": GROUPS, "participant_statuses": PARTICIPANT_STATUSES,
    "strengths": REQUEST_STRENGTHS, "meeting_statuses": MEETING_STATUSES, "ratings": RATINGS, "outcomes": OUTCOMES,
}  # fmt: skip


def _read(request: Request) -> Any:
    return session_scope(request.app.state.engine, write=False)


def _event_for_organizer(session: Session, viewer: Viewer, event_id: int) -> Event:
    event = service.get_event(session, event_id)
    service.require_organizer(viewer, event)
    return event


def _event_for_member(
    session: Session, viewer: Viewer, event_id: int
) -> tuple[Event, Participant | None]:
    """Organizers of the event, or organizations taking part (or invited); others get 404."""
    event = service.get_event(session, event_id)
    if viewer.is_staff:
        try:
            service.require_organizer(viewer, event)
            return event, service.my_participant(session, viewer, event)
        except (Forbidden, NotFound):
            pass
    me = service.my_participant(session, viewer, event)
    if me is None and event.status != "open":
        raise NotFound("活动不存在")
    return event, me


def _context(session: Session, event: Event) -> dict[str, Any]:
    people = service.participants(session, pk(event))
    orgs = {
        pk(o): o
        for o in session.exec(
            select(Organization).where(
                col(Organization.id).in_({p.organization_id for p in people} or {-1})
            )
        )
    }
    return {
        "event": event,
        "people": people,
        "orgs": orgs,
        "slots": service.event_slots(session, pk(event)),
        "tables": service.event_tables(session, pk(event)),
        **LABELS,
    }


def _name(ctx: dict[str, Any], participant: Participant) -> str:
    org = ctx["orgs"].get(participant.organization_id)
    return (org.name if org else "?") + (f" · {participant.team}" if participant.team else "")


# --- list and setup ------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def events_list(request: Request, user: CurrentUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with _read(request) as session:
        if viewer.is_admin:
            events = list(session.exec(select(Event).order_by(col(Event.starts_on).desc())))
        elif viewer.is_staff:
            events = list(
                session.exec(
                    select(Event)
                    .where(
                        (col(Event.organizer_id) == viewer.organization_id)
                        | col(Event.organizer_id).is_(None)
                    )
                    .order_by(col(Event.starts_on).desc())
                )
            )
        else:
            mine = set(
                session.exec(
                    select(Participant.event_id).where(
                        Participant.organization_id == viewer.organization_id
                    )
                ).all()
            )
            events = [
                e
                for e in session.exec(select(Event).order_by(col(Event.starts_on).desc()))
                if pk(e) in mine or e.status == "open"
            ]
    return render(request, "events/list.html", {"events": events, **LABELS})


@router.get("/new", response_class=HTMLResponse)
def new_event(request: Request, user: CurrentUser) -> HTMLResponse:
    service.require_organizer(viewer_for(user))
    day = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    values = {
        "starts_on": day, "ends_on": day, "meeting_cap": "6", "tables": "20", "slot_minutes": "20",
        "s1_start": "09:00", "s1_end": "11:50", "s1_break": "10:20-10:30", "s2_start": "14:00", "s2_end": "16:50", "s2_break": "15:20-15:30",
    }  # fmt: skip
    return render(
        request, "events/form.html", {"values": values, "errors": {}, "fields": TECH_FIELDS}
    )


def _parse_break(text: str) -> list[list[str]]:
    out = []
    for part in text.replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        start, _, end = part.replace("–", "-").partition("-")
        dt.time.fromisoformat(start.strip())
        dt.time.fromisoformat(end.strip())
        out.append([start.strip(), end.strip()])
    return out


@router.post("/new", response_class=HTMLResponse)
async def create_event(request: Request, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    service.require_organizer(viewer)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    values["theme_fields"] = [v for v in form.getlist("theme_fields") if isinstance(v, str)]  # type: ignore[assignment]
    errors: dict[str, str] = {}
    try:
        starts_on = dt.date.fromisoformat(values.get("starts_on", ""))
        ends_on = dt.date.fromisoformat(values.get("ends_on", "") or values.get("starts_on", ""))
    except ValueError:
        errors["starts_on"] = "日期格式应为 2027-03-15"
        starts_on = ends_on = dt.date.today()
    sessions = []
    for prefix, label in (("s1", "上午场"), ("s2", "下午场")):
        start, end = (
            values.get(f"{prefix}_start", "").strip(),
            values.get(f"{prefix}_end", "").strip(),
        )
        if not start and not end:
            continue
        try:
            sessions.append({
                "day": starts_on, "start": dt.time.fromisoformat(start), "end": dt.time.fromisoformat(end),
                "slot_minutes": int(values.get("slot_minutes") or 20), "breaks": _parse_break(values.get(f"{prefix}_break", "")), "name": label,
            })  # fmt: skip
        except ValueError:
            errors[f"{prefix}_start"] = "时间格式应为 09:00，休息如 10:20-10:30"
    try:
        meeting_cap = int(values.get("meeting_cap") or 6)
        tables = int(values.get("tables") or 10)
    except ValueError:
        errors["tables"] = "应为整数"
        meeting_cap, tables = 6, 10
    deadline = None
    if values.get("registration_deadline"):
        try:
            deadline = dt.date.fromisoformat(values["registration_deadline"])
        except ValueError:
            errors["registration_deadline"] = "日期格式应为 2027-03-15"
    if not errors:
        try:
            with transaction(request, reindex=False) as session:
                event = service.create_event(
                    session, viewer, name=values.get("name", ""), starts_on=starts_on, ends_on=ends_on,
                    venue=values.get("venue", ""), online=values.get("online") == "1",
                    theme_fields=[f for f in values["theme_fields"] if f in TECH_FIELDS],  # type: ignore[union-attr]
                    description=values.get("description", ""), meeting_cap=meeting_cap, registration_deadline=deadline,
                    sessions=sessions, tables=tables,
                )  # fmt: skip
                event_id = pk(event)
            return RedirectResponse(f"/events/{event_id}", status_code=303)
        except DomainError as exc:
            errors[""] = exc.message
    return render(
        request,
        "events/form.html",
        {"values": values, "errors": errors, "fields": TECH_FIELDS},
        status_code=422,
    )


# --- overview ------------------------------------------------------------------------------


@router.get("/{event_id}", response_class=HTMLResponse)
def event_detail(request: Request, event_id: int, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    with _read(request) as session:
        event, _me = _event_for_member(session, viewer, event_id)
        organizer = viewer.is_staff and (
            viewer.is_admin or event.organizer_id in (None, viewer.organization_id)
        )
        if not organizer:
            return RedirectResponse(f"/events/{event_id}/me", status_code=303)
        ctx = _context(session, event)
        people_by_id = {pk(p): p for p in ctx["people"]}
        unscheduled = [
            {
                **u,
                "demand_name": _name(ctx, people_by_id[u["demand"]]),
                "supply_name": _name(ctx, people_by_id[u["supply"]]),
            }
            for u in (event.schedule_report or {}).get("unscheduled", [])
            if u["demand"] in people_by_id and u["supply"] in people_by_id
        ]
        meetings = service.meetings_of(session, event_id)
    counts: dict[int, int] = {}
    for m in meetings:
        counts[m.demand_id] = counts.get(m.demand_id, 0) + 1
        counts[m.supply_id] = counts.get(m.supply_id, 0) + 1
    return render(
        request,
        "events/detail.html",
        {
            **ctx,
            "unscheduled": unscheduled,
            "meeting_counts": counts,
            "meetings": meetings,
            "name_of": lambda p: _name(ctx, p),
        },
    )


# --- invitations ---------------------------------------------------------------------------


@router.get("/{event_id}/invite", response_class=HTMLResponse)
def invite_page(request: Request, event_id: int, user: CurrentUser) -> HTMLResponse:
    with _read(request) as session:
        event = _event_for_organizer(session, viewer_for(user), event_id)
    return render(request, "events/invite.html", {"event": event, **LABELS})


@router.get("/{event_id}/invite/suggestions", response_class=HTMLResponse)
def invite_suggestions(
    request: Request, event_id: int, user: CurrentUser, matcher: EngineMatcher
) -> HTMLResponse:
    with _read(request) as session:
        event = _event_for_organizer(session, viewer_for(user), event_id)
        suggestions = service.plan_invitations(
            session, matcher, event, demand_slots=30, supply_slots=40
        )
    return render(
        request, "events/_suggestions.html", {"event": event, "suggestions": suggestions, **LABELS}
    )


@router.post("/{event_id}/invite", response_class=HTMLResponse)
def invite(
    request: Request, event_id: int, user: CurrentUser,
    organization_id: Annotated[int, Form()], group: Annotated[str, Form()], reason: Annotated[str, Form(max_length=1000)] = "",
) -> HTMLResponse:  # fmt: skip
    with transaction(request, reindex=False) as session:
        event = _event_for_organizer(session, viewer_for(user), event_id)
        service.invite(session, viewer_for(user), event, organization_id, group, reason)
    return HTMLResponse('<span class="badge ok">已邀请</span>')


@router.post("/{event_id}/participants/import", response_class=HTMLResponse)
async def import_participants(
    request: Request, event_id: int, user: CurrentUser, file: Annotated[UploadFile, File()]
) -> Response:
    """An Excel or CSV of registrations: 单位名称, 分组 (需求方/成果方), 团队, 洽谈上限 — all or nothing."""
    viewer = viewer_for(user)
    limit = request.app.state.settings.max_upload_mb * 1024 * 1024
    data = await file.read(limit + 1)
    table = read_table(data, file.filename or "upload.xlsx", max_bytes=limit, max_rows=5000)
    headers = [h.strip() for h in table.headers]
    missing = [h for h in ("单位名称", "分组") if h not in headers]
    problems = [f"缺少必填列「{h}」" for h in missing] + [str(p) for p in table.problems]
    rows: list[tuple[int, str, str, str, int | None]] = []
    with _read(request) as session:
        _event_for_organizer(session, viewer, event_id)
        if not missing:
            at = {h: headers.index(h) for h in headers}
            for number, cells in table.rows:
                name = cells[at["单位名称"]].strip()
                group = {
                    "需求方": "demand",
                    "成果方": "supply",
                    "demand": "demand",
                    "supply": "supply",
                }.get(cells[at["分组"]].strip())
                team = cells[at["团队"]].strip() if "团队" in at else ""
                cap_text = cells[at["洽谈上限"]].strip() if "洽谈上限" in at else ""
                org = session.exec(select(Organization).where(Organization.name == name)).first()
                if org is None:
                    problems.append(f"第 {number} 行「单位名称」：单位「{name}」不存在")
                if group is None:
                    problems.append(f"第 {number} 行「分组」：应为需求方或成果方")
                if cap_text and not cap_text.isdigit():
                    problems.append(f"第 {number} 行「洽谈上限」：应为整数")
                if org is not None and group is not None:
                    rows.append(
                        (pk(org), group, team, name, int(cap_text) if cap_text.isdigit() else None)
                    )
    if problems:
        return render(
            request,
            "events/_import_result.html",
            {"problems": problems, "count": 0},
            status_code=422,
            block="!result",
        )
    with transaction(request, reindex=False) as session:
        _event_for_organizer(session, viewer, event_id)
        for org_id, group, team, _org_name, cap in rows:
            participant = session.exec(
                select(Participant).where(
                    Participant.event_id == event_id,
                    Participant.organization_id == org_id,
                    Participant.team == team,
                )
            ).first() or Participant(
                event_id=event_id, organization_id=org_id, group=group, team=team
            )
            participant.group, participant.cap, participant.status = group, cap, "registered"
            participant.registered_at = participant.registered_at or dt.datetime.now(dt.UTC)
            session.add(participant)
    return render(
        request, "events/_import_result.html", {"problems": [], "count": len(rows)}, block="!result"
    )


# --- a participant's page: register, requests, availability, agenda ---------------------------


@router.get("/{event_id}/me", response_class=HTMLResponse)
def my_event(
    request: Request, event_id: int, user: CurrentUser, matcher: EngineMatcher
) -> HTMLResponse:
    viewer = viewer_for(user)
    with _read(request) as session:
        event, me = _event_for_member(session, viewer, event_id)
        ctx = _context(session, event)
        recommendations = []
        requests: dict[int, str] = {}
        agenda = []
        if me is not None and me.status in ("registered", "checked_in"):
            others = [
                p
                for p in ctx["people"]
                if p.group != me.group and p.status in ("registered", "checked_in")
            ]
            sides = [service.participant_side(session, p) for p in others]
            mine = service.participant_side(session, me)
            if me.group == "demand":
                values = service.side_values(session, matcher, [mine], sides)
                scored = [(values.get((pk(me), pk(p))), p) for p in others]
            else:
                values = service.side_values(session, matcher, sides, [mine])
                scored = [(values.get((pk(p), pk(me))), p) for p in others]
            recommendations = sorted(
                ((v, p) for v, p in scored), key=lambda vp: -(vp[0].score if vp[0] else 0)
            )
            requests = {
                r.to_id: r.strength
                for r in session.exec(
                    select(MeetingRequest).where(
                        MeetingRequest.event_id == event_id, MeetingRequest.from_id == pk(me)
                    )
                )
            }
            if event.status in ("published", "closed"):
                agenda = exports.agenda(session, event, me)
    return render(
        request,
        "events/me.html",
        {
            **ctx,
            "me": me,
            "recommendations": recommendations,
            "requests": requests,
            "agenda": agenda,
            "name_of": lambda p: _name(ctx, p),
        },
    )


@router.post("/{event_id}/register")
def register(
    request: Request, event_id: int, user: CurrentUser, accept: Annotated[str, Form()] = "1"
) -> Response:
    with transaction(request, reindex=False) as session:
        event = service.get_event(session, event_id)
        service.register(session, viewer_for(user), event, accept=accept == "1")
    return RedirectResponse(f"/events/{event_id}/me", status_code=303)


@router.post("/{event_id}/requests", response_class=HTMLResponse)
def set_request(
    request: Request,
    event_id: int,
    user: CurrentUser,
    to_id: Annotated[int, Form()],
    strength: Annotated[str, Form()],
) -> HTMLResponse:
    try:
        with transaction(request, reindex=False) as session:
            event = service.get_event(session, event_id)
            service.set_request(session, viewer_for(user), event, to_id, strength)
    except DomainError as exc:
        return HTMLResponse(
            f'<span class="error">{_escape(exc.message)}</span>', status_code=exc.status_code
        )
    label = REQUEST_STRENGTHS.get(strength, "未标记")
    return HTMLResponse(f'<span class="badge ok">已标记：{label}</span>')


@router.post("/{event_id}/unavailable")
async def set_unavailable(request: Request, event_id: int, user: CurrentUser) -> Response:
    form = await request.form()
    slots = [int(v) for v in form.getlist("slots") if isinstance(v, str) and v.isdigit()]
    with transaction(request, reindex=False) as session:
        event = service.get_event(session, event_id)
        service.set_unavailable(session, viewer_for(user), event, slots)
    return RedirectResponse(f"/events/{event_id}/me", status_code=303)


def _escape(text: str) -> str:
    import html

    return html.escape(text)


# --- schedule: generate, grid, edits, publish ------------------------------------------------


@router.post("/{event_id}/schedule")
def generate(
    request: Request, event_id: int, user: CurrentUser, matcher: EngineMatcher
) -> Response:
    viewer = viewer_for(user)
    with transaction(request, reindex=False) as session:
        event = _event_for_organizer(session, viewer, event_id)
        service.generate_schedule(session, viewer, matcher, event)
    return RedirectResponse(f"/events/{event_id}/grid", status_code=303)


@router.get("/{event_id}/grid", response_class=HTMLResponse)
def grid(request: Request, event_id: int, user: CurrentUser) -> HTMLResponse:
    with _read(request) as session:
        event = _event_for_organizer(session, viewer_for(user), event_id)
        ctx = _context(session, event)
        data = exports.grid(session, event)
    return render(request, "events/grid.html", {**ctx, **data, "name_of": lambda p: _name(ctx, p)})


def _edit(request: Request, event_id: int, user: Any, action: Any) -> Response:
    from urllib.parse import quote

    try:
        with transaction(request, reindex=False) as session:
            event = _event_for_organizer(session, viewer_for(user), event_id)
            action(session, event)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        return RedirectResponse(
            f"/events/{event_id}/grid?error={quote(exc.message)}", status_code=303
        )
    return RedirectResponse(f"/events/{event_id}/grid?ok=1", status_code=303)


@router.post("/{event_id}/meetings/{meeting_id}/move")
def move(
    request: Request,
    event_id: int,
    meeting_id: int,
    user: CurrentUser,
    slot: Annotated[int, Form()],
    table_id: Annotated[int, Form()],
) -> Response:
    return _edit(
        request,
        event_id,
        user,
        lambda s, e: service.move_meeting(s, viewer_for(user), e, meeting_id, slot, table_id),
    )


@router.post("/{event_id}/meetings/{meeting_id}/swap")
def swap(
    request: Request,
    event_id: int,
    meeting_id: int,
    user: CurrentUser,
    other_id: Annotated[int, Form()],
) -> Response:
    return _edit(
        request,
        event_id,
        user,
        lambda s, e: service.swap_meetings(s, viewer_for(user), e, meeting_id, other_id),
    )


@router.post("/{event_id}/meetings/{meeting_id}/remove")
def remove(request: Request, event_id: int, meeting_id: int, user: CurrentUser) -> Response:
    return _edit(
        request,
        event_id,
        user,
        lambda s, e: service.remove_meeting(s, viewer_for(user), e, meeting_id),
    )


@router.post("/{event_id}/meetings/add")
def add(
    request: Request, event_id: int, user: CurrentUser,
    demand_id: Annotated[int, Form()], supply_id: Annotated[int, Form()], slot: Annotated[int, Form()], table_id: Annotated[int, Form()],
) -> Response:  # fmt: skip
    return _edit(
        request,
        event_id,
        user,
        lambda s, e: service.add_meeting(
            s, viewer_for(user), e, demand_id, supply_id, slot, table_id
        ),
    )


@router.post("/{event_id}/publish")
def publish(
    request: Request, event_id: int, user: CurrentUser, undo: Annotated[str, Form()] = ""
) -> Response:
    with transaction(request, reindex=False) as session:
        event = _event_for_organizer(session, viewer_for(user), event_id)
        (service.unpublish if undo == "1" else service.publish)(session, viewer_for(user), event)
    return RedirectResponse(f"/events/{event_id}", status_code=303)


# --- outputs -------------------------------------------------------------------------------


def _participant_for(
    session: Session, viewer: Viewer, event: Event, participant_id: int
) -> Participant:
    participant = session.get(Participant, participant_id)
    if participant is None or participant.event_id != pk(event):
        raise NotFound("参会方不存在")
    is_organizer = viewer.is_staff and (
        viewer.is_admin or event.organizer_id in (None, viewer.organization_id)
    )
    if not is_organizer and participant.organization_id != viewer.organization_id:
        raise NotFound("参会方不存在")
    if not is_organizer and event.status not in ("published", "closed"):
        raise NotFound("日程尚未发布")
    return participant


@router.get("/{event_id}/agenda/{participant_id:int}", response_class=HTMLResponse)
def agenda_page(
    request: Request, event_id: int, participant_id: int, user: CurrentUser
) -> HTMLResponse:
    viewer = viewer_for(user)
    with _read(request) as session:
        event = service.get_event(session, event_id)
        participant = _participant_for(session, viewer, event, participant_id)
        ctx = _context(session, event)
        rows = exports.agenda(session, event, participant)
    return render(
        request,
        "events/agenda.html",
        {**ctx, "participant": participant, "rows": rows, "name_of": lambda p: _name(ctx, p)},
    )


@router.get("/{event_id}/agenda/{participant_id}.xlsx")
def agenda_xlsx(
    request: Request, event_id: int, participant_id: int, user: CurrentUser
) -> Response:
    with _read(request) as session:
        event = service.get_event(session, event_id)
        participant = _participant_for(session, viewer_for(user), event, participant_id)
        data = exports.agenda_xlsx(session, event, [participant])
    return _download(
        data,
        f"洽谈日程-{participant_id}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@router.get("/{event_id}/agenda/{participant_id}.ics")
def agenda_ics(request: Request, event_id: int, participant_id: int, user: CurrentUser) -> Response:
    with _read(request) as session:
        event = service.get_event(session, event_id)
        participant = _participant_for(session, viewer_for(user), event, participant_id)
        data = exports.agenda_ics(
            session, event, participant, host=request.url.hostname or "duijie"
        )
    return _download(data, f"洽谈日程-{participant_id}.ics", "text/calendar; charset=utf-8")


@router.get("/{event_id}/agendas.xlsx")
def all_agendas(request: Request, event_id: int, user: CurrentUser) -> Response:
    with _read(request) as session:
        event = _event_for_organizer(session, viewer_for(user), event_id)
        data = exports.agenda_xlsx(
            session, event, service.participants(session, event_id, active_only=True)
        )
    return _download(
        data,
        f"全部洽谈日程-{event_id}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@router.get("/{event_id}/tables/{table_id}", response_class=HTMLResponse)
def run_sheet(request: Request, event_id: int, table_id: int, user: CurrentUser) -> HTMLResponse:
    with _read(request) as session:
        event = _event_for_organizer(session, viewer_for(user), event_id)
        ctx = _context(session, event)
        table = next((t for t in ctx["tables"] if pk(t) == table_id), None)
        if table is None:
            raise NotFound("桌位不存在")
        rows = exports.run_sheet(session, event, table_id)
    people = {pk(p): p for p in ctx["people"]}
    return render(
        request,
        "events/run_sheet.html",
        {**ctx, "table": table, "rows": rows, "people": people, "name_of": lambda p: _name(ctx, p)},
    )


@router.get("/{event_id}/meetings/{meeting_id}/brief", response_class=HTMLResponse)
def brief(request: Request, event_id: int, meeting_id: int, user: CurrentUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with _read(request) as session:
        event = service.get_event(session, event_id)
        meeting = session.get(Meeting, meeting_id)
        if meeting is None or meeting.event_id != event_id:
            raise NotFound("洽谈不存在")
        sides = [
            session.get(Participant, meeting.demand_id),
            session.get(Participant, meeting.supply_id),
        ]
        orgs_of_sides = {p.organization_id for p in sides if p is not None}
        is_organizer = viewer.is_staff and (
            viewer.is_admin or event.organizer_id in (None, viewer.organization_id)
        )
        if not is_organizer and (
            viewer.organization_id not in orgs_of_sides
            or event.status not in ("published", "closed")
        ):
            raise NotFound("洽谈不存在")
        data = exports.brief(session, event, meeting)
    return render(request, "events/brief.html", data)


# --- during and after --------------------------------------------------------------------------


@router.get("/{event_id}/checkin", response_class=HTMLResponse)
def checkin_page(request: Request, event_id: int, user: CurrentUser) -> HTMLResponse:
    with _read(request) as session:
        event = _event_for_organizer(session, viewer_for(user), event_id)
        ctx = _context(session, event)
        meetings = service.meetings_of(session, event_id)
    people = {pk(p): p for p in ctx["people"]}
    return render(
        request,
        "events/checkin.html",
        {**ctx, "meetings": meetings, "by_id": people, "name_of": lambda p: _name(ctx, p)},
    )


@router.post("/{event_id}/participants/{participant_id}/checkin", response_class=HTMLResponse)
def checkin(
    request: Request, event_id: int, participant_id: int, user: CurrentUser
) -> HTMLResponse:
    with transaction(request, reindex=False) as session:
        event = _event_for_organizer(session, viewer_for(user), event_id)
        service.check_in(session, viewer_for(user), event, participant_id)
    return HTMLResponse('<span class="badge ok">已签到</span>')


@router.post("/{event_id}/meetings/{meeting_id}/outcome", response_class=HTMLResponse)
def outcome(
    request: Request, event_id: int, meeting_id: int, user: CurrentUser,
    status: Annotated[str, Form()], rating: Annotated[str, Form()] = "", result: Annotated[str, Form()] = "",
    amount: Annotated[str, Form(max_length=20)] = "", notes: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:  # fmt: skip
    try:
        value = float(amount) if amount.strip() else None
    except ValueError:
        return HTMLResponse('<span class="error">金额应为数字（万元）</span>', status_code=422)
    try:
        with transaction(request, reindex=False) as session:
            event = service.get_event(session, event_id)
            meeting = service.record_outcome(
                session,
                viewer_for(user),
                event,
                meeting_id,
                status=status,
                rating=rating or None,
                outcome=result or None,
                amount=value,
                notes=notes,
            )
            lead = meeting.lead_id
    except DomainError as exc:
        return HTMLResponse(
            f'<span class="error">{_escape(exc.message)}</span>', status_code=exc.status_code
        )
    extra = f'，已生成<a href="/leads/{lead}">对接线索</a>' if lead else ""
    return HTMLResponse(f'<span class="badge ok">已记录{extra}</span>')


@router.get("/{event_id}/report", response_class=HTMLResponse)
def report(request: Request, event_id: int, user: CurrentUser) -> HTMLResponse:
    with _read(request) as session:
        event = _event_for_organizer(session, viewer_for(user), event_id)
        data = service.report(session, event)
    return render(request, "events/report.html", {"event": event, "report": data, **LABELS})


def parse_amount(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationFailed("金额应为数字（万元）") from None
