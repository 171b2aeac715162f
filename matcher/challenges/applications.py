"""Applying to a challenge: drafts and submission, co-applicants who confirm, cited results,
answers to the indicators, withdrawal, and who may read an application."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from matcher import services
from matcher.access import Viewer, listing_visible
from matcher.challenges import indicators as ind
from matcher.challenges.access import can_manage
from matcher.challenges.models import (
    Application,
    ApplicationEvent,
    ApplicationPartner,
    Challenge,
    ChallengeIndicator,
    ExpertAssignment,
)
from matcher.challenges.publishing import indicators_of
from matcher.challenges.schemas import ApplicationIn
from matcher.challenges.teams import eligibility
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.models import Organization, Technology, pk, utcnow
from matcher.notifications import notify_org

CHANGEABLE = ("draft", "withdrawn", "submitted")  # before review starts
CITABLE = ("published", "transferred")


def my_application(*, session: Session, viewer: Viewer, challenge: Challenge) -> Application | None:
    if viewer.organization_id is None:
        return None
    return session.exec(
        select(Application).where(
            Application.challenge_id == challenge.id,
            Application.organization_id == viewer.organization_id,
        )
    ).first()


def record_status(
    *, session: Session, application: Application, status: str, viewer: Viewer, note: str = ""
) -> None:
    """A step of the application's timeline (who moved it to `status`, and why)."""
    session.add(
        ApplicationEvent(
            application_id=pk(application), status=status, note=note, actor_id=viewer.user_id
        )
    )


def save_application(
    *, session: Session, viewer: Viewer, challenge: Challenge, data: ApplicationIn
) -> Application:
    """Save a draft, or submit (`data.submit`) before the deadline; co-applicants named for the
    first time are asked to confirm, and the publisher hears of a submission."""
    org = _applicant(session, viewer, challenge, submit=data.submit)
    partners = _partners_named(session, org, data.partner_names)
    cited = own_citable_results(
        session=session, viewer=viewer, technology_ids=data.cited_technology_ids
    )
    known = {pk(r) for r in indicators_of(session=session, challenge_id=pk(challenge))}
    if set(data.indicator_answers) - known:
        raise ValidationFailed("回答了不属于本榜单的指标")
    application = my_application(session=session, viewer=viewer, challenge=challenge)
    if application is None:
        application = Application(
            challenge_id=pk(challenge), organization_id=pk(org), created_by=viewer.user_id
        )
    elif application.status not in CHANGEABLE:
        raise Conflict("申请已进入评审，不能再修改")
    created = application.id is None
    before = application.status
    _write_content(application, data, cited)
    if data.submit:
        application.status = "submitted"
        application.submitted_at = utcnow()
    elif application.status == "withdrawn":
        application.status = "draft"
    session.add(application)
    session.flush()
    _name_partners(session, application, challenge, org, partners)
    if created or application.status != before:
        record_status(
            session=session, application=application, status=application.status, viewer=viewer
        )
    if data.submit and before != "submitted":
        notify_org(
            session,
            challenge.publisher_id,
            "challenge.application",
            f"「{org.name}」揭榜「{challenge.title}」",
            f"/challenges/{challenge.id}",
        )
    return application


def _applicant(
    session: Session, viewer: Viewer, challenge: Challenge, *, submit: bool
) -> Organization:
    """The viewer's organization, if it may apply to this challenge now."""
    if viewer.organization_id is None or viewer.role not in ("enterprise", "university"):
        raise Forbidden("请以高校、院所或企业的单位账号揭榜")
    if challenge.status != "open":
        raise Conflict("该榜单当前不接受揭榜")
    org = session.get(Organization, viewer.organization_id)
    if org is None:
        raise NotFound("单位不存在")
    ok, note = eligibility(challenge, org)
    if not ok:
        raise Conflict(f"不能揭榜：{note}")
    if submit and dt.date.today() > challenge.application_deadline:
        raise Conflict(f"揭榜已于 {challenge.application_deadline.isoformat()} 截止")
    return org


