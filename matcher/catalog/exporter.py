"""Write catalogs as files Excel opens correctly: .xlsx, or CSV in UTF-8 with a BOM.

Cell text that a spreadsheet would run as a formula (a leading = + - @, tab or CR) is prefixed
with an apostrophe, which Excel shows as plain text; the importer strips it again."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import Any

from sqlmodel import Session, select

from matcher.catalog.columns import Column, columns_for
from matcher.models import InvestorProfile, Need, Organization, Technology

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: str) -> str:
    if value and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _render(col: Column, value: Any) -> str:
    if col.render is not None:
        return col.render(value)
    if value is None:
        return ""
    return str(value)


def catalog_rows(
    session: Session,
    kind: str,
    *,
    where: Callable[[Any], bool] | None = None,
    mask: Callable[[Any, str, str], str] | None = None,
) -> tuple[list[str], list[list[str]]]:
    """Headers and rendered rows. ``where`` filters objects; ``mask(obj, attr, text)`` may hide a
    value the reader may not see (contacts, confidential text)."""
    columns = columns_for(kind)
    headers = [c.header for c in columns]
    org_names = {o.id: o.name for o in session.exec(select(Organization))}
    rows: list[list[str]] = []
    if kind == "organizations":
        profiles = {p.organization_id: p for p in session.exec(select(InvestorProfile))}
        objects: Iterable[Any] = session.exec(select(Organization).order_by(Organization.id))  # type: ignore[arg-type]
    elif kind == "technologies":
        objects = session.exec(select(Technology).order_by(Technology.id))  # type: ignore[arg-type]
    else:
        objects = session.exec(select(Need).order_by(Need.id))  # type: ignore[arg-type]
    for obj in objects:
        if where is not None and not where(obj):
            continue
        row = []
        for col in columns:
            if col.attr == "owner":
                value: Any = org_names.get(obj.owner_id, "")
            elif kind == "organizations" and col.attr in (
                "fields",
                "stages",
                "ticket_min",
                "ticket_max",
                "regions",
                "preference",
            ):
                profile = profiles.get(obj.id)
                value = getattr(profile, col.attr) if profile is not None else None
            else:
                value = getattr(obj, col.attr)
            text = _render(col, value)
            if mask is not None:
                text = mask(obj, col.attr, text)
            row.append(neutralize(text))
        rows.append(row)
    return headers, rows


def write_csv(headers: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def write_xlsx(headers: list[str], rows: list[list[str]], *, sheet_title: str = "数据") -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import Cell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = sheet_title
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in rows:
        sheet.append(row)
    # Every value is text: keep Excel from turning 编号 like 0012 or dates into numbers.
    for row_cells in sheet.iter_rows(min_row=2):
        for cell in row_cells:
            if isinstance(cell, Cell) and cell.value is not None:
                cell.data_type = "s"
    for idx, header in enumerate(headers, start=1):
        width = max([len(header) * 2 + 2] + [min(60, len(str(r[idx - 1])) + 2) for r in rows[:200]])
        sheet.column_dimensions[get_column_letter(idx)].width = min(60, width)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_catalog(session: Session, kind: str, fmt: str, **kwargs: Any) -> bytes:
    headers, rows = catalog_rows(session, kind, **kwargs)
    if fmt == "csv":
        return write_csv(headers, rows)
    if fmt == "xlsx":
        return write_xlsx(headers, rows)
    raise ValueError(f"未知的导出格式：{fmt}（可选 xlsx、csv）")
