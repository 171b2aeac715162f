"""Meeting requests: registered participants only, 必须见 up to the cap; availability."""

from __future__ import annotations

import pytest

from matcher.access import Viewer
from matcher.db import session_scope
from matcher.errors import Conflict, Forbidden
from matcher.events import requests
from matcher.events.models import Event
from matcher.models import pk
from tests.matcher.events.conftest import Seeded
from tests.matcher.events.seed import sides, viewer_of


def test_requests_need_registration_and_a_cap(seeded: Seeded) -> None:
    with session_scope(seeded.engine) as session:
        event = session.get(Event, seeded.event_id)
        assert event is not None
        demand, supply = sides(session, seeded.event_id)
        viewer = viewer_of(demand[0])

        def ask(who: Viewer, to: int, strength: str) -> None:
            requests.set_request(
                session=session, viewer=who, event=event, to_participant_id=to, strength=strength
            )

        ask(viewer, pk(supply[0]), "must")
        ask(viewer, pk(supply[1]), "must")
        with pytest.raises(Conflict):  # cap is 2
            ask(viewer, pk(supply[2]), "must")
        assert requests.requests_from(session=session, event=event, me=demand[0]) == {
            pk(supply[0]): "must",
            pk(supply[1]): "must",
        }
        with pytest.raises(Forbidden):
            ask(Viewer(user_id=9, organization_id=None, role="enterprise"), pk(supply[0]), "want")


def test_unavailable_rounds_keep_only_real_ones(seeded: Seeded) -> None:
    with session_scope(seeded.engine) as session:
        event = session.get(Event, seeded.event_id)
        assert event is not None
        demand, _supply = sides(session, seeded.event_id)
        me = requests.set_unavailable(
            session=session, viewer=viewer_of(demand[0]), event=event, slots=[2, 0, 7, 0]
        )
        assert me.unavailable == [0, 2]


def test_recommendations_rank_the_other_side(seeded: Seeded) -> None:
    from matcher.events.reasons import Reasons

    with session_scope(seeded.engine, write=False) as session:
        demand, supply = sides(session, seeded.event_id)
        found = requests.recommendations(
            session=session, matcher=seeded.matcher, reasons=Reasons(session, viewer_of(demand[0])),
            me=demand[0], people=demand + supply,
        )  # fmt: skip
    assert {pk(p) for _v, _r, p in found} == {pk(p) for p in supply}
    scores = [v.score if v else 0 for v, _r, _p in found]
    assert scores == sorted(scores, reverse=True)