def _partners_named(session: Session, org: Organization, names: list[str]) -> list[Organization]:
    """The co-applicants by name: each must be on the platform (the applicant itself is dropped)."""
    partners: list[Organization] = []
    for name in names:
        if not name.strip():
            continue
        partner = services.organization_by_name(session=session, name=name.strip())
        if partner is None:
            raise ValidationFailed(f"联合申请单位「{name.strip()}」不在平台上")
        if partner.id != org.id and partner not in partners:
            partners.append(partner)
    return partners


def _write_content(application: Application, data: ApplicationIn, cited: list[Technology]) -> None:
    application.team = data.team
    application.leader = data.leader
    application.approach = data.approach
    application.budget = data.budget
    application.milestones = [m.as_stored() for m in data.milestones]
    application.cited_technology_ids = [pk(t) for t in cited]
    application.indicator_answers = {
        str(k): v.strip() for k, v in data.indicator_answers.items() if v.strip()
    }
    application.updated_at = utcnow()


def own_citable_results(
    *, session: Session, viewer: Viewer, technology_ids: list[int]
) -> list[Technology]:
    """The applicant's own listed results among `technology_ids`; citing another organization's
    result, or one that is not listed, is refused."""
    if not technology_ids:
        return []
    rows = list(session.exec(select(Technology).where(col(Technology.id).in_(set(technology_ids)))))
    if len(rows) != len(set(technology_ids)) or any(
        t.owner_id != viewer.organization_id or t.status not in CITABLE for t in rows
    ):
        raise Forbidden("只能引用本单位已发布的成果")
    order = {tid: i for i, tid in enumerate(technology_ids)}
    return sorted(rows, key=lambda t: order[pk(t)])


def citable_results(*, session: Session, viewer: Viewer) -> list[Technology]:
    """What the applicant may cite: its organization's listed results."""
    if viewer.organization_id is None:
        return []
    return list(
        session.exec(
            select(Technology)
            .where(
                Technology.owner_id == viewer.organization_id,
                col(Technology.status).in_(CITABLE),
            )
            .order_by(col(Technology.title))
        )
    )


@dataclass
class AnswerCheck:
    indicator: ChallengeIndicator
    answer: str
    verdict: ind.Verdict


def answer_checks(*, session: Session, application: Application) -> list[AnswerCheck]:
    """Each indicator with the applicant's answer and whether the stated figure meets it (the
    same unit-aware check the team search uses; no figure stays 未说明)."""
    out = []
    for row in indicators_of(session=session, challenge_id=application.challenge_id):
        answer = (application.indicator_answers or {}).get(str(row.id), "")
        verdict = ind.compare(
            f"{row.name}{answer}" if answer else "",
            row.name,
            row.comparison,
            row.value,
            row.value_max,
            row.unit,
        )
        out.append(AnswerCheck(row, answer, verdict))
    return out


def cited_results(
    *, session: Session, viewer: Viewer, application: Application
) -> list[Technology]:
    """The results an application cites, as far as the viewer may see them."""
    ids = application.cited_technology_ids or []
    if not ids:
        return []
    rows = {pk(t): t for t in session.exec(select(Technology).where(col(Technology.id).in_(ids)))}
    return [rows[i] for i in ids if i in rows and listing_visible(session, viewer, rows[i])]


def _name_partners(
    session: Session,
    application: Application,
    challenge: Challenge,
    applicant: Organization,
    partners: list[Organization],
) -> None:
    """Keep the named co-applicants in step with the form: new ones are asked to confirm, ones
    no longer named are dropped; a partner's answer is kept while it stays named."""
    wanted = {pk(p) for p in partners}
    for row in session.exec(
        select(ApplicationPartner).where(ApplicationPartner.application_id == application.id)
    ):
        if row.organization_id not in wanted:
            session.delete(row)
        wanted.discard(row.organization_id)
    for org_id in wanted:
        session.add(ApplicationPartner(application_id=pk(application), organization_id=org_id))
        notify_org(
            session, org_id, "challenge.partner",
            f"「{applicant.name}」将贵单位列为揭榜「{challenge.title}」的联合申请单位：请确认或拒绝",
            f"/applications/{application.id}",
        )  # fmt: skip


def partners_of(
    *, session: Session, application: Application, confirmed_only: bool = False
) -> list[ApplicationPartner]:
    stmt = select(ApplicationPartner).where(ApplicationPartner.application_id == application.id)
    if confirmed_only:
        stmt = stmt.where(ApplicationPartner.status == "confirmed")
    return list(session.exec(stmt.order_by(col(ApplicationPartner.id))))


