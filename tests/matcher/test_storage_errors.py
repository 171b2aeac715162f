"""A full disk or a read-only database gives a clear error in Chinese, and leaves the database
whole: the import that hit it wrote nothing, and the integrity check passes.

Both conditions are produced by SQLite itself (a page limit fills the "disk"; a read-only open
refuses writes), since permissions do not bind root on CI machines."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, func
from sqlmodel import select

from matcher.catalog import import_catalog
from matcher.db import integrity_check, make_engine, session_scope
from matcher.errors import StorageError
from matcher.migrate import upgrade
from matcher.models import Technology

HEADER = "编号,成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n"


def _catalog(n: int, start: int = 0) -> bytes:
    rows = "".join(
        f"S{i},高炉监测方法{i},北辰理工大学,冶金与矿业,{'基于风口图像的高炉炉况在线监测' * 20}{i},5,转让\n"
        for i in range(start, start + n)
    )
    return (HEADER + rows).encode()


@pytest.fixture
def db_path(duijie_home: Path) -> Path:
    path = duijie_home / "duijie.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    import_catalog(
        engine=engine,
        kind="organizations",
        data="单位名称,单位类型\n北辰理工大学,高校\n".encode(),
        filename="o.csv",
    )
    import_catalog(engine=engine, kind="technologies", data=_catalog(10), filename="t.csv")
    engine.dispose()
    return path


def _count(engine) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine, write=False) as session:
        return int(session.exec(select(func.count()).select_from(Technology)).one())


def test_a_full_disk_is_a_clear_error_and_writes_nothing(db_path: Path) -> None:
    engine = make_engine(f"sqlite:///{db_path}")

    @event.listens_for(engine, "connect")
    def _small_disk(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 5}")

    before = _count(engine)
    with pytest.raises(StorageError, match="磁盘已满"):
        import_catalog(
            engine=engine, kind="technologies", data=_catalog(400, 100), filename="big.csv"
        )
    assert _count(engine) == before
    assert integrity_check(engine) == "ok"
    engine.dispose()


def test_a_read_only_database_is_a_clear_error(db_path: Path) -> None:
    engine = make_engine(f"sqlite:///file:{db_path}?mode=ro&uri=true")
    before = _count(engine)
    with pytest.raises(StorageError, match="只读"):
        import_catalog(
            engine=engine, kind="technologies", data=_catalog(5, 100), filename="more.csv"
        )
    assert _count(engine) == before
    engine.dispose()
    assert integrity_check(make_engine(f"sqlite:///{db_path}")) == "ok"


def test_an_index_that_cannot_be_saved_is_a_clear_error_and_the_old_one_stays(
    db_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from index.collection import Collection
    from matcher.config import get_settings, reset_settings
    from matcher.indexing import IndexManager

    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    engine = make_engine(f"sqlite:///{db_path}")
    manager = IndexManager(engine, get_settings()).open()
    before = manager.verify()
    import_catalog(engine=engine, kind="technologies", data=_catalog(3, 500), filename="n.csv")

    def full(self, path):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    with (
        monkeypatch.context() as patched
    ):  # only the save fails; the data directory stays this test's
        patched.setattr(Collection, "save", full)
        with pytest.raises(StorageError, match="磁盘已满"):
            manager.catch_up(force_save=True)
        manager.catch_up()  # a periodic save that fails is logged, not raised at the user
    assert get_settings().home == db_path.parent
    again = IndexManager(engine, get_settings()).open()  # the old files load; the outbox replays
    assert all(r["ok"] for r in again.verify().values()) and before
    engine.dispose()
