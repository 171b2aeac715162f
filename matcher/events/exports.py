"""What an event hands out: agendas (Excel, iCalendar), run sheets, the grid, meeting briefs.

Every output is made for one viewer: reasons and briefs name a need only when that viewer may
see it (`matcher.events.reasons`, `matcher.access.need_projection`)."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from matcher.access import NeedProjection, Viewer, can_see_need, need_projection
from matcher.catalog.exporter import neutralize
from matcher.events.access import require_organizer
from matcher.events.models import Event, Meeting, Participant
from matcher.events.outcomes import meeting_rows, report
from matcher.events.reasons import Reasons
from matcher.events.schedule import meetings_of
from matcher.events.setup import event_slots, event_tables, participants
from matcher.events.slots import Slot
from matcher.models import Need, Organization, Technology, pk

TZ = "Asia/Shanghai"


@dataclass
class AgendaRow:
    slot: Slot
    table: str
    meeting: Meeting
    counterpart: Organization
    counterpart_group: str
    reason: str


def names(
    *, session: Session, event: Event
) -> tuple[dict[int, Participant], dict[int, Organization], dict[int, str]]:
    people = {pk(p): p for p in participants(session=session, event_id=pk(event))}
    orgs = {
        pk(o): o
        for o in session.exec(
            select(Organization).where(
                col(Organization.id).in_({p.organization_id for p in people.values()})
            )
        )
    }
    tables = {pk(t): t.name for t in event_tables(session=session, event_id=pk(event))}
    return people, orgs, tables


def agenda(
    *, session: Session, event: Event, participant: Participant, viewer: Viewer
) -> list[AgendaRow]:
    slots = event_slots(session=session, event_id=pk(event))
    people, orgs, tables = names(session=session, event=event)
    mine = [
        m
        for m in meetings_of(session=session, event_id=pk(event))
        if pk(participant) in (m.demand_id, m.supply_id)
    ]
    reasons = Reasons(session, viewer).load(mine)
    rows = []
    for m in mine:
        other = people[m.supply_id if m.demand_id == pk(participant) else m.demand_id]
        rows.append(
            AgendaRow(
                slots[m.slot],
                tables.get(m.table_id or 0, ""),
                m,
                orgs[other.organization_id],
                other.group,
                reasons.of(m),
            )
        )
    return sorted(rows, key=lambda r: r.slot.index)


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_title(name: str, taken: set[str]) -> str:
    """A worksheet name Excel accepts: none of [ ] : * ? / or a backslash, at most 31 characters, not
    starting or ending with an apostrophe, unique in the workbook (case-insensitively)."""
    base = _SHEET_FORBIDDEN.sub("-", name).strip("'").strip() or "参会方"
    base = base[:28]
    title, n = base, 1
    while title.lower() in taken:
        n += 1
        suffix = f"({n})"
        title = base[: 31 - len(suffix)] + suffix
    taken.add(title.lower())
    return title


def agenda_xlsx(*, session: Session, event: Event, who: list[Participant], viewer: Viewer) -> bytes:
    """One sheet per participant (or one participant): time, table, counterpart, why."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    _, orgs, _ = names(session=session, event=event)
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    taken: set[str] = set()
    for participant in who:
        label = orgs[participant.organization_id].name + (
            f" {participant.team}" if participant.team else ""
        )
        sheet = workbook.create_sheet(title=sheet_title(label, taken))
        sheet.append(
            [neutralize(f"{event.name} · {orgs[participant.organization_id].name} 的洽谈日程")]
        )
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append(
            [f"{event.starts_on.isoformat()} {event.venue or ('线上' if event.online else '')}"]
        )
        sheet.append([])
        sheet.append(["时间", "桌位", "洽谈对象", "匹配理由"])
        for cell in sheet[4]:
            cell.font = Font(bold=True)
        for row in agenda(session=session, event=event, participant=participant, viewer=viewer):
            sheet.append(
                [
                    row.slot.label,
                    row.table,
                    neutralize(row.counterpart.name),
                    neutralize(row.reason),
                ]
            )
        for letter, width in (("A", 22), ("B", 10), ("C", 32), ("D", 70)):
            sheet.column_dimensions[letter].width = width
        for line in sheet.iter_rows(min_row=5):
            for cell in line:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _ics_text(value: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon and comma escaped; every line break (CRLF, CR or
    LF) becomes the two characters \\n, so no text can start a line of its own."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 lines are at most 75 octets; longer ones continue on lines starting with a space."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    current = b""
    for ch in line:
        encoded = ch.encode()
        if len(current) + len(encoded) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)


