"""My workspace: an organization's own listings (create, edit, withdraw, renew), catalog import
through the browser with a preview, templates and exports, and API tokens."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from matcher import accounts, listings, services, vocab
from matcher.catalog import export_catalog, import_catalog, preview_catalog, template_workbook
from matcher.catalog.columns import KIND_LABELS
from matcher.embedding import store
from matcher.errors import Conflict, ImportRejected, NotFound, ValidationFailed
from matcher.models import ApiToken, Need, Technology, User, utcnow
from web.deps import (
    CurrentUser,
    ReadSession,
    SignedInViewer,
    read_session,
    unit_of_work,
    viewer_for,
)
from web.forms import need_values, parse_need, parse_technology, technology_values
from web.responses import download, redirect
from web.routes.desk import home_for
from web.templating import render

router = APIRouter(prefix="/workspace")
UPLOAD_TTL = dt.timedelta(hours=2)  # an import preview waits this long for its confirmation
LISTING_KINDS = {"technologies": "technology", "needs": "need"}


def _org_id(user: User) -> int:
    return listings.require_organization(viewer_for(user))


def _supplies(user: User) -> bool:
    return user.role in ("university", "admin")


@router.get("", response_class=HTMLResponse)
def workspace(
    request: Request, user: CurrentUser, session: ReadSession, welcome: str = ""
) -> Response:
    if user.organization_id is None:  # organizers and admins work elsewhere
        return RedirectResponse(home_for(user), status_code=303)
    org_id = _org_id(user)
    org = services.get_organization(session=session, organization_id=org_id)
    technologies = session.exec(
        select(Technology)
        .where(Technology.owner_id == org_id)
        .order_by(col(Technology.updated_at).desc())
    ).all()
    needs = session.exec(
        select(Need).where(Need.owner_id == org_id).order_by(col(Need.updated_at).desc())
    ).all()
    tokens = session.exec(
        select(ApiToken).where(ApiToken.user_id == user.id, col(ApiToken.revoked_at).is_(None))
    ).all()
    return render(
        request,
        "workspace/index.html",
        {
            "org": org,
            "technologies": technologies,
            "needs": needs,
            "tokens": tokens,
            "welcome": welcome,
            "new_token": None,
        },
    )


# --- technologies --------------------------------------------------------------------------


def _tech_form(
    request: Request, values: dict, errors: dict, tech: Technology | None, status_code: int = 200
) -> HTMLResponse:  # type: ignore[type-arg]
    return render(
        request,
        "workspace/technology_form.html",
        {"values": values, "errors": errors, "tech": tech},
        status_code=status_code,
    )


@router.get("/technologies/new", response_class=HTMLResponse)
def new_technology(request: Request, user: CurrentUser, session: ReadSession) -> HTMLResponse:
    _org_id(user)
    default_until = (dt.date.today() + dt.timedelta(days=listings.RENEW_DAYS)).isoformat()
    defaults = listings.form_defaults(session=session, user=user)
    defaults.pop("industry", None)
    return _tech_form(
        request,
        {
            **defaults,
            "status": "published",
            "valid_until": default_until,
            "cooperation_modes": [],
        },
        {},
        None,
    )


@router.post("/technologies/new", response_class=HTMLResponse)
async def create_technology(request: Request, viewer: SignedInViewer) -> Response:
    listings.require_organization(viewer)
    values, data, errors = parse_technology(await request.form())
    if data is None:
        return _tech_form(request, values, errors, None, status_code=422)
    try:
        with unit_of_work(request) as session:
            tech = listings.create_technology(session=session, viewer=viewer, data=data)
    except Conflict as exc:
        return _tech_form(request, values, {"status": exc.message}, None, status_code=409)
    return redirect(request, f"/technologies/{tech.id}", _published_message(tech.status))


@router.get("/technologies/{technology_id}/edit", response_class=HTMLResponse)
def edit_technology(
    request: Request, technology_id: int, viewer: SignedInViewer, session: ReadSession
) -> HTMLResponse:
    tech = listings.own_technology(session=session, viewer=viewer, technology_id=technology_id)
    return _tech_form(request, technology_values(tech), {}, tech)


@router.post("/technologies/{technology_id}/edit", response_class=HTMLResponse)
async def update_technology(
    request: Request, technology_id: int, viewer: SignedInViewer
) -> Response:
    values, data, errors = parse_technology(await request.form())
    with read_session(request) as session:
        tech = listings.own_technology(session=session, viewer=viewer, technology_id=technology_id)
    if data is None:
        return _tech_form(request, values, errors, tech, status_code=422)
    try:
        with unit_of_work(request) as session:
            listings.update_technology(
                session=session, viewer=viewer, technology_id=technology_id, data=data
            )
    except Conflict as exc:
        return _tech_form(request, values, {"status": exc.message}, tech, status_code=409)
    return redirect(request, f"/technologies/{technology_id}", "已保存")


def _published_message(status: str) -> str:
    if status == "pending":
        return "已提交，平台审核通过后发布"
    return "已发布" if status == "published" else "已保存"


def _status_action(request: Request, kind: str, item_id: int, viewer: Any, action: str) -> Response:
    """withdraw / renew / close / request a review again: the owner's one-click actions."""
    try:
        with unit_of_work(request) as session:
            if action == "renew":
                row = listings.renew_technology(
                    session=session, viewer=viewer, technology_id=item_id
                )
            elif action == "review":
                row = listings.request_review(
                    session=session, viewer=viewer, kind=kind, item_id=item_id
                )
            else:
                target = {"withdraw": "withdrawn", "close": "closed"}[action]
                row = listings.change_status(
                    session=session, viewer=viewer, kind=kind, item_id=item_id, status=target
                )
    except Conflict as exc:
        return redirect(request, "/workspace", exc.message, level="error")
    label = vocab.TECH_STATUSES if kind == "technology" else vocab.NEED_STATUSES
    return redirect(request, "/workspace", f"《{row.title}》：{label.get(row.status, row.status)}")


