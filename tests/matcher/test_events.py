"""Events through the service layer: setup, requests, the schedule, safe edits, outcomes."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import accounts
from matcher.access import Viewer
from matcher.catalog import import_catalog
from matcher.config import get_settings, reset_settings
from matcher.db import session_scope
from matcher.errors import Conflict, Forbidden
from matcher.events import exports, outcomes, scheduling, service
from matcher.events.models import Event, FollowUp, Meeting, Participant
from matcher.indexing import IndexManager
from matcher.matching import Matcher
from matcher.models import Lead, Notification, Organization, pk


def _orgs_csv() -> str:
    from matcher.identifiers import make_credit_code

    rows = ["单位名称,单位类型,统一社会信用代码"]
    for i in range(3):
        rows.append(f"企业{i},企业,{make_credit_code(f'9121010{i}MA0TEXT12')}")
    rows += ["院所甲,科研院所,", "院所乙,科研院所,", "院所丙,高校,"]
    return "\n".join(rows) + "\n"


TECHS = (
    "成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n"
    "高炉炉况监测,院所甲,冶金与矿业,基于风口图像的高炉炉况在线监测,6,转让\n"
    "绿茶保鲜包装,院所乙,食品,高阻隔包装延缓绿茶褐变,5,许可\n"
    "风电变流器控制,院所丙,能源与动力,直驱风电变流器无位置传感器控制,6,技术开发\n"
)
NEEDS = (
    "需求名称,需求类型,发布单位,需求描述,最低成熟度\n"
    "高炉预警,技术需求,企业0,希望在线监测高炉炉况并预警,5\n"
    "茶叶包装,技术需求,企业1,绿茶存放后变黄，需要阻隔包装,4\n"
    "风电控制,技术需求,企业2,风电变流器编码器故障多，希望无传感器控制,6\n"
)
ORGANIZER = Viewer(user_id=None, organization_id=None, role="organizer")


@pytest.fixture
def setup(
    engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Engine, Matcher, int]]:
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    settings = get_settings()
    for kind, data in (("organizations", _orgs_csv()), ("technologies", TECHS), ("needs", NEEDS)):
        import_catalog(
            engine=engine, kind=kind, data=data.encode(), filename=f"{kind}.csv", settings=settings
        )
    manager = IndexManager(engine, settings).open()
    matcher = Matcher(manager)
    day = dt.date.today() + dt.timedelta(days=10)
    with session_scope(engine) as session:
        event = service.create_event(
            session, ORGANIZER, name="测试对接会", starts_on=day, ends_on=day, meeting_cap=2, tables=2,
            sessions=[{"day": day, "start": dt.time(9, 0), "end": dt.time(10, 10), "slot_minutes": 20, "breaks": [["09:40", "09:50"]]}],
        )  # fmt: skip
        orgs = {o.name: pk(o) for o in session.exec(select(Organization))}
        for i in range(3):
            service.invite(session, ORGANIZER, event, orgs[f"企业{i}"], "demand", "测试")
        for name in ("院所甲", "院所乙", "院所丙"):
            service.invite(session, ORGANIZER, event, orgs[name], "supply", "测试")
        for p in service.participants(session, pk(event)):
            service.register(
                session,
                Viewer(user_id=None, organization_id=p.organization_id, role="enterprise"),
                event,
            )
        event_id = pk(event)
    yield engine, matcher, event_id
    manager.close()


def _viewer_of(session, participant: Participant) -> Viewer:  # type: ignore[no-untyped-def]
    return Viewer(user_id=None, organization_id=participant.organization_id, role="enterprise")


def _person(session, participant: Participant) -> Viewer:  # type: ignore[no-untyped-def]
    """A real user of the participant's organization (feedback records who gave it)."""
    user = accounts.create_user(
        session=session, email=f"p{participant.id}@example.cn", name=f"联系人{participant.id}",
        password="pass-123456", role="enterprise", organization_id=participant.organization_id,
    )  # fmt: skip
    return Viewer(user_id=user.id, organization_id=participant.organization_id, role="enterprise")


def test_slots_skip_breaks(setup) -> None:  # type: ignore[no-untyped-def]
    engine, _, event_id = setup
    with session_scope(engine, write=False) as session:
        slots = service.event_slots(session, event_id)
    assert [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M")) for s in slots] == [
        ("09:00", "09:20"),
        ("09:20", "09:40"),
        ("09:50", "10:10"),
    ]


