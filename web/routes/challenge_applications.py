"""揭榜挂帅 applications: the application form, the application page with its timeline, named
co-applicants confirming, withdrawal, and attachments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from matcher.access import Viewer
from matcher.challenges import applications, attachments
from matcher.challenges.access import get_challenge
from matcher.challenges.award import milestones_of
from matcher.challenges.models import Application, Attachment, Challenge
from matcher.challenges.publishing import indicators_of
from matcher.challenges.schemas import ApplicationIn
from matcher.errors import Conflict, DomainError, NotFound, ValidationFailed
from matcher.files import content_path
from matcher.models import Organization, pk
from web.deps import CurrentUser, read_session, unit_of_work, viewer_for
from web.forms import parse
from web.responses import download, redirect
from web.routes.challenges import LABELS, padded
from web.templating import render

router = APIRouter()
MILESTONE_ROWS = 4


def _application_context(session: Session, viewer: Viewer, challenge: Challenge) -> dict[str, Any]:
    """What the form offers beside the values: the applicant's results and the indicators."""
    return {
        "citable": applications.citable_results(session=session, viewer=viewer),
        "indicators": indicators_of(session=session, challenge_id=pk(challenge)),
    }


def _application_values(application: Application | None, session: Session) -> dict[str, Any]:
    if application is None:
        return {
            "milestones": padded([], MILESTONE_ROWS),
            "partners": "",
            "cited": [],
            "answers": {},
        }
    partners = [
        session.get(Organization, p.organization_id)
        for p in applications.partners_of(session=session, application=application)
    ]
    return {
        "team": application.team,
        "leader": application.leader,
        "approach": application.approach,
        "budget": "" if application.budget is None else f"{application.budget:g}",
        "partners": "，".join(p.name for p in partners if p),
        "cited": [str(i) for i in application.cited_technology_ids or []],
        "answers": dict(application.indicator_answers or {}),
        "milestones": padded([
            {"title": m.get("title", ""), "due": m.get("due", ""),
             "amount": "" if m.get("amount") is None else f"{m['amount']:g}"}
            for m in application.milestones
        ], MILESTONE_ROWS),
    }  # fmt: skip


