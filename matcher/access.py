"""Who may see what: one place for the visibility rules the pages, API, exports, briefs,
notifications and the engine share.

A need is seen by its owner, by admins, and otherwise only while published and only by the
audience its visibility names (public / registered users / organizers). A listing of a
suspended organization is seen by nobody but admins. Anything shown to someone else that is
*about* a need — a meeting's reason, a brief, an agenda, an invitation — goes through
`need_title_for` / `need_projection`, which replace what the viewer may not see with a neutral
phrase ("一项仅组织方可见的需求"); stored strings never hold another organization's text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session, col

from matcher.models import Need, Organization, Technology

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


def suspended_owners() -> Any:
    """A subquery of the organizations whose listings nobody but admins may see: suspended,
    or (with registration review) not yet approved."""
    return select(col(Organization.id)).where(col(Organization.status) != "active")


def visible_needs_clause(viewer: Viewer) -> Any:
    """A WHERE clause selecting the published needs this viewer may see (plus their own)."""
    clause: Any = (col(Need.status) == "published") & col(Need.visibility).in_(
        visibilities_for(viewer)
    )
    if not viewer.is_admin:
        clause = clause & col(Need.owner_id).not_in(suspended_owners())
    if viewer.organization_id is not None:
        clause = or_(clause, col(Need.owner_id) == viewer.organization_id)
    return clause


def visible_technologies_clause(viewer: Viewer) -> Any:
    """A WHERE clause selecting the listed technologies this viewer may see (plus their own)."""
    clause: Any = col(Technology.status).in_(("published", "transferred"))
    if not viewer.is_admin:
        clause = clause & col(Technology.owner_id).not_in(suspended_owners())
    if viewer.organization_id is not None:
        clause = or_(clause, col(Technology.owner_id) == viewer.organization_id)
    return clause


def owner_is_active(session: Session, owner_id: int) -> bool:
    org = session.get(Organization, owner_id)
    return org is not None and org.status == "active"


def listing_visible(session: Session, viewer: Viewer, listing: Technology | Need) -> bool:
    """The one check behind every page, fragment, export and API route that shows a listing."""
    visible = (
        can_see_technology(listing, viewer)
        if isinstance(listing, Technology)
        else can_see_need(listing, viewer)
    )
    if not visible:
        return False
    if viewer.is_admin or owns(viewer, listing.owner_id):
        return True
    return owner_is_active(session, listing.owner_id)


# --------------------------------------------------------------------------------------------
# projections: a listing as someone else may see it
# --------------------------------------------------------------------------------------------

HIDDEN_NEED_TITLES = {
    "organizers": "一项仅组织方可见的需求",
    "registered": "一项注册用户可见的需求",
}
GONE_NEED_TITLE = "一项已下线的需求"
GONE_TECHNOLOGY_TITLE = "一项已下线的成果"


def need_title_for(need: Need | None, viewer: Viewer) -> str:
    """The need's title if the viewer may see it, else a neutral phrase that quotes nothing."""
    if need is None:
        return GONE_NEED_TITLE
    if can_see_need(need, viewer):
        return need.title
    if need.status != "published":
        return GONE_NEED_TITLE
    return HIDDEN_NEED_TITLES.get(need.visibility, GONE_NEED_TITLE)


def technology_title_for(tech: Technology | None, viewer: Viewer) -> str:
    if tech is None or not can_see_technology(tech, viewer):
        return GONE_TECHNOLOGY_TITLE
    return tech.title


@dataclass(frozen=True)
class NeedProjection:
    """What of a need a viewer may be shown: everything, or only a neutral title."""

    id: int | None
    visible: bool
    title: str
    description: str
    field: str | None
    min_trl: int | None
    budget: float | None


def need_projection(need: Need | None, viewer: Viewer) -> NeedProjection:
    if need is not None and can_see_need(need, viewer):
        return NeedProjection(
            need.id, True, need.title, need.description, need.field, need.min_trl, need.budget
        )
    return NeedProjection(
        need.id if need else None, False, need_title_for(need, viewer), "", None, None, None
    )


def owns(viewer: Viewer, owner_id: int) -> bool:
    return viewer.organization_id is not None and viewer.organization_id == owner_id
