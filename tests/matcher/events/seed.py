"""A small event for the events tests: three enterprises with needs and three institutes with
results, all invited and registered, two tables, three 20-minute rounds around a break."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from matcher import accounts
from matcher.access import Viewer
from matcher.catalog import import_catalog
from matcher.config import Settings
from matcher.db import session_scope
from matcher.events import invitations, setup
from matcher.events.models import Participant
from matcher.events.schemas import EventIn
from matcher.models import Organization, pk

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


def orgs_csv() -> str:
    from matcher.identifiers import make_credit_code

    rows = ["单位名称,单位类型,统一社会信用代码"]
    for i in range(3):
        rows.append(f"企业{i},企业,{make_credit_code(f'9121010{i}MA0TEXT12')}")
    rows += ["院所甲,科研院所,", "院所乙,科研院所,", "院所丙,高校,"]
    return "\n".join(rows) + "\n"


def import_listings(engine: Engine, settings: Settings) -> None:
    for kind, data in (("organizations", orgs_csv()), ("technologies", TECHS), ("needs", NEEDS)):
        import_catalog(
            engine=engine, kind=kind, data=data.encode(), filename=f"{kind}.csv", settings=settings
        )


def event_in(day: dt.date, **extra: object) -> EventIn:
    data: dict[str, object] = {
        "name": "测试对接会", "starts_on": day, "ends_on": day, "meeting_cap": 2, "tables": 2,
        "sessions": [{"day": day, "start": "09:00", "end": "10:10", "slot_minutes": 20, "breaks": [["09:40", "09:50"]]}],
    }  # fmt: skip
    return EventIn.model_validate({**data, **extra})


def registered_event(engine: Engine) -> int:
    """The event with every organization invited (by kind) and registered."""
    day = dt.date.today() + dt.timedelta(days=10)
    with session_scope(engine) as session:
        event = setup.create_event(session=session, viewer=ORGANIZER, event=event_in(day))
        orgs = {o.name: pk(o) for o in session.exec(select(Organization))}
        for name, group in [(f"企业{i}", "demand") for i in range(3)] + [
            (name, "supply") for name in ("院所甲", "院所乙", "院所丙")
        ]:
            invitations.invite(
                session=session, viewer=ORGANIZER, event=event, organization_id=orgs[name],
                group=group, note="测试",
            )  # fmt: skip
        for p in setup.participants(session=session, event_id=pk(event)):
            invitations.register(session=session, viewer=viewer_of(p), event=event)
        return pk(event)


def viewer_of(participant: Participant) -> Viewer:
    return Viewer(user_id=None, organization_id=participant.organization_id, role="enterprise")


def person(session: Session, participant: Participant) -> Viewer:
    """A real user of the participant's organization (feedback records who gave it)."""
    user = accounts.create_user(
        session=session, email=f"p{participant.id}@example.cn", name=f"联系人{participant.id}",
        password="pass-123456", role="enterprise", organization_id=participant.organization_id,
    )  # fmt: skip
    return Viewer(user_id=user.id, organization_id=participant.organization_id, role="enterprise")


def sides(session: Session, event_id: int) -> tuple[list[Participant], list[Participant]]:
    people = setup.participants(session=session, event_id=event_id)
    return [p for p in people if p.group == "demand"], [p for p in people if p.group == "supply"]