@router.get("/challenges/{challenge_id}/apply", response_class=HTMLResponse)
def apply_page(request: Request, challenge_id: int, user: CurrentUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        challenge = get_challenge(session=session, viewer=viewer, challenge_id=challenge_id)
        mine = applications.my_application(session=session, viewer=viewer, challenge=challenge)
        values = _application_values(mine, session)
        extra = _application_context(session, viewer, challenge)
    return render(
        request,
        "challenges/apply.html",
        {"challenge": challenge, "values": values, "errors": {}, **extra, **LABELS},
    )


def milestone_rows(form: FormData) -> list[dict[str, str]]:
    """The milestone table as typed, row by row (the columns are parallel lists)."""
    titles, dues, amounts = (
        form.getlist("ms_title"),
        form.getlist("ms_due"),
        form.getlist("ms_amount"),
    )
    return [
        {"title": str(t).strip(), "due": str(d).strip(), "amount": str(a).strip()}
        for t, d, a in zip(titles, dues, amounts, strict=False)
    ]


def _parse_application(
    form: FormData,
) -> tuple[dict[str, Any], ApplicationIn | None, dict[str, str]]:
    rows = milestone_rows(form)
    answers = {
        key[len("answer_") :]: str(v) for key, v in form.items() if key.startswith("answer_")
    }
    partners = str(form.get("partners") or "").replace(",", "，").split("，")
    cited = [v for v in form.getlist("cited") if isinstance(v, str) and v.isdigit()]
    values, data, errors = parse(
        ApplicationIn,
        form,
        lists=("cited",),
        names={
            "partner_names": "partners",
            "cited_technology_ids": "cited",
            "indicator_answers": "indicators",
        },
        extra={
            "submit": form.get("action") == "submit",
            "milestones": [m for m in rows if m["title"] or m["due"] or m["amount"]],
            "partner_names": [p for p in partners if p.strip()],
            "cited_technology_ids": [int(v) for v in cited],
            "indicator_answers": {int(k): v[:400] for k, v in answers.items() if k.isdigit()},
        },
    )
    values.update(milestones=padded(list(rows), MILESTONE_ROWS), answers=answers)
    return values, data, errors


@router.post("/challenges/{challenge_id}/apply", response_class=HTMLResponse)
async def apply(request: Request, challenge_id: int, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    form = await request.form()
    values, data, errors = _parse_application(form)
    with read_session(request) as session:
        challenge = get_challenge(session=session, viewer=viewer, challenge_id=challenge_id)
        extra = _application_context(session, viewer, challenge)
    if data is not None:
        try:
            with unit_of_work(request) as session:
                current = get_challenge(session=session, viewer=viewer, challenge_id=challenge_id)
                application = applications.save_application(
                    session=session, viewer=viewer, challenge=current, data=data
                )
                application_id = pk(application)
            return redirect(
                request,
                f"/applications/{application_id}",
                "已提交" if data.submit else "草稿已保存",
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
        application, challenge = applications.application_for(
            session=session, viewer=viewer, application_id=application_id
        )
        partners = applications.partners_of(session=session, application=application)
        ctx = {
            "application": application,
            "challenge": challenge,
            "organization": session.get(Organization, application.organization_id),
            "partners": [(p, session.get(Organization, p.organization_id)) for p in partners],
            "my_partnership": next(
                (p for p in partners if p.organization_id == viewer.organization_id), None
            ),
            "timeline": applications.timeline(session=session, application_id=application_id),
            "cited": applications.cited_results(
                session=session, viewer=viewer, application=application
            ),
            "answers": applications.answer_checks(session=session, application=application),
            "attachments": attachments.attachments_of(
                session=session, application_id=application_id
            ),
            "applicant": viewer.organization_id == application.organization_id,
            "milestones": [
                m for m in milestones_of(session=session, challenge_id=pk(challenge))
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
    back = f"/applications/{application_id}"
    if decision not in ("confirm", "decline"):
        raise ValidationFailed("请选择确认或拒绝")
    try:
        with unit_of_work(request) as session:
            applications.decide_partnership(
                session=session, viewer=viewer, application_id=application_id,
                confirm=decision == "confirm",
            )  # fmt: skip
    except Conflict as exc:
        return redirect(request, back, exc.message, level="error")
    return redirect(request, back, "已确认联合申请" if decision == "confirm" else "已拒绝联合申请")


@router.post("/applications/{application_id}/withdraw")
def withdraw(request: Request, application_id: int, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    back = f"/applications/{application_id}"
    try:
        with unit_of_work(request) as session:
            application, _ = applications.application_for(
                session=session, viewer=viewer, application_id=application_id
            )
            applications.withdraw_application(
                session=session, viewer=viewer, application=application
            )
    except Conflict as exc:
        return redirect(request, back, exc.message, level="error")
    return redirect(request, back, "已撤回")


# --- attachments -----------------------------------------------------------------------------


@router.post("/applications/{application_id}/attachments")
async def upload_attachment(
    request: Request, application_id: int, user: CurrentUser, file: Annotated[UploadFile, File()]
) -> Response:
    viewer = viewer_for(user)
    settings = request.app.state.settings
    limit = settings.max_upload_mb * 1024 * 1024
    back = f"/applications/{application_id}"
    with read_session(request) as session:
        application, _ = applications.application_for(
            session=session, viewer=viewer, application_id=application_id
        )
        if viewer.organization_id != application.organization_id:
            raise NotFound("申请不存在")
    if file.size is not None and file.size > limit:
        return redirect(request, back, f"附件超过 {settings.max_upload_mb} MB 上限", level="error")
    data = await file.read(limit + 1)
    try:
        with unit_of_work(request) as session:
            application, _ = applications.application_for(
                session=session, viewer=viewer, application_id=application_id
            )
            attachments.add_attachment(
                session=session, viewer=viewer, application=application,
                filename=file.filename or "", data=data,
                directory=settings.attachments_dir, max_bytes=limit,
            )  # fmt: skip
    except (ValidationFailed, Conflict) as exc:
        return redirect(request, back, exc.message, level="error")
    return redirect(request, back, "附件已上传")


def _attachment_of(session: Session, application_id: int, attachment_id: int) -> Attachment:
    row = session.get(Attachment, attachment_id)
    if row is None or row.application_id != application_id:
        raise NotFound("附件不存在")
    return row


@router.get("/applications/{application_id}/attachments/{attachment_id}")
def download_attachment(
    request: Request, application_id: int, attachment_id: int, user: CurrentUser
) -> Response:
    viewer = viewer_for(user)
    with read_session(request) as session:
        applications.application_for(session=session, viewer=viewer, application_id=application_id)
        row = _attachment_of(session, application_id, attachment_id)
    path = content_path(request.app.state.settings.attachments_dir, row.sha256)
    if not path.exists():
        raise NotFound("附件文件缺失，请联系管理员从备份恢复")
    return download(path.read_bytes(), row.filename, row.content_type)


@router.post("/applications/{application_id}/attachments/{attachment_id}/remove")
def remove_attachment(
    request: Request, application_id: int, attachment_id: int, user: CurrentUser
) -> Response:
    viewer = viewer_for(user)
    back = f"/applications/{application_id}"
    try:
        with unit_of_work(request) as session:
            applications.application_for(
                session=session, viewer=viewer, application_id=application_id
            )
            _attachment_of(session, application_id, attachment_id)
            attachments.remove_attachment(
                session=session, viewer=viewer, attachment_id=attachment_id
            )
    except Conflict as exc:
        return redirect(request, back, exc.message, level="error")
    return redirect(request, back, "附件已删除")
