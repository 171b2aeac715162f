"""Property tests: any bytes in give a clear refusal or a valid import (never a crash, never a
half-write); any text exported to CSV or Excel is never a formula and reads back as written."""

from __future__ import annotations

import csv
import io
import os

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.catalog import import_catalog, preview_catalog
from matcher.catalog.exporter import FORMULA_PREFIXES, neutralize, write_csv, write_xlsx
from matcher.catalog.importer import _unneutralize
from matcher.db import make_engine, session_scope
from matcher.errors import DomainError
from matcher.migrate import upgrade

EXAMPLES = int(os.environ.get("DUIJIE_FUZZ_EXAMPLES", "25")) * 4
HEADER = "编号,成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n".encode()


@pytest.fixture(scope="module")
def fuzz_engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'f.db'}")
    upgrade(engine)
    import_catalog(
        engine=engine,
        kind="organizations",
        data="单位名称,单位类型\n北辰理工大学,高校\n".encode(),
        filename="o.csv",
    )
    yield engine
    engine.dispose()


def _count(engine) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with session_scope(engine, write=False) as session:
        return int(session.execute(text("SELECT COUNT(*) FROM technology")).scalar() or 0)


csv_like = st.one_of(
    st.binary(max_size=3000),
    st.builds(lambda body: HEADER + body, st.binary(max_size=2000)),
    st.builds(
        lambda rows: HEADER + "\n".join(",".join(r) for r in rows).encode("utf-8"),
        st.lists(st.lists(st.text(max_size=30), min_size=0, max_size=9), max_size=20),
    ),
    st.builds(lambda b: b"PK\x03\x04" + b, st.binary(max_size=2000)),
)


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
@given(data=csv_like, suffix=st.sampled_from([".csv", ".xlsx", ".xls", ".txt", ""]))
def test_any_bytes_are_refused_clearly_or_imported_whole(
    fuzz_engine, data: bytes, suffix: str
) -> None:  # type: ignore[no-untyped-def]
    report = preview_catalog(
        engine=fuzz_engine, kind="technologies", data=data, filename=f"f{suffix}"
    )
    for problem in report.problems:
        assert problem.message and not problem.message.startswith("Traceback")
    before = _count(fuzz_engine)
    try:
        result = import_catalog(
            engine=fuzz_engine, kind="technologies", data=data, filename=f"f{suffix}"
        )
    except DomainError:
        assert _count(fuzz_engine) == before  # all or nothing
        return
    assert not report.problems
    assert _count(fuzz_engine) == before + result.created


@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(st.lists(st.text(max_size=40).filter(lambda s: "\x00" not in s), min_size=1, max_size=5))
def test_exported_text_is_never_a_formula_and_reads_back(values: list[str]) -> None:
    cells = [neutralize(v) for v in values]
    for cell in cells:
        assert not cell.startswith(FORMULA_PREFIXES)
    for raw, cell in zip(values, cells, strict=True):
        if not (len(raw) > 1 and raw[0] == "'" and raw[1] in "=+-@\t\r"):
            assert _unneutralize(cell) == raw  # an export → import round trip keeps the text
    read = next(
        csv.reader(
            io.StringIO(
                write_csv(["a"] * len(cells), [cells]).decode("utf-8-sig").split("\r\n", 1)[1]
            )
        )
    )
    assert read == cells
    clean = [c for c in cells if not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in c)]
    if clean:
        sheet = openpyxl.load_workbook(io.BytesIO(write_xlsx(["a"] * len(clean), [clean]))).active
        for cell in sheet[2]:  # type: ignore[index]
            assert (
                cell.data_type in ("s", "inlineStr", "n") and cell.data_type != "f"
            )  # never a formula
            assert not str(cell.value or "").startswith(FORMULA_PREFIXES)
