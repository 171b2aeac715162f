"""Tables of 揭榜挂帅 challenges: the challenge and its indicators, invitations, applications
with their timeline and attachments, expert assignments with scores, declared conflicts, and
the award's milestones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from matcher.models import utcnow

CHALLENGE_STATUSES = {
    "draft": "草稿",
    "pending": "待审核",
    "rejected": "未通过审核",
    "open": "揭榜中",
    "reviewing": "评审中",
    "awarded": "已揭榜",
    "accepted": "已验收",
    "closed": "已关闭",
}
LISTED = ("open", "reviewing", "awarded", "accepted", "closed")  # what the public may see
APPLICATION_STATUSES = {
    "draft": "草稿",
    "submitted": "已提交",
    "under_review": "评审中",
    "awarded": "揭榜成功",
    "not_selected": "未入选",
    "withdrawn": "已撤回",
}
COMPARISONS = {">=": "≥", "<=": "≤", "=": "=", "range": "区间"}
RUBRIC: dict[str, tuple[str, int]] = {
    "technical": ("技术先进性", 30),
    "feasibility": ("方案可行性", 30),
    "team": ("团队能力与基础", 20),
    "budget": ("经费与进度合理性", 20),
}
MILESTONE_STATUSES = {
    "pending": "进行中",
    "submitted": "待验收",
    "accepted": "已验收",
    "failed": "未通过验收",
}
ELIGIBLE_KINDS = {"university": "高校", "institute": "科研院所", "enterprise": "企业"}


class Challenge(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    problem: str = Field(sa_type=Text)
    field: str = Field(default="", max_length=40, index=True)
    publisher_id: int = Field(foreign_key="organization.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    bounty: float = 0.0  # 拟付揭榜方经费（万元）
    rnd_budget: float | None = None  # 发榜方自筹研发投入（万元）
    min_trl: int | None = None
    application_deadline: dt.date
    review_on: dt.date | None = None
    start_on: dt.date | None = None
    acceptance_on: dt.date | None = None
    eligible_provinces: list[str] = Field(default_factory=list, sa_type=JSON)
    eligible_kinds: list[str] = Field(default_factory=list, sa_type=JSON)
    visibility: str = Field(default="public", max_length=20)
    status: str = Field(default="draft", max_length=20, index=True)
    moderation_note: str = Field(default="", sa_type=Text)
    # The organizing agency that runs the challenge (None: any of the platform's organizers).
    organizer_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    panel_public: bool = False  # reviewers are anonymous unless the organizer publishes the panel
    award_application_id: int | None = None
    award_amount: float | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    published_at: dt.datetime | None = None


class ChallengeIndicator(SQLModel, table=True):
    """考核指标: name, comparison (≥ ≤ = range), value (and upper value for a range), unit."""

    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int = Field(foreign_key="challenge.id", index=True, ondelete="CASCADE")
    position: int = 0
    name: str = Field(max_length=100)
    comparison: str = Field(max_length=10)
    value: float
    value_max: float | None = None
    unit: str = Field(default="", max_length=20)


class ChallengeInvite(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("challenge_id", "organization_id"),)

    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int = Field(foreign_key="challenge.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True)
    reason: str = Field(default="", sa_type=Text)
    score: float = 0.0
    invited_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)


class Application(SQLModel, table=True):
    """揭榜申请: one per organization and challenge; partners are co-applicant organizations."""

    __table_args__ = (UniqueConstraint("challenge_id", "organization_id"),)

    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int = Field(foreign_key="challenge.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True)
    team: str = Field(default="", max_length=100)
    leader: str = Field(default="", max_length=60)
    approach: str = Field(default="", sa_type=Text)
    budget: float | None = None  # 万元
    milestones: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    # the applicant's own results the application builds on, and its answer to each indicator
    # (indicator id → what the team commits to, e.g. "提前3天预警")
    cited_technology_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    indicator_answers: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default="draft", max_length=20, index=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    submitted_at: dt.datetime | None = None
    decision_note: str = Field(default="", sa_type=Text)


PARTNER_STATUSES = {"invited": "待确认", "confirmed": "已确认", "declined": "已拒绝"}


class ApplicationPartner(SQLModel, table=True):
    """A co-applicant named by the applicant. It counts (on the application, and for conflicts
    of interest) only once one of its own users has confirmed."""

    __table_args__ = (UniqueConstraint("application_id", "organization_id"),)

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True)
    status: str = Field(default="invited", max_length=20)
    decided_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    decided_at: dt.datetime | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)


class ApplicationEvent(SQLModel, table=True):
    """The applicant's status timeline."""

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True, ondelete="CASCADE")
    status: str = Field(max_length=20)
    note: str = Field(default="", sa_type=Text)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    at: dt.datetime = Field(default_factory=utcnow)


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True, ondelete="CASCADE")
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    uploaded_by: int | None = Field(default=None, foreign_key="user.id")
    uploaded_at: dt.datetime = Field(default_factory=utcnow)


class ExpertAssignment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("application_id", "expert_id"),)

    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int = Field(foreign_key="challenge.id", index=True, ondelete="CASCADE")
    application_id: int = Field(foreign_key="application.id", index=True, ondelete="CASCADE")
    expert_id: int = Field(foreign_key="user.id", index=True)
    assigned_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    scores: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    total: float | None = None
    comment: str = Field(default="", sa_type=Text)
    submitted_at: dt.datetime | None = None


class ExpertConflict(SQLModel, table=True):
    """A conflict of interest an expert declared with an organization (e.g. a former employer)."""

    __table_args__ = (UniqueConstraint("expert_id", "organization_id"),)

    id: int | None = Field(default=None, primary_key=True)
    expert_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True)
    note: str = Field(default="", max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow)


class AwardMilestone(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int = Field(foreign_key="challenge.id", index=True, ondelete="CASCADE")
    application_id: int = Field(foreign_key="application.id", index=True, ondelete="CASCADE")
    position: int = 0
    title: str = Field(max_length=200)
    due_on: dt.date | None = None
    amount: float | None = None  # 万元 paid on acceptance
    status: str = Field(default="pending", max_length=20)
    note: str = Field(default="", sa_type=Text)
    accepted_at: dt.datetime | None = None
