"""The FastAPI application: create_app builds it; the lifespan loads heavy objects once
(embedding model, jieba dictionary, search index) and hands them to routes via app.state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from matcher.config import Settings, get_settings
from matcher.db import get_engine
from matcher.embedding.worker import EmbeddingWorker
from matcher.follow import follow_index
from matcher.indexing import IndexManager
from matcher.matching import Matcher
from web.errors import register_error_handlers
from web.security import SecurityMiddleware, csrf_guard
from web.throttle import Throttle

STATIC_DIR = Path(__file__).with_name("static")
# The in-process worker (SQLite) encodes this many rows at a time, so that a search waiting for
# the shared model waits for one small batch at most.
EMBEDDED_BATCH = 16


def create_app(
    settings: Settings | None = None, *, index_manager: IndexManager | None = None
) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="duijie 对接 API",
        description="科技成果转化对接平台的 JSON API：检索、推荐、本单位的成果与需求、意向与对接线索。"
        "在「我的工作台」创建 API 令牌，以 `Authorization: Bearer <令牌>` 调用。",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(csrf_guard)],
        docs_url=None,  # served by web.routes.site from the site's own assets (intranets, CSP)
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    configure(app, settings, index_manager=index_manager)
    app.add_middleware(
        SecurityMiddleware,
        max_body_bytes=settings.max_upload_mb * 1024 * 1024 + 64 * 1024,
        secure_cookies=settings.env == "production",
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    include_routers(app)
    register_error_handlers(app)
    return app


def configure(
    app: FastAPI, settings: Settings, *, index_manager: IndexManager | None = None
) -> None:
    """What the app serves from: its settings (data directory, database, secrets) and, when the
    caller opened one, the index manager; the lifespan starts from these. The test suite builds
    one app and configures it for each test's data directory (FastAPI prepares every route on
    an app's first request, which a new app per test paid again)."""
    app.state.settings = settings
    app.state.secret_key = settings.resolved_secret_key()
    app.state.secure_cookies = settings.env == "production"
    # anonymous API searches: 60 a minute per client, per web process
    app.state.anonymous_search = Throttle(limit=60, window_s=60.0)
    app.state.given_index_manager = index_manager


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the heavy objects once per process, start the index follower and (SQLite) the
    embedded worker; stop them in reverse order."""
    from matcher.migrate import is_up_to_date

    settings: Settings = app.state.settings
    index_manager: IndexManager | None = app.state.given_index_manager
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


def include_routers(app: FastAPI) -> None:
    """Pages and fragments stay out of the OpenAPI schema, which documents the JSON API only."""
    from web.routes import (
        account,
        admin,
        api,
        api_challenges,
        auth,
        challenge_applications,
        challenge_reviews,
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
        site,
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
        challenge_applications,
        challenge_reviews,
        desk,
        interests,
        notifications,
        account,
        admin,
        site,
    ):
        app.include_router(module.router, include_in_schema=False)
    app.include_router(api.router)
    app.include_router(api_challenges.router)
