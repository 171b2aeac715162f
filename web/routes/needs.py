"""A need's page: visible only to whom its visibility allows; for its owner, the recommended
results, teams and (for financing) investors, each with the reason and the parts of its score."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from matcher import leads, listings, services
from matcher.access import Viewer, owns
from matcher.errors import NotFound
from matcher.matching import Matcher
from matcher.models import Need, Technology
from web.deps import CurrentViewer, EngineMatcher, ReadSession, read_session, unit_of_work
from web.routes.interests import express_from_page
from web.templating import render

router = APIRouter()


@router.get("/needs/{need_id}", response_class=HTMLResponse)
def need_detail(request: Request, need_id: int, viewer: CurrentViewer) -> HTMLResponse:
    with read_session(request) as session:
        need = listings.visible_need(session=session, viewer=viewer, need_id=need_id)
        owner = services.get_organization(session=session, organization_id=need.owner_id)
        contact = leads.contact_for(session, viewer, need, audit_reveal=False)
        my_interest = None
        my_technologies: list[Technology] = []
        if viewer.organization_id is not None and not owns(viewer, need.owner_id):
            my_interest = leads.my_interest_in(session, viewer, need_id=need.id)
            my_technologies = leads.offerable_listings(session, viewer, kind="technology")
    if contact.revealed and leads.reveal_is_audited(viewer, need):
        with unit_of_work(request) as session:  # a reveal is written to the audit log
            leads.audit_reveal_of(session, viewer, need)
    context = {
        "need": need,
        "owner": owner,
        "contact": contact,
        "is_owner": owns(viewer, need.owner_id) or viewer.is_staff,
        "my_interest": my_interest,
        "my_technologies": my_technologies,
    }
    return render(request, "needs/detail.html", context)


# While a worker computes a new need's vectors, its recommendation blocks say so and ask again
# every second; after a minute (no worker running?) the request computes them itself.
MATCHING_POLLS = 60


def _matching_pending(
    request: Request, matcher: Matcher, need_id: int, wait: int
) -> HTMLResponse | None:
    if wait >= MATCHING_POLLS or not matcher.matching_pending(need_id):
        return None
    return render(
        request,
        "needs/_matching.html",
        {"url": request.url.path, "wait": wait + 1, "delay": 1},
    )


def _owner_only(session: Session, need_id: int, viewer: Viewer) -> Need:
    need = listings.visible_need(session=session, viewer=viewer, need_id=need_id)
    if not (owns(viewer, need.owner_id) or viewer.is_staff):
        raise NotFound("页面不存在")
    return need


@router.get("/needs/{need_id}/technologies", response_class=HTMLResponse)
def recommended_technologies(
    request: Request,
    need_id: int,
    viewer: CurrentViewer,
    matcher: EngineMatcher,
    session: ReadSession,
    wait: Annotated[int, Query(ge=0, le=1000)] = 0,
) -> HTMLResponse:
    _owner_only(session, need_id, viewer)
    if pending := _matching_pending(request, matcher, need_id, wait):
        return pending
    hits = matcher.technologies_for_need(need_id, viewer=viewer, limit=8)
    return render(
        request,
        "technologies/_hits.html",
        {"hits": hits, "empty": "暂无高度匹配的成果", "chart": True, "threshold": True},
    )


@router.get("/needs/{need_id}/teams", response_class=HTMLResponse)
def recommended_teams(
    request: Request,
    need_id: int,
    viewer: CurrentViewer,
    matcher: EngineMatcher,
    session: ReadSession,
    wait: Annotated[int, Query(ge=0, le=1000)] = 0,
) -> HTMLResponse:
    _owner_only(session, need_id, viewer)
    if pending := _matching_pending(request, matcher, need_id, wait):
        return pending
    teams = matcher.teams_for_need(need_id, viewer=viewer, limit=6)
    return render(request, "needs/_teams.html", {"teams": teams})


@router.get("/needs/{need_id}/investors", response_class=HTMLResponse)
def recommended_investors(
    request: Request,
    need_id: int,
    viewer: CurrentViewer,
    matcher: EngineMatcher,
    session: ReadSession,
    wait: Annotated[int, Query(ge=0, le=1000)] = 0,
) -> HTMLResponse:
    need = _owner_only(session, need_id, viewer)
    if need.kind != "financing":
        raise NotFound("仅融资需求有投资机构推荐")
    if pending := _matching_pending(request, matcher, need_id, wait):
        return pending
    hits = matcher.investors_for_need(need_id, viewer=viewer, limit=6)
    return render(
        request,
        "technologies/_hits.html",
        {"hits": hits, "empty": "暂未找到偏好匹配的投资机构", "chart": True, "threshold": False},
    )


@router.post("/needs/{need_id}/interest", response_class=HTMLResponse)
def express_interest(
    request: Request,
    need_id: int,
    viewer: CurrentViewer,
    message: Annotated[str, Form(max_length=2000)] = "",
    offered_technology_id: Annotated[str, Form()] = "",
) -> HTMLResponse:
    offered = int(offered_technology_id) if offered_technology_id.strip().isdigit() else None
    return express_from_page(
        request, viewer, message, need_id=need_id, offered_technology_id=offered
    )
