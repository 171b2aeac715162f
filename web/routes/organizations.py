"""An organization's page with its listings (needs only as far as the viewer may see them)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import col, select

from matcher import services
from matcher.access import visible_needs_clause
from matcher.errors import NotFound
from matcher.models import Need, Technology
from web.deps import CurrentViewer, ReadSession
from web.templating import render

router = APIRouter()


@router.get("/organizations/{organization_id}", response_class=HTMLResponse)
def organization_detail(
    request: Request, organization_id: int, viewer: CurrentViewer, session: ReadSession
) -> HTMLResponse:
    org = services.get_organization(session=session, organization_id=organization_id)
    if org.status != "active" and not (viewer.is_admin or viewer.organization_id == org.id):
        raise NotFound("单位不存在")
    technologies = session.exec(
        select(Technology)
        .where(Technology.owner_id == org.id, Technology.status == "published")
        .order_by(col(Technology.updated_at).desc())
        .limit(200)
    ).all()
    needs = session.exec(
        select(Need)
        .where(Need.owner_id == org.id, visible_needs_clause(viewer), Need.status == "published")
        .limit(200)
    ).all()
    profile = (
        services.investor_profile(session=session, organization_id=organization_id)
        if org.kind == "investor"
        else None
    )  # type: ignore[arg-type]
    return render(
        request,
        "organizations/detail.html",
        {"org": org, "technologies": technologies, "needs": needs, "profile": profile},
    )
