"""Sign-up (an organization and its first user), sign-in with limits, sign-out that ends the
session on the server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from matcher import accounts, services
from matcher.errors import DomainError, Forbidden, TooManyRequests
from matcher.models import OrganizationCreate, User
from matcher.validation import zh_errors
from web.deps import client_ip, current_user, unit_of_work
from web.routes.desk import home_for
from web.security import SESSION_COOKIE
from web.templating import render

router = APIRouter()
REGISTER_KINDS = {"enterprise": "企业", "university": "高校", "institute": "科研院所"}


def _safe_next(target: str | None, user: User | None = None) -> str:
    """Only local paths: never redirect to another site after sign-in; by default, the place
    where the user's role works."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return home_for(user) if user is not None else "/workspace"


def _signed_in(request: Request, token: str, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.app.state.secure_cookies,
        max_age=accounts.SESSION_DAYS * 86400,
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> Response:
    signed_in = current_user(request)
    if signed_in is not None:
        return RedirectResponse(_safe_next(next, signed_in), status_code=303)
    return render(request, "auth/login.html", {"values": {"next": next}, "errors": {}})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    email: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=3000)] = "",  # a pre-filled need form from a search
) -> Response:
    values = {"email": email, "next": next}
    ip = client_ip(request)
    normalized = email.strip().lower()
    try:
        with unit_of_work(request) as session:
            accounts.check_login_allowed(session, normalized, ip)
            user = accounts.verify_password(session, normalized, password)
            accounts.record_attempt(session, normalized, ip, success=user is not None)
            if user is None:
                services.audit(session=session, action="account.login_failed", ip=ip, detail={})
                token, home = None, ""
            else:
                token = accounts.new_session(session=session, user=user, ip=ip)
                home = _safe_next(next, user)
                services.audit(session=session, action="account.login", actor_id=user.id, ip=ip)
    except (TooManyRequests, Forbidden) as exc:
        return render(
            request,
            "auth/login.html",
            {"values": values, "errors": {"": exc.message}},
            status_code=exc.status_code,
        )
    if token is None:
        return render(
            request,
            "auth/login.html",
            {"values": values, "errors": {"": "邮箱或密码不正确"}},
            status_code=401,
        )
    return _signed_in(request, token, home)


@router.post("/logout")
def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    with unit_of_work(request) as session:
        user = accounts.user_for_session(session, token)
        accounts.revoke_session(session=session, token=token)
        if user is not None:
            services.audit(session=session, action="account.logout", actor_id=user.id)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request) -> HTMLResponse:
    return render(
        request,
        "auth/register.html",
        {"values": {"kind": "enterprise"}, "errors": {}, "kinds": REGISTER_KINDS},
    )


@router.post("/register", response_class=HTMLResponse)
def register(
    request: Request,
    org_name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=20)] = "",
    province: Annotated[str, Form(max_length=20)] = "",
    city: Annotated[str, Form(max_length=40)] = "",
    industry: Annotated[str, Form(max_length=60)] = "",
    credit_code: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=60)] = "",
    email: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    password2: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    values = {
        "org_name": org_name, "kind": kind, "province": province, "city": city, "industry": industry,
        "credit_code": credit_code, "name": name, "email": email, "phone": phone,
    }  # fmt: skip
    errors: dict[str, str] = {}
    if kind not in REGISTER_KINDS:
        errors["kind"] = "请选择单位类型"
    if password != password2:
        errors["password2"] = "两次输入的密码不一致"
    problem = accounts.password_problem(password)
    if problem:
        errors["password"] = problem
    org = None
    try:
        org = OrganizationCreate(
            name=org_name, kind=kind or "enterprise", province=province or None, city=city or None,
            industry=industry or None, credit_code=credit_code or None,
        )  # fmt: skip
    except ValidationError as exc:
        rename = {"name": "org_name"}
        for attr, message in zh_errors(exc):
            errors.setdefault(rename.get(attr, attr), message)
    if phone.strip():
        from matcher.identifiers import phone_problem

        if (p := phone_problem(phone)) is not None:
            errors["phone"] = p
    if errors or org is None:
        return render(
            request,
            "auth/register.html",
            {"values": values, "errors": errors, "kinds": REGISTER_KINDS},
            status_code=422,
        )
    try:
        with unit_of_work(request) as session:
            _org, user = accounts.register(
                session=session,
                organization=org,
                email=email,
                name=name,
                password=password,
                phone=phone,
                ip=client_ip(request),
            )
            token = accounts.new_session(session=session, user=user, ip=client_ip(request))
    except DomainError as exc:
        field = (
            "email"
            if "邮箱" in exc.message
            else "org_name"
            if "单位" in exc.message
            else "credit_code"
            if "信用代码" in exc.message
            else ""
        )
        errors[field] = exc.message
        return render(
            request,
            "auth/register.html",
            {"values": values, "errors": errors, "kinds": REGISTER_KINDS},
            status_code=exc.status_code,
        )
    return _signed_in(request, token, "/workspace?welcome=1")
