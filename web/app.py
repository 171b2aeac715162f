"""The FastAPI application: create_app builds it; the lifespan loads heavy objects once
(embedding model, jieba dictionary, search index) and hands them to routes via app.state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError

from matcher.config import Settings, get_settings
from matcher.db import get_engine
from matcher.embedding.worker import EmbeddingWorker
from matcher.errors import DomainError, Unauthorized
from matcher.follow import follow_index
from matcher.indexing import IndexManager
from matcher.matching import Matcher
from web.security import CSP, SecurityMiddleware, csrf_guard
from web.templating import is_htmx, render
from web.throttle import Throttle

STATIC_DIR = Path(__file__).with_name("static")
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
# The in-process worker (SQLite) encodes this many rows at a time, so that a search waiting for
# the shared model waits for one small batch at most.
EMBEDDED_BATCH = 16
# 对: the site's mark, in its accent colour
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    '<rect width="64" height="64" rx="14" fill="#b4232a"/>'
    '<text x="32" y="46" font-size="40" text-anchor="middle" fill="#fff" '
    'font-family="Noto Sans CJK SC,WenQuanYi Micro Hei,sans-serif">对</text></svg>'
)


def create_app(
    settings: Settings | None = None, *, index_manager: IndexManager | None = None
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from matcher.migrate import is_up_to_date

        engine = index_manager.engine if index_manager is not None else get_engine(settings)
        if not is_up_to_date(engine):
            raise RuntimeError("数据库结构不是最新版本：请先运行 `duijie init`")
        # A web process never encodes documents in a request: it loads the stored vectors, and
        # rows without one wait for a worker (a thread here on SQLite, `duijie worker` on
        # PostgreSQL). The embedded site encodes what has no vector before it starts serving
        # (an index built from scratch), as it always did. A manager handed in keeps its mode.
        manager = index_manager
        if manager is None:
            manager = await asyncio.to_thread(
                IndexManager(
                    engine,
                    settings,
                    save_interval_s=10.0,
                    encode_inline=False,
                    encode_at_open=settings.runs_embedded_worker(),
                ).open
            )
        await asyncio.to_thread(manager.encoder.warm_up)
        app.state.engine = engine
        app.state.index = manager
        app.state.matcher = Matcher(manager)
        follower = follow_index(manager)
        app.state.index_follower = follower
        worker = None
        if not manager.encode_inline and settings.runs_embedded_worker():
            worker = EmbeddingWorker(
                engine,
                settings,
                encoder=manager.encoder,
                batch_size=EMBEDDED_BATCH,
                on_batch=lambda _report: follower.poke(),
            )
            worker.start()
        app.state.embedding_worker = worker
        yield
        if worker is not None:
            worker.stop()
        follower.stop()
        manager.close()

    app = FastAPI(
        title="duijie 对接 API",
        description="科技成果转化对接平台的 JSON API：检索、推荐、本单位的成果与需求、意向与对接线索。"
        "在「我的工作台」创建 API 令牌，以 `Authorization: Bearer <令牌>` 调用。",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(csrf_guard)],
        docs_url=None,  # served below from the site's own assets (intranets, CSP)
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.settings = settings
    app.state.secret_key = settings.resolved_secret_key()
    app.state.secure_cookies = settings.env == "production"
    # anonymous API searches: 60 a minute per client, per web process
    app.state.anonymous_search = Throttle(limit=60, window_s=60.0)
    app.add_middleware(
        SecurityMiddleware,
        max_body_bytes=settings.max_upload_mb * 1024 * 1024 + 64 * 1024,
        secure_cookies=settings.env == "production",
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    from web.routes import (
        account,
        admin,
        api,
        api_challenges,
        auth,
        challenges,
        desk,
        event_invitations,
        event_outcomes,
        event_participants,
        event_schedule,
        events,
        interests,
        needs,
        notifications,
        organizations,
        search,
        technologies,
        workspace,
    )

    for module in (
        search,
        technologies,
        needs,
        organizations,
        auth,
        workspace,
        events,
        event_invitations,
        event_participants,
        event_schedule,
        event_outcomes,
        challenges,
        desk,
        interests,
        notifications,
        account,
        admin,
    ):
        app.include_router(
            module.router, include_in_schema=False
        )  # the OpenAPI schema is the API's
    app.include_router(api.router)
    app.include_router(api_challenges.router)

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
        from matcher.validation import MESSAGES

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

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> HTMLResponse:
        return HTMLResponse("ok")

    @app.get("/healthz/index", include_in_schema=False)
    def healthz_index(request: Request) -> JSONResponse:
        """This process's index replica: rows per collection, rows waiting for their vectors,
        and what it asked the model for (a process that loaded stored vectors asked nothing)."""
        manager: IndexManager = request.app.state.index
        encoder = manager.encoder
        pending = manager.pending()
        with manager.lock:
            collections = {
                name: {"count": len(c), "awaiting_vectors": pending.get(name, 0)}
                for name, c in manager.collections.items()
            }
        return JSONResponse(
            {
                "collections": collections,
                "version": manager.version,
                "model": encoder.fingerprint,
                "loaded_vectors": manager.loaded_vectors,
                "documents_encoded": encoder.documents_requested,
                "texts_computed": encoder.texts_computed,
                "embedded_worker": request.app.state.embedding_worker is not None,
            }
        )

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """Swagger UI, every asset served by the site itself (no CDN: intranets, the CSP)."""
        page = (
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>API 文档 · duijie 对接</title>"
            '<link rel="icon" href="/favicon.svg" type="image/svg+xml">'
            '<link rel="stylesheet" href="/static/swagger/swagger-ui.css"></head>'
            f'<body data-openapi="{app.openapi_url}"><div id="swagger-ui"></div>'
            '<script src="/static/swagger/swagger-ui-bundle.js"></script>'
            '<script src="/static/swagger/init.js"></script></body></html>'
        )
        # Swagger UI sets inline styles on its elements; scripts stay 'self' only.
        csp = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        return HTMLResponse(page, headers={"Content-Security-Policy": csp})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return RedirectResponse("/favicon.svg", status_code=301)

    @app.get("/favicon.svg", include_in_schema=False)
    def favicon_svg() -> Response:
        return Response(
            FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
        )

    return app


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


def unauthorized() -> Unauthorized:
    return Unauthorized("请先登录")
