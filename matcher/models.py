"""The data model of technology transfer (SQLModel; one family per entity).

`XBase` holds the fields people edit, `X` is the table, `XCreate` validates input with Chinese
messages (the shared validators and types are matcher.schemas'). Lists (keywords, modes, IP items, investor
preferences) are JSON columns: they are values of their owner, never queried on their own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import field_validator, model_validator
from sqlalchemy import JSON, BigInteger, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from matcher import schemas, vocab
from matcher.identifiers import credit_code_problem, ip_number_problem
from matcher.schemas import (
    ContactChecks,
    FieldProblem,
    check_amount,
    check_choice,
    check_text,
    check_trl,
)

# Stable constraint names, so migrations can alter tables on SQLite (batch mode) and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Aware UTC; SQLModel's UTCDateTime refuses naive values and stores UTC on SQLite too."""
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------------------------
# Organization
# --------------------------------------------------------------------------------------------


class OrganizationBase(SQLModel):
    name: str = Field(max_length=120, index=True, unique=True)
    kind: str = Field(max_length=20, index=True)
    province: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=40)
    industry: str | None = Field(default=None, max_length=60)
    credit_code: str | None = Field(default=None, max_length=18, unique=True)
    description: str = Field(default="", sa_type=Text)
    website: str | None = Field(default=None, max_length=200)


