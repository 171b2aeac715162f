"""Setting up a 对接会: the event, its sessions and tables, its rounds, its roster and check-in."""

from __future__ import annotations

from sqlmodel import Session, col, select

from matcher import services
from matcher.access import Viewer
from matcher.errors import NotFound
from matcher.events.access import require_organizer
from matcher.events.models import Event, EventSession, EventTable, Participant
from matcher.events.schemas import EventIn
from matcher.events.slots import Slot, slots_of
from matcher.models import pk, utcnow


def event_slots(*, session: Session, event_id: int) -> list[Slot]:
    """The event's meeting rounds in time order (see `matcher.events.slots`)."""
    return slots_of(
        list(session.exec(select(EventSession).where(EventSession.event_id == event_id)))
    )


def event_tables(*, session: Session, event_id: int) -> list[EventTable]:
    return list(
        session.exec(
            select(EventTable)
            .where(EventTable.event_id == event_id)
            .order_by(col(EventTable.position))
        )
    )


def participants(
    *, session: Session, event_id: int, active_only: bool = False
) -> list[Participant]:
    stmt = select(Participant).where(Participant.event_id == event_id)
    if active_only:
        stmt = stmt.where(col(Participant.status).in_(("registered", "checked_in")))
    return list(session.exec(stmt.order_by(col(Participant.group), col(Participant.id))))


def create_event(*, session: Session, viewer: Viewer, event: EventIn) -> Event:
    """A new event open for registration, with its sessions and numbered tables (the input model
    has checked the dates, caps and that the sessions hold at least one full round)."""
    require_organizer(viewer)
    assert event.starts_on is not None and event.ends_on is not None  # the model fills them
    row = Event(
        name=event.name,
        organizer_id=viewer.organization_id,
        created_by=viewer.user_id,
        starts_on=event.starts_on,
        ends_on=event.ends_on,
        venue=event.venue[:200],
        online=event.online,
        theme_fields=list(event.theme_fields),
        description=event.description,
        meeting_cap=event.meeting_cap,
        registration_deadline=event.registration_deadline,
        status="open",
    )
    session.add(row)
    session.flush()
    for spec in event.sessions:
        session.add(EventSession(event_id=pk(row), **spec.model_dump()))
    prefix = event.table_prefix or ("线上会议室" if event.online else "桌")
    for i in range(event.tables):
        session.add(EventTable(event_id=pk(row), name=f"{prefix}{i + 1:02d}", position=i))
    session.flush()
    services.audit(
        session=session,
        action="event.create",
        actor_id=viewer.user_id,
        object_type="event",
        object_id=row.id,
    )
    return row


def check_in(*, session: Session, viewer: Viewer, event: Event, participant_id: int) -> Participant:
    require_organizer(viewer, event)
    participant = session.get(Participant, participant_id)
    if participant is None or participant.event_id != event.id:
        raise NotFound("参会方不存在")
    participant.status = "checked_in"
    participant.checked_in_at = utcnow()
    session.add(participant)
    return participant
