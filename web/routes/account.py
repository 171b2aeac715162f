"""My account: download my data, delete my account (个人信息保护法)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher import privacy, services
from matcher.errors import DomainError
from matcher.models import User
from web.deps import CurrentUser, unit_of_work
from web.responses import download
from web.security import SESSION_COOKIE
from web.templating import render

router = APIRouter()


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: CurrentUser) -> HTMLResponse:
    return render(request, "auth/account.html", {"error": ""})


@router.get("/account/data.json")
def my_data(request: Request, user: CurrentUser) -> Response:
    with unit_of_work(request) as session:
        me = session.get(User, user.id)
        data = privacy.export_user_data(session, me)  # type: ignore[arg-type]
        services.audit(
            session=session, action="privacy.export", actor_id=user.id, object_type="user",
            object_id=user.id,
        )  # fmt: skip
    body = json.dumps(data, ensure_ascii=False, indent=2).encode()
    return download(body, f"我的数据-{user.id}.json", "application/json; charset=utf-8")


@router.post("/account/delete", response_class=HTMLResponse)
def delete_account(
    request: Request,
    user: CurrentUser,
    password: Annotated[str, Form(max_length=200)],
    confirm: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if confirm.strip() != "注销":
        return render(
            request, "auth/account.html", {"error": "请在确认框输入「注销」两个字"}, status_code=422
        )
    try:
        with unit_of_work(request) as session:
            me = session.get(User, user.id)
            privacy.delete_account(session, me, password)  # type: ignore[arg-type]
    except DomainError as exc:
        return render(request, "auth/account.html", {"error": exc.message}, status_code=422)
    response = RedirectResponse("/?deleted=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
