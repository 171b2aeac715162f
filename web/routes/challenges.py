"""揭榜挂帅 pages: the listing, publishing and moderation, the challenge page, finding and
inviting teams. Applications are in `challenge_applications`, review and the award in
`challenge_reviews`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from matcher.access import Viewer
from matcher.challenges import access, publishing, review, teams
from matcher.challenges.applications import my_application
from matcher.challenges.award import milestones_of
from matcher.challenges.indicators import describe
from matcher.challenges.models import (
    APPLICATION_STATUSES,
    CHALLENGE_STATUSES,
    COMPARISONS,
    ELIGIBLE_KINDS,
    MILESTONE_STATUSES,
    PARTNER_STATUSES,
    RUBRIC,
    Challenge,
    ChallengeInvite,
    ExpertAssignment,
)
from matcher.challenges.schemas import ChallengeIn
from matcher.errors import Conflict, DomainError, NotFound, ValidationFailed
from matcher.models import Organization, User, pk
from matcher.vocab import PROVINCES, TECH_FIELDS
from web.deps import (
    CurrentUser,
    EngineMatcher,
    OptionalUser,
    read_session,
    unit_of_work,
    viewer_for,
)
from web.forms import parse
from web.responses import redirect
from web.templating import render

router = APIRouter()
INDICATOR_ROWS = 6
LABELS = {
    "challenge_statuses": CHALLENGE_STATUSES,
    "application_statuses": APPLICATION_STATUSES,
    "comparisons": COMPARISONS,
    "eligible_kinds": ELIGIBLE_KINDS,
    "milestone_statuses": MILESTONE_STATUSES,
    "partner_statuses": PARTNER_STATUSES,
    "rubric": RUBRIC,
    "describe": describe,
}


def padded(rows: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The rows of a repeated-row table, with blank rows up to `count` to type into."""
    return rows + [{} for _ in range(max(0, count - len(rows)))]


# --- listing ---------------------------------------------------------------------------------


@router.get("/challenges", response_class=HTMLResponse)
def challenges_list(
    request: Request,
    user: OptionalUser,
    q: str = "",
    status: str = "open",
    field: str = "",
    mine: str = "",
) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        rows = publishing.list_challenges(
            session=session, viewer=viewer, status=status if status != "all" else "",
            field_name=field, q=q[:100], mine=mine == "1",
        )  # fmt: skip
        pending = (
            publishing.list_challenges(session=session, viewer=viewer, status="pending")
            if viewer.is_staff
            else []
        )
        publishers = {
            o.id: o
            for o in session.exec(
                select(Organization).where(
                    col(Organization.id).in_({c.publisher_id for c in rows + pending} or {-1})
                )
            )
        }
    return render(
        request,
        "challenges/list.html",
        {
            "rows": rows, "pending": pending, "publishers": publishers, "q": q, "status": status,
            "field": field, "mine": mine, "fields": TECH_FIELDS, "today": dt.date.today(), **LABELS,
        },
    )  # fmt: skip


# --- publishing ------------------------------------------------------------------------------


def _form_values(challenge: Challenge | None, session: Session | None) -> dict[str, Any]:
    if challenge is None or session is None:
        return {
            "application_deadline": (dt.date.today() + dt.timedelta(days=45)).isoformat(),
            "visibility": "public",
            "indicators": padded([], INDICATOR_ROWS),
            "eligible_kinds": ["university", "institute"],
        }
    rows = publishing.indicators_of(session=session, challenge_id=pk(challenge))
    values: dict[str, Any] = {
        k: ("" if getattr(challenge, k) is None else str(getattr(challenge, k)))
        for k in (
            "title", "problem", "field", "min_trl", "application_deadline", "review_on",
            "start_on", "acceptance_on", "visibility",
        )
    }  # fmt: skip
    values["bounty"] = f"{challenge.bounty:g}"
    values["rnd_budget"] = "" if challenge.rnd_budget is None else f"{challenge.rnd_budget:g}"
    values["eligible_kinds"] = challenge.eligible_kinds
    values["eligible_provinces"] = challenge.eligible_provinces
    values["indicators"] = padded([
        {"name": r.name, "comparison": r.comparison, "value": f"{r.value:g}",
         "value_max": "" if r.value_max is None else f"{r.value_max:g}", "unit": r.unit}
        for r in rows
    ], INDICATOR_ROWS)  # fmt: skip
    return values