def test_schedule_edit_publish_outcome(setup) -> None:  # type: ignore[no-untyped-def]
    engine, matcher, event_id = setup
    with session_scope(engine) as session:
        event = session.get(Event, event_id)
        people = service.participants(session, event_id)
        demand = [p for p in people if p.group == "demand"]
        supply = [p for p in people if p.group == "supply"]
        # 企业0 must meet 院所甲, and never 院所乙
        service.set_request(session, _viewer_of(session, demand[0]), event, pk(supply[0]), "must")
        service.set_request(session, _viewer_of(session, demand[0]), event, pk(supply[1]), "never")
        service.set_unavailable(session, _viewer_of(session, supply[2]), event, [0])
        result = service.generate_schedule(session, ORGANIZER, matcher, event)
        assert result.must_scheduled == result.must_feasible == 1
        meetings = service.meetings_of(session, event_id)
        pairs = {(m.demand_id, m.supply_id) for m in meetings}
        assert (pk(demand[0]), pk(supply[0])) in pairs and (
            pk(demand[0]),
            pk(supply[1]),
        ) not in pairs
        assert not any(m.supply_id == pk(supply[2]) and m.slot == 0 for m in meetings)
        # why each meeting was arranged is stored as ids, never as another organization's text
        assert all(m.basis == "match" and m.need_id and m.technology_id for m in meetings)

        # edits that would double-book, overfill a table, or break 不见 are refused
        first, second = meetings[0], meetings[1]
        busy = next((m for m in meetings if m.slot == first.slot and m.id != first.id), None)
        if busy is not None:
            with pytest.raises(Conflict):
                service.move_meeting(
                    session, ORGANIZER, event, pk(first), first.slot, busy.table_id
                )  # type: ignore[arg-type]
        with pytest.raises(Conflict):
            service.add_meeting(
                session,
                ORGANIZER,
                event,
                pk(demand[0]),
                pk(supply[1]),
                2,
                service.event_tables(session, event_id)[0].id,
            )  # type: ignore[arg-type]
        with pytest.raises(Conflict):
            service.move_meeting(session, ORGANIZER, event, pk(first), first.slot, 999_999)
        with pytest.raises(Forbidden):
            service.move_meeting(
                session, _viewer_of(session, demand[0]), event, pk(first), 1, first.table_id
            )  # type: ignore[arg-type]
        _ = second

        # a meeting added by hand keeps the participant's cap (moves and swaps cannot break it)
        has = sum(1 for m in meetings if m.demand_id == pk(demand[0]))
        demand[0].cap = has
        session.add(demand[0])
        with pytest.raises(Conflict, match=f"已有 {has} 场洽谈，达到其上限"):
            service.add_meeting(
                session, ORGANIZER, event, pk(demand[0]), pk(supply[2]), 0,
                service.event_tables(session, event_id)[0].id,
            )  # type: ignore[arg-type]  # fmt: skip

        # whatever was allowed, the schedule is still valid
        problem, _values = service.build_problem(session, matcher, event)
        placed = [
            scheduling.Placed(
                m.demand_id,
                m.supply_id,
                m.slot,
                [t.id for t in service.event_tables(session, event_id)].index(m.table_id),
                0,
                False,
            )
            for m in service.meetings_of(session, event_id)
        ]
        assert scheduling.check(problem, placed) == []

        service.publish(session, ORGANIZER, event)
        notes = session.exec(select(Notification).where(Notification.kind == "event.agenda")).all()
        assert notes == [] or all("/events/" in n.link for n in notes)
        with pytest.raises(Conflict):
            service.move_meeting(session, ORGANIZER, event, pk(first), first.slot, first.table_id)  # type: ignore[arg-type]

        # agenda exports
        agenda = exports.agenda(session, event, demand[0], ORGANIZER)
        assert agenda and agenda[0].counterpart.name and "需求《" in agenda[0].reason
        ics = exports.agenda_ics(session, event, demand[0], ORGANIZER).decode()
        assert (
            ics.startswith("BEGIN:VCALENDAR")
            and "TZID=Asia/Shanghai" in ics
            and ics.count("BEGIN:VEVENT") == len(agenda)
        )
        import openpyxl

        wb = openpyxl.load_workbook(
            io.BytesIO(exports.agenda_xlsx(session, event, [demand[0]], ORGANIZER))
        )
        assert wb.active["A4"].value == "时间"
        brief = exports.brief(session, event, first, ORGANIZER)
        assert len(brief["questions"]) == 3 and brief["checks"]

        # outcomes: each side about itself; contacts only on both sides' consent; a contract
        # one side reports is claimed until the other confirms it
        sides = {p.id: p for p in people}
        demand_side = _person(session, sides[first.demand_id])
        supply_side = _person(session, sides[first.supply_id])
        held_day = event.starts_on  # type: ignore[union-attr]
        with pytest.raises(Conflict, match="尚未进行"):
            outcomes.record_feedback(session, demand_side, event, pk(first), status="held")
        outcomes.record_feedback(
            session, demand_side, event, pk(first), status="held", rating="promising",
            outcome="signed", amount=50, share_contact=True, today=held_day,
        )  # type: ignore[arg-type]  # fmt: skip
        meeting = session.get(Meeting, pk(first))
        assert meeting.lead_id is None  # type: ignore[union-attr]
        assert outcomes.report(session, event)["contracts"] == {"confirmed": 0, "claimed": 1}  # type: ignore[arg-type]
        outcomes.record_feedback(
            session, supply_side, event, pk(first), status="held", rating="useful",
            outcome="signed", amount=40, share_contact=True, today=held_day,
        )  # type: ignore[arg-type]  # fmt: skip
        rows = outcomes.feedback_of(session, pk(first))
        assert rows["demand"].rating == "promising" and rows["supply"].rating == "useful"
        assert meeting.lead_id is not None  # type: ignore[union-attr]
        lead = session.get(Lead, meeting.lead_id)  # type: ignore[union-attr]
        assert lead.source == "event" and lead.stage == "signed" and lead.contract_amount == 40  # type: ignore[union-attr]
        assert (lead.technology_id, lead.need_id) == (first.technology_id, first.need_id)  # type: ignore[union-attr]
        follow = session.exec(select(FollowUp).where(FollowUp.meeting_id == meeting.id)).all()  # type: ignore[union-attr]
        assert sorted(f.months for f in follow) == [1, 3, 6]
        sent = service.send_due_follow_ups(session, today=event.ends_on + dt.timedelta(days=40))  # type: ignore[union-attr]
        assert (
            sent == 1
            and service.send_due_follow_ups(session, today=event.ends_on + dt.timedelta(days=40))
            == 0
        )  # type: ignore[union-attr]
        report = outcomes.report(session, event)  # type: ignore[arg-type]
        assert (
            report["held"] == 1
            and report["outcomes"]["签约"] == 1
            and report["signed_amount"] == 40
            and report["contracts"] == {"confirmed": 1, "claimed": 0}
        )


