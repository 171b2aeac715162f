"""The site's own routes: health checks (process and index replica), the API documentation
served from local assets, and the favicon."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from matcher.indexing import IndexManager
from web.security import CSP

router = APIRouter(include_in_schema=False)


# 对: the site's mark, in its accent colour
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    '<rect width="64" height="64" rx="14" fill="#b4232a"/>'
    '<text x="32" y="46" font-size="40" text-anchor="middle" fill="#fff" '
    'font-family="Noto Sans CJK SC,WenQuanYi Micro Hei,sans-serif">对</text></svg>'
)


@router.get("/healthz")
def healthz() -> HTMLResponse:
    return HTMLResponse("ok")


@router.get("/healthz/index")
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


@router.get("/api/docs")
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI, every asset served by the site itself (no CDN: intranets, the CSP)."""
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>API 文档 · duijie 对接</title>"
        '<link rel="icon" href="/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="/static/swagger/swagger-ui.css"></head>'
        f'<body data-openapi="{request.app.openapi_url}"><div id="swagger-ui"></div>'
        '<script src="/static/swagger/swagger-ui-bundle.js"></script>'
        '<script src="/static/swagger/init.js"></script></body></html>'
    )
    # Swagger UI sets inline styles on its elements; scripts stay 'self' only.
    csp = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    return HTMLResponse(page, headers={"Content-Security-Policy": csp})


@router.get("/favicon.ico")
def favicon() -> Response:
    return RedirectResponse("/favicon.svg", status_code=301)


@router.get("/favicon.svg")
def favicon_svg() -> Response:
    return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})