@router.post("/technologies/{technology_id}/withdraw")
def withdraw_technology(request: Request, technology_id: int, viewer: SignedInViewer) -> Response:
    return _status_action(request, "technology", technology_id, viewer, "withdraw")


@router.post("/technologies/{technology_id}/renew")
def renew_technology(request: Request, technology_id: int, viewer: SignedInViewer) -> Response:
    return _status_action(request, "technology", technology_id, viewer, "renew")


@router.post("/{collection}/{item_id}/review")
def request_review(
    request: Request, collection: str, item_id: int, viewer: SignedInViewer
) -> Response:
    """The owner of a rejected listing asks for another review after editing it."""
    if collection not in LISTING_KINDS:
        raise NotFound("页面不存在")
    return _status_action(request, LISTING_KINDS[collection], item_id, viewer, "review")


# --- needs ---------------------------------------------------------------------------------


def _need_form(
    request: Request, values: dict, errors: dict, need: Need | None, status_code: int = 200
) -> HTMLResponse:  # type: ignore[type-arg]
    return render(
        request,
        "workspace/need_form.html",
        {"values": values, "errors": errors, "need": need},
        status_code=status_code,
    )


@router.get("/needs/new", response_class=HTMLResponse)
def new_need(
    request: Request,
    user: CurrentUser,
    session: ReadSession,
    kind: str = "tech",
    title: Annotated[str, Query(max_length=200)] = "",
    description: Annotated[str, Query(max_length=2000)] = "",
) -> HTMLResponse:
    """The form, pre-filled with the organization's defaults — and with the query when a search
    found no close match (「把检索发布为需求」)."""
    _org_id(user)
    deadline = (dt.date.today() + dt.timedelta(days=180)).isoformat()
    return _need_form(
        request,
        {
            **listings.form_defaults(session=session, user=user),
            "kind": kind if kind in vocab.NEED_KINDS else "tech",
            "visibility": "public",
            "deadline": deadline,
            "title": (title.strip() or description.strip())[:60],
            "description": description.strip(),
        },
        {},
        None,
    )


@router.post("/needs/new", response_class=HTMLResponse)
async def create_need(request: Request, viewer: SignedInViewer) -> Response:
    listings.require_organization(viewer)
    values, data, errors = parse_need(await request.form())
    if data is None:
        return _need_form(request, values, errors, None, status_code=422)
    try:
        with unit_of_work(request) as session:
            need = listings.create_need(session=session, viewer=viewer, data=data)
    except Conflict as exc:
        return _need_form(request, values, {"status": exc.message}, None, status_code=409)
    return redirect(request, f"/needs/{need.id}", _published_message(need.status))


