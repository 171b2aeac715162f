"""Public pages: the catalog of technologies with a search box, and a technology's page."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, or_
from sqlmodel import col, select

from matcher import services
from matcher.models import Organization, Technology
from web.deps import ReadSession
from web.templating import templates

router = APIRouter()
PAGE_SIZE = 20


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    session: ReadSession,
    q: str = Query("", max_length=200),
    field: str = Query("", max_length=30),
    page: int = Query(1, ge=1, le=10_000),
) -> HTMLResponse:
    stmt = select(Technology).where(Technology.status == "published")
    if q.strip():
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(col(Technology.title).like(like), col(Technology.summary).like(like)))
    if field:
        stmt = stmt.where(Technology.field == field)
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(
        stmt.order_by(col(Technology.id)).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    owners = {
        o.id: o
        for o in session.exec(
            select(Organization).where(col(Organization.id).in_({t.owner_id for t in rows}))
        )
    }
    context = {
        "q": q,
        "field": field,
        "page": page,
        "total": total,
        "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        "technologies": rows,
        "owners": owners,
    }
    template = (
        "technologies/_results.html"
        if request.headers.get("HX-Request")
        else "technologies/list.html"
    )
    return templates.TemplateResponse(request, template, context)


@router.get("/technologies/{technology_id}", response_class=HTMLResponse)
def technology_detail(request: Request, technology_id: int, session: ReadSession) -> HTMLResponse:
    tech = services.get_technology(session=session, technology_id=technology_id)
    if tech.status != "published":
        from matcher.errors import NotFound

        raise NotFound("科技成果不存在或未发布")
    owner = services.get_organization(session=session, organization_id=tech.owner_id)
    return templates.TemplateResponse(
        request, "technologies/detail.html", {"tech": tech, "owner": owner}
    )
