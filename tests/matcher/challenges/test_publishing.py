"""Publishing: moderation before an enterprise's challenge is listed, and the listing."""

from __future__ import annotations

import pytest

from matcher.access import Viewer
from matcher.challenges.access import get_challenge
from matcher.challenges.publishing import list_challenges, moderate, save_challenge
from matcher.challenges.teams import invite
from matcher.db import session_scope
from matcher.errors import Conflict, Forbidden, NotFound, ValidationFailed
from matcher.models import pk
from tests.matcher.challenges.conftest import ORGANIZER, PUBLISHER, World, challenge_in


def test_an_enterprise_challenge_waits_for_moderation(world: World) -> None:
    with session_scope(world.engine) as session:
        buyer = world.viewer(session, "buyer@example.cn")
        challenge = save_challenge(session=session, viewer=buyer, data=challenge_in())
        assert challenge.status == "pending"
        stranger = Viewer(user_id=None)
        with pytest.raises(NotFound):
            get_challenge(session=session, viewer=stranger, challenge_id=pk(challenge))
        with pytest.raises(Conflict):  # not invitable before publication
            invite(
                session=session, viewer=buyer, challenge=challenge,
                organization_id=world.ids["北辰理工大学"],
            )  # fmt: skip
        with pytest.raises(Forbidden):
            moderate(session=session, viewer=buyer, challenge=challenge, approve=True)
        moderate(session=session, viewer=ORGANIZER, challenge=challenge, approve=True)
        assert challenge.status == "open"
        assert (
            get_challenge(session=session, viewer=stranger, challenge_id=pk(challenge)) is challenge
        )


def test_a_rejection_needs_its_reason_and_a_published_challenge_stays_as_published(
    world: World, open_challenge: int
) -> None:
    with session_scope(world.engine) as session:
        buyer = world.viewer(session, "buyer@example.cn")
        pending = save_challenge(session=session, viewer=buyer, data=challenge_in(title="另一个"))
        with pytest.raises(ValidationFailed, match="理由"):
            moderate(session=session, viewer=ORGANIZER, challenge=pending, approve=False)
        with pytest.raises(Conflict, match="不能再修改"):
            save_challenge(
                session=session, viewer=buyer, data=challenge_in(title="改名"),
                existing=world.challenge(session, open_challenge),
            )  # fmt: skip


def test_listing_filters_and_search(world: World) -> None:
    with session_scope(world.engine) as session:
        publisher = world.ids[PUBLISHER]
        save_challenge(
            session=session, viewer=ORGANIZER, data=challenge_in(), publisher_id=publisher
        )
        save_challenge(
            session=session, viewer=ORGANIZER,
            data=challenge_in(title="船体阻力预报软件", problem="需要船体阻力与耐波性的数值预报软件，替代部分水池试验，缩短设计周期。", tech_field="船舶与海洋"),
            publisher_id=publisher,
        )  # fmt: skip
        hidden = save_challenge(
            session=session,
            viewer=ORGANIZER,
            data=challenge_in(title="内部榜单", visibility="organizers"),
            publisher_id=publisher,
        )
        anonymous = Viewer()

        def titles(viewer: Viewer = anonymous, **filters: str) -> list[str]:
            return [c.title for c in list_challenges(session=session, viewer=viewer, **filters)]  # type: ignore[arg-type]

        assert "内部榜单" not in titles() and len(titles()) == 2
        assert titles(q="船体阻力") == ["船体阻力预报软件"]
        assert titles(field_name="船舶与海洋") == ["船体阻力预报软件"]
        assert titles(status="awarded") == []
        assert hidden.title in titles(ORGANIZER)
