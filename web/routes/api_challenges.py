"""The 揭榜挂帅 part of the JSON API: listing and reading challenges, finding teams, inviting,
assigning experts (conflicts of interest refused with 409 and their reasons), rankings."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from matcher.challenges import access, applications, publishing, review, teams
from matcher.challenges.indicators import describe
from matcher.challenges.models import Challenge
from matcher.errors import Conflict
from matcher.models import pk
from web.deps import read_session, unit_of_work
from web.routes.api import ERROR_RESPONSES, MatcherDep, OptionalViewer, RequiredViewer

router = APIRouter(prefix="/api/v1", tags=["challenges"], responses=ERROR_RESPONSES)


class IndicatorOut(BaseModel):
    name: str
    comparison: Literal[">=", "<=", "=", "range"]
    value: float
    value_max: float | None
    unit: str
    text: str = Field(description="如「≥ 2000 次」")


class ChallengeOut(BaseModel):
    id: int
    title: str
    problem: str
    field: str
    publisher_id: int
    bounty: float = Field(description="拟付揭榜方经费（万元）")
    rnd_budget: float | None
    min_trl: int | None
    application_deadline: dt.date
    review_on: dt.date | None
    start_on: dt.date | None
    acceptance_on: dt.date | None
    eligible_provinces: list[str]
    eligible_kinds: list[str]
    status: str
    indicators: list[IndicatorOut] = []


class IndicatorCheckOut(BaseModel):
    indicator: str
    status: Literal["meets", "short", "unknown"]
    detail: str


class CandidateOut(BaseModel):
    organization_id: int
    name: str
    score: float
    reason: str
    technology_ids: list[int]
    trl_fit: str
    eligible: bool
    invited: bool
    applied: bool
    indicators: list[IndicatorCheckOut]


class InviteIn(BaseModel):
    organization_id: int
    reason: str = Field(default="", max_length=1000)


class AssignIn(BaseModel):
    expert_id: int


class AssignmentOut(BaseModel):
    id: int
    application_id: int
    expert_id: int


class RankingOut(BaseModel):
    application_id: int
    organization_id: int
    status: str
    reviews: int
    assigned: int
    mean: float | None
    spread: float | None
    criteria: dict[str, float]


def _out(session: Session, challenge: Challenge) -> ChallengeOut:
    rows = publishing.indicators_of(session=session, challenge_id=pk(challenge))
    data = challenge.model_dump()
    data["indicators"] = [
        IndicatorOut(
            name=r.name, comparison=r.comparison, value=r.value, value_max=r.value_max,  # type: ignore[arg-type]
            unit=r.unit, text=describe(r.comparison, r.value, r.value_max, r.unit),
        )
        for r in rows
    ]  # fmt: skip
    return ChallengeOut.model_validate(data)


@router.get("/challenges", response_model=list[ChallengeOut], summary="榜单列表（筛选与搜索）")
def list_challenges(
    request: Request,
    viewer: OptionalViewer,
    q: str = Query(default="", max_length=100),
    status: Literal["open", "closed", "awarded", "all"] = "open",
    field: str = Query(default="", max_length=40),
) -> list[ChallengeOut]:
    with read_session(request) as session:
        rows = publishing.list_challenges(
            session=session,
            viewer=viewer,
            status="" if status == "all" else status,
            field_name=field,
            q=q,
        )
        return [_out(session, c) for c in rows]


@router.get("/challenges/{challenge_id}", response_model=ChallengeOut, summary="榜单详情")
def get_challenge(request: Request, challenge_id: int, viewer: OptionalViewer) -> ChallengeOut:
    with read_session(request) as session:
        challenge = access.get_challenge(session=session, viewer=viewer, challenge_id=challenge_id)
        return _out(session, challenge)


@router.get(
    "/challenges/{challenge_id}/teams",
    response_model=list[CandidateOut],
    summary="最可能解决问题的团队（发榜方与组织方）",
)
def find_teams(
    request: Request, challenge_id: int, viewer: RequiredViewer, matcher: MatcherDep
) -> list[CandidateOut]:
    with read_session(request) as session:
        challenge = access.managed_challenge(
            session=session, viewer=viewer, challenge_id=challenge_id
        )
        found = teams.find_teams(
            session=session, viewer=viewer, matcher=matcher, challenge=challenge
        )
        return [
            CandidateOut(
                organization_id=c.organization.id or 0, name=c.organization.name,
                score=c.score, reason=c.reason, technology_ids=[h.id for h in c.technologies],
                trl_fit=c.trl_fit, eligible=c.eligible, invited=c.invited, applied=c.applied,
                indicators=[
                    IndicatorCheckOut(
                        indicator=k.indicator.name, status=k.verdict.status,  # type: ignore[arg-type]
                        detail=k.verdict.detail,
                    )
                    for k in c.checks
                ],
            )
            for c in found
        ]  # fmt: skip


@router.post("/challenges/{challenge_id}/invitations", status_code=201, summary="邀请一家单位揭榜")
def invite(
    request: Request, challenge_id: int, body: InviteIn, viewer: RequiredViewer
) -> dict[str, int]:
    with unit_of_work(request) as session:
        challenge = access.managed_challenge(
            session=session, viewer=viewer, challenge_id=challenge_id
        )
        row = teams.invite(
            session=session, viewer=viewer, challenge=challenge,
            organization_id=body.organization_id, reason=body.reason,
        )  # fmt: skip
        session.flush()
        return {"id": row.id or 0, "organization_id": row.organization_id}


@router.post(
    "/applications/{application_id}/experts",
    response_model=AssignmentOut,
    status_code=201,
    summary="分配评审专家（利益冲突时拒绝，409）",
)
def assign_expert(
    request: Request, application_id: int, body: AssignIn, viewer: RequiredViewer
) -> AssignmentOut:
    try:
        with unit_of_work(request) as session:
            application, _ = applications.application_for(
                session=session, viewer=viewer, application_id=application_id
            )
            row = review.assign_expert(
                session=session, viewer=viewer, application=application, expert_id=body.expert_id
            )
            session.flush()
            return AssignmentOut(
                id=row.id or 0, application_id=row.application_id, expert_id=row.expert_id
            )
    except Conflict as exc:
        with unit_of_work(request) as session:
            review.record_refusal(
                session=session, viewer=viewer, application_id=application_id,
                expert_id=body.expert_id, reason=exc.message,
            )  # fmt: skip
        raise


@router.get(
    "/challenges/{challenge_id}/rankings",
    response_model=list[RankingOut],
    summary="申请的专家评分汇总（发榜方与组织方）",
)
def rankings(request: Request, challenge_id: int, viewer: RequiredViewer) -> list[RankingOut]:
    with read_session(request) as session:
        challenge = access.managed_challenge(
            session=session, viewer=viewer, challenge_id=challenge_id
        )
        return [
            RankingOut(
                application_id=r.application.id or 0, organization_id=r.organization.id or 0,
                status=r.application.status, reviews=r.reviews, assigned=r.assigned,
                mean=r.mean, spread=r.spread, criteria=r.criteria,
            )
            for r in review.rankings(session=session, viewer=viewer, challenge=challenge)
        ]  # fmt: skip
