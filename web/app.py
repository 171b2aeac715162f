"""The FastAPI application: create_app builds it; the lifespan loads heavy objects once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from matcher.config import Settings, get_settings
from matcher.db import get_engine
from matcher.errors import DomainError
from web.templating import templates

STATIC_DIR = Path(__file__).with_name("static")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from matcher.migrate import is_up_to_date

        engine = get_engine(settings)
        if not is_up_to_date(engine):
            raise RuntimeError("数据库结构不是最新版本：请先运行 `duijie init`")
        app.state.engine = engine
        yield

    app = FastAPI(
        title="duijie 对接 API",
        description="科技成果转化对接平台",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    from web.routes import pages

    app.include_router(pages.router)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.message}, status_code=exc.status_code)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"message": exc.message, "status": exc.status_code},
            status_code=exc.status_code,
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> HTMLResponse:
        return HTMLResponse("ok")

    return app
