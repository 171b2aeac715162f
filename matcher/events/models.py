"""Tables of matchmaking events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from matcher.models import utcnow

EVENT_STATUSES = {
    "draft": "筹备中",
    "open": "报名中",
    "scheduled": "日程草稿",
    "published": "日程已发布",
    "closed": "已结束",
}
GROUPS = {"demand": "需求方", "supply": "成果方"}
PARTICIPANT_STATUSES = {
    "invited": "已邀请",
    "registered": "已报名",
    "declined": "已谢绝",
    "checked_in": "已签到",
}
REQUEST_STRENGTHS = {"must": "必须见", "want": "希望见", "never": "不见"}
MEETING_STATUSES = {
    "draft": "草稿",
    "published": "已发布",
    "held": "已进行",
    "no_show": "未到场",
    "cancelled": "已取消",
}
RATINGS = {
    "not_held": "没有进行",
    "no_interest": "兴趣不足",
    "useful": "有收获但暂无合作",
    "promising": "有合作可能",
}
OUTCOMES = {"intent": "意向", "signed": "签约"}


class Event(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    organizer_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    starts_on: dt.date
    ends_on: dt.date
    venue: str = Field(default="", max_length=200)
    online: bool = False
    theme_fields: list[str] = Field(default_factory=list, sa_type=JSON)
    description: str = Field(default="", sa_type=Text)
    meeting_cap: int = Field(default=6)
    registration_deadline: dt.date | None = None
    status: str = Field(default="draft", max_length=20, index=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
    schedule_report: dict[str, Any] = Field(
        default_factory=dict, sa_type=JSON
    )  # last solve's figures


class EventSession(SQLModel, table=True):
    """A block of fixed-length slots on one day; breaks are (start, end) times inside it."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True, ondelete="CASCADE")
    day: dt.date
    start: dt.time
    end: dt.time
    slot_minutes: int = 20
    breaks: list[list[str]] = Field(default_factory=list, sa_type=JSON)  # [["10:30", "10:45"], …]
    name: str = Field(default="", max_length=60)


class EventTable(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=40)
    position: int = 0


class Participant(SQLModel, table=True):
    """An organization at an event — or one of its teams: an institute may bring several."""

    __table_args__ = (UniqueConstraint("event_id", "organization_id", "team"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True)
    team: str = Field(default="", max_length=120)
    group: str = Field(max_length=20)  # demand / supply
    status: str = Field(default="invited", max_length=20)
    cap: int | None = None
    unavailable: list[int] = Field(default_factory=list, sa_type=JSON)  # slot indices
    technology_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    need_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    invite_reason: str = Field(default="", sa_type=Text)  # the organizer's own words
    # the pairing the planner invited it for, as ids (rendered per viewer, like a meeting's)
    invite_need_id: int | None = Field(default=None, foreign_key="need.id", ondelete="SET NULL")
    invite_technology_id: int | None = Field(
        default=None, foreign_key="technology.id", ondelete="SET NULL"
    )
    invited_at: dt.datetime = Field(default_factory=utcnow)
    registered_at: dt.datetime | None = None
    checked_in_at: dt.datetime | None = None


class MeetingRequest(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("event_id", "from_id", "to_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True, ondelete="CASCADE")
    from_id: int = Field(foreign_key="participant.id", index=True)
    to_id: int = Field(foreign_key="participant.id", index=True)
    strength: str = Field(max_length=10)  # must / want / never
    created_at: dt.datetime = Field(default_factory=utcnow)


class Meeting(SQLModel, table=True):
    """One 1:1 meeting. Why it was arranged is stored as ids and a score (`need_id`,
    `technology_id`, `basis`), never as text: the reason is rendered for each viewer, so a need
    the viewer may not see is never quoted (see `matcher.events.reasons`)."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True, ondelete="CASCADE")
    demand_id: int = Field(foreign_key="participant.id", index=True)
    supply_id: int = Field(foreign_key="participant.id", index=True)
    slot: int
    table_id: int | None = Field(default=None, foreign_key="eventtable.id")
    status: str = Field(default="draft", max_length=20)
    score: float = 0.0
    basis: str = Field(default="match", max_length=20)  # match / industry / organizer
    need_id: int | None = Field(default=None, foreign_key="need.id", ondelete="SET NULL")
    technology_id: int | None = Field(
        default=None, foreign_key="technology.id", ondelete="SET NULL"
    )
    must: bool = False
    lead_id: int | None = Field(default=None, foreign_key="lead.id")
    updated_at: dt.datetime = Field(default_factory=utcnow)


MEETING_BASES = {"match": "平台匹配", "industry": "行业相关", "organizer": "组织方安排"}
FEEDBACK_SIDES = {"demand": "需求方", "supply": "成果方", "organizer": "组织方"}


class MeetingFeedback(SQLModel, table=True):
    """What one side says about a meeting (its own rating, outcome and notes), or what the
    organizer recorded. A side never writes the other side's row. A signed contract stated by
    one side is a claim until the other side (or the organizer) states it too; contacts are
    shared only when both sides agreed (`share_contact`) or the organizer recorded consent."""

    __table_args__ = (UniqueConstraint("meeting_id", "side"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True, ondelete="CASCADE")
    side: str = Field(max_length=20)  # demand / supply / organizer
    status: str = Field(max_length=20)  # held / no_show
    rating: str | None = Field(default=None, max_length=20)
    outcome: str | None = Field(default=None, max_length=20)
    amount: float | None = None  # 万元, with outcome "signed"
    notes: str = Field(default="", sa_type=Text)
    share_contact: bool = False
    recorded_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    recorded_at: dt.datetime = Field(default_factory=utcnow)


class FollowUp(SQLModel, table=True):
    """A reminder to ask how a promising meeting went, 1, 3 and 6 months after the event."""

    __table_args__ = (UniqueConstraint("meeting_id", "months"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True, ondelete="CASCADE")
    months: int
    due_on: dt.date
    sent_at: dt.datetime | None = None
