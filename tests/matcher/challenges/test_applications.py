"""Applications: drafts and submission, the deadline, co-applicants who confirm."""

from __future__ import annotations

import datetime as dt

import pytest

from matcher.challenges.applications import (
    confirmed_partner_ids,
    decide_partnership,
    partners_of,
    save_application,
    timeline,
)
from matcher.challenges.schemas import ApplicationIn
from matcher.db import session_scope
from matcher.errors import Conflict, NotFound
from tests.matcher.challenges.conftest import World, complete_application


def test_a_draft_may_be_incomplete(world: World, open_challenge: int) -> None:
    with session_scope(world.engine) as session:
        draft = save_application(
            session=session, viewer=world.viewer(session, "bc@example.cn"),
            challenge=world.challenge(session, open_challenge),
            data=ApplicationIn(team="储能课题组"),
        )  # fmt: skip
        assert draft.status == "draft" and draft.team == "储能课题组"


def test_a_submission_asks_the_named_partner_to_confirm(world: World, application_id: int) -> None:
    with session_scope(world.engine) as session:
        application = world.application(session, application_id)
        named = partners_of(session=session, application=application)
        assert application.status == "submitted"
        assert [(p.organization_id, p.status) for p in named] == [
            (world.ids["南海材料研究院"], "invited")
        ]
        assert confirmed_partner_ids(session=session, application=application) == set()
        assert application.milestones == [
            {"title": "样品", "due": "2027-06-30", "amount": 80.0},
            {"title": "中试", "due": "2027-12-31", "amount": 100.0},
        ]
        assert [e.status for e in timeline(session=session, application_id=application_id)] == [
            "submitted"
        ]


def test_only_the_named_partner_confirms(world: World, application_id: int) -> None:
    with session_scope(world.engine) as session:
        with pytest.raises(NotFound):
            decide_partnership(
                session=session, viewer=world.viewer(session, "yx@example.cn"),
                application_id=application_id, confirm=True,
            )  # fmt: skip
        decide_partnership(
            session=session, viewer=world.viewer(session, "e-lead@example.cn"),
            application_id=application_id, confirm=True,
        )  # fmt: skip
        application = world.application(session, application_id)
        assert confirmed_partner_ids(session=session, application=application) == {
            world.ids["南海材料研究院"]
        }


def test_nobody_submits_after_the_deadline(world: World, open_challenge: int) -> None:
    with session_scope(world.engine) as session:
        challenge = world.challenge(session, open_challenge)
        challenge.application_deadline = dt.date.today() - dt.timedelta(days=1)
        session.add(challenge)
        with pytest.raises(Conflict, match="截止"):
            save_application(
                session=session, viewer=world.viewer(session, "yx@example.cn"),
                challenge=challenge, data=complete_application(),
            )  # fmt: skip


def test_the_publisher_cannot_apply_to_its_own_challenge(world: World, open_challenge: int) -> None:
    # an enterprise (and the publisher), where only 高校 and 院所 may apply
    with session_scope(world.engine) as session, pytest.raises(Conflict, match="不能揭榜"):
        save_application(
            session=session, viewer=world.viewer(session, "buyer@example.cn"),
            challenge=world.challenge(session, open_challenge), data=complete_application(),
        )  # fmt: skip
