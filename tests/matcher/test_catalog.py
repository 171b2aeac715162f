"""Catalog import and export: all-or-nothing, precise Chinese messages, round trips."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy.engine import Engine

from matcher import services
from matcher.catalog import export_catalog, import_catalog, preview_catalog, template_workbook
from matcher.catalog.exporter import neutralize
from matcher.db import session_scope
from matcher.errors import ImportRejected
from matcher.models import Technology

ORGS = (
    "编号,单位名称,单位类型,省份,城市,统一社会信用代码\n"
    "O1,北辰理工大学,高校,辽宁,沈阳市,\n"
    "O2,华岳重工装备有限公司,企业,辽宁省,鞍山市,91350100M000100Y43\n"
)
TECHS = (
    "编号,成果名称,所属单位,技术领域,成果简介,关键词,成熟度,知识产权,合作方式,价格（万元）,联系电话\n"
    "T1,高铬耐磨衬板,北辰理工大学,新材料,一种高铬铸铁耐磨衬板及热处理工艺,耐磨；衬板,6,发明专利:ZL200310102344.5,转让；许可,面议,13800001234\n"
    "T2,高炉炉况监测,北辰理工大学,冶金与矿业,基于风口图像的高炉炉况在线监测,高炉,5,,技术开发,120,\n"
)


def _counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine, write=False) as session:
        return services.counts(session=session)


def _load(engine: Engine) -> None:
    import_catalog(engine=engine, kind="organizations", data=ORGS.encode(), filename="orgs.csv")
    import_catalog(engine=engine, kind="technologies", data=TECHS.encode(), filename="techs.csv")


def test_import_creates_then_updates_without_duplicating(engine: Engine) -> None:
    _load(engine)
    assert _counts(engine)["technologies"] == 2
    report = import_catalog(
        engine=engine, kind="technologies", data=TECHS.encode(), filename="techs.csv"
    )
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    changed = TECHS.replace("价格（万元）,联系电话\n", "价格（万元）,联系电话\n").replace(
        ",120,", ",150,"
    )
    report = import_catalog(
        engine=engine, kind="technologies", data=changed.encode(), filename="techs.csv"
    )
    assert (report.created, report.updated) == (0, 1)
    with session_scope(engine, write=False) as session:
        tech = session.exec(Technology.__table__.select().where(Technology.code == "T2")).one()  # type: ignore[attr-defined]
        assert tech.price == 150


def test_one_bad_row_rejects_the_file_and_names_row_and_column(engine: Engine) -> None:
    _load(engine)
    before = _counts(engine)
    bad = TECHS + "T3,新成果,北辰理工大学,新材料,简介,,11,,转让,,\n"
    with pytest.raises(ImportRejected) as caught:
        import_catalog(
            engine=engine,
            kind="technologies",
            data=bad.replace("T1,", "T9,").encode(),
            filename="bad.csv",
        )
    problems = caught.value.problems
    assert [(p.row, p.column) for p in problems] == [(4, "成熟度")]
    assert "1–9" in problems[0].message
    assert _counts(engine) == before


@pytest.mark.parametrize(
    ("cell_edit", "column", "fragment"),
    [
        (("新材料", "新材料料"), "技术领域", "未知的技术领域"),
        (("转让；许可", "卖断"), "合作方式", "未知的合作方式"),
        (("ZL200310102344.5", "ZL200310102344.4"), "知识产权", "校验位"),
        (("面议", "-5"), "价格（万元）", "负数"),
        (("13800001234", "123"), "联系电话", "电话号码"),
        ((",6,", ",六,"), "成熟度", "整数"),
        ((",6,", ",INFINITY,"), "成熟度", "整数"),  # found by the fuzz test: was a crash
        (("面议", "nan"), "价格（万元）", "应为数字"),  # was stored as NaN
    ],
)
def test_each_kind_of_bad_cell_gets_a_precise_message(
    engine: Engine, cell_edit: tuple[str, str], column: str, fragment: str
) -> None:
    import_catalog(engine=engine, kind="organizations", data=ORGS.encode(), filename="orgs.csv")
    lines = TECHS.splitlines()
    lines[1] = lines[1].replace(*cell_edit)
    with pytest.raises(ImportRejected) as caught:
        import_catalog(
            engine=engine, kind="technologies", data="\n".join(lines).encode(), filename="x.csv"
        )
    found = [(p.row, p.column, p.message) for p in caught.value.problems]
    assert any(r == 2 and c == column and fragment in m for r, c, m in found), found


def test_gbk_and_utf8_twins_import_the_same_rows(engine: Engine) -> None:
    import_catalog(engine=engine, kind="organizations", data=ORGS.encode(), filename="orgs.csv")
    gbk = preview_catalog(
        engine=engine, kind="technologies", data=TECHS.encode("gbk"), filename="gbk.csv"
    )
    utf8 = preview_catalog(
        engine=engine, kind="technologies", data=TECHS.encode("utf-8-sig"), filename="u.csv"
    )
    assert gbk.problems == [] and utf8.problems == []
    assert [r.values for r in gbk.rows] == [r.values for r in utf8.rows]
    assert gbk.encoding == "gbk" and utf8.encoding == "utf-8-sig"


@pytest.mark.parametrize(
    ("data", "filename", "fragment"),
    [
        (b"", "e.csv", "文件为空"),
        ("成果名称,所属单位\n".encode(), "h.csv", "缺少必填列"),
        ("成果名,所属单位,技术领域,成果简介,成熟度,合作方式\n".encode(), "u.csv", "未知的列名"),
        (TECHS.splitlines()[0].encode() + b"\n", "n.csv", "没有数据行"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", ".xls"),
        (b"PK\x03\x04garbage", "broken.xlsx", "Excel"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "img.csv", "不是表格文件"),
        (bytes(range(128, 256)) * 4, "weird.csv", "编码"),
    ],
)
def test_files_that_are_not_usable_tables(
    engine: Engine, data: bytes, filename: str, fragment: str
) -> None:
    with pytest.raises(ImportRejected) as caught:
        import_catalog(engine=engine, kind="technologies", data=data, filename=filename)
    assert any(fragment in p.message for p in caught.value.problems), caught.value.problems


def test_size_limit(engine: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    small = settings.model_copy(update={"max_upload_mb": 1})
    data = ORGS.encode() + b"x" * (2 * 1024 * 1024)
    with pytest.raises(ImportRejected) as caught:
        import_catalog(
            engine=engine, kind="organizations", data=data, filename="big.csv", settings=small
        )
    assert "文件过大" in caught.value.problems[0].message


def test_duplicate_rows_in_one_file(engine: Engine) -> None:
    dup = ORGS + "O1,北辰理工大学,高校,辽宁,沈阳市,\n"
    with pytest.raises(ImportRejected) as caught:
        import_catalog(engine=engine, kind="organizations", data=dup.encode(), filename="dup.csv")
    assert any("与第 2 行重复" in p.message and p.row == 4 for p in caught.value.problems)


def test_enterprise_needs_a_valid_credit_code(engine: Engine) -> None:
    bad = "单位名称,单位类型,统一社会信用代码\n甲公司,企业,91350100M000100Y44\n乙公司,企业,\n"
    with pytest.raises(ImportRejected) as caught:
        import_catalog(engine=engine, kind="organizations", data=bad.encode(), filename="o.csv")
    messages = {(p.row, p.column): p.message for p in caught.value.problems}
    assert "校验位" in messages[(2, "统一社会信用代码")]
    assert "必须填写" in messages[(3, "统一社会信用代码")]


def _xlsx(rows: list[list[object]], merge: str | None = None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    if merge:
        ws.merge_cells(merge)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_import_and_formulas_and_merged_cells(engine: Engine) -> None:
    header = ["单位名称", "单位类型", "省份"]
    ok = _xlsx([header, ["北辰理工大学", "高校", "辽宁"], ["云岫材料研究所", "科研院所", "辽宁省"]])
    assert (
        import_catalog(engine=engine, kind="organizations", data=ok, filename="o.xlsx").created == 2
    )
    formula = _xlsx([header, ['=HYPERLINK("http://x")', "高校", "辽宁"]])
    with pytest.raises(ImportRejected) as caught:
        import_catalog(engine=engine, kind="organizations", data=formula, filename="f.xlsx")
    assert any("公式" in p.message and p.row == 2 for p in caught.value.problems)
    merged = _xlsx([header, ["甲大学", "高校", "辽宁"], ["乙大学", "高校", ""]], merge="C2:C3")
    with pytest.raises(ImportRejected) as caught:
        import_catalog(engine=engine, kind="organizations", data=merged, filename="m.xlsx")
    assert any("合并单元格 C2:C3" in p.message for p in caught.value.problems)
    assert _counts(engine)["organizations"] == 2


def test_export_then_import_changes_no_counts(engine: Engine) -> None:
    _load(engine)
    before = _counts(engine)
    for fmt in ("csv", "xlsx"):
        for kind in ("organizations", "technologies"):
            with session_scope(engine, write=False) as session:
                data = export_catalog(session, kind, fmt)
            report = import_catalog(engine=engine, kind=kind, data=data, filename=f"export.{fmt}")
            assert report.created == 0 and report.updated == 0, (fmt, kind, report.summary())
    assert _counts(engine) == before


def test_csv_export_has_a_bom_and_neutralizes_formulas(engine: Engine) -> None:
    import_catalog(engine=engine, kind="organizations", data=ORGS.encode(), filename="orgs.csv")
    evil = TECHS.replace("高铬耐磨衬板", "-2+3 高铬耐磨衬板").replace(
        "耐磨；衬板", "@SUM(A1)；衬板"
    )
    import_catalog(engine=engine, kind="technologies", data=evil.encode(), filename="t.csv")
    with session_scope(engine, write=False) as session:
        data = export_catalog(session, "technologies", "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert ",'-2+3 高铬耐磨衬板," in text and "'@SUM(A1)" in text
    # the round trip keeps the original text
    report = import_catalog(engine=engine, kind="technologies", data=data, filename="t.csv")
    assert report.unchanged == 2


@pytest.mark.parametrize("value", ["=1+1", "+cmd", "-x", "@A1", "\tx", "\rx"])
def test_neutralize(value: str) -> None:
    assert neutralize(value).startswith("'")
    assert neutralize("正常文本") == "正常文本"


def test_templates_have_the_import_headers(engine: Engine) -> None:
    for kind in ("organizations", "technologies", "needs"):
        wb = openpyxl.load_workbook(io.BytesIO(template_workbook(kind)))
        assert wb.sheetnames == ["数据", "说明"]
        headers = [c.value for c in wb["数据"][1]]
        assert all(isinstance(h, str) and h for h in headers)
        # an empty template is rejected only for having no rows, not for its headers
        with pytest.raises(ImportRejected) as caught:
            import_catalog(
                engine=engine, kind=kind, data=template_workbook(kind), filename="t.xlsx"
            )
        assert [p.message for p in caught.value.problems] == [
            "文件没有数据行：第一行为列名，从第二行起每行一条记录"
        ]


def test_financing_need_requires_amount_and_type(engine: Engine) -> None:
    import_catalog(engine=engine, kind="organizations", data=ORGS.encode(), filename="orgs.csv")
    needs = "需求名称,需求类型,发布单位,需求描述,融资金额（万元）\n扩产融资,融资需求,华岳重工装备有限公司,扩建生产线,\n"
    with pytest.raises(ImportRejected) as caught:
        import_catalog(engine=engine, kind="needs", data=needs.encode(), filename="n.csv")
    assert any(p.column == "融资金额（万元）" for p in caught.value.problems)
