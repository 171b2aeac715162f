"""The back office: users (create organizer and admin accounts, deactivate), organizations
(suspend), and moderation of listings (reject with a reason, or publish again)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, func, select

from matcher import accounts, leads, services, vocab
from matcher.errors import DomainError, NotFound, ValidationFailed
from matcher.models import Need, Organization, Technology, User, utcnow
from web.deps import AdminUser, ReadSession, StaffUser
from web.templating import render, transaction

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
    techs_stmt = select(Technology).order_by(col(Technology.updated_at).desc()).limit(50)
    needs_stmt = select(Need).order_by(col(Need.updated_at).desc()).limit(50)
    if q:
        like = f"%{q}%"
        users_stmt = users_stmt.where(col(User.email).like(like) | col(User.name).like(like))
        orgs_stmt = orgs_stmt.where(col(Organization.name).like(like))
        techs_stmt = techs_stmt.where(col(Technology.title).like(like))
        needs_stmt = needs_stmt.where(col(Need.title).like(like))
    users = session.exec(users_stmt).all()
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
        with transaction(request) as session:
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
        from urllib.parse import quote

        return RedirectResponse(f"/admin?error={quote(exc.message)}", status_code=303)
    return RedirectResponse("/admin?ok=user", status_code=303)


@router.post("/users/{user_id}/active")
def set_user_active(
    request: Request, user_id: int, user: AdminUser, active: Annotated[str, Form()] = "0"
) -> Response:
    with transaction(request) as session:
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
    return RedirectResponse("/admin", status_code=303)


@router.post("/users/{user_id}/expertise")
def set_user_expertise(
    request: Request,
    user_id: int,
    user: AdminUser,
    expertise: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Make a user a review expert (fields and topics they can judge), change it, or clear it
    (they then leave the expert list; reviews already assigned stay theirs)."""
    with transaction(request) as session:
        target = session.get(User, user_id)
        if target is None:
            raise NotFound("用户不存在")
        if target.role == "enterprise":
            raise ValidationFailed("企业用户不能担任评审专家（利益冲突）")
        before = bool(target.expertise.strip())
        target.expertise = " ".join(expertise.split())
        session.add(target)
        services.audit(
            session=session,
            action="admin.user_expertise",
            actor_id=user.id,
            object_type="user",
            object_id=user_id,
            detail={"expert_before": before, "expert_now": bool(target.expertise)},
        )  # whether, not what: the audit log keeps no profile text
    return RedirectResponse("/admin?ok=expertise", status_code=303)


@router.post("/organizations/{org_id}/status")
def set_org_status(
    request: Request, org_id: int, user: AdminUser, status: Annotated[str, Form()] = "active"
) -> Response:
    if status not in ("active", "suspended"):
        raise ValidationFailed("未知的状态")
    with transaction(request) as session:
        org = session.get(Organization, org_id)
        if org is None:
            raise NotFound("单位不存在")
        org.status = status
        session.add(org)
        if status == "suspended":
            for member in session.exec(select(User).where(User.organization_id == org_id)):
                accounts.revoke_all_sessions(session=session, user_id=member.id)  # type: ignore[arg-type]
        services.audit(
            session=session,
            action="admin.org_status",
            actor_id=user.id,
            object_type="organization",
            object_id=org_id,
            detail={"status": status},
        )
    return RedirectResponse("/admin", status_code=303)


@router.post("/moderate/{kind}/{item_id}")
def moderate(
    request: Request,
    kind: str,
    item_id: int,
    user: StaffUser,
    action: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Reject a listing with a reason (it leaves search at once), or publish it again."""
    model: Any = {"technology": Technology, "need": Need}.get(kind)
    if model is None or action not in ("reject", "publish"):
        raise NotFound("页面不存在")
    with transaction(request) as session:
        item = session.get(model, item_id)
        if item is None:
            raise NotFound("条目不存在")
        if action == "reject":
            if not note.strip():
                raise ValidationFailed("驳回需填写原因")
            item.status = "rejected"
            item.moderation_note = note.strip()
            text = f"您发布的《{item.title}》被驳回：{item.moderation_note}"
        else:
            item.status = "published"
            item.moderation_note = None
            text = f"您发布的《{item.title}》已重新发布"
        item.updated_at = utcnow()
        session.add(item)
        leads.notify_org(session, item.owner_id, f"moderation.{action}", text, "/workspace")
        services.audit(
            session=session,
            action=f"moderation.{action}",
            actor_id=user.id,
            object_type=kind,
            object_id=item_id,
        )
    return RedirectResponse("/admin", status_code=303)