@router.get("/needs/{need_id}/edit", response_class=HTMLResponse)
def edit_need(
    request: Request, need_id: int, viewer: SignedInViewer, session: ReadSession
) -> HTMLResponse:
    need = listings.own_need(session=session, viewer=viewer, need_id=need_id)
    return _need_form(request, need_values(need), {}, need)


@router.post("/needs/{need_id}/edit", response_class=HTMLResponse)
async def update_need(request: Request, need_id: int, viewer: SignedInViewer) -> Response:
    values, data, errors = parse_need(await request.form())
    with read_session(request) as session:
        need = listings.own_need(session=session, viewer=viewer, need_id=need_id)
    if data is None:
        return _need_form(request, values, errors, need, status_code=422)
    try:
        with unit_of_work(request) as session:
            listings.update_need(session=session, viewer=viewer, need_id=need_id, data=data)
    except Conflict as exc:
        return _need_form(request, values, {"status": exc.message}, need, status_code=409)
    return redirect(request, f"/needs/{need_id}", "已保存")


@router.post("/needs/{need_id}/close")
def close_need(request: Request, need_id: int, viewer: SignedInViewer) -> Response:
    return _status_action(request, "need", need_id, viewer, "close")


# --- import, templates, export ---------------------------------------------------------------


def _uploads_dir(request: Request) -> Path:
    """Where previews wait for their confirmation; previews older than UPLOAD_TTL are removed
    whenever this is used (an abandoned preview does not stay on disk)."""
    path = request.app.state.settings.home / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - UPLOAD_TTL.total_seconds()
    for old in path.iterdir():
        try:
            if old.is_file() and old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        except OSError:
            continue
    return path


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, user: CurrentUser, kind: str = "") -> HTMLResponse:
    _org_id(user)
    kind = (
        kind
        if kind in ("technologies", "needs")
        else ("technologies" if _supplies(user) else "needs")
    )
    return render(
        request,
        "workspace/import.html",
        {"kind": kind, "report": None, "token": None, "filename": ""},
    )


