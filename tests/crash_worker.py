"""A process that keeps importing catalogs, saving the index and scheduling matchmaking events
until it is killed.

Used by the crash tests: each import and each scheduled event is acknowledged on stdout only
after its transaction committed, so the parent knows which writes must survive a `kill -9`."""

from __future__ import annotations

import datetime as dt
import sys

from sqlmodel import select

from matcher.access import Viewer
from matcher.catalog.importer import import_catalog
from matcher.config import get_settings
from matcher.db import get_engine, session_scope
from matcher.events import invitations, requests, schedule, setup
from matcher.events.schemas import EventIn
from matcher.indexing import IndexManager
from matcher.matching import Matcher
from matcher.migrate import upgrade
from matcher.models import Organization, pk

HEADER = "编号,成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n"
ORGS = (
    "单位名称,单位类型,统一社会信用代码\n北辰理工大学,高校,\n云岫研究所,科研院所,\n"
    "鞍辽钢铁股份有限公司,企业,91350100M000100Y43\n渤澜船舶重工有限公司,企业,91210200MA0QC2RL74\n"
)
ORGANIZER = Viewer(user_id=None, organization_id=None, role="organizer")


def schedule_event(engine, matcher: Matcher, batch: int) -> int:  # type: ignore[no-untyped-def]
    """Create an event, invite and register four organizations, and solve its schedule — one
    transaction, acknowledged after commit."""
    day = dt.date.today() + dt.timedelta(days=30)
    with session_scope(engine) as session:
        event = setup.create_event(session=session, viewer=ORGANIZER, event=EventIn(
            name=f"崩溃测试对接会 {batch}", starts_on=day, ends_on=day, tables=2, meeting_cap=3,
            sessions=[{"day": day, "start": dt.time(9), "end": dt.time(10), "slot_minutes": 20}],
        ))  # fmt: skip
        for org in session.exec(select(Organization)):
            group = "demand" if org.kind == "enterprise" else "supply"
            invitations.invite(
                session=session, viewer=ORGANIZER, event=event, organization_id=pk(org), group=group
            )
            invitations.register(
                session=session,
                viewer=Viewer(user_id=1, organization_id=pk(org), role="enterprise"),
                event=event,
            )
        # every pair asked for by both sides: scheduled whatever the stand-in model's relevance
        people = setup.participants(session=session, event_id=pk(event))
        for me in people:
            viewer = Viewer(user_id=1, organization_id=me.organization_id, role="enterprise")
            for other in people:
                if other.group != me.group:
                    requests.set_request(
                        session=session, viewer=viewer, event=event,
                        to_participant_id=pk(other), strength="want",
                    )  # fmt: skip
        schedule.generate_schedule(session=session, viewer=ORGANIZER, matcher=matcher, event=event)
        return pk(event)


def main(start: int) -> None:
    settings = get_settings()
    engine = get_engine(settings)
    upgrade(engine)
    import_catalog(engine=engine, kind="organizations", data=ORGS.encode(), filename="o.csv")
    manager = IndexManager(engine, settings).open()
    matcher = Matcher(manager)
    print("READY", flush=True)
    batch = start
    while True:
        rows = "".join(
            f"K{batch}-{i},高炉监测方法{batch}-{i},北辰理工大学,冶金与矿业,基于风口图像的高炉炉况监测第{batch}批第{i}项,5,转让\n"
            for i in range(20)
        )
        import_catalog(
            engine=engine,
            kind="technologies",
            data=(HEADER + rows).encode(),
            filename=f"b{batch}.csv",
        )
        print(f"ACK {batch}", flush=True)
        manager.catch_up(force_save=True)
        print(f"SAVED {batch}", flush=True)
        if batch % 2 == 0:
            print(f"EVENT {schedule_event(engine, matcher, batch)}", flush=True)
        batch += 1


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
