"""Data functions over the domain tables. They flush, never commit: the caller's session scope
owns the transaction (one request or one command = one transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from matcher.errors import NotFound
from matcher.models import (
    AuditLog,
    IndexOutbox,
    InvestorProfile,
    InvestorProfileIn,
    Lead,
    Need,
    NeedCreate,
    Organization,
    OrganizationCreate,
    Technology,
    TechnologyCreate,
    User,
    utcnow,
)

COUNTED_TABLES: dict[str, Any] = {
    "organizations": Organization,
    "users": User,
    "technologies": Technology,
    "needs": Need,
    "investor_profiles": InvestorProfile,
    "leads": Lead,
}


def counts(*, session: Session) -> dict[str, int]:
    return {
        name: int(session.exec(select(func.count()).select_from(table)).one())
        for name, table in COUNTED_TABLES.items()
    }


def audit(
    *,
    session: Session,
    action: str,
    actor_id: int | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    """Record who did what; callers pass identifiers and counts, never revealed values."""
    session.add(
        AuditLog(
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail or {},
            ip=ip,
        )
    )


# --------------------------------------------------------------------------------------------
# organizations
# --------------------------------------------------------------------------------------------


def get_organization(*, session: Session, organization_id: int) -> Organization:
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFound("单位不存在")
    return org


def organization_by_name(*, session: Session, name: str) -> Organization | None:
    return session.exec(select(Organization).where(Organization.name == name)).first()


def save_organization(
    *,
    session: Session,
    data: OrganizationCreate,
    investor: InvestorProfileIn | None = None,
    existing: Organization | None = None,
    is_demo: bool = False,
) -> Organization:
    """Create or update an organization (and its investor profile)."""
    org = existing or Organization(**data.model_dump(), is_demo=is_demo)
    if existing is not None:
        for key, value in data.model_dump().items():
            setattr(org, key, value)
        org.updated_at = utcnow()
    session.add(org)
    session.flush()
    if org.kind == "investor":
        assert org.id is not None
        profile = session.exec(
            select(InvestorProfile).where(InvestorProfile.organization_id == org.id)
        ).first()
        values = (investor or InvestorProfileIn()).model_dump()
        if profile is None:
            profile = InvestorProfile(organization_id=org.id, **values)
        else:
            for key, value in values.items():
                setattr(profile, key, value)
            profile.updated_at = utcnow()
        session.add(profile)
        session.flush()
    return org


def investor_profile(*, session: Session, organization_id: int) -> InvestorProfile | None:
    return session.exec(
        select(InvestorProfile).where(InvestorProfile.organization_id == organization_id)
    ).first()


# --------------------------------------------------------------------------------------------
# technologies and needs
# --------------------------------------------------------------------------------------------


def save_technology(
    *,
    session: Session,
    data: TechnologyCreate,
    owner_id: int,
    existing: Technology | None = None,
) -> Technology:
    values = data.model_dump()
    now = utcnow()
    if existing is None:
        tech = Technology(**values, owner_id=owner_id)
        if tech.status == "published":
            tech.published_at = now
    else:
        tech = existing
        was_published = tech.status == "published"
        for key, value in values.items():
            setattr(tech, key, value)
        tech.owner_id = owner_id
        tech.updated_at = now
        if tech.status == "published" and not was_published:
            tech.published_at = now
    session.add(tech)
    session.flush()
    return tech


def get_technology(*, session: Session, technology_id: int) -> Technology:
    tech = session.get(Technology, technology_id)
    if tech is None:
        raise NotFound("科技成果不存在")
    return tech


def save_need(
    *, session: Session, data: NeedCreate, owner_id: int, existing: Need | None = None
) -> Need:
    values = data.model_dump()
    if existing is None:
        need = Need(**values, owner_id=owner_id)
    else:
        need = existing
        for key, value in values.items():
            setattr(need, key, value)
        need.owner_id = owner_id
        need.updated_at = utcnow()
    session.add(need)
    session.flush()
    return need


def get_need(*, session: Session, need_id: int) -> Need:
    need = session.get(Need, need_id)
    if need is None:
        raise NotFound("需求不存在")
    return need


def pending_outbox(*, session: Session, after_id: int, limit: int = 10_000) -> list[IndexOutbox]:
    return list(
        session.exec(
            select(IndexOutbox)
            .where(col(IndexOutbox.id) > after_id)
            .order_by(col(IndexOutbox.id))
            .limit(limit)
        )
    )


def platform_figures(*, session: Session) -> dict[str, float]:
    """What the platform holds and has done, for the organizers' desk and the home page."""
    from matcher.events.models import Meeting

    def count(stmt: Any) -> int:
        return int(session.exec(stmt).one())

    signed = ("signed", "registered")
    return {
        "technologies": count(
            select(func.count()).select_from(Technology).where(Technology.status == "published")
        ),
        "needs": count(select(func.count()).select_from(Need).where(Need.status == "published")),
        "organizations": count(
            select(func.count()).select_from(Organization).where(Organization.status == "active")
        ),
        "leads": count(select(func.count()).select_from(Lead)),
        "contracts": count(
            select(func.count()).select_from(Lead).where(col(Lead.stage).in_(signed))
        ),
        "contract_amount": float(
            session.exec(  # type: ignore[arg-type]
                select(func.coalesce(func.sum(Lead.contract_amount), 0)).where(
                    col(Lead.stage).in_(signed)
                )
            ).one()
        ),
        "meetings_held": count(
            select(func.count()).select_from(Meeting).where(Meeting.status == "held")
        ),
    }


def home_showcase(
    *, session: Session, viewer: Any, per_field: int = 3, fields: int = 6
) -> dict[str, Any]:
    """What the home page shows before anyone searches: the platform's figures, 对接会 open for
    registration, open 榜单 and the newest results in the busiest fields — all through the same
    visibility rules as search."""
    import datetime as dt

    from matcher.access import visible_technologies_clause
    from matcher.challenges.publishing import list_challenges
    from matcher.events.models import Event

    today = dt.date.today()
    events = list(
        session.exec(
            select(Event)
            .where(Event.status == "open", Event.ends_on >= today)  # open for registration
            .order_by(col(Event.starts_on))
            .limit(4)
        )
    )
    open_challenges = list_challenges(session=session, viewer=viewer, status="open")[:4]
    visible = visible_technologies_clause(viewer)
    busiest = list(
        session.exec(
            select(Technology.field, func.count())
            .where(visible, Technology.status == "published")
            .group_by(Technology.field)
            .order_by(func.count().desc())
            .limit(fields)
        )
    )
    newest: list[tuple[str, int, list[Technology]]] = []
    for field_name, total in busiest:
        rows = list(
            session.exec(
                select(Technology)
                .where(visible, Technology.status == "published", Technology.field == field_name)
                .order_by(col(Technology.created_at).desc(), col(Technology.id).desc())
                .limit(per_field)
            )
        )
        newest.append((field_name, int(total), rows))
    return {
        "figures": platform_figures(session=session),
        "events": events,
        "challenges": open_challenges,
        "newest": newest,
    }