@router.post("/import/preview", response_class=HTMLResponse)
async def import_preview(
    request: Request,
    user: CurrentUser,
    kind: Annotated[str, Form()],
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    org_id = _org_id(user)
    if kind not in ("technologies", "needs"):
        raise ValidationFailed("请选择导入类型")
    limit = request.app.state.settings.max_upload_mb * 1024 * 1024
    data = await file.read(limit + 1)
    filename = Path(file.filename or "upload").name[:120]
    if len(data) > limit:
        raise ValidationFailed(f"文件过大：上限 {request.app.state.settings.max_upload_mb} MB")
    report = preview_catalog(
        engine=request.app.state.engine, kind=kind, data=data, filename=filename, owner_id=org_id
    )
    token = None
    if not report.problems:
        token = secrets.token_urlsafe(16)
        (_uploads_dir(request) / f"{token}-{user.id}-{kind}").write_bytes(data)
    return render(
        request,
        "workspace/import.html",
        {"kind": kind, "report": report, "token": token, "filename": filename},
    )


@router.post("/import/confirm", response_class=HTMLResponse)
def import_confirm(
    request: Request, user: CurrentUser, token: Annotated[str, Form(max_length=64)], kind: Annotated[str, Form()],
    filename: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    org_id = _org_id(user)
    if (
        kind not in ("technologies", "needs")
        or not token.replace("-", "").replace("_", "").isalnum()
    ):
        raise ValidationFailed("导入请求无效")
    path = (
        _uploads_dir(request) / f"{token}-{user.id}-{kind}"
    )  # the user id in the name binds it to its uploader
    if not path.exists():
        raise NotFound("预览已过期，请重新上传文件")
    with read_session(request) as session:
        jobs_before = store.last_job_id(session)
    try:
        report = import_catalog(
            engine=request.app.state.engine, kind=kind, data=path.read_bytes(), filename=filename or path.name,
            owner_id=org_id, actor_id=user.id,
        )  # fmt: skip
    except ImportRejected as exc:
        return render(
            request, "workspace/import.html",
            {"kind": kind, "report": None, "rejected": exc, "token": None, "filename": filename}, status_code=422,
        )  # fmt: skip
    finally:
        path.unlink(missing_ok=True)
    # The import committed in its own transaction; its rows' vectors are computed by a worker
    # (woken here on SQLite, by NOTIFY on PostgreSQL) and the page follows them to the end.
    with read_session(request) as session:
        jobs_after = store.last_job_id(session)
        total = store.queued_items(session, after_id=jobs_before, up_to=jobs_after)
    for name in ("embedding_worker", "index_follower"):
        loop = getattr(request.app.state, name, None)
        if loop is not None:
            loop.poke()
    if request.app.state.index.encode_inline:  # tests: searchable in the next response
        request.app.state.index.catch_up()
    return render(
        request,
        "workspace/import.html",
        {
            "kind": kind, "report": None, "done": report, "token": None, "filename": filename,
            "encoding": _encoding_progress(request, jobs_before, jobs_after, total),
        },
    )  # fmt: skip


def _encoding_progress(
    request: Request, after: int, upto: int, total: int
) -> dict[str, int | bool]:
    """How far the vectors of the rows an import queued (job ids after..upto) have come: to
    the end, that is until this process has them in its index too."""
    with read_session(request) as session:
        left = store.queued_items(session, after_id=after, up_to=upto)
    waiting = sum(request.app.state.index.pending().values())
    total = max(total, left)
    return {
        "after": after, "upto": upto, "total": total, "done": total - left,
        "finished": left == 0 and waiting == 0,
    }  # fmt: skip


@router.get("/import/encoding", response_class=HTMLResponse)
def import_encoding(
    request: Request,
    user: CurrentUser,
    after: Annotated[int, Query(ge=0)] = 0,
    upto: Annotated[int, Query(ge=0)] = 0,
    total: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    _org_id(user)
    return render(
        request,
        "workspace/_encoding.html",
        {"encoding": _encoding_progress(request, after, max(after, upto), total)},
    )


@router.get("/templates/{kind}.xlsx")
def download_template(kind: str, user: CurrentUser, session: ReadSession) -> Response:
    if kind not in ("organizations", "technologies", "needs"):
        raise NotFound("模板不存在")
    name = f"duijie-{KIND_LABELS[kind]}-导入模板.xlsx"
    org = (
        services.get_organization(session=session, organization_id=user.organization_id)
        if user.organization_id
        else None
    )
    return download(
        template_workbook(kind, owner_name=org.name if org else None),
        name,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@router.get("/export")
def export(
    request: Request, user: CurrentUser, kind: str = "technologies", format: str = "xlsx"
) -> Response:
    org_id = _org_id(user)
    if kind not in ("technologies", "needs") or format not in ("xlsx", "csv"):
        raise ValidationFailed("导出参数无效")
    with unit_of_work(request) as session:
        data = export_catalog(session, kind, format, where=lambda obj: obj.owner_id == org_id)
        services.audit(
            session=session,
            action="catalog.export",
            actor_id=user.id,
            object_type=kind,
            detail={"format": format, "scope": "own"},
        )
    media = (
        "text/csv; charset=utf-8"
        if format == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return download(
        data, f"duijie-{KIND_LABELS[kind]}-{dt.date.today().isoformat()}.{format}", media
    )


# --- API tokens ----------------------------------------------------------------------------


@router.post("/tokens", response_class=HTMLResponse)
def create_token(
    request: Request, user: CurrentUser, name: Annotated[str, Form(max_length=60)] = ""
) -> HTMLResponse:
    with unit_of_work(request) as session:
        db_user = session.get(User, user.id)
        assert db_user is not None
        token = accounts.new_api_token(session=session, user=db_user, name=name or "API")
        services.audit(session=session, action="api_token.create", actor_id=user.id)
    return render(request, "workspace/_token.html", {"new_token": token}, block="!token")


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, user: CurrentUser) -> Response:
    with unit_of_work(request) as session:
        row = session.get(ApiToken, token_id)
        if row is None or row.user_id != user.id:
            raise NotFound("令牌不存在")
        row.revoked_at = utcnow()
        session.add(row)
        services.audit(
            session=session, action="api_token.revoke", actor_id=user.id, object_id=token_id
        )
    return redirect(request, "/workspace", "令牌已撤销")
