"""对接会 pages: setup, who to invite, registration and requests, the schedule grid and its
edits, agendas (page, Excel, .ics), run sheets, meeting briefs, check-in, outcomes, report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape
from sqlmodel import Session, col, select

from matcher.access import Viewer
from matcher.catalog.reader import read_table
from matcher.errors import DomainError, NotFound, ValidationFailed
from matcher.events import access, exports, outcomes, service
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
from matcher.events.reasons import Reasons
from matcher.models import Organization, pk
from matcher.vocab import TECH_FIELDS
from web.deps import (
    EngineMatcher,
    SignedInViewer,
    read_session,
    unit_of_work,
)
from web.responses import download, redirect
from web.templating import render

router = APIRouter(prefix="/events")
LABELS = {
    "event_statuses": EVENT_STATUSES, "groups": GROUPS, "participant_statuses": PARTICIPANT_STATUSES,
    "strengths": REQUEST_STRENGTHS, "meeting_statuses": MEETING_STATUSES, "ratings": RATINGS, "outcomes": OUTCOMES,
}  # fmt: skip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


def _fragment_error(exc: DomainError) -> HTMLResponse:
    return HTMLResponse(
        f'<span class="error">{escape(exc.message)}</span>', status_code=exc.status_code
    )


# --- list and setup ------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def events_list(request: Request, viewer: SignedInViewer) -> HTMLResponse:
    with read_session(request) as session:
        events = access.events_visible_to(session, viewer)
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
async def create_event(request: Request, viewer: SignedInViewer) -> Response:
    access.require_organizer(viewer)
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
            with unit_of_work(request) as session:
                event = service.create_event(
                    session, viewer, name=values.get("name", ""), starts_on=starts_on, ends_on=ends_on,
                    venue=values.get("venue", ""), online=values.get("online") == "1",
                    theme_fields=[f for f in values["theme_fields"] if f in TECH_FIELDS],  # type: ignore[union-attr]
                    description=values.get("description", ""), meeting_cap=meeting_cap, registration_deadline=deadline,
                    sessions=sessions, tables=tables,
                )  # fmt: skip
                event_id = pk(event)
            return redirect(request, f"/events/{event_id}", "活动已创建")
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
def event_detail(request: Request, event_id: int, viewer: SignedInViewer) -> Response:
    with read_session(request) as session:
        event, _me = access.event_for_member(session, viewer, event_id)
        if not access.is_organizer(viewer, event):
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
def invite_page(request: Request, event_id: int, viewer: SignedInViewer) -> HTMLResponse:
    with read_session(request) as session:
        event = access.event_for_organizer(session, viewer, event_id)
    return render(request, "events/invite.html", {"event": event, **LABELS})


@router.get("/{event_id}/invite/suggestions", response_class=HTMLResponse)
def invite_suggestions(
    request: Request, event_id: int, viewer: SignedInViewer, matcher: EngineMatcher
) -> HTMLResponse:
    with read_session(request) as session:
        event = access.event_for_organizer(session, viewer, event_id)
        suggestions = service.plan_invitations(
            session, matcher, event, demand_slots=30, supply_slots=40
        )
        reasons = Reasons(session, viewer).load(s.best for s in suggestions)
        rows = [(s, service.suggestion_reason(reasons, s)) for s in suggestions]
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
            event = access.event_for_organizer(session, viewer, event_id)
            service.invite(
                session, viewer, event, organization_id, group, note,
                need_id=need_id, technology_id=technology_id,
            )  # fmt: skip
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return _fragment_error(exc)
    return HTMLResponse('<span class="badge ok">已邀请</span>')


@router.post("/{event_id}/invite/batch")
async def invite_batch(request: Request, event_id: int, viewer: SignedInViewer) -> Response:
    """Invite every ticked suggestion at once; one that cannot be invited is named, the rest go."""
    with read_session(request) as session:  # who may invite comes before what was sent
        access.event_for_organizer(session, viewer, event_id)
    form = await request.form()
    picks = [str(v) for v in form.getlist("pick")][:200]
    if not picks:
        return redirect(
            request, f"/events/{event_id}/invite", "请先勾选要邀请的单位", level="error"
        )
    invited, refused = 0, []
    with unit_of_work(request) as session:
        event = access.event_for_organizer(session, viewer, event_id)
        for pick in picks:
            org, group, need, tech = [*pick.split(":"), "", "", ""][:4]
            if not org.isdigit():
                continue
            try:
                with session.begin_nested():
                    service.invite(
                        session, viewer, event, int(org), group, "",
                        need_id=int(need) if need.isdigit() else None,
                        technology_id=int(tech) if tech.isdigit() else None,
                    )  # fmt: skip
                invited += 1
            except DomainError as exc:
                if exc.status_code == 404:
                    raise
                refused.append(exc.message)
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
        access.event_for_organizer(session, viewer, event_id)
    limit = request.app.state.settings.max_upload_mb * 1024 * 1024
    data = await file.read(limit + 1)
    table = read_table(data, file.filename or "upload.xlsx", max_bytes=limit, max_rows=5000)
    headers = [h.strip() for h in table.headers]
    missing = [h for h in ("单位名称", "分组") if h not in headers]
    problems = [f"缺少必填列「{h}」" for h in missing] + [str(p) for p in table.problems]
    rows: list[tuple[int, str, str, str, int | None]] = []
    with read_session(request) as session:
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
    with unit_of_work(request) as session:
        access.event_for_organizer(session, viewer, event_id)
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
    request: Request, event_id: int, viewer: SignedInViewer, matcher: EngineMatcher
) -> HTMLResponse:
    with read_session(request) as session:
        event, me = access.event_for_member(session, viewer, event_id)
        ctx = _context(session, event)
        reasons = Reasons(session, viewer)
        recommendations: list[tuple[Any, str, Participant]] = []
        requests: dict[int, str] = {}
        agenda: list[exports.AgendaRow] = []
        feedback: dict[int, dict[str, Any]] = {}
        invitation = service.invitation_reason(session, viewer, me) if me else ""
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
            reasons.load(v for v, _ in scored if v)
            recommendations = sorted(
                ((v, reasons.of(v) if v else "", p) for v, p in scored),
                key=lambda vrp: -(vrp[0].score if vrp[0] else 0),
            )
            requests = {
                r.to_id: r.strength
                for r in session.exec(
                    select(MeetingRequest).where(
                        MeetingRequest.event_id == event_id, MeetingRequest.from_id == pk(me)
                    )
                )
            }
            if event.status in access.AGENDA_STATUSES:
                agenda = exports.agenda(session, event, me, viewer)
                for row in agenda:
                    feedback[pk(row.meeting)] = outcomes.feedback_for_viewer(
                        session, viewer, event, row.meeting
                    )
                    feedback[pk(row.meeting)]["open"] = (
                        outcomes.meeting_day(session, event, row.meeting) <= dt.date.today()
                    )
    return render(
        request,
        "events/me.html",
        {
            **ctx,
            "me": me,
            "invitation": invitation,
            "recommendations": recommendations,
            "requests": requests,
            "agenda": agenda,
            "feedback": feedback,
            "name_of": lambda p: _name(ctx, p),
        },
    )


@router.post("/{event_id}/register")
def register(
    request: Request, event_id: int, viewer: SignedInViewer, accept: Annotated[str, Form()] = "1"
) -> Response:
    with unit_of_work(request) as session:
        event, _me = access.event_for_member(session, viewer, event_id)
        service.register(session, viewer, event, accept=accept == "1")
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
            event, _me = access.event_for_member(session, viewer, event_id)
            service.set_request(session, viewer, event, to_id, strength)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return _fragment_error(exc)
    label = REQUEST_STRENGTHS.get(strength, "未标记")
    return HTMLResponse(f'<span class="badge ok">已标记：{label}</span>')


@router.post("/{event_id}/unavailable")
async def set_unavailable(request: Request, event_id: int, viewer: SignedInViewer) -> Response:
    form = await request.form()
    slots = [int(v) for v in form.getlist("slots") if isinstance(v, str) and v.isdigit()]
    with unit_of_work(request) as session:
        event, _me = access.event_for_member(session, viewer, event_id)
        service.set_unavailable(session, viewer, event, slots)
    return redirect(request, f"/events/{event_id}/me", "已保存不可参加的时段")


# --- schedule: generate, grid, edits, publish ------------------------------------------------


@router.post("/{event_id}/schedule")
def generate(
    request: Request, event_id: int, viewer: SignedInViewer, matcher: EngineMatcher
) -> Response:
    try:
        with unit_of_work(request) as session:
            event = access.event_for_organizer(session, viewer, event_id)
            result = service.generate_schedule(session, viewer, matcher, event)
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
        event = access.event_for_organizer(session, viewer, event_id)
        ctx = _context(session, event)
        data = exports.grid(session, event, viewer)
    return render(request, "events/grid.html", {**ctx, **data, "name_of": lambda p: _name(ctx, p)})


def _edit(request: Request, event_id: int, viewer: Viewer, action: Any) -> Response:
    try:
        with unit_of_work(request) as session:
            event = access.event_for_organizer(session, viewer, event_id)
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
    return _edit(
        request,
        event_id,
        viewer,
        lambda s, e: service.move_meeting(s, viewer, e, meeting_id, slot, table_id),
    )


@router.post("/{event_id}/meetings/{meeting_id}/swap")
def swap(
    request: Request,
    event_id: int,
    meeting_id: int,
    viewer: SignedInViewer,
    other_id: Annotated[int, Form()],
) -> Response:
    return _edit(
        request,
        event_id,
        viewer,
        lambda s, e: service.swap_meetings(s, viewer, e, meeting_id, other_id),
    )


@router.post("/{event_id}/meetings/{meeting_id}/remove")
def remove(request: Request, event_id: int, meeting_id: int, viewer: SignedInViewer) -> Response:
    return _edit(
        request,
        event_id,
        viewer,
        lambda s, e: service.remove_meeting(s, viewer, e, meeting_id),
    )


@router.post("/{event_id}/meetings/add")
def add(
    request: Request, event_id: int, viewer: SignedInViewer,
    demand_id: Annotated[int, Form()], supply_id: Annotated[int, Form()], slot: Annotated[int, Form()], table_id: Annotated[int, Form()],
) -> Response:  # fmt: skip
    return _edit(
        request,
        event_id,
        viewer,
        lambda s, e: service.add_meeting(s, viewer, e, demand_id, supply_id, slot, table_id),
    )


@router.post("/{event_id}/publish")
def publish(
    request: Request, event_id: int, viewer: SignedInViewer, undo: Annotated[str, Form()] = ""
) -> Response:
    try:
        with unit_of_work(request) as session:
            event = access.event_for_organizer(session, viewer, event_id)
            (service.unpublish if undo == "1" else service.publish)(session, viewer, event)
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
        event = access.get_event(session, event_id)
        participant = access.participant_for(session, viewer, event, participant_id)
        ctx = _context(session, event)
        rows = exports.agenda(session, event, participant, viewer)
    return render(
        request,
        "events/agenda.html",
        {**ctx, "participant": participant, "rows": rows, "name_of": lambda p: _name(ctx, p)},
    )


@router.get("/{event_id}/agenda/{participant_id}.xlsx")
def agenda_xlsx(
    request: Request, event_id: int, participant_id: int, viewer: SignedInViewer
) -> Response:
    with read_session(request) as session:
        event = access.get_event(session, event_id)
        participant = access.participant_for(session, viewer, event, participant_id)
        data = exports.agenda_xlsx(session, event, [participant], viewer)
    return download(data, f"洽谈日程-{participant_id}.xlsx", XLSX)


@router.get("/{event_id}/agenda/{participant_id}.ics")
def agenda_ics(
    request: Request, event_id: int, participant_id: int, viewer: SignedInViewer
) -> Response:
    with read_session(request) as session:
        event = access.get_event(session, event_id)
        participant = access.participant_for(session, viewer, event, participant_id)
        data = exports.agenda_ics(
            session, event, participant, viewer, host=request.url.hostname or "duijie"
        )
    return download(data, f"洽谈日程-{participant_id}.ics", "text/calendar; charset=utf-8")


@router.get("/{event_id}/agendas.xlsx")
def all_agendas(request: Request, event_id: int, viewer: SignedInViewer) -> Response:
    with read_session(request) as session:
        event = access.event_for_organizer(session, viewer, event_id)
        data = exports.agenda_xlsx(
            session, event, service.participants(session, event_id, active_only=True), viewer
        )
    return download(data, f"全部洽谈日程-{event_id}.xlsx", XLSX)


@router.get("/{event_id}/tables/{table_id}", response_class=HTMLResponse)
def run_sheet(
    request: Request, event_id: int, table_id: int, viewer: SignedInViewer
) -> HTMLResponse:
    with read_session(request) as session:
        event = access.event_for_organizer(session, viewer, event_id)
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
def brief(request: Request, event_id: int, meeting_id: int, viewer: SignedInViewer) -> HTMLResponse:
    with read_session(request) as session:
        event = access.get_event(session, event_id)
        meeting = access.meeting_for(session, viewer, event, meeting_id)
        data = exports.brief(session, event, meeting, viewer)
    return render(request, "events/brief.html", data)


# --- during and after --------------------------------------------------------------------------


@router.get("/{event_id}/checkin", response_class=HTMLResponse)
def checkin_page(request: Request, event_id: int, viewer: SignedInViewer) -> HTMLResponse:
    with read_session(request) as session:
        event = access.event_for_organizer(session, viewer, event_id)
        ctx = _context(session, event)
        meetings = service.meetings_of(session, event_id)
        feedback = {pk(m): outcomes.feedback_of(session, pk(m)) for m in meetings}
    people = {pk(p): p for p in ctx["people"]}
    return render(
        request,
        "events/checkin.html",
        {**ctx, "meetings": meetings, "by_id": people, "feedback": feedback,
         "contract_of": outcomes.contract_of, "name_of": lambda p: _name(ctx, p)},
    )  # fmt: skip


@router.post("/{event_id}/participants/{participant_id}/checkin", response_class=HTMLResponse)
def checkin(
    request: Request, event_id: int, participant_id: int, viewer: SignedInViewer
) -> HTMLResponse:
    with unit_of_work(request) as session:
        event = access.event_for_organizer(session, viewer, event_id)
        service.check_in(session, viewer, event, participant_id)
    return HTMLResponse('<span class="badge ok">已签到</span>')


@router.post("/{event_id}/meetings/{meeting_id}/outcome", response_class=HTMLResponse)
def outcome(
    request: Request, event_id: int, meeting_id: int, viewer: SignedInViewer,
    status: Annotated[str, Form()], rating: Annotated[str, Form()] = "", result: Annotated[str, Form()] = "",
    amount: Annotated[str, Form(max_length=20)] = "", notes: Annotated[str, Form(max_length=2000)] = "",
    share_contact: Annotated[str, Form(max_length=1)] = "", consent_note: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:  # fmt: skip
    """One side's own feedback on a meeting, or the organizer's (see matcher.events.outcomes)."""
    with read_session(request) as session:  # who may record comes before what was typed
        access.meeting_for(session, viewer, access.get_event(session, event_id), meeting_id)
    try:
        value = parse_amount(amount)
        with unit_of_work(request) as session:
            event = access.get_event(session, event_id)
            feedback_row = outcomes.record_feedback(
                session, viewer, event, meeting_id, status=status, rating=rating or None,
                outcome=result or None, amount=value, notes=notes, share_contact=share_contact == "1",
                consent_note=consent_note,
            )  # fmt: skip
            lead = session.get(Meeting, feedback_row.meeting_id).lead_id  # type: ignore[union-attr]
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return _fragment_error(exc)
    extra = f'，双方已同意交换联系方式：<a href="/leads/{lead}">对接线索</a>' if lead else ""
    return HTMLResponse(f'<span class="badge ok">已记录{extra}</span>')


@router.get("/{event_id}/report", response_class=HTMLResponse)
def report(request: Request, event_id: int, viewer: SignedInViewer) -> HTMLResponse:
    with read_session(request) as session:
        event = access.event_for_organizer(session, viewer, event_id)
        data = outcomes.report(session, event)
    return render(request, "events/report.html", {"event": event, "report": data, **LABELS})


@router.get("/{event_id}/report.xlsx")
def report_xlsx(request: Request, event_id: int, viewer: SignedInViewer) -> Response:
    with read_session(request) as session:
        event = access.event_for_organizer(session, viewer, event_id)
        data = exports.report_xlsx(session, event, viewer)
    return download(
        data,
        f"活动报告-{event.name}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def parse_amount(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationFailed("金额应为数字（万元）") from None
