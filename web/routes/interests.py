"""Interest received and sent, the answer (accept, or decline with a reason), and the leads that
follow, each moved forward by either side with its history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher import leads, vocab
from matcher.errors import DomainError
from matcher.models import Organization
from web.deps import CurrentUser, ReadSession, unit_of_work, viewer_for
from web.responses import redirect
from web.templating import render

router = APIRouter()


def express_from_page(
    request: Request, viewer: Any, message: str, **target: int | None
) -> HTMLResponse:
    """表达意向 from a result's or a need's page: the interest (`target` names the listing and
    what the sender offers), answered with the form's result fragment or its error in place."""
    try:
        with unit_of_work(request) as session:
            interest = leads.express_interest(
                session=session, viewer=viewer, message=message, **target
            )
    except DomainError as exc:
        return render(
            request,
            "interests/_form_result.html",
            {"error": exc.message, "message": message},
            status_code=exc.status_code,
            block="!result",
        )
    return render(request, "interests/_form_result.html", {"interest": interest}, block="!result")


def _org_names(session, ids) -> dict[int, str]:  # type: ignore[no-untyped-def]
    from sqlmodel import col, select

    return {
        o.id: o.name
        for o in session.exec(select(Organization).where(col(Organization.id).in_(list(ids))))
    }


@router.get("/interests", response_class=HTMLResponse)
def interests_page(request: Request, user: CurrentUser, session: ReadSession) -> HTMLResponse:
    viewer = viewer_for(user)
    boxes = leads.interests_for(session, viewer)
    my_leads = leads.leads_for(session, viewer)
    everything = boxes["received"] + boxes["sent"]
    names = _org_names(session, {i.from_org_id for i in everything} | {i.to_org_id for i in everything}
                       | {lead.supplier_id for lead in my_leads} | {lead.demander_id for lead in my_leads})  # fmt: skip
    listings = {i.id: leads.describe_listing(session, viewer, i) for i in everything}
    return render(
        request,
        "interests/index.html",
        {
            "received": boxes["received"],
            "sent": boxes["sent"],
            "leads": my_leads,
            "names": names,
            "listings": listings,
        },
    )


@router.post("/interests/{interest_id}/decide", response_class=HTMLResponse)
def decide(
    request: Request,
    interest_id: int,
    user: CurrentUser,
    decision: Annotated[str, Form()],
    reason_code: Annotated[str, Form()] = "",
    reason_text: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    viewer = viewer_for(user)
    try:
        with unit_of_work(request) as session:
            interest = leads.decide_interest(
                session=session,
                viewer=viewer,
                interest_id=interest_id,
                accept=decision == "accept",
                reason_code=reason_code or None,
                reason_text=reason_text,
            )
    except DomainError as exc:
        return render(
            request,
            "interests/_decision.html",
            {"error": exc.message, "interest_id": interest_id},
            status_code=exc.status_code,
            block="!decision",
        )
    if interest.lead_id and not request.headers.get("HX-Request"):
        return RedirectResponse(f"/leads/{interest.lead_id}", status_code=303)
    return render(request, "interests/_decision.html", {"interest": interest}, block="!decision")


@router.post("/interests/{interest_id}/withdraw")
def withdraw(request: Request, interest_id: int, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    try:
        with unit_of_work(request) as session:
            leads.withdraw_interest(session=session, viewer=viewer, interest_id=interest_id)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return redirect(request, "/interests", exc.message, level="error")
    return redirect(request, "/interests", "已撤回意向")


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
def lead_detail(request: Request, lead_id: int, user: CurrentUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with unit_of_work(request) as session:  # showing contacts is an audited reveal
        lead = leads.get_lead(session, viewer, lead_id)
        contacts = leads.lead_contacts(session, viewer, lead)
        history = leads.lead_history(session, lead_id)
        names = _org_names(session, {lead.supplier_id, lead.demander_id})
        titles = leads.lead_listing_titles(session, viewer, lead)
        origin = leads.lead_origin(session, lead)
    stages = vocab.LEAD_STAGE_ORDER
    upcoming = [s for s in stages if stages.index(s) > stages.index(lead.stage)]
    return render(
        request,
        "leads/detail.html",
        {
            "lead": lead,
            "contacts": contacts,
            "history": history,
            "names": names,
            "titles": titles,
            "origin": origin,
            "upcoming": upcoming,
            "errors": {},
        },
    )


@router.post("/leads/{lead_id}/advance", response_class=HTMLResponse)
def advance(
    request: Request,
    lead_id: int,
    user: CurrentUser,
    to_stage: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
    amount: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    viewer = viewer_for(user)
    value = None
    if amount.strip():
        try:
            value = float(amount)
        except ValueError:
            return redirect(request, f"/leads/{lead_id}", "合同金额应为数字（万元）", level="error")
    try:
        with unit_of_work(request) as session:
            leads.advance_lead(
                session=session,
                viewer=viewer,
                lead_id=lead_id,
                to_stage=to_stage,
                note=note,
                amount=value,
            )
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return redirect(request, f"/leads/{lead_id}", exc.message, level="error")
    return redirect(request, f"/leads/{lead_id}", "已更新")
