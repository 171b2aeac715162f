"""The home page: one search box over results and needs, filters, results as you type."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from matcher import services, vocab
from matcher.filters import Filters
from web.deps import CurrentViewer, EngineMatcher, read_session
from web.templating import render

router = APIRouter()
PAGE_SIZE = 10
TYPES = {"technology": "科技成果", "tech_need": "技术需求", "financing": "融资需求"}
SUGGESTIONS = (
    "高炉炉况监测",
    "茶叶保鲜包装",
    "锂电池热管理",
    "污水脱氮除磷",
    "边坡稳定分析",
    "风电变流器控制",
)


def _int(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


def _float(value: str) -> float | None:
    try:
        return float(value) if value.strip() else None
    except ValueError:
        return None


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    viewer: CurrentViewer,
    matcher: EngineMatcher,
    q: Annotated[str, Query(max_length=500)] = "",
    type: Annotated[str, Query(max_length=20)] = "technology",
    field: Annotated[str, Query(max_length=30)] = "",
    province: Annotated[str, Query(max_length=20)] = "",
    trl: Annotated[str, Query(max_length=2)] = "",
    mode: Annotated[str, Query(max_length=10)] = "",
    price: Annotated[str, Query(max_length=12)] = "",
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> HTMLResponse:
    kind = type if type in TYPES else "technology"
    field = field if field in vocab.TECH_FIELDS else ""
    province = province if province in vocab.PROVINCES else ""
    mode = mode if mode in vocab.COOPERATION_MODES else ""
    if kind == "technology":
        filters = Filters(
            field=field or None,
            province=province or None,
            min_trl=_int(trl),
            modes=(mode,) if mode else (),
            max_price=_float(price),
        )
        collection = "technologies"
    else:
        filters = Filters(
            field=field or None,
            province=province or None,
            need_kind="financing" if kind == "financing" else "tech",
            min_budget=_float(price),
        )
        collection = "needs"
    result = matcher.search(
        q,
        collection=collection,
        filters=filters,
        viewer=viewer,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    params = {
        "q": q,
        "type": kind,
        "field": field,
        "province": province,
        "trl": trl,
        "mode": mode,
        "price": price,
    }
    clean = {k: v for k, v in params.items() if v and not (k == "type" and v == "technology")}
    pages = max(1, (result.total + PAGE_SIZE - 1) // PAGE_SIZE)
    showcase = None
    if not q.strip() and page == 1 and not any(v for k, v in clean.items() if k != "type"):
        with read_session(request) as session:
            showcase = services.home_showcase(session=session, viewer=viewer)
    need_form = "/workspace/needs/new?" + urlencode({"kind": "tech", "description": q.strip()})
    publish_url = (
        need_form if viewer.is_authenticated else "/login?" + urlencode({"next": need_form})
    )
    context = {
        "showcase": showcase,
        "q": q,
        "params": params,
        "result": result,
        "page": page,
        "pages": pages,
        "types": TYPES,
        "suggestions": SUGGESTIONS,
        "publish_url": publish_url,
        "page_url": lambda p: "/?" + urlencode({**clean, "page": p}),
    }
    return render(request, "search/home.html", context, block="results")
