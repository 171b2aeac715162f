"""Expert review: conflicts of interest refused with their reason, scores, rankings."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from matcher.challenges.applications import application_for, save_application
from matcher.challenges.models import Application, ApplicationPartner
from matcher.challenges.publishing import save_challenge
from matcher.challenges.review import (
    assign_expert,
    conflicts,
    declare_conflict,
    rankings,
    submit_score,
)
from matcher.db import session_scope
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.models import Lead, User, pk
from tests.matcher.challenges.conftest import (
    GOOD_SCORES,
    ORGANIZER,
    PUBLISHER,
    World,
    assign_free_expert,
    challenge_in,
    complete_application,
    confirm_partner,
)


def test_conflicted_experts_are_refused_with_the_reason(world: World, application_id: int) -> None:
    confirm_partner(world, application_id)
    with session_scope(world.engine) as session:
        application = world.application(session, application_id)
        for expert, reason in (
            ("e-same@example.cn", "专家就职于申请单位"),  # same organization as the applicant
            ("e-lead@example.cn", "专家就职于申请单位"),  # works at the confirmed co-applicant
        ):
            with pytest.raises(Conflict, match=reason):
                assign_expert(
                    session=session, viewer=ORGANIZER, application=application,
                    expert_id=world.ids[expert],
                )  # fmt: skip


def test_only_organizers_assign(world: World, application_id: int) -> None:
    with session_scope(world.engine) as session, pytest.raises(Forbidden):
        assign_expert(
            session=session, viewer=world.viewer(session, "buyer@example.cn"),
            application=world.application(session, application_id),
            expert_id=world.ids["e-free@example.cn"],
        )  # fmt: skip


def test_a_declared_conflict_blocks_the_assignment(world: World, application_id: int) -> None:
    with session_scope(world.engine) as session:
        free = world.viewer(session, "e-free@example.cn")
        declare_conflict(
            session=session,
            viewer=free,
            organization_id=world.ids["北辰理工大学"],
            note="曾任客座教授",
        )
        with pytest.raises(Conflict, match=r"专家声明.*曾任客座教授"):
            assign_expert(
                session=session, viewer=ORGANIZER,
                application=world.application(session, application_id),
                expert_id=world.ids["e-free@example.cn"],
            )  # fmt: skip


def test_scores_are_checked_then_ranked(world: World, application_id: int) -> None:
    with session_scope(world.engine) as session:
        assignment = assign_free_expert(world, session, application_id)
        application = world.application(session, application_id)
        assert application.status == "under_review"
        free = world.viewer(session, "e-free@example.cn")
        assert (
            application_for(session=session, viewer=free, application_id=application_id)[0]
            is application
        )
        with pytest.raises(ValidationFailed, match="0–30"):
            submit_score(
                session=session, viewer=free, assignment=assignment,
                scores={**GOOD_SCORES, "technical": 31}, comment="意见写得足够长了吧",
            )  # fmt: skip
        with pytest.raises(NotFound):
            submit_score(
                session=session, viewer=world.viewer(session, "bc@example.cn"),
                assignment=assignment, scores={}, comment="",
            )  # fmt: skip
        submit_score(
            session=session, viewer=free, assignment=assignment, scores=GOOD_SCORES,
            comment="技术路线清晰，低温数据充分。",
        )  # fmt: skip
        challenge = world.challenge(session, application.challenge_id)
        ranking = rankings(session=session, viewer=ORGANIZER, challenge=challenge)
        assert ranking[0].mean == 82 and ranking[0].reviews == 1 and ranking[0].spread is None


def test_a_recent_lead_or_joint_application_is_a_conflict(world: World) -> None:
    engine, ids = world.engine, world.ids
    with session_scope(engine) as session:
        challenge = save_challenge(
            session=session, viewer=ORGANIZER, data=challenge_in(), publisher_id=ids[PUBLISHER]
        )
        application = save_application(
            session=session, viewer=world.viewer(session, "yx@example.cn"), challenge=challenge,
            data=complete_application(),
        )  # fmt: skip
        # 南海 (expert e-lead's organization) had a lead with 云岫 two years ago
        session.add(
            Lead(supplier_id=ids["云岫储能研究所"], demander_id=ids["南海材料研究院"], stage="negotiation",
                 created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=730))
        )  # fmt: skip
        session.flush()
        with pytest.raises(Conflict, match="对接合作"):
            assign_expert(
                session=session, viewer=ORGANIZER, application=application,
                expert_id=ids["e-lead@example.cn"],
            )  # fmt: skip
    with session_scope(engine) as session:
        # four years ago is outside the window; a joint application is not
        lead = session.exec(select(Lead)).one()
        lead.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=4 * 365)
        session.add(lead)
        application = session.exec(select(Application)).one()
        expert = session.get(User, ids["e-lead@example.cn"])
        assert expert is not None
        assert conflicts(session=session, expert=expert, application=application) == []
        other = save_challenge(
            session=session, viewer=ORGANIZER, data=challenge_in(title="另一个榜单"),
            publisher_id=ids[PUBLISHER],
        )  # fmt: skip
        joint = Application(
            challenge_id=pk(other), organization_id=ids["南海材料研究院"], status="submitted"
        )
        session.add(joint)
        session.flush()
        partner = ApplicationPartner(
            application_id=pk(joint), organization_id=ids["云岫储能研究所"], status="invited"
        )
        session.add(partner)
        session.flush()
        # an unconfirmed partner is a name someone typed: it makes no conflict
        assert conflicts(session=session, expert=expert, application=application) == []
        partner.status = "confirmed"
        session.add(partner)
        session.flush()
        reasons = conflicts(session=session, expert=expert, application=application)
        assert any("联合申报" in r for r in reasons)
