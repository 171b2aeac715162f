"""Import templates: a 数据 sheet with the headers (and drop-down lists for fixed vocabularies)
and a 说明 sheet describing every column with an example."""

from __future__ import annotations

import io

from matcher import vocab
from matcher.catalog.columns import EXAMPLE_MARK, KIND_LABELS, columns_for, example_values

_DROPDOWNS: dict[str, tuple[str, ...]] = {
    "kind:organizations": tuple(vocab.ORG_KINDS.values()),
    "kind:needs": tuple(vocab.NEED_KINDS.values()),
    "field": vocab.TECH_FIELDS,
    "visibility": tuple(vocab.VISIBILITY.values()),
    "financing_type": tuple(vocab.FINANCING_TYPES.values()),
    "stage": vocab.FINANCING_STAGES,
    "trl": tuple(str(i) for i in range(1, 10)),
    "min_trl": tuple(str(i) for i in range(1, 10)),
}


def template_workbook(kind: str, *, owner_name: str | None = None) -> bytes:
    """The import template for `kind`. With `owner_name` (an organization importing its own
    listings) the 所属单位/发布单位 column is left out: every row is that organization's."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    own = owner_name is not None and kind != "organizations"
    pairs = [
        (c, v)
        for c, v in zip(columns_for(kind), example_values(kind, owner_name=owner_name), strict=True)
        if not (own and c.attr == "owner")
    ]
    columns = [c for c, _ in pairs]
    workbook = Workbook()
    data = workbook.active
    assert data is not None
    data.title = "数据"
    data.append([c.header + ("*" if c.required else "") for c in columns])
    data.append([v for _, v in pairs])
    for cell in data[2]:
        cell.font = Font(italic=True, color="808080")
    for idx, col in enumerate(columns, start=1):
        cell = data.cell(row=1, column=idx)
        cell.font = Font(bold=True, color="C00000" if col.required else "000000")
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        data.column_dimensions[get_column_letter(idx)].width = max(12, len(col.header) * 2 + 4)
        options = _DROPDOWNS.get(f"{col.attr}:{kind}") or _DROPDOWNS.get(col.attr)
        if options:
            dv = DataValidation(
                type="list", formula1='"' + ",".join(options) + '"', allow_blank=True
            )
            dv.error = "请从下拉列表中选择"
            data.add_data_validation(dv)
            dv.add(f"{get_column_letter(idx)}2:{get_column_letter(idx)}5000")
    data.freeze_panes = "A2"

    notes = workbook.create_sheet("说明")
    notes.append(
        [f"{KIND_LABELS[kind]}导入模板：在「数据」表第二行起每行填写一条；带 * 的列必填。"]
    )
    notes.append(
        ["整个文件要么全部导入、要么全部不导入：任何一行有错，系统会列出行号、列名和原因。"]
    )
    notes.append(
        [f"第二行是灰色的示例行，名称以「{EXAMPLE_MARK}」开头，导入时自动跳过；可直接覆盖或删除。"]
    )
    if own:
        notes.append([f"所有记录都属于本单位「{owner_name}」，无需填写所属单位。"])
    notes.append([])
    notes.append(["列名", "必填", "说明", "示例"])
    for cell in notes[notes.max_row]:
        cell.font = Font(bold=True)
    for col in columns:
        notes.append([col.header, "是" if col.required else "", col.help, col.example])
    for letter, width in (("A", 22), ("B", 6), ("C", 70), ("D", 30)):
        notes.column_dimensions[letter].width = width
    for row in notes.iter_rows(min_row=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
