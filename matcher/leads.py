"""Interest (表达意向), its answer, the Lead it starts, and contacts.

A listing's contacts are personal information: they are shown masked unless the viewer's
organization owns the listing, or the listing's owner accepted that organization's interest in
it. A Lead — the one place where two organizations see each other's contacts — is opened only
by `open_lead`, and only on consent from both sides: an accepted interest (one side asked, the
other accepted), both sides of a meeting agreeing after it was held (or the organizer recording
their consent), or an award the applicant applied for. A lead shows, for each side, the contact
of the listing it is about, or else the person of that side who consented. Every reveal is
written to the audit log (who saw whose contacts, never the values)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from matcher import services, vocab
from matcher.access import Viewer, listing_visible, need_title_for, technology_title_for
from matcher.errors import Conflict, Forbidden, NotFound, TooManyRequests, ValidationFailed
from matcher.identifiers import mask_email, mask_name, mask_phone
from matcher.models import (
    Interest,
    Lead,
    LeadEvent,
    Need,
    Organization,
    Technology,
    User,
    pk,
    utcnow,
)
from matcher.notifications import notify_org

INTERESTS_PER_DAY = 30  # per organization: interest is a request to a person, not a broadcast

# --------------------------------------------------------------------------------------------
# interest
# --------------------------------------------------------------------------------------------


def _listing(
    session: Session, *, technology_id: int | None, need_id: int | None, viewer: Viewer
) -> Technology | Need:
    if (technology_id is None) == (need_id is None):
        raise ValidationFailed("请选择一项成果或一条需求")
    if technology_id is not None:
        tech = session.get(Technology, technology_id)
        if tech is None or not listing_visible(session, viewer, tech) or tech.status != "published":
            raise NotFound("科技成果不存在")
        return tech
    need = session.get(Need, need_id)
    if need is None or not listing_visible(session, viewer, need) or need.status != "published":
        raise NotFound("需求不存在")
    return need


def express_interest(
    *,
    session: Session,
    viewer: Viewer,
    technology_id: int | None = None,
    need_id: int | None = None,
    message: str = "",
    offered_technology_id: int | None = None,
    offered_need_id: int | None = None,
) -> Interest:
    if not viewer.is_authenticated or viewer.organization_id is None:
        raise Forbidden("请先以单位用户身份登录")
    listing = _listing(session, technology_id=technology_id, need_id=need_id, viewer=viewer)
    if listing.owner_id == viewer.organization_id:
        raise Conflict("不能对本单位发布的信息表达意向")
    message = (message or "").strip()
    if len(message) > 1000:
        raise ValidationFailed("留言最多 1000 字")
    if offered_technology_id is not None:
        offered = session.get(Technology, offered_technology_id)
        if offered is None or offered.owner_id != viewer.organization_id:
            raise Forbidden("只能推荐本单位的成果")
    if offered_need_id is not None:
        own_need = session.get(Need, offered_need_id)
        if own_need is None or own_need.owner_id != viewer.organization_id:
            raise Forbidden("只能关联本单位的需求")
    pending = session.exec(
        select(Interest).where(
            Interest.from_org_id == viewer.organization_id,
            Interest.technology_id == technology_id,
            Interest.need_id == need_id,
            Interest.status == "pending",
        )
    ).first()
    if pending is not None:
        raise Conflict("已表达过意向，正在等待对方回复")
    since = utcnow() - dt.timedelta(days=1)
    today_count = session.exec(
        select(func.count())
        .select_from(Interest)
        .where(Interest.from_org_id == viewer.organization_id, col(Interest.created_at) >= since)
    ).one()
    if int(today_count) >= INTERESTS_PER_DAY:
        raise TooManyRequests(
            f"本单位 24 小时内已表达 {INTERESTS_PER_DAY} 次意向，已达上限：请明天再试，或先处理已有的意向"
        )
    interest = Interest(
        from_org_id=viewer.organization_id,
        from_user_id=viewer.user_id,
        to_org_id=listing.owner_id,
        technology_id=technology_id,
        need_id=need_id,
        offered_technology_id=offered_technology_id,
        offered_need_id=offered_need_id,
        message=message,
    )
    session.add(interest)
    session.flush()
    sender = session.get(Organization, viewer.organization_id)
    kind = "成果" if technology_id else "需求"
    notify_org(
        session,
        listing.owner_id,
        "interest.new",
        f"{sender.name if sender else '有单位'}对您的{kind}《{listing.title}》表达了意向",
        "/interests",
    )
    services.audit(
        session=session,
        action="interest.create",
        actor_id=viewer.user_id,
        object_type="interest",
        object_id=interest.id,
    )
    return interest


def withdraw_interest(*, session: Session, viewer: Viewer, interest_id: int) -> Interest:
    """The sender takes back an interest the other side has not answered yet (the row is locked,
    so a withdrawal and an acceptance arriving together cannot both succeed)."""
    interest = session.get(Interest, interest_id, with_for_update=True)
    if interest is None or viewer.organization_id is None:
        raise NotFound("意向不存在")
    if interest.from_org_id != viewer.organization_id:
        raise NotFound("意向不存在")
    if interest.status != "pending":
        raise Conflict(
            f"对方已处理该意向（{vocab.label(vocab.INTEREST_STATUSES, interest.status)}），不能撤回"
        )
    interest.status = "withdrawn"
    interest.decided_at = utcnow()
    session.add(interest)
    session.flush()
    services.audit(
        session=session,
        action="interest.withdraw",
        actor_id=viewer.user_id,
        object_type="interest",
        object_id=interest.id,
    )
    return interest


def my_interest_in(
    session: Session,
    viewer: Viewer,
    *,
    technology_id: int | None = None,
    need_id: int | None = None,
) -> Interest | None:
    """The viewer's organization's latest interest in a listing that still stands (pending or
    accepted); after a decline or a withdrawal the organization may ask again."""
    if viewer.organization_id is None:
        return None
    stmt = select(Interest).where(
        Interest.from_org_id == viewer.organization_id,
        col(Interest.status).in_(("pending", "accepted")),
    )
    if technology_id is not None:
        stmt = stmt.where(Interest.technology_id == technology_id)
    else:
        stmt = stmt.where(Interest.need_id == need_id)
    return session.exec(stmt.order_by(col(Interest.created_at).desc())).first()


def offerable_listings(session: Session, viewer: Viewer, *, kind: str) -> list[Any]:
    """The viewer's own published technologies (kind="technology") or needs, to cite in an
    interest: "this result of ours answers your need" / "this need of ours is why we ask"."""
    if viewer.organization_id is None:
        return []
    model: Any = Technology if kind == "technology" else Need
    return list(
        session.exec(
            select(model)
            .where(model.owner_id == viewer.organization_id, model.status == "published")
            .order_by(col(model.title))
        )
    )


def lead_origin(session: Session, lead: Lead) -> Interest | None:
    """The interest whose acceptance opened this lead (its message is the first word of it)."""
    return session.exec(select(Interest).where(Interest.lead_id == lead.id)).first()


def decide_interest(
    *,
    session: Session,
    viewer: Viewer,
    interest_id: int,
    accept: bool,
    reason_code: str | None = None,
    reason_text: str = "",
) -> Interest:
    interest = session.get(Interest, interest_id, with_for_update=True)
    if interest is None or interest.to_org_id != viewer.organization_id:
        raise NotFound("意向不存在")
    if interest.status != "pending":
        raise Conflict("该意向已处理")
    interest.decided_at = utcnow()
    listing = (
        session.get(Technology, interest.technology_id)
        if interest.technology_id
        else session.get(Need, interest.need_id)
    )
    title = listing.title if listing else ""
    if accept:
        interest.status = "accepted"
        supplier, demander = _sides(session, interest)
        sender, acceptor = interest.from_user_id, viewer.user_id
        lead = open_lead(
            session=session,
            supplier_id=supplier,
            demander_id=demander,
            technology_id=interest.technology_id or interest.offered_technology_id,
            need_id=interest.need_id,
            source="interest",
            stage="interest",
            actor_id=viewer.user_id,
            consent="意向已接受",
            supplier_user_id=acceptor if supplier == interest.to_org_id else sender,
            demander_user_id=acceptor if demander == interest.to_org_id else sender,
        )
        interest.lead_id = lead.id
        notify_org(
            session,
            interest.from_org_id,
            "interest.accepted",
            f"对方接受了您对《{title}》的意向，可查看联系方式",
            f"/leads/{lead.id}",
        )
    else:
        if reason_code not in vocab.DECLINE_REASONS:
            raise ValidationFailed("请选择婉拒原因")
        interest.status = "declined"
        interest.reason_code = reason_code
        interest.reason_text = (reason_text or "").strip()[:500]
        notify_org(
            session,
            interest.from_org_id,
            "interest.declined",
            f"对方婉拒了您对《{title}》的意向：{vocab.DECLINE_REASONS[reason_code]}",
            "/interests",
        )
    session.add(interest)
    services.audit(
        session=session,
        action="interest.accept" if accept else "interest.decline",
        actor_id=viewer.user_id,
        object_type="interest",
        object_id=interest.id,
        detail={"reason": reason_code} if not accept else {},
    )
    return interest


def open_lead(
    *,
    session: Session,
    supplier_id: int,
    demander_id: int,
    source: str,
    stage: str,
    consent: str,
    actor_id: int | None,
    technology_id: int | None = None,
    need_id: int | None = None,
    supplier_user_id: int | None = None,
    demander_user_id: int | None = None,
    amount: float | None = None,
) -> Lead:
    """The only way a Lead is created. `consent` says on what both sides agreed (it is kept in
    the lead's history and the audit log); callers check that both sides did."""
    if supplier_id == demander_id:
        raise Conflict("对接线索的两方不能是同一单位")
    if stage not in vocab.LEAD_STAGES:
        raise ValidationFailed("未知的阶段")
    lead = Lead(
        technology_id=technology_id,
        need_id=need_id,
        supplier_id=supplier_id,
        demander_id=demander_id,
        stage=stage,
        source=source,
        contract_amount=amount,
        supplier_user_id=supplier_user_id,
        demander_user_id=demander_user_id,
    )
    session.add(lead)
    session.flush()
    session.add(
        LeadEvent(
            lead_id=pk(lead), from_stage=None, to_stage=stage, actor_id=actor_id, note=consent,
            amount=amount,
        )
    )  # fmt: skip
    services.audit(
        session=session,
        action="lead.open",
        actor_id=actor_id,
        object_type="lead",
        object_id=lead.id,
        detail={"source": source, "stage": stage},
    )
    return lead


def _sides(session: Session, interest: Interest) -> tuple[int, int]:
    """(supplier = the results side, demander = the needs side) of an interest."""
    if interest.technology_id is not None:
        return interest.to_org_id, interest.from_org_id
    return interest.from_org_id, interest.to_org_id


# --------------------------------------------------------------------------------------------
# contacts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str
    email: str
    revealed: bool


def may_see_contacts(session: Session, viewer: Viewer, listing: Technology | Need) -> bool:
    if viewer.organization_id is not None and viewer.organization_id == listing.owner_id:
        return True
    if viewer.is_admin:
        return True
    if viewer.organization_id is None:
        return False
    field = Interest.technology_id if isinstance(listing, Technology) else Interest.need_id
    accepted = session.exec(
        select(Interest).where(
            field == listing.id,
            Interest.status == "accepted",
            or_(
                (col(Interest.from_org_id) == viewer.organization_id)
                & (col(Interest.to_org_id) == listing.owner_id),
                (col(Interest.to_org_id) == viewer.organization_id)
                & (col(Interest.from_org_id) == listing.owner_id),
            ),
        )
    ).first()
    return accepted is not None


def contact_for(
    session: Session, viewer: Viewer, listing: Technology | Need, *, audit_reveal: bool = True
) -> Contact:
    revealed = may_see_contacts(session, viewer, listing)
    name, phone, email = (
        listing.contact_name or "",
        listing.contact_phone or "",
        listing.contact_email or "",
    )
    if not revealed:
        return Contact(mask_name(name), mask_phone(phone), mask_email(email), False)
    if audit_reveal and reveal_is_audited(viewer, listing):
        audit_reveal_of(session, viewer, listing)
    return Contact(name, phone, email, True)


def reveal_is_audited(viewer: Viewer, listing: Technology | Need) -> bool:
    """Seeing another organization's contacts is a reveal; one's own is not."""
    has_contact = bool(listing.contact_name or listing.contact_phone or listing.contact_email)
    return has_contact and viewer.organization_id != listing.owner_id


def audit_reveal_of(session: Session, viewer: Viewer, listing: Technology | Need) -> None:
    services.audit(
        session=session,
        action="contact.reveal",
        actor_id=viewer.user_id,
        object_type="technology" if isinstance(listing, Technology) else "need",
        object_id=listing.id,
    )


def _person(session: Session, user_id: int | None, org_id: int) -> dict[str, str] | None:
    user = session.get(User, user_id) if user_id else None
    if user is None or not user.is_active or user.organization_id != org_id:
        return None
    return {"name": user.name, "phone": user.phone or "", "email": user.email}


def _listing_contact(listing: Technology | Need | None, org_id: int) -> dict[str, str] | None:
    if listing is None or listing.owner_id != org_id:
        return None
    if not (listing.contact_name or listing.contact_phone or listing.contact_email):
        return None
    return {
        "name": listing.contact_name or "",
        "phone": listing.contact_phone or "",
        "email": listing.contact_email or "",
    }


def lead_contacts(session: Session, viewer: Viewer, lead: Lead) -> dict[str, dict[str, str] | None]:
    """Each side's contact for the lead's participants: the contact of the listing the lead is
    about, else the person of that side who consented; never the organization's other users.
    Shown to the two sides (and admins), audited as a reveal."""
    require_participant(viewer, lead)
    tech = session.get(Technology, lead.technology_id) if lead.technology_id else None
    need = session.get(Need, lead.need_id) if lead.need_id else None
    out = {
        "supplier": _listing_contact(tech, lead.supplier_id)
        or _person(session, lead.supplier_user_id, lead.supplier_id),
        "demander": _listing_contact(need, lead.demander_id)
        or _person(session, lead.demander_user_id, lead.demander_id),
    }
    services.audit(
        session=session,
        action="contact.reveal",
        actor_id=viewer.user_id,
        object_type="lead",
        object_id=lead.id,
    )
    return out


def lead_listing_titles(session: Session, viewer: Viewer, lead: Lead) -> dict[str, str | None]:
    """The titles of what the lead is about, as this viewer may see them."""
    tech = session.get(Technology, lead.technology_id) if lead.technology_id else None
    need = session.get(Need, lead.need_id) if lead.need_id else None
    return {
        "technology": technology_title_for(tech, viewer) if lead.technology_id else None,
        "need": need_title_for(need, viewer) if lead.need_id else None,
    }


# --------------------------------------------------------------------------------------------
# leads
# --------------------------------------------------------------------------------------------


def require_participant(viewer: Viewer, lead: Lead) -> None:
    if viewer.is_admin:
        return
    if viewer.organization_id not in (lead.supplier_id, lead.demander_id):
        raise NotFound("对接线索不存在")


def get_lead(session: Session, viewer: Viewer, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound("对接线索不存在")
    require_participant(viewer, lead)
    return lead


def advance_lead(
    *,
    session: Session,
    viewer: Viewer,
    lead_id: int,
    to_stage: str,
    note: str = "",
    amount: float | None = None,
) -> Lead:
    lead = get_lead(session, viewer, lead_id)
    if to_stage not in vocab.LEAD_STAGES:
        raise ValidationFailed("未知的阶段")
    order = vocab.LEAD_STAGE_ORDER
    if order.index(to_stage) <= order.index(lead.stage):
        raise Conflict(f"线索已处于「{vocab.LEAD_STAGES[lead.stage]}」，只能向后推进")
    if to_stage in ("signed", "registered"):
        if amount is None and lead.contract_amount is None:
            raise ValidationFailed("签约或合同登记需填写合同金额（万元）")
        if amount is not None and amount < 0:
            raise ValidationFailed("合同金额不能为负数")
    assert lead.id is not None
    event = LeadEvent(
        lead_id=lead.id,
        from_stage=lead.stage,
        to_stage=to_stage,
        actor_id=viewer.user_id,
        note=note.strip()[:1000],
        amount=amount,
    )  # type: ignore[arg-type]
    lead.stage = to_stage
    if amount is not None:
        lead.contract_amount = amount
    lead.updated_at = utcnow()
    session.add(lead)
    session.add(event)
    other = lead.demander_id if viewer.organization_id == lead.supplier_id else lead.supplier_id
    notify_org(
        session,
        other,
        "lead.stage",
        f"对接线索 #{lead.id} 进入「{vocab.LEAD_STAGES[to_stage]}」阶段",
        f"/leads/{lead.id}",
    )
    services.audit(
        session=session,
        action="lead.advance",
        actor_id=viewer.user_id,
        object_type="lead",
        object_id=lead.id,
        detail={"to": to_stage},
    )
    return lead


def lead_history(session: Session, lead_id: int) -> list[LeadEvent]:
    return list(
        session.exec(
            select(LeadEvent)
            .where(LeadEvent.lead_id == lead_id)
            .order_by(col(LeadEvent.at), col(LeadEvent.id))
        )
    )


def interests_for(session: Session, viewer: Viewer) -> dict[str, list[Interest]]:
    if viewer.organization_id is None:
        return {"received": [], "sent": []}
    received = session.exec(
        select(Interest)
        .where(Interest.to_org_id == viewer.organization_id)
        .order_by(col(Interest.created_at).desc())
    ).all()
    sent = session.exec(
        select(Interest)
        .where(Interest.from_org_id == viewer.organization_id)
        .order_by(col(Interest.created_at).desc())
    ).all()
    return {"received": list(received), "sent": list(sent)}


def leads_for(session: Session, viewer: Viewer) -> list[Lead]:
    if viewer.organization_id is None:
        return []
    stmt = select(Lead).where(
        or_(
            col(Lead.supplier_id) == viewer.organization_id,
            col(Lead.demander_id) == viewer.organization_id,
        )
    )
    return list(session.exec(stmt.order_by(col(Lead.updated_at).desc())))


def describe_listing(session: Session, viewer: Viewer, interest: Interest) -> dict[str, Any]:
    """The listing an interest is about, and the sender's own listing it cites, as this viewer
    may see them (a hidden need's title stays hidden from everyone but its owner and staff)."""
    offered: dict[str, str] | None = None
    if interest.offered_technology_id:
        own_tech = session.get(Technology, interest.offered_technology_id)
        offered = {
            "kind": "成果",
            "title": technology_title_for(own_tech, viewer) if own_tech else "",
            "link": f"/technologies/{interest.offered_technology_id}",
        }
    elif interest.offered_need_id:
        own_need = session.get(Need, interest.offered_need_id)
        offered = {
            "kind": "需求",
            "title": need_title_for(own_need, viewer),
            "link": f"/needs/{interest.offered_need_id}",
        }
    if interest.technology_id:
        tech = session.get(Technology, interest.technology_id)
        return {
            "kind": "成果",
            "title": technology_title_for(tech, viewer) if tech else "",
            "link": f"/technologies/{interest.technology_id}",
            "offered": offered,
        }
    need = session.get(Need, interest.need_id)
    return {
        "kind": "需求",
        "title": need_title_for(need, viewer),
        "link": f"/needs/{interest.need_id}",
        "offered": offered,
    }