def indicator_rows(form: FormData) -> list[dict[str, str]]:
    """The indicator table as typed, row by row (the columns are parallel lists)."""
    names, comparisons, values, maxes, units = (
        [str(v) for v in form.getlist(f"ind_{column}")]
        for column in ("name", "comparison", "value", "value_max", "unit")
    )

    def cell(column: list[str], i: int, default: str = "") -> str:
        return column[i].strip() if i < len(column) else default

    return [
        {
            "name": names[i].strip(),
            "comparison": cell(comparisons, i, ">="),
            "value": cell(values, i),
            "value_max": cell(maxes, i),
            "unit": cell(units, i),
        }
        for i in range(len(names))
    ]


def _parse_challenge(form: FormData) -> tuple[dict[str, Any], ChallengeIn | None, dict[str, str]]:
    rows = indicator_rows(form)
    values, data, errors = parse(
        ChallengeIn,
        form,
        lists=("eligible_kinds", "eligible_provinces"),
        names={"tech_field": "field"},
        extra={"indicators": [r for r in rows if r["name"] or r["value"]]},  # blank rows skipped
    )
    values["indicators"] = padded(list(rows), INDICATOR_ROWS)
    return values, data, errors


def _challenge_form(
    request: Request,
    values: dict[str, Any],
    errors: dict[str, str],
    challenge: Challenge | None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "challenges/form.html",
        {
            "values": values, "errors": errors, "challenge": challenge, "fields": TECH_FIELDS,
            "provinces": PROVINCES, **LABELS,
        },
        status_code=status_code,
    )  # fmt: skip


@router.get("/challenges/new", response_class=HTMLResponse)
def new_challenge(request: Request, user: CurrentUser) -> HTMLResponse:
    if user.role not in ("enterprise", "organizer", "admin"):
        raise NotFound("页面不存在")
    return _challenge_form(request, _form_values(None, None), {}, None)