class Organization(OrganizationBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str | None = Field(default=None, max_length=64, unique=True)
    is_demo: bool = Field(default=False)
    status: str = Field(default="active", max_length=20)  # active / suspended / pending
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class OrganizationCreate(OrganizationBase):
    code: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_text(v, "单位名称", max_length=120)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return check_choice(v, vocab.ORG_KINDS, "单位类型")

    @field_validator("province")
    @classmethod
    def _province(cls, v: str | None) -> str | None:
        return schemas.province(v)

    @field_validator("credit_code")
    @classmethod
    def _credit(cls, v: str | None) -> str | None:
        if not v:
            return None
        problem = credit_code_problem(v)
        if problem:
            raise ValueError(problem)
        return v.strip().upper()

    @model_validator(mode="after")
    def _enterprise_code(self) -> OrganizationCreate:
        if self.kind == "enterprise" and not self.credit_code:
            raise FieldProblem("企业必须填写统一社会信用代码", "credit_code")
        return self


class InvestorProfile(SQLModel, table=True):
    """What an investor organization looks for; matched against financing needs."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", unique=True, ondelete="CASCADE")
    fields: list[str] = Field(default_factory=list, sa_type=JSON)
    stages: list[str] = Field(default_factory=list, sa_type=JSON)
    ticket_min: float | None = None  # 万元
    ticket_max: float | None = None  # 万元
    regions: list[str] = Field(default_factory=list, sa_type=JSON)
    preference: str = Field(default="", sa_type=Text)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class InvestorProfileIn(SQLModel):
    fields: list[str] = []
    stages: list[str] = []
    ticket_min: float | None = None
    ticket_max: float | None = None
    regions: list[str] = []
    preference: str = ""

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: list[str]) -> list[str]:
        return [check_choice(x, vocab.TECH_FIELDS, "技术领域") for x in v]

    @field_validator("stages")
    @classmethod
    def _stages(cls, v: list[str]) -> list[str]:
        return [check_choice(x, vocab.FINANCING_STAGES, "投资阶段") for x in v]

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        return [name for name in map(schemas.province, v) if name]

    @model_validator(mode="after")
    def _ticket(self) -> InvestorProfileIn:
        check_amount(self.ticket_min, "单笔投资下限")
        check_amount(self.ticket_max, "单笔投资上限")
        both = self.ticket_min is not None and self.ticket_max is not None
        if both and self.ticket_min > self.ticket_max:  # type: ignore[operator]
            raise FieldProblem("单笔投资下限不能大于上限", "ticket_min")
        return self


# --------------------------------------------------------------------------------------------
# User
# --------------------------------------------------------------------------------------------


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=200, unique=True, index=True)
    name: str = Field(max_length=60)
    phone: str | None = Field(default=None, max_length=30)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=20)
    organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    expertise: str = Field(default="", sa_type=Text)  # fields and topics an expert reviews
    is_active: bool = Field(default=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
    last_login_at: dt.datetime | None = None


# --------------------------------------------------------------------------------------------
# Technology (科技成果)
# --------------------------------------------------------------------------------------------


class TechnologyBase(SQLModel):
    title: str = Field(max_length=200)
    summary: str = Field(sa_type=Text)
    field: str = Field(max_length=30, index=True)
    keywords: list[str] = Field(default_factory=list, sa_type=JSON)
    trl: int = Field(ge=1, le=9)
    ip_items: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    cooperation_modes: list[str] = Field(default_factory=list, sa_type=JSON)
    price: float | None = None  # 万元; None = 面议
    team: str | None = Field(default=None, max_length=120)
    contact_name: str | None = Field(default=None, max_length=60)
    contact_phone: str | None = Field(default=None, max_length=30)
    contact_email: str | None = Field(default=None, max_length=200)
    valid_until: dt.date | None = None


class Technology(TechnologyBase, table=True):
    # A code (编号) is the owner's own reference: unique within the owner, so another
    # organization's codes are neither reserved nor revealed by an import.
    __table_args__ = (
        Index("ix_technology_owner_title", "owner_id", "title"),
        UniqueConstraint("owner_id", "code", name="uq_technology_owner_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str | None = Field(default=None, max_length=64)
    owner_id: int = Field(foreign_key="organization.id", index=True)
    status: str = Field(default="published", max_length=20, index=True)
    moderation_note: str | None = Field(default=None, sa_type=Text)
    created_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    # when a moderator last checked this version (None: waiting in the review queue)
    reviewed_at: dt.datetime | None = Field(default=None, index=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    published_at: dt.datetime | None = None


def _check_ip_items(items: list[dict[str, str]]) -> list[dict[str, str]]:
    out = []
    for item in items:
        ip_type = check_choice(str(item.get("type", "")).strip(), vocab.IP_TYPES, "知识产权类型")
        problem, parsed = ip_number_problem(ip_type, str(item.get("number", "")))
        if problem or parsed is None:
            raise ValueError(problem or "知识产权编号无效")
        out.append({"type": ip_type, "number": parsed.normalized})
    return out


class TechnologyCreate(ContactChecks, TechnologyBase):
    code: str | None = None
    status: str = "published"

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        return check_text(v, "成果名称", max_length=200)

    @field_validator("summary")
    @classmethod
    def _summary(cls, v: str) -> str:
        return check_text(v, "成果简介", max_length=20000)

    @field_validator("field")
    @classmethod
    def _field(cls, v: str) -> str:
        return check_choice(v.strip(), vocab.TECH_FIELDS, "技术领域")

    @field_validator("trl", mode="before")
    @classmethod
    def _trl(cls, v: Any) -> Any:
        return check_trl(int(v)) if isinstance(v, int | float) else v

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v: list[str]) -> list[str]:
        seen: list[str] = []
        for kw in v:
            kw = kw.strip()
            if kw and kw not in seen:
                if len(kw) > 80:
                    raise ValueError(f"关键词过长：{kw}")
                seen.append(kw)
        return seen[:20]

    @field_validator("ip_items")
    @classmethod
    def _ip(cls, v: list[dict[str, str]]) -> list[dict[str, str]]:
        return _check_ip_items(v)

    @field_validator("cooperation_modes")
    @classmethod
    def _modes(cls, v: list[str]) -> list[str]:
        modes = [check_choice(m.strip(), vocab.COOPERATION_MODES, "合作方式") for m in v]
        if not modes:
            raise ValueError("至少选择一种合作方式")
        return list(dict.fromkeys(modes))

    @field_validator("price")
    @classmethod
    def _price(cls, v: float | None) -> float | None:
        return check_amount(v, "价格")

    @field_validator("status")
    @classmethod
    def _status(cls, v: str) -> str:
        return check_choice(v, vocab.TECH_STATUSES, "状态")


# --------------------------------------------------------------------------------------------
# Need (技术需求 / 融资需求)
# --------------------------------------------------------------------------------------------


class NeedBase(SQLModel):
    kind: str = Field(default="tech", max_length=20, index=True)
    title: str = Field(max_length=200)
    description: str = Field(sa_type=Text)
    industry: str | None = Field(default=None, max_length=60)
    field: str | None = Field(default=None, max_length=30)
    budget: float | None = None  # 万元
    min_trl: int | None = None
    province: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=40)
    deadline: dt.date | None = None
    visibility: str = Field(default="public", max_length=20, index=True)
    # financing needs
    amount: float | None = None  # 万元
    financing_type: str | None = Field(default=None, max_length=20)
    stage: str | None = Field(default=None, max_length=20)
    use_of_funds: str | None = Field(default=None, sa_type=Text)
    contact_name: str | None = Field(default=None, max_length=60)
    contact_phone: str | None = Field(default=None, max_length=30)
    contact_email: str | None = Field(default=None, max_length=200)


class Need(NeedBase, table=True):
    __table_args__ = (
        Index("ix_need_owner_title", "owner_id", "title"),
        UniqueConstraint("owner_id", "code", name="uq_need_owner_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str | None = Field(default=None, max_length=64)
    owner_id: int = Field(foreign_key="organization.id", index=True)
    status: str = Field(default="published", max_length=20, index=True)
    moderation_note: str | None = Field(default=None, sa_type=Text)
    created_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    reviewed_at: dt.datetime | None = Field(default=None, index=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class NeedCreate(ContactChecks, NeedBase):
    code: str | None = None
    status: str = "published"

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return check_choice(v, vocab.NEED_KINDS, "需求类型")

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        return check_text(v, "需求名称", max_length=200)

    @field_validator("description")
    @classmethod
    def _description(cls, v: str) -> str:
        return check_text(v, "需求描述", max_length=20000)

    @field_validator("field")
    @classmethod
    def _field(cls, v: str | None) -> str | None:
        return check_choice(v.strip(), vocab.TECH_FIELDS, "技术领域") if v else None

    @field_validator("min_trl")
    @classmethod
    def _trl(cls, v: int | None) -> int | None:
        return check_trl(v, "最低成熟度")

    @field_validator("budget")
    @classmethod
    def _budget(cls, v: float | None) -> float | None:
        return check_amount(v, "预算")

    @field_validator("amount")
    @classmethod
    def _amount(cls, v: float | None) -> float | None:
        return check_amount(v, "融资金额")

    @field_validator("province")
    @classmethod
    def _province(cls, v: str | None) -> str | None:
        return schemas.province(v)

    @field_validator("visibility")
    @classmethod
    def _visibility(cls, v: str) -> str:
        return check_choice(v, vocab.VISIBILITY, "可见范围")

    @field_validator("financing_type")
    @classmethod
    def _ftype(cls, v: str | None) -> str | None:
        return check_choice(v, vocab.FINANCING_TYPES, "融资方式") if v else None

    @field_validator("stage")
    @classmethod
    def _stage(cls, v: str | None) -> str | None:
        return check_choice(v, vocab.FINANCING_STAGES, "融资阶段") if v else None

    @field_validator("status")
    @classmethod
    def _status(cls, v: str) -> str:
        return check_choice(v, vocab.NEED_STATUSES, "状态")

    @model_validator(mode="after")
    def _financing(self) -> NeedCreate:
        if self.kind == "financing":
            if self.amount is None:
                raise FieldProblem("融资需求必须填写融资金额（万元）", "amount")
            if not self.financing_type:
                raise FieldProblem("融资需求必须填写融资方式（股权或债权）", "financing_type")
        return self


# --------------------------------------------------------------------------------------------
# Leads, audit, outbox
# --------------------------------------------------------------------------------------------


class Lead(SQLModel, table=True):
    """One pairing followed through 推荐 → 意向 → 洽谈 → 签约 → 合同登记."""

    id: int | None = Field(default=None, primary_key=True)
    technology_id: int | None = Field(default=None, foreign_key="technology.id", index=True)
    need_id: int | None = Field(default=None, foreign_key="need.id", index=True)
    supplier_id: int = Field(foreign_key="organization.id", index=True)  # 成果方
    demander_id: int = Field(foreign_key="organization.id", index=True)  # 需求方 / 投资方
    stage: str = Field(default="recommended", max_length=20)
    source: str = Field(default="interest", max_length=20)  # interest / event / challenge / manual
    contract_amount: float | None = None  # 万元
    # The person on each side whose contact the other side sees: the one who consented to
    # sharing it (a listing's own contact, when the lead is about a listing, comes first).
    supplier_user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    demander_user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class LeadEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", index=True, ondelete="CASCADE")
    from_stage: str | None = Field(default=None, max_length=20)
    to_stage: str = Field(max_length=20)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    note: str = Field(default="", sa_type=Text)
    amount: float | None = None
    at: dt.datetime = Field(default_factory=utcnow)


class AuditLog(SQLModel, table=True):
    """Who did what to which object. Never stores revealed values (contacts, passwords)."""

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, index=True)
    action: str = Field(max_length=60, index=True)
    object_type: str | None = Field(default=None, max_length=40)
    object_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    ip: str | None = Field(default=None, max_length=64)


class IndexOutbox(SQLModel, table=True):
    """A change the search index must apply, written in the same transaction as the change.

    A row without a fingerprint says a searchable row changed; a row with one says that the
    vectors of that model for the row are stored (written by whoever encoded them). On
    PostgreSQL a trigger records the writing transaction's id in `txid`, which is how followers
    read "what committed since my snapshot" whatever the order transactions commit in."""

    id: int | None = Field(default=None, primary_key=True)
    collection: str = Field(max_length=20, index=True)
    item_id: int
    fingerprint: str | None = Field(default=None, max_length=80)
    txid: int | None = Field(default=None, sa_type=BigInteger, index=True)
    created_at: dt.datetime = Field(default_factory=utcnow)


class EmbeddingVector(SQLModel, table=True):
    """A searchable row's vector under one model, computed once and shared by every process and
    host. `text_hash` covers the prompt and the text it was computed from: a vector whose hash
    differs from the row's current text is stale. Needs also keep their query vector (role
    `query`), which matching them against results uses."""

    fingerprint: str = Field(max_length=80, primary_key=True)
    collection: str = Field(max_length=20, primary_key=True)
    item_id: int = Field(primary_key=True)
    role: str = Field(max_length=8, primary_key=True)
    text_hash: str = Field(max_length=64)
    dim: int
    vector: bytes = Field(sa_type=LargeBinary)
    # The text's lexical tokens (JSON list) and the tokenizer's fingerprint: an index built from
    # stored rows does not run jieba over them again either.
    tokens: str | None = Field(default=None, sa_type=Text)
    tokenizer: str | None = Field(default=None, max_length=32)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class EmbeddingJob(SQLModel, table=True):
    """A row whose vectors must be (re)computed: written in the same transaction as the change,
    claimed by a worker (`FOR UPDATE SKIP LOCKED` on PostgreSQL), deleted in the transaction that
    stores the vectors — a worker killed mid-batch leaves its jobs in the queue."""

    id: int | None = Field(default=None, primary_key=True)
    collection: str = Field(max_length=20)
    item_id: int
    fingerprint: str | None = Field(default=None, max_length=80)  # None: the workers' model
    attempts: int = 0
    created_at: dt.datetime = Field(default_factory=utcnow)


# --------------------------------------------------------------------------------------------
# accounts: server-side sessions, API tokens, login attempts
# --------------------------------------------------------------------------------------------


class UserSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its hash is stored, and logout
    revokes the row, so a copied cookie stops working at once."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    ip: str | None = Field(default=None, max_length=64)


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    name: str = Field(default="", max_length=60)
    created_at: dt.datetime = Field(default_factory=utcnow)
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class LoginAttempt(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=200, index=True)
    ip: str = Field(default="", max_length=64, index=True)
    success: bool = False
    at: dt.datetime = Field(default_factory=utcnow, index=True)


# --------------------------------------------------------------------------------------------
# interest (表达意向) and notifications
# --------------------------------------------------------------------------------------------


class Interest(SQLModel, table=True):
    """One organization's interest in another's listing (a technology or a need).

    The listing's owner accepts or declines with a reason code; acceptance reveals both sides'
    contacts to each other and starts a Lead."""

    id: int | None = Field(default=None, primary_key=True)
    from_org_id: int = Field(foreign_key="organization.id", index=True)
    from_user_id: int | None = Field(default=None, foreign_key="user.id")
    to_org_id: int = Field(foreign_key="organization.id", index=True)
    technology_id: int | None = Field(default=None, foreign_key="technology.id", index=True)
    need_id: int | None = Field(default=None, foreign_key="need.id", index=True)
    offered_technology_id: int | None = Field(default=None, foreign_key="technology.id")
    offered_need_id: int | None = Field(default=None, foreign_key="need.id")
    message: str = Field(default="", sa_type=Text)
    status: str = Field(
        default="pending", max_length=20, index=True
    )  # pending/accepted/declined/withdrawn
    reason_code: str | None = Field(default=None, max_length=30)
    reason_text: str = Field(default="", sa_type=Text)
    lead_id: int | None = Field(default=None, foreign_key="lead.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    decided_at: dt.datetime | None = None


class Notification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=40)
    text: str = Field(sa_type=Text)
    link: str = Field(default="", max_length=300)
    created_at: dt.datetime = Field(default_factory=utcnow, index=True)
    read_at: dt.datetime | None = None


def pk(row: Any) -> int:
    """The primary key of a row that has been flushed (never None after a flush)."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet: flush the session first")
    return int(row.id)
