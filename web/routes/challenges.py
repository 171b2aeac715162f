"""揭榜挂帅 pages: the listing, publishing and moderation, finding and inviting teams,
applications with attachments and their timeline, expert review with conflict-of-interest
screening, the decision and the award's milestones."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from matcher.access import Viewer
from matcher.challenges import service
from matcher.challenges.indicators import describe
from matcher.challenges.models import (
    APPLICATION_STATUSES,
    CHALLENGE_STATUSES,
    COMPARISONS,
    ELIGIBLE_KINDS,
    MILESTONE_STATUSES,
    PARTNER_STATUSES,
    RUBRIC,
    Application,
    Attachment,
    Challenge,
    ChallengeInvite,
    ExpertAssignment,
    ExpertConflict,
)
from matcher.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from matcher.models import Organization, User, pk
from matcher.vocab import PROVINCES, TECH_FIELDS
from web.deps import (
    CurrentUser,
    EngineMatcher,
    OptionalUser,
    read_session,
    unit_of_work,
    viewer_for,
)
from web.responses import download, redirect
from web.templating import render

router = APIRouter()
INDICATOR_ROWS = 6
MILESTONE_ROWS = 4
LABELS = {
    "challenge_statuses": CHALLENGE_STATUSES,
    "application_statuses": APPLICATION_STATUSES,
    "comparisons": COMPARISONS,
    "eligible_kinds": ELIGIBLE_KINDS,
    "milestone_statuses": MILESTONE_STATUSES,
    "partner_statuses": PARTNER_STATUSES,
    "rubric": RUBRIC,
    "describe": describe,
}


def _back(request: Request, url: str, *, error: str = "", ok: str = "") -> RedirectResponse:
    if error:
        return redirect(request, url, error, level="error")
    return redirect(request, url, ok)


# --- listing ---------------------------------------------------------------------------------


@router.get("/challenges", response_class=HTMLResponse)
def challenges_list(
    request: Request,
    user: OptionalUser,
    q: str = "",
    status: str = "open",
    field: str = "",
    mine: str = "",
) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        rows = service.list_challenges(
            session, viewer, status=status if status != "all" else "", field_name=field,
            q=q[:100], mine=mine == "1",
        )  # fmt: skip
        pending = (
            service.list_challenges(session, viewer, status="pending") if viewer.is_staff else []
        )
        publishers = {
            o.id: o
            for o in session.exec(
                select(Organization).where(
                    col(Organization.id).in_({c.publisher_id for c in rows + pending} or {-1})
                )
            )
        }
    return render(
        request,
        "challenges/list.html",
        {
            "rows": rows, "pending": pending, "publishers": publishers, "q": q, "status": status,
            "field": field, "mine": mine, "fields": TECH_FIELDS, "today": dt.date.today(), **LABELS,
        },
    )  # fmt: skip


# --- publishing ------------------------------------------------------------------------------


def _form_values(challenge: Challenge | None, session: Session | None) -> dict[str, Any]:
    if challenge is None:
        return {
            "application_deadline": (dt.date.today() + dt.timedelta(days=45)).isoformat(),
            "visibility": "public",
            "indicators": [{} for _ in range(INDICATOR_ROWS)],
            "eligible_kinds": ["university", "institute"],
        }
    rows = service.indicators_of(session, pk(challenge)) if session else []  # type: ignore[arg-type]
    values: dict[str, Any] = {
        k: ("" if getattr(challenge, k) is None else str(getattr(challenge, k)))
        for k in (
            "title", "problem", "field", "min_trl", "application_deadline", "review_on",
            "start_on", "acceptance_on", "visibility",
        )
    }  # fmt: skip
    values["bounty"] = f"{challenge.bounty:g}"
    values["rnd_budget"] = "" if challenge.rnd_budget is None else f"{challenge.rnd_budget:g}"
    values["eligible_kinds"] = challenge.eligible_kinds
    values["eligible_provinces"] = challenge.eligible_provinces
    values["indicators"] = [
        {"name": r.name, "comparison": r.comparison, "value": f"{r.value:g}",
         "value_max": "" if r.value_max is None else f"{r.value_max:g}", "unit": r.unit}
        for r in rows
    ] + [{} for _ in range(max(0, INDICATOR_ROWS - len(rows)))]  # fmt: skip
    return values


def _parse_challenge(
    form: Any,
) -> tuple[dict[str, Any], service.ChallengeIn | None, dict[str, str]]:
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    values["eligible_kinds"] = [v for v in form.getlist("eligible_kinds") if isinstance(v, str)]
    values["eligible_provinces"] = [
        v for v in form.getlist("eligible_provinces") if isinstance(v, str)
    ]
    errors: dict[str, str] = {}
    rows = []
    names, comps = form.getlist("ind_name"), form.getlist("ind_comparison")
    vals, maxes, units = (
        form.getlist("ind_value"),
        form.getlist("ind_value_max"),
        form.getlist("ind_unit"),
    )
    values["indicators"] = []
    for i in range(len(names)):
        row = {
            "name": str(names[i]).strip(),
            "comparison": str(comps[i]) if i < len(comps) else ">=",
            "value": str(vals[i]).strip() if i < len(vals) else "",
            "value_max": str(maxes[i]).strip() if i < len(maxes) else "",
            "unit": str(units[i]).strip() if i < len(units) else "",
        }
        values["indicators"].append(row)
        if not row["name"] and not row["value"]:
            continue
        try:
            value = service.parse_number(row["value"], f"指标「{row['name']}」的数值")
            value_max = service.parse_number(row["value_max"], f"指标「{row['name']}」的上限")
            if value is None:
                raise ValidationFailed(f"请填写指标「{row['name'] or i + 1}」的数值")
            rows.append(
                service.IndicatorIn(row["name"], row["comparison"], value, value_max, row["unit"])
            )
        except ValidationFailed as exc:
            errors["indicators"] = exc.message
    values["indicators"] += [{} for _ in range(max(0, INDICATOR_ROWS - len(values["indicators"])))]

    def date(key: str, required: bool = False) -> dt.date | None:
        text = values.get(key, "").strip()
        if not text:
            if required:
                errors[key] = "请填写日期"
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            errors[key] = "日期格式应为 2027-03-15"
            return None

    def number(key: str, label: str) -> float | None:
        try:
            return service.parse_number(values.get(key, ""), label)
        except ValidationFailed as exc:
            errors[key] = exc.message
            return None

    deadline = date("application_deadline", required=True)
    bounty = number("bounty", "揭榜经费")
    rnd = number("rnd_budget", "研发投入")
    trl = number("min_trl", "成熟度")
    data = service.ChallengeIn(
        title=values.get("title", ""),
        problem=values.get("problem", ""),
        application_deadline=deadline or dt.date.today(),
        bounty=bounty or 0.0,
        tech_field=values.get("field", ""),
        rnd_budget=rnd,
        min_trl=int(trl) if trl is not None else None,
        review_on=date("review_on"),
        start_on=date("start_on"),
        acceptance_on=date("acceptance_on"),
        eligible_provinces=[p for p in values["eligible_provinces"] if p in PROVINCES],
        eligible_kinds=values["eligible_kinds"],
        visibility=values.get("visibility", "public"),
        indicators=rows,
    )
    if deadline is not None:
        errors = {**service.validate_challenge(data), **errors}
    return values, (None if errors else data), errors


def _challenge_form(
    request: Request,
    values: dict[str, Any],
    errors: dict[str, str],
    challenge: Challenge | None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "challenges/form.html",
        {
            "values": values, "errors": errors, "challenge": challenge, "fields": TECH_FIELDS,
            "provinces": PROVINCES, **LABELS,
        },
        status_code=status_code,
    )  # fmt: skip


@router.get("/challenges/new", response_class=HTMLResponse)
def new_challenge(request: Request, user: CurrentUser) -> HTMLResponse:
    if user.role not in ("enterprise", "organizer", "admin"):
        raise NotFound("页面不存在")
    return _challenge_form(request, _form_values(None, None), {}, None)


@router.post("/challenges/new", response_class=HTMLResponse)
async def create_challenge(request: Request, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    form = await request.form()
    values, data, errors = _parse_challenge(form)
    if data is not None:
        try:
            with unit_of_work(request) as session:
                challenge = service.save_challenge(
                    session, viewer, data, submit=form.get("action") != "draft"
                )
                challenge_id = pk(challenge)
            return RedirectResponse(f"/challenges/{challenge_id}", status_code=303)
        except DomainError as exc:
            errors[""] = exc.message
    return _challenge_form(request, values, errors, None, status_code=422)


@router.get("/challenges/{challenge_id}/edit", response_class=HTMLResponse)
def edit_challenge(request: Request, challenge_id: int, user: CurrentUser) -> HTMLResponse:
    with read_session(request) as session:
        challenge = service.managed_challenge(session, viewer_for(user), challenge_id)
        values = _form_values(challenge, session)
    return _challenge_form(request, values, {}, challenge)


@router.post("/challenges/{challenge_id}/edit", response_class=HTMLResponse)
async def update_challenge(request: Request, challenge_id: int, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    form = await request.form()
    values, data, errors = _parse_challenge(form)
    with read_session(request) as session:
        challenge = service.managed_challenge(session, viewer, challenge_id)
    if data is not None:
        try:
            with unit_of_work(request) as session:
                existing = service.managed_challenge(session, viewer, challenge_id)
                service.save_challenge(
                    session, viewer, data, existing=existing, submit=form.get("action") != "draft"
                )
            return RedirectResponse(f"/challenges/{challenge_id}", status_code=303)
        except DomainError as exc:
            errors[""] = exc.message
    return _challenge_form(request, values, errors, challenge, status_code=422)


@router.post("/challenges/{challenge_id}/moderate")
def moderate(
    request: Request, challenge_id: int, user: CurrentUser,
    decision: Annotated[str, Form()], note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:  # fmt: skip
    viewer = viewer_for(user)
    try:
        with unit_of_work(request) as session:
            challenge = service.managed_challenge(session, viewer, challenge_id)
            service.moderate(session, viewer, challenge, approve=decision == "approve", note=note)
    except (ValidationFailed, Conflict) as exc:
        return _back(request, f"/challenges/{challenge_id}", error=exc.message)
    return _back(request, f"/challenges/{challenge_id}", ok="已审核")


# --- the challenge page ----------------------------------------------------------------------


@router.get("/challenges/{challenge_id}", response_class=HTMLResponse)
def challenge_detail(request: Request, challenge_id: int, user: OptionalUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        challenge = service.get_challenge(session, viewer, challenge_id)
        manage = service.can_manage(viewer, challenge)
        publisher = session.get(Organization, challenge.publisher_id)
        ctx: dict[str, Any] = {
            "challenge": challenge,
            "publisher": publisher,
            "indicators": service.indicators_of(session, challenge_id),
            "manage": manage,
            "staff": service.is_organizer(viewer, challenge),
            "mine": service.my_application(session, viewer, challenge),
            "invited": None,
            "can_apply": False,
            "apply_note": "",
            "today": dt.date.today(),
            **LABELS,
        }
        if viewer.organization_id is not None:
            ctx["invited"] = session.exec(
                select(ChallengeInvite).where(
                    ChallengeInvite.challenge_id == challenge_id,
                    ChallengeInvite.organization_id == viewer.organization_id,
                )
            ).first()
            org = session.get(Organization, viewer.organization_id)
            if org is not None and viewer.role in ("enterprise", "university"):
                ok, note = service.eligibility(challenge, org)
                ctx["can_apply"] = ok and challenge.status == "open"
                ctx["apply_note"] = note
        if manage:
            ctx["rankings"] = service.rankings(session, viewer, challenge)
            ctx["experts"] = (
                service.experts(session) if service.is_organizer(viewer, challenge) else []
            )
            named = service.may_see_reviewers(viewer, challenge)
            assigned: dict[int, list[tuple[ExpertAssignment, User | None]]] = {}
            for a in session.exec(
                select(ExpertAssignment).where(ExpertAssignment.challenge_id == challenge_id)
            ):
                assigned.setdefault(a.application_id, []).append(
                    (a, session.get(User, a.expert_id) if named else None)
                )
            ctx["assigned"] = assigned
            ctx["invites"] = list(
                session.exec(
                    select(ChallengeInvite).where(ChallengeInvite.challenge_id == challenge_id)
                )
            )
            ctx["invite_orgs"] = {
                o.id: o
                for o in session.exec(
                    select(Organization).where(
                        col(Organization.id).in_(
                            {i.organization_id for i in ctx["invites"]} or {-1}
                        )
                    )
                )
            }
            ctx["milestones"] = service.milestones_of(session, challenge_id)
    return render(request, "challenges/detail.html", ctx)


@router.get("/challenges/{challenge_id}/teams", response_class=HTMLResponse)
def challenge_teams(
    request: Request, challenge_id: int, user: CurrentUser, matcher: EngineMatcher
) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        challenge = service.managed_challenge(session, viewer, challenge_id)
        candidates = service.find_teams(session, viewer, matcher, challenge, limit=10)
    return render(
        request,
        "challenges/_teams.html",
        {"challenge": challenge, "candidates": candidates, **LABELS},
    )


@router.post("/challenges/{challenge_id}/invite", response_class=HTMLResponse)
def invite_team(
    request: Request, challenge_id: int, user: CurrentUser,
    organization_id: Annotated[int, Form()], reason: Annotated[str, Form(max_length=1000)] = "",
    score: Annotated[float, Form()] = 0.0,
) -> HTMLResponse:  # fmt: skip
    viewer = viewer_for(user)
    try:
        with unit_of_work(request) as session:
            challenge = service.managed_challenge(session, viewer, challenge_id)
            service.invite(session, viewer, challenge, organization_id, reason, score)
    except Conflict as exc:
        return HTMLResponse(f'<span class="error">{_esc(exc.message)}</span>', status_code=409)
    return HTMLResponse('<span class="badge ok">已邀请</span>')


def _esc(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


# --- applications ----------------------------------------------------------------------------


def _application_context(session: Session, viewer: Viewer, challenge: Challenge) -> dict[str, Any]:
    """What the form offers beside the values: the applicant's results and the indicators."""
    return {
        "citable": service.citable_results(session, viewer),
        "indicators": service.indicators_of(session, pk(challenge)),
    }


