"""The back office: users (create organizer and admin accounts, deactivate), organizations
(suspend), and moderation of listings (reject with a reason, or publish again)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape
from sqlmodel import col, func, select

from matcher import accounts, listings, moderation, services, vocab
from matcher.errors import Conflict, DomainError, NotFound, ValidationFailed
from matcher.models import Need, Organization, Technology, User
from web.deps import AdminUser, ReadSession, StaffUser, unit_of_work, viewer_for
from web.responses import redirect
from web.templating import render

router = APIRouter(prefix="/admin")


def _counts(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return services.counts(session=session)


@router.get("", response_class=HTMLResponse)
def admin_home(
    request: Request, user: StaffUser, session: ReadSession, q: str = ""
) -> HTMLResponse:
    q = q.strip()[:100]
    users_stmt = select(User).order_by(col(User.created_at).desc()).limit(100)
    orgs_stmt = select(Organization).order_by(col(Organization.created_at).desc()).limit(100)
    # what waits for review comes first, then the newest changes
    techs_stmt = (
        select(Technology)
        .order_by((col(Technology.status) == "pending").desc(), col(Technology.updated_at).desc())
        .limit(50)
    )
    needs_stmt = (
        select(Need)
        .order_by((col(Need.status) == "pending").desc(), col(Need.updated_at).desc())
        .limit(50)
    )
    if q:
        like = f"%{q}%"
        users_stmt = users_stmt.where(col(User.email).like(like) | col(User.name).like(like))
        orgs_stmt = orgs_stmt.where(col(Organization.name).like(like))
        techs_stmt = techs_stmt.where(col(Technology.title).like(like))
        needs_stmt = needs_stmt.where(col(Need.title).like(like))
    # people's e-mail addresses are for admins only; organizers moderate and run events
    users = session.exec(users_stmt).all() if user.role == "admin" else []
    orgs = {o.id: o for o in session.exec(select(Organization))}
    context = {
        "q": q,
        "counts": _counts(session),
        "users": users,
        "orgs": orgs,
        "org_list": session.exec(orgs_stmt).all(),
        "technologies": session.exec(techs_stmt).all(),
        "needs": session.exec(needs_stmt).all(),
        "roles": vocab.ROLES,
        "values": {},
        "errors": {},
        "is_admin": user.role == "admin",
        "queued": sum(moderation.counts(session, viewer_for(user)).values()),
        "rejected": session.exec(
            select(func.count()).select_from(Technology).where(Technology.status == "rejected")
        ).one(),
    }
    return render(request, "admin/index.html", context)


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    user: AdminUser,
    email: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=60)] = "",
    role: Annotated[str, Form(max_length=20)] = "organizer",
    organization_id: Annotated[str, Form()] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    expertise: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        if role not in vocab.ROLES:
            raise ValidationFailed("未知的角色")
        with unit_of_work(request) as session:
            org_id = int(organization_id) if organization_id.strip().isdigit() else None
            if org_id is not None and session.get(Organization, org_id) is None:
                raise ValidationFailed("单位不存在")
            created = accounts.create_user(
                session=session,
                email=email,
                name=name,
                password=password,
                role=role,
                organization_id=org_id,
                expertise=expertise,
            )
            services.audit(
                session=session,
                action="admin.user_create",
                actor_id=user.id,
                object_type="user",
                object_id=created.id,
                detail={"role": role},
            )
    except DomainError as exc:
        return redirect(request, "/admin", exc.message, level="error")
    return redirect(request, "/admin", "账号已创建")


@router.post("/users/{user_id}/active")
def set_user_active(
    request: Request, user_id: int, user: AdminUser, active: Annotated[str, Form()] = "0"
) -> Response:
    with unit_of_work(request) as session:
        target = session.get(User, user_id)
        if target is None:
            raise NotFound("用户不存在")
        if target.id == user.id:
            raise ValidationFailed("不能停用自己的账号")
        target.is_active = active == "1"
        session.add(target)
        if not target.is_active:
            accounts.revoke_all_sessions(session=session, user_id=user_id)
        services.audit(
            session=session,
            action="admin.user_active",
            actor_id=user.id,
            object_type="user",
            object_id=user_id,
            detail={"active": target.is_active},
        )
    return redirect(request, "/admin", "已启用" if active == "1" else "已停用")


@router.post("/users/{user_id}/expertise")
def set_user_expertise(
    request: Request,
    user_id: int,
    user: AdminUser,
    expertise: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Make a user a review expert (fields and topics they can judge), change it, or clear it
    (they then leave the expert list; reviews already assigned stay theirs)."""
    with unit_of_work(request) as session:
        target = session.get(User, user_id)
        if target is None:
            raise NotFound("用户不存在")
        before = bool(target.expertise.strip())
        accounts.set_expertise(session=session, user=target, expertise=expertise)
        services.audit(
            session=session,
            action="admin.user_expertise",
            actor_id=user.id,
            object_type="user",
            object_id=user_id,
            detail={"expert_before": before, "expert_now": bool(target.expertise)},
        )  # whether, not what: the audit log keeps no profile text
    return redirect(request, "/admin", "评审专长已保存")


