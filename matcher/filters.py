"""The hard filters of the search box and the API, applied in the database: only ids that pass
them and that the viewer may see are searched, so a hidden or deleted row is never returned nor
counted."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import Session, col, select

from matcher.access import Viewer, visible_needs_clause
from matcher.models import Need, Organization, Technology


@dataclass
class Filters:
    """Hard filters of the search box and the API."""

    field: str | None = None
    province: str | None = None
    min_trl: int | None = None
    modes: tuple[str, ...] = ()
    max_price: float | None = None
    need_kind: str | None = None
    min_budget: float | None = None

    def active(self) -> bool:
        return any(
            v not in (None, (), "")
            for v in (
                self.field,
                self.province,
                self.min_trl,
                self.modes,
                self.max_price,
                self.need_kind,
                self.min_budget,
            )
        )


def allowed_ids(
    session: Session, collection: str, filters: Filters, viewer: Viewer
) -> set[int] | None:
    """Ids passing the hard filters and visibility, or None when nothing restricts the search."""
    if collection == "technologies":
        if not filters.active():
            return None
        stmt = select(Technology.id).where(col(Technology.status) == "published")
        if filters.field:
            stmt = stmt.where(col(Technology.field) == filters.field)
        if filters.min_trl:
            stmt = stmt.where(col(Technology.trl) >= filters.min_trl)
        if filters.max_price is not None:
            stmt = stmt.where(
                or_(col(Technology.price).is_(None), col(Technology.price) <= filters.max_price)
            )
        if filters.province:
            stmt = stmt.join(Organization, col(Organization.id) == col(Technology.owner_id)).where(
                col(Organization.province) == filters.province
            )
        ids = {i for i in session.exec(stmt).all() if i is not None}
        if filters.modes:
            wanted = set(filters.modes)
            rows = session.exec(
                select(Technology.id, Technology.cooperation_modes).where(
                    col(Technology.id).in_(ids)
                )
            )
            ids = {i for i, modes in rows if i is not None and wanted & set(modes or [])}
        return ids
    if collection == "needs":
        stmt_n = select(Need.id).where(
            visible_needs_clause(viewer), col(Need.status) == "published"
        )
        if filters.field:
            stmt_n = stmt_n.where(col(Need.field) == filters.field)
        if filters.province:
            stmt_n = stmt_n.where(col(Need.province) == filters.province)
        if filters.need_kind:
            stmt_n = stmt_n.where(col(Need.kind) == filters.need_kind)
        if filters.min_budget is not None:
            stmt_n = stmt_n.where(col(Need.budget) >= filters.min_budget)
        return {i for i in session.exec(stmt_n).all() if i is not None}
    return None
