"""揭榜挂帅 review and decision: assigning experts (conflicts of interest refused and recorded),
the expert's reviews and declared conflicts, scoring, the award and its milestones."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from matcher import services
from matcher.access import Viewer
from matcher.challenges import award as awards
from matcher.challenges import review
from matcher.challenges.access import managed_challenge
from matcher.challenges.applications import application_for
from matcher.challenges.attachments import attachments_of
from matcher.challenges.models import RUBRIC, Application, Challenge, ExpertConflict
from matcher.challenges.publishing import indicators_of
from matcher.challenges.schemas import ScoresIn
from matcher.errors import Conflict, Forbidden, ValidationFailed
from matcher.models import Organization, pk
from matcher.schemas import parse_money
from web.deps import CurrentUser, read_session, unit_of_work, viewer_for
from web.forms import parse
from web.responses import redirect
from web.routes.challenges import LABELS
from web.templating import render

router = APIRouter()


@router.post("/applications/{application_id}/experts")
def assign_expert(
    request: Request, application_id: int, user: CurrentUser, expert_id: Annotated[int, Form()]
) -> Response:
    viewer = viewer_for(user)
    with read_session(request) as session:
        application, _ = application_for(
            session=session, viewer=viewer, application_id=application_id
        )
        back = f"/challenges/{application.challenge_id}#applications"
    try:
        with unit_of_work(request) as session:
            application, _ = application_for(
                session=session, viewer=viewer, application_id=application_id
            )
            review.assign_expert(
                session=session, viewer=viewer, application=application, expert_id=expert_id
            )
    except Conflict as exc:
        with unit_of_work(request) as session:
            review.record_refusal(
                session=session, viewer=viewer, application_id=application_id,
                expert_id=expert_id, reason=exc.message,
            )  # fmt: skip
        return redirect(request, back, exc.message, level="error")
    except ValidationFailed as exc:
        return redirect(request, back, exc.message, level="error")
    return redirect(request, back, "已分配评审专家")


def _award_amount(amount: str) -> float:
    """The amount as typed (blank is 0, which the award refuses with the bounty's bound)."""
    if not amount.strip():
        return 0.0
    try:
        return parse_money(amount)
    except ValueError as exc:
        raise ValidationFailed(f"揭榜经费{exc}") from None


@router.post("/challenges/{challenge_id}/award")
def award(
    request: Request, challenge_id: int, user: CurrentUser,
    application_id: Annotated[int, Form()], amount: Annotated[str, Form(max_length=20)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:  # fmt: skip
    viewer = viewer_for(user)
    back = f"/challenges/{challenge_id}"
    try:
        value = _award_amount(amount)
        with unit_of_work(request) as session:
            challenge = managed_challenge(session=session, viewer=viewer, challenge_id=challenge_id)
            awards.award(
                session=session, viewer=viewer, challenge=challenge,
                application_id=application_id, amount=value, note=note,
            )  # fmt: skip
    except (ValidationFailed, Conflict, Forbidden) as exc:
        return redirect(request, back, exc.message, level="error")
    return redirect(request, back, "已确定揭榜方")


@router.post("/milestones/{milestone_id}")
def milestone(
    request: Request, milestone_id: int, user: CurrentUser,
    action: Annotated[str, Form()], note: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    viewer = viewer_for(user)
    target = back if back.startswith(("/challenges/", "/applications/")) else "/challenges"
    try:
        with unit_of_work(request) as session:
            awards.update_milestone(
                session=session, viewer=viewer, milestone_id=milestone_id, action=action,
                note=note,
            )  # fmt: skip
    except (ValidationFailed, Conflict, Forbidden) as exc:
        return redirect(request, target, exc.message, level="error")
    return redirect(request, target, "已更新里程碑")


@router.get("/reviews", response_class=HTMLResponse)
def reviews(request: Request, user: CurrentUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        rows = []
        for a in review.my_assignments(session=session, viewer=viewer):
            application = session.get(Application, a.application_id)
            rows.append(
                (a, session.get(Challenge, a.challenge_id),
                 session.get(Organization, application.organization_id) if application else None)
            )  # fmt: skip
        declared = [
            (c, session.get(Organization, c.organization_id))
            for c in session.exec(
                select(ExpertConflict).where(ExpertConflict.expert_id == (viewer.user_id or -1))
            )
        ]
    return render(
        request,
        "challenges/reviews.html",
        {"rows": rows, "declared": declared, "expertise": user.expertise, **LABELS},
    )


@router.post("/reviews/conflicts")
def declare_conflict(
    request: Request, user: CurrentUser,
    organization: Annotated[str, Form(max_length=120)], note: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    viewer = viewer_for(user)
    with unit_of_work(request) as session:
        org = services.organization_by_name(session=session, name=organization.strip())
        if org is None:
            return redirect(
                request, "/reviews", f"平台上没有「{organization.strip()}」", level="error"
            )
        review.declare_conflict(session=session, viewer=viewer, organization_id=pk(org), note=note)
    return redirect(request, "/reviews", "已声明利益关系")


def _review_context(
    session: Session, viewer: Viewer, assignment_id: int, values: dict[str, Any] | None
) -> dict[str, Any]:
    """The review page: the application as the expert reads it, beside the score form."""
    assignment = review.assignment_for(session=session, viewer=viewer, assignment_id=assignment_id)
    application, challenge = application_for(
        session=session, viewer=viewer, application_id=assignment.application_id
    )
    return {
        "assignment": assignment,
        "application": application,
        "challenge": challenge,
        "indicators": indicators_of(session=session, challenge_id=pk(challenge)),
        "organization": session.get(Organization, application.organization_id),
        "attachments": attachments_of(session=session, application_id=pk(application)),
        "values": _score_values(assignment.scores, assignment.comment)
        if values is None
        else values,
        **LABELS,
    }


def _score_values(scores: dict[str, float], comment: str) -> dict[str, str]:
    values = {k: "" if scores.get(k) is None else f"{scores[k]:g}" for k in RUBRIC}
    return values | {"comment": comment}


@router.get("/reviews/{assignment_id}", response_class=HTMLResponse)
def review_page(request: Request, assignment_id: int, user: CurrentUser) -> HTMLResponse:
    viewer = viewer_for(user)
    with read_session(request) as session:
        ctx = _review_context(session, viewer, assignment_id, None)
    return render(request, "challenges/review.html", {**ctx, "errors": {}})


@router.post("/reviews/{assignment_id}", response_class=HTMLResponse)
async def submit_review(request: Request, assignment_id: int, user: CurrentUser) -> Response:
    viewer = viewer_for(user)
    values, data, errors = parse(ScoresIn, await request.form())
    if data is not None:
        try:
            with unit_of_work(request) as session:
                assignment = review.assignment_for(
                    session=session, viewer=viewer, assignment_id=assignment_id
                )
                review.submit_score(
                    session=session, viewer=viewer, assignment=assignment,
                    scores=data.scores(), comment=data.comment,
                )  # fmt: skip
            return redirect(request, "/reviews", "评分已提交")
        except (ValidationFailed, Conflict) as exc:
            errors[""] = exc.message
    with read_session(request) as session:
        ctx = _review_context(session, viewer, assignment_id, values)
    return render(request, "challenges/review.html", {**ctx, "errors": errors}, status_code=422)