@router.post("/organizations/{org_id}/status")
def set_org_status(
    request: Request, org_id: int, user: AdminUser, status: Annotated[str, Form()] = "active"
) -> Response:
    with unit_of_work(request) as session:
        org = session.get(Organization, org_id)
        if org is None:
            raise NotFound("单位不存在")
        accounts.set_organization_status(
            session=session, organization=org, status=status, actor_id=user.id
        )
    return redirect(request, "/admin", "已暂停该单位" if status == "suspended" else "已恢复该单位")


@router.post("/moderate/{kind}/{item_id}")
def moderate(
    request: Request,
    kind: str,
    item_id: int,
    user: StaffUser,
    action: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Approve (publish) a listing, or reject it with a reason (it leaves search at once)."""
    if kind not in listings.LABELS or action not in ("reject", "publish"):
        raise NotFound("页面不存在")
    try:
        with unit_of_work(request) as session:
            listings.moderate(
                session=session, viewer=viewer_for(user), kind=kind, item_id=item_id,
                approve=action == "publish", note=note,
            )  # fmt: skip
    except ValidationFailed as exc:
        return redirect(request, "/admin", exc.message, level="error")
    return redirect(request, "/admin", "已发布" if action == "publish" else "已驳回")


@router.get("/moderation", response_class=HTMLResponse)
def moderation_queue(
    request: Request, user: StaffUser, session: ReadSession, kind: str = "", page: int = 1
) -> HTMLResponse:
    """Everything awaiting review, oldest first: results, needs, challenges, registrations."""
    kind = kind if kind in moderation.KINDS else ""
    page = max(1, min(page, 10_000))
    items, total = moderation.review_queue(session, viewer_for(user), kind=kind, page=page)
    pages = max(1, -(-total // moderation.PAGE_SIZE))
    return render(
        request,
        "admin/moderation.html",
        {
            "items": items, "total": total, "kind": kind, "page": page, "pages": pages,
            "kinds": moderation.KINDS, "counts": moderation.counts(session, viewer_for(user)),
            "pre": request.app.state.settings.moderation == "pre",
        },
    )  # fmt: skip


@router.post("/moderation/{kind}/{item_id}", response_class=HTMLResponse)
def moderation_decide(
    request: Request,
    kind: str,
    item_id: int,
    user: StaffUser,
    decision: Annotated[str, Form(max_length=10)],
    note: Annotated[str, Form(max_length=1000)] = "",
    back: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """Approve or reject one item; htmx replaces the row in place, so the moderator stays where
    they were (without htmx, the same page of the queue comes back)."""
    if kind not in moderation.KINDS or decision not in ("approve", "reject"):
        raise NotFound("页面不存在")
    target = back if back.startswith("/admin/moderation") else "/admin/moderation"
    try:
        with unit_of_work(request) as session:
            moderation.decide(
                session=session, viewer=viewer_for(user), kind=kind, item_id=item_id,
                approve=decision == "approve", note=note,
            )  # fmt: skip
    except (ValidationFailed, Conflict) as exc:
        if request.headers.get("HX-Request"):
            return HTMLResponse(
                f'<span class="error" role="alert">{escape(exc.message)}</span>',
                status_code=exc.status_code,
                headers={"HX-Retarget": f"#decision-{kind}-{item_id}", "HX-Reswap": "innerHTML"},
            )
        return redirect(request, target, exc.message, level="error")
    done = "已通过" if decision == "approve" else "已驳回"
    if request.headers.get("HX-Request"):
        return render(
            request, "admin/moderation.html",
            {"decided": {"kind": kind, "id": item_id, "text": done, "label": moderation.KINDS[kind]}},
            block="!decided",
        )  # fmt: skip
    return redirect(request, target, f"{moderation.KINDS[kind]} #{item_id}：{done}")
