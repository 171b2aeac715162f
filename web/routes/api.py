"""The JSON API under /api/v1 (bearer tokens; same permission rules as the pages)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import col, select

from matcher import accounts, leads, listings, vocab
from matcher.access import ANONYMOUS, Viewer, owns
from matcher.errors import NotFound, Unauthorized, ValidationFailed
from matcher.filters import Filters
from matcher.hits import Hit
from matcher.matching import Matcher
from matcher.models import ApiToken, Need, NeedCreate, Technology, TechnologyCreate, utcnow
from web.deps import client_ip, get_matcher, read_session, unit_of_work, viewer_for


class ErrorOut(BaseModel):
    """Every refusal: a message in Chinese (for validation, each field and what is wrong)."""

    detail: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "请求有误"),
        (401, "需要 API 令牌，或令牌无效"),
        (403, "无权操作"),
        (404, "对象不存在或无权查看"),
        (409, "与当前状态冲突（如利益冲突、已截止）"),
        (413, "请求体过大"),
        (422, "参数校验未通过"),
        (429, "请求过于频繁"),
    )
}
router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERROR_RESPONSES)


def _token_viewer(request: Request, authorization: str | None) -> Viewer | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization 头应为 Bearer <令牌>")
    with unit_of_work(request) as session:
        user = accounts.user_for_api_token(session, token.strip())
        row = session.exec(
            select(ApiToken).where(ApiToken.token_hash == accounts.hash_token(token.strip()))
        ).first()
        if row is not None:
            row.last_used_at = utcnow()
            session.add(row)
    return viewer_for(user)


def optional_viewer(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Viewer:
    return _token_viewer(request, authorization) or ANONYMOUS


def required_viewer(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Viewer:
    viewer = _token_viewer(request, authorization)
    if viewer is None:
        raise Unauthorized("需要 API 令牌：Authorization: Bearer <令牌>")
    return viewer


OptionalViewer = Annotated[Viewer, Depends(optional_viewer)]
RequiredViewer = Annotated[Viewer, Depends(required_viewer)]
MatcherDep = Annotated[Matcher, Depends(get_matcher)]


# --- schemas ---------------------------------------------------------------------------------


class HitOut(BaseModel):
    type: Literal["technology", "need", "investor"]
    id: int
    title: str
    score: float
    parts: dict[str, float]
    terms: list[str]
    reason: str
    gaps: list[str]
    owner_id: int | None = None
    relevance: int = 0  # calibrated, 0–100: the figure the site prints
    label: str = ""  # 高度相关 / 相关 / 弱相关
    match: str | None = None  # 您的需求『…』对应成果中『…』


class SearchOut(BaseModel):
    total: int  # results labelled 相关 or better
    results: list[HitOut]
    closest: list[HitOut] = []  # when none reaches 相关: the nearest weak results


class TeamOut(BaseModel):
    organization_id: int
    name: str
    score: float
    reason: str
    technologies: list[HitOut]
    relevance: int = 0
    label: str = ""


class RecommendationsOut(BaseModel):
    technologies: list[HitOut] = []
    needs: list[HitOut] = []
    teams: list[TeamOut] = []
    investors: list[HitOut] = []


class TechnologyOut(BaseModel):
    id: int
    title: str
    summary: str
    field: str
    keywords: list[str]
    trl: int
    ip_items: list[dict[str, str]]
    cooperation_modes: list[str]
    price: float | None
    owner_id: int
    status: str
    valid_until: dt.date | None
    contact_name: str
    contact_phone: str
    contact_email: str
    contact_revealed: bool


class NeedOut(BaseModel):
    id: int
    kind: str
    title: str
    description: str
    industry: str | None
    field: str | None
    budget: float | None
    min_trl: int | None
    province: str | None
    deadline: dt.date | None
    visibility: str
    status: str
    owner_id: int
    amount: float | None
    financing_type: str | None
    stage: str | None
    contact_name: str
    contact_phone: str
    contact_email: str
    contact_revealed: bool


class InterestIn(BaseModel):
    technology_id: int | None = None
    need_id: int | None = None
    message: str = Field(default="", max_length=1000)
    offered_technology_id: int | None = None
    offered_need_id: int | None = None


class DecisionIn(BaseModel):
    accept: bool
    reason_code: str | None = Field(default=None, max_length=30)
    reason_text: str = Field(default="", max_length=500)


class InterestOut(BaseModel):
    id: int
    from_org_id: int
    to_org_id: int
    technology_id: int | None
    need_id: int | None
    offered_technology_id: int | None = None
    offered_need_id: int | None = None
    message: str
    status: str
    reason_code: str | None
    lead_id: int | None
    created_at: dt.datetime


class AdvanceIn(BaseModel):
    to_stage: Literal["recommended", "interest", "negotiation", "signed", "registered"]
    note: str = Field(default="", max_length=1000)
    amount: float | None = Field(default=None, ge=0, le=1e9)


class LeadOut(BaseModel):
    id: int
    technology_id: int | None
    need_id: int | None
    supplier_id: int
    demander_id: int
    stage: str
    contract_amount: float | None
    updated_at: dt.datetime


class DeletedOut(BaseModel):
    id: int
    status: str


# --- helpers ---------------------------------------------------------------------------------


def _hit_out(hit: Hit) -> HitOut:
    kind: Literal["technology", "need", "investor"] = {
        "technologies": "technology",
        "needs": "need",
        "investors": "investor",
    }[hit.collection]  # type: ignore[assignment]
    title = getattr(hit.item, "title", None) or getattr(hit.item, "name", "")
    return HitOut(
        type=kind, id=hit.id, title=title, score=hit.score, parts=hit.parts, terms=hit.terms, reason=hit.reason,
        gaps=hit.gaps, owner_id=getattr(hit.item, "owner_id", None),
        relevance=hit.figure if hit.assessed else 0, label=hit.label_text if hit.assessed else "",
        match=hit.match,
    )  # fmt: skip


def _tech_out(session: Any, viewer: Viewer, tech: Technology) -> TechnologyOut:
    contact = leads.contact_for(session, viewer, tech)
    return TechnologyOut(
        **tech.model_dump(include={"id", "title", "summary", "field", "keywords", "trl", "ip_items", "cooperation_modes", "price", "owner_id", "status", "valid_until"}),
        contact_name=contact.name, contact_phone=contact.phone, contact_email=contact.email, contact_revealed=contact.revealed,
    )  # fmt: skip


def _need_out(session: Any, viewer: Viewer, need: Need) -> NeedOut:
    contact = leads.contact_for(session, viewer, need)
    return NeedOut(
        **need.model_dump(include={"id", "kind", "title", "description", "industry", "field", "budget", "min_trl", "province",
                                   "deadline", "visibility", "status", "owner_id", "amount", "financing_type", "stage"}),
        contact_name=contact.name, contact_phone=contact.phone, contact_email=contact.email, contact_revealed=contact.revealed,
    )  # fmt: skip


def _org(viewer: Viewer) -> int:
    return listings.require_organization(viewer)


# --- search and recommendations ----------------------------------------------------------------


@router.get("/search", response_model=SearchOut, summary="检索成果或需求")
def search(
    request: Request,
    viewer: OptionalViewer,
    matcher: MatcherDep,
    q: Annotated[str, Query(max_length=500)] = "",
    type: Literal["technology", "tech_need", "financing"] = "technology",
    field: Annotated[str | None, Query(max_length=30)] = None,
    province: Annotated[str | None, Query(max_length=20)] = None,
    min_trl: Annotated[int | None, Query(ge=1, le=9)] = None,
    mode: Annotated[str | None, Query(max_length=10)] = None,
    max_price: Annotated[float | None, Query(ge=0, le=1e9)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> SearchOut:
    if not viewer.is_authenticated:
        request.app.state.anonymous_search.check(
            client_ip(request), "匿名检索过于频繁（每分钟 60 次）：请稍后再试，或使用 API 令牌"
        )
    if field is not None and field not in vocab.TECH_FIELDS:
        raise ValidationFailed(f"未知的技术领域：{field}")
    if mode is not None and mode not in vocab.COOPERATION_MODES:
        raise ValidationFailed(f"未知的合作方式：{mode}")
    if type == "technology":
        filters = Filters(
            field=field,
            province=province,
            min_trl=min_trl,
            modes=(mode,) if mode else (),
            max_price=max_price,
        )
        result = matcher.search(q, filters=filters, viewer=viewer, limit=limit, offset=offset)
    else:
        filters = Filters(
            field=field, province=province, need_kind="financing" if type == "financing" else "tech"
        )
        result = matcher.search(
            q, collection="needs", filters=filters, viewer=viewer, limit=limit, offset=offset
        )
    return SearchOut(
        total=result.total,
        results=[_hit_out(h) for h in result.hits],
        closest=[_hit_out(h) for h in result.closest],
    )


@router.get("/technologies/{technology_id}", response_model=TechnologyOut, summary="科技成果详情")
def get_technology(request: Request, technology_id: int, viewer: OptionalViewer) -> TechnologyOut:
    with unit_of_work(request) as session:  # a revealed contact is an audited reveal
        tech = listings.visible_technology(
            session=session, viewer=viewer, technology_id=technology_id
        )
        return _tech_out(session, viewer, tech)


@router.get(
    "/technologies/{technology_id}/recommendations",
    response_model=RecommendationsOut,
    summary="需要该成果的企业需求（成果所有者）",
)
def technology_recommendations(
    request: Request, technology_id: int, viewer: RequiredViewer, matcher: MatcherDep
) -> RecommendationsOut:
    with read_session(request) as session:
        listings.own_technology(session=session, viewer=viewer, technology_id=technology_id)
    return RecommendationsOut(
        needs=[
            _hit_out(h)
            for h in matcher.needs_for_technology(technology_id, viewer=viewer)
            if h.recommendable
        ]
    )


@router.get("/needs/{need_id}", response_model=NeedOut, summary="需求详情")
def get_need(request: Request, need_id: int, viewer: OptionalViewer) -> NeedOut:
    with unit_of_work(request) as session:  # a revealed contact is an audited reveal
        need = listings.visible_need(session=session, viewer=viewer, need_id=need_id)
        return _need_out(session, viewer, need)


@router.get(
    "/needs/{need_id}/recommendations",
    response_model=RecommendationsOut,
    summary="为需求推荐成果、团队与投资机构（需求所有者）",
)
def need_recommendations(
    request: Request, need_id: int, viewer: RequiredViewer, matcher: MatcherDep
) -> RecommendationsOut:
    with read_session(request) as session:
        need = listings.visible_need(session=session, viewer=viewer, need_id=need_id)
        if not (owns(viewer, need.owner_id) or viewer.is_staff):
            raise NotFound("需求不存在")
        kind = need.kind
    teams = matcher.teams_for_need(need_id, viewer=viewer, limit=5)
    return RecommendationsOut(
        technologies=[
            _hit_out(h)
            for h in matcher.technologies_for_need(need_id, viewer=viewer)
            if h.recommendable
        ],
        teams=[
            TeamOut(
                organization_id=t.organization.id or 0,
                name=t.organization.name,
                score=t.score,
                reason=t.reason,
                technologies=[_hit_out(h) for h in t.technologies],
                relevance=t.figure,
                label=t.label_text,
            )
            for t in teams
            if t.recommendable
        ],
        investors=[_hit_out(h) for h in matcher.investors_for_need(need_id, viewer=viewer)]
        if kind == "financing"
        else [],
    )


# --- own listings ----------------------------------------------------------------------------


@router.get("/my/technologies", response_model=list[TechnologyOut], summary="本单位的科技成果")
def my_technologies(request: Request, viewer: RequiredViewer) -> list[TechnologyOut]:
    org_id = _org(viewer)
    with read_session(request) as session:
        rows = session.exec(
            select(Technology).where(Technology.owner_id == org_id).order_by(col(Technology.id))
        ).all()
        return [_tech_out(session, viewer, t) for t in rows]


@router.post(
    "/my/technologies", response_model=TechnologyOut, status_code=201, summary="发布科技成果"
)
def create_technology(
    request: Request, body: TechnologyCreate, viewer: RequiredViewer
) -> TechnologyOut:
    with unit_of_work(request) as session:
        body.code = None
        tech = listings.create_technology(session=session, viewer=viewer, data=body)
        return _tech_out(session, viewer, tech)


@router.put(
    "/my/technologies/{technology_id}", response_model=TechnologyOut, summary="修改本单位的科技成果"
)
def update_technology(
    request: Request, technology_id: int, body: TechnologyCreate, viewer: RequiredViewer
) -> TechnologyOut:
    """A rejected or pending result keeps its state: publishing it again is the moderators'
    decision (ask for a review in the workspace)."""
    with unit_of_work(request) as session:
        tech = listings.update_technology(
            session=session, viewer=viewer, technology_id=technology_id, data=body
        )
        return _tech_out(session, viewer, tech)


@router.delete(
    "/my/technologies/{technology_id}", response_model=DeletedOut, summary="撤回本单位的科技成果"
)
def withdraw_technology(request: Request, technology_id: int, viewer: RequiredViewer) -> DeletedOut:
    with unit_of_work(request) as session:
        tech = listings.withdraw_technology(
            session=session, viewer=viewer, technology_id=technology_id
        )
        return DeletedOut(id=technology_id, status=tech.status)


@router.get("/my/needs", response_model=list[NeedOut], summary="本单位的需求")
def my_needs(request: Request, viewer: RequiredViewer) -> list[NeedOut]:
    org_id = _org(viewer)
    with read_session(request) as session:
        rows = session.exec(
            select(Need).where(Need.owner_id == org_id).order_by(col(Need.id))
        ).all()
        return [_need_out(session, viewer, n) for n in rows]


@router.post("/my/needs", response_model=NeedOut, status_code=201, summary="发布需求")
def create_need(request: Request, body: NeedCreate, viewer: RequiredViewer) -> NeedOut:
    with unit_of_work(request) as session:
        body.code = None
        need = listings.create_need(session=session, viewer=viewer, data=body)
        return _need_out(session, viewer, need)


@router.put("/my/needs/{need_id}", response_model=NeedOut, summary="修改本单位的需求")
def update_need(
    request: Request, need_id: int, body: NeedCreate, viewer: RequiredViewer
) -> NeedOut:
    with unit_of_work(request) as session:
        need = listings.update_need(session=session, viewer=viewer, need_id=need_id, data=body)
        return _need_out(session, viewer, need)


@router.delete("/my/needs/{need_id}", response_model=DeletedOut, summary="关闭本单位的需求")
def close_need(request: Request, need_id: int, viewer: RequiredViewer) -> DeletedOut:
    with unit_of_work(request) as session:
        need = listings.close_need(session=session, viewer=viewer, need_id=need_id)
        return DeletedOut(id=need_id, status=need.status)


# --- interest and leads ----------------------------------------------------------------------


@router.post("/interests", response_model=InterestOut, status_code=201, summary="表达意向")
def create_interest(request: Request, body: InterestIn, viewer: RequiredViewer) -> InterestOut:
    with unit_of_work(request) as session:
        interest = leads.express_interest(
            session=session, viewer=viewer, technology_id=body.technology_id, need_id=body.need_id,
            message=body.message, offered_technology_id=body.offered_technology_id,
            offered_need_id=body.offered_need_id,
        )  # fmt: skip
        return InterestOut.model_validate(interest, from_attributes=True)


@router.get("/interests", response_model=dict[str, list[InterestOut]], summary="收到与发出的意向")
def list_interests(request: Request, viewer: RequiredViewer) -> dict[str, list[InterestOut]]:
    with read_session(request) as session:
        boxes = leads.interests_for(session, viewer)
        return {
            k: [InterestOut.model_validate(i, from_attributes=True) for i in v]
            for k, v in boxes.items()
        }


@router.post(
    "/interests/{interest_id}/decision", response_model=InterestOut, summary="接受或婉拒意向"
)
def decide_interest(
    request: Request, interest_id: int, body: DecisionIn, viewer: RequiredViewer
) -> InterestOut:
    with unit_of_work(request) as session:
        interest = leads.decide_interest(
            session=session, viewer=viewer, interest_id=interest_id, accept=body.accept,
            reason_code=body.reason_code, reason_text=body.reason_text,
        )  # fmt: skip
        return InterestOut.model_validate(interest, from_attributes=True)


@router.post(
    "/interests/{interest_id}/withdraw", response_model=InterestOut, summary="撤回尚未回复的意向"
)
def withdraw_interest(request: Request, interest_id: int, viewer: RequiredViewer) -> InterestOut:
    with unit_of_work(request) as session:
        interest = leads.withdraw_interest(session=session, viewer=viewer, interest_id=interest_id)
        return InterestOut.model_validate(interest, from_attributes=True)


@router.get("/leads", response_model=list[LeadOut], summary="对接线索")
def list_leads(request: Request, viewer: RequiredViewer) -> list[LeadOut]:
    with read_session(request) as session:
        return [
            LeadOut.model_validate(lead, from_attributes=True)
            for lead in leads.leads_for(session, viewer)
        ]


@router.get("/leads/{lead_id}", response_model=LeadOut, summary="对接线索详情")
def get_lead(request: Request, lead_id: int, viewer: RequiredViewer) -> LeadOut:
    with read_session(request) as session:
        return LeadOut.model_validate(
            leads.get_lead(session, viewer, lead_id), from_attributes=True
        )


@router.post("/leads/{lead_id}/advance", response_model=LeadOut, summary="推进对接线索")
def advance_lead(
    request: Request, lead_id: int, body: AdvanceIn, viewer: RequiredViewer
) -> LeadOut:
    with unit_of_work(request) as session:
        lead = leads.advance_lead(
            session=session,
            viewer=viewer,
            lead_id=lead_id,
            to_stage=body.to_stage,
            note=body.note,
            amount=body.amount,
        )
        return LeadOut.model_validate(lead, from_attributes=True)
