"""Who may see and do what at a 对接会: one place, called by every page, export and fragment.

- The event's organizers (organizers of the organizing agency, or any organizer for an event
  without one, and admins) see and edit everything.
- Participants see the event page, their own registration, their own agenda and the briefs of
  their own meetings once the schedule is published; invited organizations see the event page.
- While registration is open, any organization user may see the event page to sign up.
Everyone else gets 404: an event they take no part in does not exist for them."""

from __future__ import annotations

from sqlmodel import Session, col, select

from matcher.access import Viewer
from matcher.errors import Forbidden, NotFound
from matcher.events.models import Event, Meeting, Participant

AGENDA_STATUSES = ("published", "closed")


def is_organizer(viewer: Viewer, event: Event) -> bool:
    if not viewer.is_staff:
        return False
    return viewer.is_admin or event.organizer_id in (None, viewer.organization_id)


def require_organizer(viewer: Viewer, event: Event | None = None) -> None:
    """Staff may create events; only the event's own organizers may act on it (404 otherwise)."""
    if not viewer.is_staff:
        raise Forbidden("仅活动组织方可以操作")
    if event is not None and not is_organizer(viewer, event):
        raise NotFound("活动不存在")


def get_event(*, session: Session, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound("活动不存在")
    return event


def event_for_organizer(*, session: Session, viewer: Viewer, event_id: int) -> Event:
    event = get_event(session=session, event_id=event_id)
    require_organizer(viewer, event)
    return event


def my_participant(*, session: Session, viewer: Viewer, event: Event) -> Participant | None:
    if viewer.organization_id is None:
        return None
    return session.exec(
        select(Participant)
        .where(
            Participant.event_id == event.id, Participant.organization_id == viewer.organization_id
        )
        .order_by(col(Participant.id))
    ).first()


def event_for_member(
    *, session: Session, viewer: Viewer, event_id: int
) -> tuple[Event, Participant | None]:
    """The event for its organizers, its participants and invitees, or anyone from an
    organization while registration is open; 404 for everyone else."""
    event = get_event(session=session, event_id=event_id)
    me = my_participant(session=session, viewer=viewer, event=event)
    if is_organizer(viewer, event) or me is not None:
        return event, me
    if event.status == "open" and viewer.organization_id is not None:
        return event, None
    raise NotFound("活动不存在")


def events_visible_to(*, session: Session, viewer: Viewer) -> list[Event]:
    """Events on the viewer's list: all (admins), the agency's own (organizers), or those the
    organization takes part in plus those open for registration."""
    stmt = select(Event).order_by(col(Event.starts_on).desc(), col(Event.id).desc())
    if viewer.is_admin:
        return list(session.exec(stmt))
    if viewer.is_staff:
        return list(
            session.exec(
                stmt.where(
                    (col(Event.organizer_id) == viewer.organization_id)
                    | col(Event.organizer_id).is_(None)
                )
            )
        )
    if viewer.organization_id is None:
        return []
    mine = select(Participant.event_id).where(Participant.organization_id == viewer.organization_id)
    return list(session.exec(stmt.where(col(Event.id).in_(mine) | (col(Event.status) == "open"))))


def participant_for(
    *, session: Session, viewer: Viewer, event: Event, participant_id: int
) -> Participant:
    """A participant's agenda: for the event's organizers, or the participant's own organization
    once the schedule is published."""
    participant = session.get(Participant, participant_id)
    if participant is None or participant.event_id != event.id:
        raise NotFound("参会方不存在")
    if is_organizer(viewer, event):
        return participant
    if participant.organization_id != viewer.organization_id:
        raise NotFound("参会方不存在")
    if event.status not in AGENDA_STATUSES:
        raise NotFound("日程尚未发布")
    return participant


def meeting_side(*, session: Session, viewer: Viewer, meeting: Meeting) -> str | None:
    """'demand' or 'supply' when the viewer's organization is that side of the meeting."""
    if viewer.organization_id is None:
        return None
    for side, pid in (("demand", meeting.demand_id), ("supply", meeting.supply_id)):
        participant = session.get(Participant, pid)
        if participant is not None and participant.organization_id == viewer.organization_id:
            return side
    return None


def meeting_for(*, session: Session, viewer: Viewer, event: Event, meeting_id: int) -> Meeting:
    """A meeting for the event's organizers, or for its two sides once the schedule is
    published; 404 for everyone else."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.event_id != event.id:
        raise NotFound("洽谈不存在")
    if is_organizer(viewer, event):
        return meeting
    if (
        meeting_side(session=session, viewer=viewer, meeting=meeting) is None
        or event.status not in AGENDA_STATUSES
    ):
        raise NotFound("洽谈不存在")
    return meeting