@router.post("/challenges/new", response_class=HTMLResponse)
async def create_challenge(request: Request, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    form = await request.form()
    values, data, errors = _parse_challenge(form)
    if data is not None:
        try:
            with unit_of_work(request) as session:
                challenge = publishing.save_challenge(
                    session=session, viewer=viewer, data=data, submit=form.get("action") != "draft"
                )
                challenge_id = pk(challenge)
            return RedirectResponse(f"/challenges/{challenge_id}", status_code=303)
        except DomainError as exc:
            errors[""] = exc.message
    return _challenge_form(request, values, errors, None, status_code=422)


@router.get("/challenges/{challenge_id}/edit", response_class=HTMLResponse)
def edit_challenge(request: Request, challenge_id: int, user: CurrentUser) -> HTMLResponse:
    with read_session(request) as session:
        challenge = access.managed_challenge(
            session=session, viewer=viewer_for(user), challenge_id=challenge_id
        )
        values = _form_values(challenge, session)
    return _challenge_form(request, values, {}, challenge)


@router.post("/challenges/{challenge_id}/edit", response_class=HTMLResponse)
async def update_challenge(request: Request, challenge_id: int, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    form = await request.form()
    values, data, errors = _parse_challenge(form)
    with read_session(request) as session:
        challenge = access.managed_challenge(
            session=session, viewer=viewer, challenge_id=challenge_id
        )
    if data is not None:
        try:
            with unit_of_work(request) as session:
                existing = access.managed_challenge(
                    session=session, viewer=viewer, challenge_id=challenge_id
                )
                publishing.save_challenge(
                    session=session, viewer=viewer, data=data, existing=existing,
                    submit=form.get("action") != "draft",
                )  # fmt: skip
            return RedirectResponse(f"/challenges/{challenge_id}", status_code=303)
        except DomainError as exc:
            errors[""] = exc.message
    return _challenge_form(request, values, errors, challenge, status_code=422)


@router.post("/challenges/{challenge_id}/moderate")
def moderate(
    request: Request, challenge_id: int, user: CurrentUser,
    decision: Annotated[str, Form()], note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:  # fmt: skip
    viewer = viewer_for(user)
    back = f"/challenges/{challenge_id}"
    try:
        with unit_of_work(request) as session:
            challenge = access.managed_challenge(
                session=session, viewer=viewer, challenge_id=challenge_id
            )
            publishing.moderate(
                session=session, viewer=viewer, challenge=challenge,
                approve=decision == "approve", note=note,
            )  # fmt: skip
    except (ValidationFailed, Conflict) as exc:
        return redirect(request, back, exc.message, level="error")
    return redirect(request, back, "已审核")


# --- the challenge page ----------------------------------------------------------------------


@router.get("/challenges/{challenge_id}", response_class=HTMLResponse)
def challenge_detail(request: Request, challenge_id: int, user: OptionalUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        challenge = access.get_challenge(session=session, viewer=viewer, challenge_id=challenge_id)
        manage = access.can_manage(viewer, challenge)
        ctx: dict[str, Any] = {
            "challenge": challenge,
            "publisher": session.get(Organization, challenge.publisher_id),
            "indicators": publishing.indicators_of(session=session, challenge_id=challenge_id),
            "manage": manage,
            "staff": access.is_organizer(viewer, challenge),
            "mine": my_application(session=session, viewer=viewer, challenge=challenge),
            "invited": None,
            "can_apply": False,
            "apply_note": "",
            "today": dt.date.today(),
            **LABELS,
        }
        if viewer.organization_id is not None:
            ctx.update(_applicant_context(session, viewer, challenge))
        if manage:
            ctx.update(_manager_context(session, viewer, challenge))
    return render(request, "challenges/detail.html", ctx)


def _applicant_context(session: Session, viewer: Viewer, challenge: Challenge) -> dict[str, Any]:
    """Whether the viewer's organization was invited, and may apply."""
    ctx: dict[str, Any] = {
        "invited": session.exec(
            select(ChallengeInvite).where(
                ChallengeInvite.challenge_id == challenge.id,
                ChallengeInvite.organization_id == viewer.organization_id,
            )
        ).first()
    }
    org = session.get(Organization, viewer.organization_id)
    if org is not None and viewer.role in ("enterprise", "university"):
        ok, note = teams.eligibility(challenge, org)
        ctx["can_apply"] = ok and challenge.status == "open"
        ctx["apply_note"] = note
    return ctx


def _manager_context(session: Session, viewer: Viewer, challenge: Challenge) -> dict[str, Any]:
    """What the publisher and the organizers see: rankings, experts, invitations, milestones."""
    challenge_id = pk(challenge)
    organizer = access.is_organizer(viewer, challenge)
    named = access.may_see_reviewers(viewer, challenge)
    assigned: dict[int, list[tuple[ExpertAssignment, User | None]]] = {}
    for a in session.exec(
        select(ExpertAssignment).where(ExpertAssignment.challenge_id == challenge_id)
    ):
        assigned.setdefault(a.application_id, []).append(
            (a, session.get(User, a.expert_id) if named else None)
        )
    invites = list(
        session.exec(select(ChallengeInvite).where(ChallengeInvite.challenge_id == challenge_id))
    )
    invite_orgs = {
        o.id: o
        for o in session.exec(
            select(Organization).where(
                col(Organization.id).in_({i.organization_id for i in invites} or {-1})
            )
        )
    }
    return {
        "rankings": review.rankings(session=session, viewer=viewer, challenge=challenge),
        "experts": review.experts(session=session) if organizer else [],
        "assigned": assigned,
        "invites": invites,
        "invite_orgs": invite_orgs,
        "milestones": milestones_of(session=session, challenge_id=challenge_id),
    }


@router.get("/challenges/{challenge_id}/teams", response_class=HTMLResponse)
def challenge_teams(
    request: Request, challenge_id: int, user: CurrentUser, matcher: EngineMatcher
) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        challenge = access.managed_challenge(
            session=session, viewer=viewer, challenge_id=challenge_id
        )
        candidates = teams.find_teams(
            session=session, viewer=viewer, matcher=matcher, challenge=challenge, limit=10
        )
    return render(
        request,
        "challenges/_teams.html",
        {"challenge": challenge, "candidates": candidates, **LABELS},
    )


@router.post("/challenges/{challenge_id}/invite", response_class=HTMLResponse)
def invite_team(
    request: Request, challenge_id: int, user: CurrentUser,
    organization_id: Annotated[int, Form()], reason: Annotated[str, Form(max_length=1000)] = "",
    score: Annotated[float, Form()] = 0.0,
) -> HTMLResponse:  # fmt: skip
    viewer = viewer_for(user)
    try:
        with unit_of_work(request) as session:
            challenge = access.managed_challenge(
                session=session, viewer=viewer, challenge_id=challenge_id
            )
            teams.invite(
                session=session, viewer=viewer, challenge=challenge,
                organization_id=organization_id, reason=reason, score=score,
            )  # fmt: skip
    except Conflict as exc:
        return HTMLResponse(f'<span class="error">{escape(exc.message)}</span>', status_code=409)
    return HTMLResponse('<span class="badge ok">已邀请</span>')
