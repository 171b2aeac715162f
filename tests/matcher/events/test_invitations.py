"""Invitations: the coverage planner, one by one, a ticked batch, a spreadsheet; answers."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher.access import Viewer
from matcher.catalog.reader import Table
from matcher.db import session_scope
from matcher.errors import Conflict, NotFound, ValidationFailed
from matcher.events import invitations, setup
from matcher.events.models import Event, Participant
from matcher.models import Organization, pk
from tests.matcher.events.conftest import Seeded
from tests.matcher.events.seed import ORGANIZER, sides


def _event(session, seeded: Seeded) -> Event:  # type: ignore[no-untyped-def]
    event = session.get(Event, seeded.event_id)
    assert event is not None
    return event


def test_planner_suggests_only_organizations_not_yet_in(seeded: Seeded) -> None:
    with session_scope(seeded.engine) as session:
        event = _event(session, seeded)
        for p in setup.participants(session=session, event_id=pk(event))[1:]:
            session.delete(p)
        session.flush()
        found = invitations.plan_invitations(session=session, matcher=seeded.matcher, event=event)
        inside = {
            p.organization_id for p in setup.participants(session=session, event_id=pk(event))
        }
        assert all(pk(s.organization) not in inside for s in found)
        assert all(s.best.related and s.gain > 0 for s in found)


def test_invite_refuses_unknown_groups_and_organizations(seeded: Seeded) -> None:
    with session_scope(seeded.engine) as session:
        event = _event(session, seeded)
        org = session.exec(select(Organization)).first()
        assert org is not None
        with pytest.raises(ValidationFailed, match="分组应为需求方或成果方"):
            invitations.invite(
                session=session, viewer=ORGANIZER, event=event, organization_id=pk(org), group="x"
            )
        with pytest.raises(NotFound):
            invitations.invite(
                session=session, viewer=ORGANIZER, event=event, organization_id=999_999,
                group="demand",
            )  # fmt: skip
        again = invitations.invite(
            session=session, viewer=ORGANIZER, event=event, organization_id=pk(org), group="demand"
        )
        assert again.status == "registered"  # already in: the existing participant


def test_a_batch_names_what_it_could_not_invite(seeded: Seeded) -> None:
    with session_scope(seeded.engine) as session:
        event = _event(session, seeded)
        org = session.exec(select(Organization)).first()
        assert org is not None
        invited, refused = invitations.invite_batch(
            session=session, viewer=ORGANIZER, event=event,
            picks=[f"{pk(org)}:demand", f"{pk(org)}:nobody", "junk"],
        )  # fmt: skip
        assert (invited, refused) == (1, ["分组应为需求方或成果方"])


def test_an_import_is_all_or_nothing(seeded: Seeded) -> None:
    with session_scope(seeded.engine) as session:
        event = _event(session, seeded)
        bad = Table(
            headers=["单位名称", "分组"], rows=[(2, ["企业0", "需求方"]), (3, ["无此单位", "观众"])]
        )
        count, problems = invitations.import_participants(
            session=session, viewer=ORGANIZER, event=event, table=bad
        )
        assert count == 0 and problems == [
            "第 3 行「单位名称」：单位「无此单位」不存在",
            "第 3 行「分组」：应为需求方或成果方",
        ]
        good = Table(
            headers=["单位名称", "分组", "团队", "洽谈上限"],
            rows=[(2, ["企业0", "需求方", "二组", "3"])],
        )
        count, problems = invitations.import_participants(
            session=session, viewer=ORGANIZER, event=event, table=good
        )
        team = session.exec(select(Participant).where(Participant.team == "二组")).one()
        assert (count, problems) == (1, []) and (team.cap, team.status) == (3, "registered")


def test_registration_closes_with_the_event(engine: Engine, seeded: Seeded) -> None:
    with session_scope(seeded.engine) as session:
        event = _event(session, seeded)
        demand, _supply = sides(session, pk(event))
        viewer = Viewer(None, demand[0].organization_id, "enterprise")
        declined = invitations.register(session=session, viewer=viewer, event=event, accept=False)
        assert declined.status == "declined"
        event.status = "closed"
        stranger_org = Organization(name="新来的企业", kind="enterprise")
        session.add(stranger_org)
        session.flush()
        with pytest.raises(Conflict, match="报名已截止"):
            invitations.register(
                session=session, viewer=Viewer(None, pk(stranger_org), "enterprise"), event=event
            )