def _application_values(application: Application | None, session: Session) -> dict[str, Any]:
    if application is None:
        return {
            "milestones": [{} for _ in range(MILESTONE_ROWS)],
            "partners": "",
            "cited": [],
            "answers": {},
        }
    partners = [
        session.get(Organization, p.organization_id)
        for p in service.partners_of(session, application)
    ]
    return {
        "team": application.team,
        "leader": application.leader,
        "approach": application.approach,
        "budget": "" if application.budget is None else f"{application.budget:g}",
        "partners": "，".join(p.name for p in partners if p),
        "cited": [str(i) for i in application.cited_technology_ids or []],
        "answers": dict(application.indicator_answers or {}),
        "milestones": [
            {"title": m.get("title", ""), "due": m.get("due", ""),
             "amount": "" if m.get("amount") is None else f"{m['amount']:g}"}
            for m in application.milestones
        ] + [{} for _ in range(max(0, MILESTONE_ROWS - len(application.milestones)))],
    }  # fmt: skip


@router.get("/challenges/{challenge_id}/apply", response_class=HTMLResponse)
def apply_page(request: Request, challenge_id: int, user: CurrentUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        challenge = service.get_challenge(session, viewer, challenge_id)
        values = _application_values(service.my_application(session, viewer, challenge), session)
        extra = _application_context(session, viewer, challenge)
    return render(
        request,
        "challenges/apply.html",
        {"challenge": challenge, "values": values, "errors": {}, **extra, **LABELS},
    )


@router.post("/challenges/{challenge_id}/apply", response_class=HTMLResponse)
async def apply(request: Request, challenge_id: int, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    form = await request.form()
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    titles, dues, amounts = (
        form.getlist("ms_title"),
        form.getlist("ms_due"),
        form.getlist("ms_amount"),
    )
    milestones = [
        {"title": str(t).strip(), "due": str(d).strip(), "amount": str(a).strip()}
        for t, d, a in zip(titles, dues, amounts, strict=False)
    ]
    values["milestones"] = milestones + [
        {} for _ in range(max(0, MILESTONE_ROWS - len(milestones)))
    ]
    values["cited"] = [str(v) for v in form.getlist("cited")]
    values["answers"] = {
        key[len("answer_") :]: str(v) for key, v in form.items() if key.startswith("answer_")
    }
    errors: dict[str, str] = {}
    try:
        budget = service.parse_number(values.get("budget", ""), "申请经费")
    except ValidationFailed as exc:
        errors["budget"], budget = exc.message, None
    data = service.ApplicationIn(
        team=values.get("team", ""),
        leader=values.get("leader", ""),
        approach=values.get("approach", ""),
        budget=budget,
        milestones=[m for m in milestones if m["title"] or m["due"] or m["amount"]],
        partner_names=[
            p for p in values.get("partners", "").replace(",", "，").split("，") if p.strip()
        ],
        cited_technology_ids=[int(v) for v in values["cited"] if v.isdigit()],
        indicator_answers={int(k): v[:400] for k, v in values["answers"].items() if k.isdigit()},
    )
    submit = form.get("action") == "submit"
    errors.update(service.validate_application(data, submitting=submit))
    with read_session(request) as session:
        challenge = service.get_challenge(session, viewer, challenge_id)
        extra = _application_context(session, viewer, challenge)
    if not errors:
        try:
            with unit_of_work(request) as session:
                current = service.get_challenge(session, viewer, challenge_id)
                application = service.save_application(
                    session, viewer, current, data, submit=submit
                )
                application_id = pk(application)
            return _back(
                request, f"/applications/{application_id}", ok="已提交" if submit else "草稿已保存"
            )
        except DomainError as exc:
            errors[""] = exc.message
    return render(
        request,
        "challenges/apply.html",
        {"challenge": challenge, "values": values, "errors": errors, **extra, **LABELS},
        status_code=422,
    )


@router.get("/applications/{application_id}", response_class=HTMLResponse)
def application_page(request: Request, application_id: int, user: CurrentUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        application, challenge = service.application_for(session, viewer, application_id)
        ctx = {
            "application": application,
            "challenge": challenge,
            "organization": session.get(Organization, application.organization_id),
            "partners": [
                (p, session.get(Organization, p.organization_id))
                for p in service.partners_of(session, application)
            ],
            "my_partnership": next(
                (
                    p
                    for p in service.partners_of(session, application)
                    if p.organization_id == viewer.organization_id
                ),
                None,
            ),
            "timeline": service.timeline(session, application_id),
            "cited": service.cited_results(session, viewer, application),
            "answers": service.answer_checks(session, application),
            "attachments": service.attachments_of(session, application_id),
            "applicant": viewer.organization_id == application.organization_id,
            "milestones": [
                m for m in service.milestones_of(session, pk(challenge))
                if m.application_id == application_id
            ],
            "max_mb": request.app.state.settings.max_upload_mb,
            **LABELS,
        }  # fmt: skip
    return render(request, "challenges/application.html", ctx)


@router.post("/applications/{application_id}/partnership")
def partnership(
    request: Request, application_id: int, user: CurrentUser,
    decision: Annotated[str, Form(max_length=10)],
) -> Response:  # fmt: skip
    """A named co-applicant confirms (or declines) joining the application."""
    viewer = viewer_for(user)
    if decision not in ("confirm", "decline"):
        raise ValidationFailed("请选择确认或拒绝")
    try:
        with unit_of_work(request) as session:
            service.decide_partnership(
                session, viewer, application_id, confirm=decision == "confirm"
            )
    except Conflict as exc:
        return _back(request, f"/applications/{application_id}", error=exc.message)
    return _back(
        request,
        f"/applications/{application_id}",
        ok="已确认联合申请" if decision == "confirm" else "已拒绝联合申请",
    )


@router.post("/applications/{application_id}/withdraw")
def withdraw(request: Request, application_id: int, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    try:
        with unit_of_work(request) as session:
            application, _ = service.application_for(session, viewer, application_id)
            service.withdraw_application(session, viewer, application)
    except Conflict as exc:
        return _back(request, f"/applications/{application_id}", error=exc.message)
    return _back(request, f"/applications/{application_id}", ok="已撤回")


@router.post("/applications/{application_id}/attachments")
async def upload_attachment(
    request: Request, application_id: int, user: CurrentUser, file: Annotated[UploadFile, File()]
) -> Response:
    viewer = viewer_for(user)
    settings = request.app.state.settings
    limit = settings.max_upload_mb * 1024 * 1024
    with read_session(request) as session:
        application, _ = service.application_for(session, viewer, application_id)
        if viewer.organization_id != application.organization_id:
            raise NotFound("申请不存在")
    if file.size is not None and file.size > limit:
        return _back(
            request,
            f"/applications/{application_id}",
            error=f"附件超过 {settings.max_upload_mb} MB 上限",
        )
    data = await file.read(limit + 1)
    try:
        with unit_of_work(request) as session:
            application, _ = service.application_for(session, viewer, application_id)
            service.add_attachment(
                session, viewer, application, file.filename or "", data,
                directory=settings.attachments_dir, max_bytes=limit,
            )  # fmt: skip
    except (ValidationFailed, Conflict) as exc:
        return _back(request, f"/applications/{application_id}", error=exc.message)
    return _back(request, f"/applications/{application_id}", ok="附件已上传")


@router.get("/applications/{application_id}/attachments/{attachment_id}")
def download_attachment(
    request: Request, application_id: int, attachment_id: int, user: CurrentUser
) -> Response:
    viewer = viewer_for(user)
    with read_session(request) as session:
        service.application_for(session, viewer, application_id)
        row = session.get(Attachment, attachment_id)
        if row is None or row.application_id != application_id:
            raise NotFound("附件不存在")
    path = request.app.state.settings.attachments_dir / row.sha256[:2] / row.sha256
    if not path.exists():
        raise NotFound("附件文件缺失，请联系管理员从备份恢复")
    return download(path.read_bytes(), row.filename, row.content_type)


@router.post("/applications/{application_id}/attachments/{attachment_id}/remove")
def remove_attachment(
    request: Request, application_id: int, attachment_id: int, user: CurrentUser
) -> Response:
    viewer = viewer_for(user)
    try:
        with unit_of_work(request) as session:
            service.application_for(session, viewer, application_id)
            row = session.get(Attachment, attachment_id)
            if row is None or row.application_id != application_id:
                raise NotFound("附件不存在")
            service.remove_attachment(session, viewer, attachment_id)
    except Conflict as exc:
        return _back(request, f"/applications/{application_id}", error=exc.message)
    return _back(request, f"/applications/{application_id}", ok="附件已删除")


# --- review and decision ---------------------------------------------------------------------


@router.post("/applications/{application_id}/experts")
def assign_expert(
    request: Request, application_id: int, user: CurrentUser, expert_id: Annotated[int, Form()]
) -> Response:
    viewer = viewer_for(user)
    with read_session(request) as session:
        application, _ = service.application_for(session, viewer, application_id)
        back = f"/challenges/{application.challenge_id}#applications"
    try:
        with unit_of_work(request) as session:
            application, _ = service.application_for(session, viewer, application_id)
            service.assign_expert(session, viewer, application, expert_id)
    except Conflict as exc:
        with unit_of_work(request) as session:
            service.record_refusal(session, viewer, application_id, expert_id, exc.message)
        return _back(request, back, error=exc.message)
    except ValidationFailed as exc:
        return _back(request, back, error=exc.message)
    return _back(request, back, ok="已分配评审专家")


@router.post("/challenges/{challenge_id}/award")
def award(
    request: Request, challenge_id: int, user: CurrentUser,
    application_id: Annotated[int, Form()], amount: Annotated[str, Form(max_length=20)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:  # fmt: skip
    viewer = viewer_for(user)
    try:
        value = service.parse_number(amount, "揭榜经费")
        with unit_of_work(request) as session:
            challenge = service.managed_challenge(session, viewer, challenge_id)
            service.award(
                session, viewer, challenge, application_id, amount=value or 0.0, note=note
            )
    except (ValidationFailed, Conflict, Forbidden) as exc:
        return _back(request, f"/challenges/{challenge_id}", error=exc.message)
    return _back(request, f"/challenges/{challenge_id}", ok="已确定揭榜方")


@router.post("/milestones/{milestone_id}")
def milestone(
    request: Request, milestone_id: int, user: CurrentUser,
    action: Annotated[str, Form()], note: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    viewer = viewer_for(user)
    target = back if back.startswith(("/challenges/", "/applications/")) else "/challenges"
    try:
        with unit_of_work(request) as session:
            service.update_milestone(session, viewer, milestone_id, action, note)
    except (ValidationFailed, Conflict, Forbidden) as exc:
        return _back(request, target, error=exc.message)
    return _back(request, target, ok="已更新里程碑")


@router.get("/reviews", response_class=HTMLResponse)
def reviews(request: Request, user: CurrentUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        rows = []
        for a in service.my_assignments(session, viewer):
            application = session.get(Application, a.application_id)
            rows.append(
                (a, session.get(Challenge, a.challenge_id),
                 session.get(Organization, application.organization_id) if application else None)
            )  # fmt: skip
        declared = [
            (c, session.get(Organization, c.organization_id))
            for c in session.exec(
                select(ExpertConflict).where(ExpertConflict.expert_id == (viewer.user_id or -1))
            )
        ]
    return render(
        request,
        "challenges/reviews.html",
        {"rows": rows, "declared": declared, "expertise": user.expertise, **LABELS},
    )


@router.post("/reviews/conflicts")
def declare_conflict(
    request: Request, user: CurrentUser,
    organization: Annotated[str, Form(max_length=120)], note: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    viewer = viewer_for(user)
    with unit_of_work(request) as session:
        org = service.services.organization_by_name(session=session, name=organization.strip())
        if org is None:
            return _back(request, "/reviews", error=f"平台上没有「{organization.strip()}」")
        service.declare_conflict(session, viewer, pk(org), note)
    return _back(request, "/reviews", ok="已声明利益关系")


@router.get("/reviews/{assignment_id}", response_class=HTMLResponse)
def review_page(request: Request, assignment_id: int, user: CurrentUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        assignment = service.assignment_for(session, viewer, assignment_id)
        application, challenge = service.application_for(session, viewer, assignment.application_id)
        ctx = {
            "assignment": assignment,
            "application": application,
            "challenge": challenge,
            "indicators": service.indicators_of(session, pk(challenge)),
            "organization": session.get(Organization, application.organization_id),
            "attachments": service.attachments_of(session, pk(application)),
            "values": {k: "" if assignment.scores.get(k) is None else f"{assignment.scores[k]:g}" for k in RUBRIC}
            | {"comment": assignment.comment},
            "errors": {},
            **LABELS,
        }  # fmt: skip
    return render(request, "challenges/review.html", ctx)


@router.post("/reviews/{assignment_id}", response_class=HTMLResponse)
async def submit_review(request: Request, assignment_id: int, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    scores: dict[str, float] = {}
    for key, (label, _top) in RUBRIC.items():
        try:
            value = service.parse_number(values.get(key, ""), f"「{label}」")
            if value is not None:
                scores[key] = value
        except ValidationFailed as exc:
            errors[key] = exc.message
    if not errors:
        try:
            with unit_of_work(request) as session:
                assignment = service.assignment_for(session, viewer, assignment_id)
                service.submit_score(session, viewer, assignment, scores, values.get("comment", ""))
            return _back(request, "/reviews", ok="评分已提交")
        except (ValidationFailed, Conflict) as exc:
            errors[""] = exc.message
    with read_session(request) as session:
        assignment = service.assignment_for(session, viewer, assignment_id)
        application, challenge = service.application_for(session, viewer, assignment.application_id)
        ctx = {
            "assignment": assignment, "application": application, "challenge": challenge,
            "indicators": service.indicators_of(session, pk(challenge)),
            "organization": session.get(Organization, application.organization_id),
            "attachments": service.attachments_of(session, pk(application)),
            "values": values, "errors": errors, **LABELS,
        }  # fmt: skip
    return render(request, "challenges/review.html", ctx, status_code=422)
