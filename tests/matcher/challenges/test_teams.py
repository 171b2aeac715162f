"""Finding teams: indicator figures read from results' text, candidates ranked and checked,
invitations."""

from __future__ import annotations

import pytest
from sqlmodel import select

from matcher.challenges import indicators as ind
from matcher.challenges.teams import find_teams, invite, trl_fit
from matcher.db import session_scope
from matcher.errors import NotFound
from matcher.models import Notification
from tests.matcher.challenges.conftest import World


def test_indicator_numbers_are_read_and_compared() -> None:
    text = "本电池循环寿命达到2000次以上，能量密度为 180 Wh/kg，识别准确率96.5%，响应时间 3-5 ms"
    assert ind.compare(text, "电池循环寿命", ">=", 1500, None, "次").status == ind.MEETS
    assert ind.compare(text, "循环寿命", ">=", 3000, None, "次").status == ind.SHORT
    assert ind.compare(text, "能量密度", ">=", 200, None, "Wh/kg").status == ind.SHORT
    assert ind.compare(text, "准确率", ">=", 95, None, "%").status == ind.MEETS
    # units of one dimension convert; a stated range must hold at both ends
    assert ind.compare(text, "响应时间", "<=", 0.006, None, "s").status == ind.MEETS
    assert ind.compare(text, "响应时间", "<=", 4, None, "ms").status == ind.SHORT
    assert ind.compare(text, "响应时间", "range", 2, 6, "ms").status == ind.MEETS
    # not stated, or in units that cannot be compared
    assert ind.compare(text, "功率", ">=", 1, None, "kW").status == ind.UNKNOWN
    assert ind.compare(text, "能量密度", ">=", 1, None, "MPa").status == ind.UNKNOWN
    assert ind.compare("寿命 1.2万次", "寿命", ">=", 10000, None, "次").status == ind.MEETS
    assert ind.describe("range", 2, 6, "ms") == "2–6 ms"


def test_trl_fit_lowers_a_team_below_the_requirement() -> None:
    assert trl_fit(None, []) == ("—", 1.0)
    assert trl_fit(None, [4, 6]) == ("TRL 6", 1.0)
    assert trl_fit(5, [6]) == ("TRL 6 ≥ 要求的 5", 1.0)
    assert trl_fit(7, [6]) == ("TRL 6 低于要求的 7", 0.8)


def test_teams_are_found_with_their_indicators_checked(world: World, open_challenge: int) -> None:
    with session_scope(world.engine, write=False) as session:
        buyer = world.viewer(session, "buyer@example.cn")
        challenge = world.challenge(session, open_challenge)
        found = find_teams(
            session=session, viewer=buyer, matcher=world.matcher, challenge=challenge
        )
        by_name = {c.organization.name: c for c in found}
        assert "鞍辽电池股份有限公司" not in by_name  # the publisher is not a candidate
        assert by_name["北辰理工大学"].checks[0].verdict.status == ind.MEETS
        assert by_name["云岫储能研究所"].checks[0].verdict.status == ind.SHORT
        assert by_name["南海材料研究院"].checks[0].verdict.status == ind.UNKNOWN
        assert found[0].organization.name == "北辰理工大学"
        with pytest.raises(NotFound):  # only the publisher and organizers see the candidates
            find_teams(
                session=session, viewer=world.viewer(session, "bc@example.cn"),
                matcher=world.matcher, challenge=challenge,
            )  # fmt: skip


def test_an_invitation_tells_the_team_why(world: World, open_challenge: int) -> None:
    with session_scope(world.engine) as session:
        invite(
            session=session, viewer=world.viewer(session, "buyer@example.cn"),
            challenge=world.challenge(session, open_challenge),
            organization_id=world.ids["北辰理工大学"], reason="循环寿命已达 2000 次",
        )  # fmt: skip
        notes = session.exec(
            select(Notification).where(Notification.user_id == world.ids["bc@example.cn"])
        ).all()
        assert any("循环寿命已达 2000 次" in n.text for n in notes)