def test_requests_need_registration_and_a_cap(setup) -> None:  # type: ignore[no-untyped-def]
    engine, _matcher, event_id = setup
    with session_scope(engine) as session:
        event = session.get(Event, event_id)
        people = service.participants(session, event_id)
        demand = next(p for p in people if p.group == "demand")
        supply = [p for p in people if p.group == "supply"]
        viewer = _viewer_of(session, demand)
        service.set_request(session, viewer, event, pk(supply[0]), "must")  # type: ignore[arg-type]
        service.set_request(session, viewer, event, pk(supply[1]), "must")  # type: ignore[arg-type]
        with pytest.raises(Conflict):  # cap is 2
            service.set_request(session, viewer, event, pk(supply[2]), "must")  # type: ignore[arg-type]
        stranger = Viewer(user_id=9, organization_id=None, role="enterprise")
        with pytest.raises(Forbidden):
            service.set_request(session, stranger, event, pk(supply[0]), "want")  # type: ignore[arg-type]
    assert Meeting  # imported for the model registry


def test_random_edits_never_break_the_schedule(setup) -> None:  # type: ignore[no-untyped-def]
    """Move, swap, add and remove at random; whatever is accepted, nobody is double-booked, no
    table holds two meetings, nobody sits in a slot they declared unavailable, nobody has more
    meetings than their cap."""
    import random

    engine, matcher, event_id = setup
    rng = random.Random(7)
    with session_scope(engine) as session:
        event = session.get(Event, event_id)
        people = service.participants(session, event_id)
        demand = [pk(p) for p in people if p.group == "demand"]
        supply = [pk(p) for p in people if p.group == "supply"]
        service.set_unavailable(session, _viewer_of(session, people[-1]), event, [1])  # type: ignore[arg-type]
        service.generate_schedule(session, ORGANIZER, matcher, event)  # type: ignore[arg-type]
    accepted = refused = 0
    for _ in range(200):
        with session_scope(engine) as session:
            event = session.get(Event, event_id)
            tables = [pk(t) for t in service.event_tables(session, event_id)]
            meetings = service.meetings_of(session, event_id)
            op = rng.choice(["move", "swap", "add", "remove"] if meetings else ["add"])
            slot, table = rng.randrange(-1, 4), rng.choice([*tables, 999_999])
            try:
                if op == "move":
                    m = rng.choice(meetings)
                    service.move_meeting(session, ORGANIZER, event, pk(m), slot, table)  # type: ignore[arg-type]
                elif op == "swap" and len(meetings) > 1:
                    a, b = rng.sample(meetings, 2)
                    service.swap_meetings(session, ORGANIZER, event, pk(a), pk(b))  # type: ignore[arg-type]
                elif op == "add":
                    d, s = rng.choice(demand), rng.choice(supply)
                    service.add_meeting(session, ORGANIZER, event, d, s, slot, table)  # type: ignore[arg-type]
                elif op == "remove" and rng.random() < 0.3:
                    service.remove_meeting(session, ORGANIZER, event, pk(rng.choice(meetings)))  # type: ignore[arg-type]
                accepted += 1
            except Conflict:
                refused += 1
        with session_scope(engine, write=False) as session:
            event = session.get(Event, event_id)
            problem, _ = service.build_problem(session, matcher, event)  # type: ignore[arg-type]
            ids = [pk(t) for t in service.event_tables(session, event_id)]
            placed = [
                scheduling.Placed(m.demand_id, m.supply_id, m.slot, ids.index(m.table_id), 0, False)
                for m in service.meetings_of(session, event_id)
            ]
            assert scheduling.check(problem, placed) == []
    assert accepted > 20 and refused > 20