def agenda_ics(
    *,
    session: Session,
    event: Event,
    participant: Participant,
    viewer: Viewer,
    host: str = "duijie",
) -> bytes:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//duijie//matchmaking//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_ics_text(event.name)}",
        "BEGIN:VTIMEZONE",
        f"TZID:{TZ}",
        "BEGIN:STANDARD",
        "DTSTART:19700101T000000",
        "TZOFFSETFROM:+0800",
        "TZOFFSETTO:+0800",
        "TZNAME:CST",
        "END:STANDARD",
        "END:VTIMEZONE",
    ]
    host = re.sub(r"[^A-Za-z0-9.-]", "", host) or "duijie"
    for row in agenda(session=session, event=event, participant=participant, viewer=viewer):
        start = dt.datetime.combine(row.slot.day, row.slot.start)
        end = dt.datetime.combine(row.slot.day, row.slot.end)
        lines += [
            "BEGIN:VEVENT",
            f"UID:meeting-{pk(row.meeting)}-{pk(participant)}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;TZID={TZ}:{start:%Y%m%dT%H%M%S}",
            f"DTEND;TZID={TZ}:{end:%Y%m%dT%H%M%S}",
            f"SUMMARY:{_ics_text('洽谈：' + row.counterpart.name)}",
            f"LOCATION:{_ics_text((event.venue + ' ' if event.venue else '') + row.table)}",
            f"DESCRIPTION:{_ics_text(row.reason)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()


def run_sheet(*, session: Session, event: Event, table_id: int) -> list[dict[str, Any]]:
    slots = event_slots(session=session, event_id=pk(event))
    people, orgs, _ = names(session=session, event=event)
    out = []
    for m in meetings_of(session=session, event_id=pk(event)):
        if m.table_id != table_id:
            continue
        out.append({
            "slot": slots[m.slot],
            "meeting": m,
            "demand": orgs[people[m.demand_id].organization_id],
            "supply": orgs[people[m.supply_id].organization_id],
        })  # fmt: skip
    return sorted(out, key=lambda r: r["slot"].index)


def grid(*, session: Session, event: Event, viewer: Viewer) -> dict[str, Any]:
    """Slots × tables, each cell the meeting there (for the organizer's overview)."""
    slots = event_slots(session=session, event_id=pk(event))
    tables = event_tables(session=session, event_id=pk(event))
    people, orgs, _ = names(session=session, event=event)
    meetings = meetings_of(session=session, event_id=pk(event))
    reasons = Reasons(session, viewer).load(meetings)
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for m in meetings:
        cells[(m.slot, m.table_id or 0)] = {
            "meeting": m,
            "demand": orgs[people[m.demand_id].organization_id].name,
            "supply": orgs[people[m.supply_id].organization_id].name,
            "reason": reasons.of(m),
        }
    return {"slots": slots, "tables": tables, "cells": cells}


# --------------------------------------------------------------------------------------------
# 对接简报: a one-page brief per meeting
# --------------------------------------------------------------------------------------------


def brief(*, session: Session, event: Event, meeting: Meeting, viewer: Viewer) -> dict[str, Any]:
    """The one-page brief of a meeting, as this viewer may read it: the need it was arranged on
    (or the demand side's first need the viewer may see), the result, the checks between them."""
    people, orgs, tables = names(session=session, event=event)
    demand, supply = people[meeting.demand_id], people[meeting.supply_id]
    need_row = session.get(Need, meeting.need_id) if meeting.need_id else None
    if need_row is None:
        for candidate in session.exec(
            select(Need)
            .where(col(Need.id).in_(demand.need_ids or [-1]), Need.status == "published")
            .order_by(col(Need.id))
        ):
            if can_see_need(candidate, viewer):
                need_row = candidate
                break
    tech = session.get(Technology, meeting.technology_id) if meeting.technology_id else None
    if tech is None or tech.status != "published":
        tech = session.exec(
            select(Technology)
            .where(
                col(Technology.id).in_(supply.technology_ids or [-1]),
                Technology.status == "published",
            )
            .order_by(col(Technology.id))
        ).first()
    need = need_projection(need_row, viewer) if need_row is not None else None
    checks = []
    if tech is not None and need is not None and need.visible:
        if need.min_trl:
            ok = tech.trl >= need.min_trl
            checks.append(
                (
                    "成熟度",
                    ok,
                    f"成果 TRL {tech.trl}，需求要求 TRL {need.min_trl}"
                    + ("" if ok else "（有差距）"),
                )
            )
        if need.budget is not None:
            ok = tech.price is None or tech.price <= need.budget
            price = "面议" if tech.price is None else f"{tech.price:g} 万元"
            checks.append(("价格", ok, f"成果报价 {price}，需求预算 {need.budget:g} 万元"))
    if tech is not None:
        checks.append(("合作方式", True, "、".join(tech.cooperation_modes) or "—"))
        ip = "；".join(f"{i['type']} {i['number']}" for i in tech.ip_items) or "暂无登记的知识产权"
        checks.append(("知识产权", bool(tech.ip_items), ip))
    return {
        "event": event,
        "meeting": meeting,
        "reason": Reasons(session, viewer).of(meeting),
        "slot": event_slots(session=session, event_id=pk(event))[meeting.slot],
        "table": tables.get(meeting.table_id or 0, ""),
        "demand_org": orgs[demand.organization_id],
        "supply_org": orgs[supply.organization_id],
        "need": need,
        "tech": tech,
        "checks": checks,
        "questions": suggested_questions(need, tech),
    }


def suggested_questions(need: NeedProjection | None, tech: Technology | None) -> list[str]:
    """Three questions worth asking, from the gaps between the need and the result."""
    questions: list[str] = []
    if tech is not None and need is not None and need.min_trl and tech.trl < need.min_trl:
        questions.append(
            f"成果目前处于 TRL {tech.trl}，达到企业要求的 TRL {need.min_trl} 还需要哪些验证、多长时间、多少投入？"
        )
    if tech is not None:
        questions.append(
            f"《{tech.title}》在与企业相近的生产条件下做过哪些试验？关键指标和数据是多少？"
        )
    if (
        tech is not None
        and need is not None
        and need.budget is not None
        and tech.price is not None
        and tech.price > need.budget
    ):
        questions.append(
            f"报价 {tech.price:g} 万元高于预算 {need.budget:g} 万元：能否分阶段实施，或以许可、作价投资等方式降低前期投入？"
        )
    if tech is not None and "许可" in tech.cooperation_modes:
        questions.append("许可的范围（地域、行业、独占或普通）和费用结构如何约定？")
    if need is not None:
        questions.append(
            (f"企业方：对「{need.title}」" if need.visible else "企业方：对这项需求")
            + "的验收标准是什么？现场能提供哪些数据和试验条件？"
        )
    questions.append("双方各自投入的人员与分工、知识产权归属和保密安排如何约定？")
    return questions[:3]


def report_xlsx(*, session: Session, event: Event, viewer: Viewer) -> bytes:
    """The event report as a workbook for the organizer's own files: the figures, each chart's
    table, and one row per meeting (who met whom, where, in which field, and how it went)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    require_organizer(viewer, event)
    data = report(session=session, event=event)
    workbook = Workbook()
    summary = workbook.active
    assert summary is not None
    summary.title = "概况"
    summary.append([neutralize(f"活动报告：{event.name}")])
    summary["A1"].font = Font(bold=True, size=13)
    summary.append(
        [
            f"{event.starts_on.isoformat()} 至 {event.ends_on.isoformat()}",
            neutralize(event.venue or ""),
        ]
    )
    summary.append([])
    for label, value in (
        ("需求方", data["participants"]["demand"]),
        ("成果方", data["participants"]["supply"]),
        ("签到", data["checked_in"]),
        ("安排洽谈", data["scheduled"]),
        ("已进行", data["held"]),
        ("未到场", data["no_show"]),
        ("签约（双方确认，项）", data["contracts"]["confirmed"]),
        ("签约金额（万元，双方确认）", data["signed_amount"]),
        ("待确认的签约（项）", data["contracts"]["claimed"]),
        ("待确认的签约金额（万元）", data["claimed_amount"]),
        ("对接线索", data["leads"]),
    ):
        summary.append([label, value])
    summary.column_dimensions["A"].width = 30
    summary.column_dimensions["B"].width = 24

    def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
        sheet = workbook.create_sheet(title=title)
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([neutralize(v) if isinstance(v, str) else v for v in row])
        sheet.column_dimensions["A"].width = 36

    table("评价", ["评价", "条数"], [[k, v] for k, v in data["ratings"].items()])
    table("结果", ["后续打算", "条数"], [[k, v] for k, v in data["outcomes"].items()])
    table(
        "按技术领域",
        ["技术领域", "已进行", "积极"],
        [[k, v["held"], v["positive"]] for k, v in data["by_field"].items()],
    )
    table(
        "按院所",
        ["成果方", "已进行", "积极"],
        [[k, v["held"], v["positive"]] for k, v in data["by_institute"].items()],
    )
    table(
        "洽谈明细",
        [
            "时间",
            "桌位",
            "需求方",
            "成果方",
            "技术领域",
            "状态",
            "需求方评价",
            "成果方评价",
            "签约",
        ],
        meeting_rows(session=session, event=event),
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
