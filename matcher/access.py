"""Who may see what: one place for the visibility rules the pages, API and engine share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_
from sqlmodel import col

from matcher.models import Need, Technology

STAFF_ROLES = ("organizer", "admin")


@dataclass(frozen=True)
class Viewer:
    """The person asking; anonymous when user_id is None."""

    user_id: int | None = None
    organization_id: int | None = None
    role: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ANONYMOUS = Viewer()


def visibilities_for(viewer: Viewer) -> tuple[str, ...]:
    if viewer.is_staff:
        return ("public", "registered", "organizers")
    if viewer.is_authenticated:
        return ("public", "registered")
    return ("public",)


def can_see_need(need: Need, viewer: Viewer) -> bool:
    if viewer.organization_id is not None and need.owner_id == viewer.organization_id:
        return True
    if viewer.is_admin:
        return True
    return need.status == "published" and need.visibility in visibilities_for(viewer)


def can_see_technology(tech: Technology, viewer: Viewer) -> bool:
    if viewer.organization_id is not None and tech.owner_id == viewer.organization_id:
        return True
    if viewer.is_admin:
        return True
    return tech.status in ("published", "transferred")


def visible_needs_clause(viewer: Viewer) -> Any:
    """A WHERE clause selecting the published needs this viewer may see (plus their own)."""
    clause: Any = (col(Need.status) == "published") & col(Need.visibility).in_(
        visibilities_for(viewer)
    )
    if viewer.organization_id is not None:
        clause = or_(clause, col(Need.owner_id) == viewer.organization_id)
    return clause


def owns(viewer: Viewer, owner_id: int) -> bool:
    return viewer.organization_id is not None and viewer.organization_id == owner_id
