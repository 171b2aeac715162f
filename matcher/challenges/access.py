"""Who may see and manage a challenge: the publisher's users, the organizers of the agency running
it, and (once listed) whoever its visibility admits. Pages and the API both ask here."""

from __future__ import annotations

from sqlmodel import Session

from matcher.access import Viewer, visibilities_for
from matcher.challenges.models import LISTED, Challenge
from matcher.errors import Forbidden, NotFound


def is_publisher(viewer: Viewer, challenge: Challenge) -> bool:
    return viewer.organization_id is not None and viewer.organization_id == challenge.publisher_id


def is_organizer(viewer: Viewer, challenge: Challenge) -> bool:
    """Admins, and organizers of the agency running the challenge (any organizer while no agency
    has taken it on)."""
    if not viewer.is_staff:
        return False
    return viewer.is_admin or challenge.organizer_id in (None, viewer.organization_id)


def can_manage(viewer: Viewer, challenge: Challenge) -> bool:
    """The publisher's users and the challenge's organizers."""
    return is_organizer(viewer, challenge) or is_publisher(viewer, challenge)


def require_staff(viewer: Viewer) -> None:
    if not viewer.is_staff:
        raise Forbidden("仅平台组织方可以操作")


def require_organizer(viewer: Viewer, challenge: Challenge) -> None:
    require_staff(viewer)
    if not is_organizer(viewer, challenge):
        raise NotFound("榜单不存在")


def may_see_reviewers(viewer: Viewer, challenge: Challenge) -> bool:
    """Reviewers are anonymous to applicants and publishers unless the organizer publishes the
    panel; the challenge's organizers always know them."""
    return is_organizer(viewer, challenge) or challenge.panel_public


def can_see(viewer: Viewer, challenge: Challenge) -> bool:
    if can_manage(viewer, challenge):
        return True
    return challenge.status in LISTED and challenge.visibility in visibilities_for(viewer)


def get_challenge(*, session: Session, viewer: Viewer, challenge_id: int) -> Challenge:
    challenge = session.get(Challenge, challenge_id)
    if challenge is None or not can_see(viewer, challenge):
        raise NotFound("榜单不存在")
    return challenge


def managed_challenge(*, session: Session, viewer: Viewer, challenge_id: int) -> Challenge:
    challenge = get_challenge(session=session, viewer=viewer, challenge_id=challenge_id)
    if not can_manage(viewer, challenge):
        raise NotFound("榜单不存在")
    return challenge
