"""A technology's page: details, similar results, the enterprises that need it (for its owner),
masked contacts, and 表达意向."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from matcher import leads, listings, services
from matcher.access import owns
from matcher.errors import NotFound
from web.deps import CurrentViewer, EngineMatcher, ReadSession, read_session, unit_of_work
from web.routes.interests import express_from_page
from web.templating import render

router = APIRouter()


@router.get("/technologies/{technology_id}", response_class=HTMLResponse)
def technology_detail(request: Request, technology_id: int, viewer: CurrentViewer) -> HTMLResponse:
    with read_session(request) as session:
        tech = listings.visible_technology(
            session=session, viewer=viewer, technology_id=technology_id
        )
        owner = services.get_organization(session=session, organization_id=tech.owner_id)
        contact = leads.contact_for(session, viewer, tech, audit_reveal=False)
        is_owner = owns(viewer, tech.owner_id)
        my_interest = leads.my_interest_in(session, viewer, technology_id=tech.id)
        my_needs = [] if is_owner else leads.offerable_listings(session, viewer, kind="need")
    if contact.revealed and leads.reveal_is_audited(viewer, tech):
        with unit_of_work(request) as session:  # a reveal is written to the audit log
            leads.audit_reveal_of(session, viewer, tech)
    context = {
        "tech": tech,
        "owner": owner,
        "contact": contact,
        "is_owner": is_owner,
        "my_interest": my_interest,
        "my_needs": my_needs,
        "values": {},
        "errors": {},
    }
    return render(request, "technologies/detail.html", context)


@router.get("/technologies/{technology_id}/similar", response_class=HTMLResponse)
def similar(
    request: Request, technology_id: int, viewer: CurrentViewer, matcher: EngineMatcher
) -> HTMLResponse:
    hits = matcher.similar_technologies(technology_id, viewer=viewer, limit=5)
    return render(
        request,
        "technologies/_hits.html",
        {"hits": hits, "empty": "暂无相似成果", "chart": False, "threshold": True},
    )


@router.get("/technologies/{technology_id}/needs", response_class=HTMLResponse)
def needing_enterprises(
    request: Request,
    technology_id: int,
    viewer: CurrentViewer,
    matcher: EngineMatcher,
    session: ReadSession,
) -> HTMLResponse:
    """For the owner: the enterprises whose needs this result could answer."""
    tech = listings.visible_technology(session=session, viewer=viewer, technology_id=technology_id)
    if not owns(viewer, tech.owner_id):
        raise NotFound("页面不存在")
    hits = matcher.needs_for_technology(technology_id, viewer=viewer, limit=8)
    return render(
        request,
        "technologies/_hits.html",
        {
            "hits": hits,
            "empty": "暂无高度匹配的企业需求",
            "chart": True,
            "threshold": True,
            "contact": True,
        },
    )


@router.post("/technologies/{technology_id}/interest", response_class=HTMLResponse)
def express_interest(
    request: Request,
    technology_id: int,
    viewer: CurrentViewer,
    message: Annotated[str, Form(max_length=2000)] = "",
    offered_need_id: Annotated[str, Form(max_length=12)] = "",
) -> HTMLResponse:
    offered = int(offered_need_id) if offered_need_id.strip().isdigit() else None
    return express_from_page(
        request, viewer, message, technology_id=technology_id, offered_need_id=offered
    )
