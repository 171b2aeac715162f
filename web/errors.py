"""How errors reach people: a domain error, a value out of range, a malformed request, a missing
page or an unexpected failure becomes JSON for the API, an inline message for htmx and a page
(in Chinese) for everyone else; an anonymous GET that needs a sign-in goes to the login page."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError

from matcher.errors import DomainError
from matcher.validation import MESSAGES
from web.templating import is_htmx, render

ERROR_TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限",
    404: "页面不存在",
    409: "操作冲突",
    413: "内容过大",
    422: "填写有误",
    429: "操作过于频繁",
    503: "服务暂不可用",
}
_log = logging.getLogger("duijie.web")


def register_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        return error_response(request, exc.status_code, exc.message)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> Response:
        # an id or a number beyond what the database stores (SQLite and PostgreSQL: 64-bit)
        return error_response(request, 422, "参数超出允许的范围")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = ".".join(
                str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")
            )
            problems.append(f"{where}：{MESSAGES.get(err.get('type', ''), '取值无效')}")
        return error_response(request, 422, "；".join(problems) or "请求参数有误")

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Any) -> Response:
        detail = getattr(exc, "detail", None)
        return error_response(
            request,
            404,
            detail if isinstance(detail, str) and detail != "Not Found" else "页面不存在",
        )

    @app.exception_handler(405)
    async def not_allowed(request: Request, exc: Any) -> Response:
        return error_response(request, 405, "不支持该请求方式")

    @app.exception_handler(413)
    async def too_large(request: Request, exc: Any) -> Response:
        detail = getattr(exc, "detail", None)
        return error_response(request, 413, detail if isinstance(detail, str) else "上传内容过大")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        _log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "服务器出错了，请稍后重试；问题已记录")


def error_response(request: Request, status: int, message: str) -> Response:
    """JSON for the API, an inline fragment for htmx, a page for everyone else."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=status)
    if status == 401 and request.method == "GET":
        target = "/login?next=" + quote(
            str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        )
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    context = {"status": status, "title": ERROR_TITLES.get(status, "出错了"), "message": message}
    if is_htmx(request):
        return render(request, "error.html", context, status_code=status, block="message")
    return render(request, "error.html", context, status_code=status)
