"""The award: bounded by the bounty, a signed lead, the others told; milestones to 验收."""

from __future__ import annotations

import pytest
from sqlmodel import select

from matcher.challenges.applications import timeline
from matcher.challenges.award import award, milestones_of, update_milestone
from matcher.db import session_scope
from matcher.errors import Conflict, Forbidden, ValidationFailed
from matcher.models import Lead, pk
from tests.matcher.challenges.conftest import ORGANIZER, World


def test_an_unscored_application_cannot_win(
    world: World, open_challenge: int, application_id: int
) -> None:
    with session_scope(world.engine) as session, pytest.raises(Conflict, match="还没有专家评分"):
        award(
            session=session, viewer=ORGANIZER, challenge=world.challenge(session, open_challenge),
            application_id=application_id, amount=100,
        )  # fmt: skip


def test_the_award_is_bounded_and_opens_a_signed_lead(
    world: World, open_challenge: int, application_id: int, scored: int
) -> None:
    with session_scope(world.engine) as session:
        challenge = world.challenge(session, open_challenge)
        with pytest.raises(ValidationFailed):  # more than the bounty
            award(
                session=session, viewer=ORGANIZER, challenge=challenge,
                application_id=application_id, amount=999,
            )  # fmt: skip
        award(
            session=session, viewer=ORGANIZER, challenge=challenge,
            application_id=application_id, amount=180, note="综合评分第一",
        )  # fmt: skip
        assert challenge.status == "awarded"
        lead = session.exec(select(Lead).where(Lead.source == "challenge")).one()
        assert lead.supplier_id == world.ids["北辰理工大学"] and lead.contract_amount == 180
        milestones = milestones_of(session=session, challenge_id=open_challenge)
        assert [m.title for m in milestones] == ["样品", "中试"]
        steps = [e.status for e in timeline(session=session, application_id=application_id)]
        assert steps == ["submitted", "under_review", "awarded"]


def test_milestones_are_submitted_by_the_winner_and_accepted_by_the_publisher(
    world: World, open_challenge: int, application_id: int, scored: int
) -> None:
    with session_scope(world.engine) as session:
        award(
            session=session, viewer=ORGANIZER, challenge=world.challenge(session, open_challenge),
            application_id=application_id, amount=180,
        )  # fmt: skip
    with session_scope(world.engine) as session:
        bc = world.viewer(session, "bc@example.cn")
        buyer = world.viewer(session, "buyer@example.cn")
        for m in milestones_of(session=session, challenge_id=open_challenge):
            with pytest.raises(Forbidden):
                update_milestone(session=session, viewer=buyer, milestone_id=pk(m), action="submit")
            update_milestone(
                session=session, viewer=bc, milestone_id=pk(m), action="submit", note="样品已交付"
            )
            with pytest.raises(Forbidden):
                update_milestone(session=session, viewer=bc, milestone_id=pk(m), action="accept")
            update_milestone(
                session=session, viewer=buyer, milestone_id=pk(m), action="accept", note="通过"
            )
        assert world.challenge(session, open_challenge).status == "accepted"