def confirmed_partner_ids(*, session: Session, application: Application) -> set[int]:
    return {
        p.organization_id
        for p in partners_of(session=session, application=application, confirmed_only=True)
    }


def decide_partnership(
    *, session: Session, viewer: Viewer, application_id: int, confirm: bool
) -> ApplicationPartner:
    """A named partner's own user confirms (or declines) joining the application."""
    row = session.exec(
        select(ApplicationPartner).where(
            ApplicationPartner.application_id == application_id,
            ApplicationPartner.organization_id == (viewer.organization_id or -1),
        )
    ).first()
    if row is None:
        raise NotFound("申请不存在")
    application = session.get(Application, application_id)
    if application is None or application.status in ("awarded", "not_selected"):
        raise Conflict("该申请已有评审结论")
    row.status = "confirmed" if confirm else "declined"
    row.decided_by = viewer.user_id
    row.decided_at = utcnow()
    session.add(row)
    partner = session.get(Organization, row.organization_id)
    notify_org(
        session, application.organization_id, "challenge.partner",
        f"「{partner.name if partner else '联合申请单位'}」" + ("已确认联合申请" if confirm else "拒绝了联合申请"),
        f"/applications/{application_id}",
    )  # fmt: skip
    services.audit(
        session=session,
        action="challenge.partner_" + ("confirm" if confirm else "decline"),
        actor_id=viewer.user_id,
        object_type="application",
        object_id=application_id,
    )
    return row


def withdraw_application(*, session: Session, viewer: Viewer, application: Application) -> None:
    if viewer.organization_id != application.organization_id:
        raise NotFound("申请不存在")
    if application.status not in ("draft", "submitted"):
        raise Conflict("申请已进入评审，不能撤回")
    application.status = "withdrawn"
    session.add(application)
    record_status(session=session, application=application, status="withdrawn", viewer=viewer)


def application_for(
    *, session: Session, viewer: Viewer, application_id: int
) -> tuple[Application, Challenge]:
    """The applicant, a named partner, the challenge's managers (not drafts) and its assigned
    experts may read it."""
    application = session.get(Application, application_id)
    if application is None:
        raise NotFound("申请不存在")
    challenge = session.get(Challenge, application.challenge_id)
    if challenge is None:
        raise NotFound("申请不存在")
    if viewer.organization_id is not None and viewer.organization_id == application.organization_id:
        return application, challenge
    if viewer.organization_id is not None and _is_named_partner(session, viewer, application):
        return application, challenge  # a named partner reads what it is asked to join
    if application.status != "draft" and can_manage(viewer, challenge):
        return application, challenge
    if application.status != "draft" and _is_assigned_expert(session, viewer, application):
        return application, challenge
    raise NotFound("申请不存在")


def _is_named_partner(session: Session, viewer: Viewer, application: Application) -> bool:
    return _exists(
        session,
        select(ApplicationPartner).where(
            ApplicationPartner.application_id == application.id,
            ApplicationPartner.organization_id == viewer.organization_id,
        ),
    )


def _is_assigned_expert(session: Session, viewer: Viewer, application: Application) -> bool:
    return viewer.user_id is not None and _exists(
        session,
        select(ExpertAssignment).where(
            ExpertAssignment.application_id == application.id,
            ExpertAssignment.expert_id == viewer.user_id,
        ),
    )


def _exists(session: Session, stmt: Any) -> bool:
    return session.exec(stmt).first() is not None


def applications_of(*, session: Session, viewer: Viewer, challenge: Challenge) -> list[Application]:
    if not can_manage(viewer, challenge):
        raise NotFound("榜单不存在")
    return list(
        session.exec(
            select(Application)
            .where(Application.challenge_id == challenge.id, Application.status != "draft")
            .order_by(col(Application.submitted_at))
        )
    )


def timeline(*, session: Session, application_id: int) -> list[ApplicationEvent]:
    return list(
        session.exec(
            select(ApplicationEvent)
            .where(ApplicationEvent.application_id == application_id)
            .order_by(col(ApplicationEvent.at), col(ApplicationEvent.id))
        )
    )
