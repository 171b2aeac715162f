"""The restore drill: back up the demo, restore it into a fresh data directory, then check
integrity, row counts, the migration head, a login, and that 20 recorded searches return the
same top-5 — on SQLite and (when DUIJIE_TEST_PG_URL is set) on PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from matcher import accounts
from matcher import backup as backups
from matcher.config import get_settings, reset_settings
from matcher.db import dispose_engines, get_engine, integrity_check, make_engine, session_scope
from matcher.indexing import IndexManager
from matcher.matching import Matcher
from matcher.migrate import current_revision, head_revision, upgrade
from tests.conftest import PG_URL
from tools.demo.build import load_demo
from tools.demo.users import DEMO_PASSWORD, load_demo_users


def _queries() -> list[str]:
    from tools.datasets import dataset

    with dataset("needs_dev.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line)["query"] for line in fh if line.strip()][:20]


def _pg_database(name: str) -> str:
    url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    admin = make_engine(url.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _ranked(matcher: Matcher, query: str) -> list[int]:
    """The first five results in rank order, the weak ones included (search lists only 相关
    and better; with the stand-in model most hits are weak and come back as `closest`)."""
    result = matcher.search(query, limit=5)
    return [h.id for h in result.hits + result.closest][:5]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_restore_drill(
    backend: str, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "postgresql" and not PG_URL:
        pytest.skip("DUIJIE_TEST_PG_URL not set")
    suffix = uuid.uuid4().hex[:8]
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("DUIJIE_HOME", str(tmp_path / "original"))
    if backend == "postgresql":
        monkeypatch.setenv("DUIJIE_DATABASE_URL", _pg_database(f"drill_a_{suffix}"))
    else:
        monkeypatch.delenv("DUIJIE_DATABASE_URL", raising=False)
    reset_settings()
    engine = get_engine()
    upgrade(engine)
    reports = load_demo(engine)
    load_demo_users(engine)
    manager = IndexManager(engine).open()
    recorded = {q: _ranked(Matcher(manager), q) for q in _queries()}
    manager.close()
    assert all(len(ids) == 5 for ids in recorded.values())
    manifest = backups.backup(get_settings(), engine, tmp_path / "backup")
    assert manifest["rows"]["technology"] == reports[1].created > 1000
    with pytest.raises(backups.BackupError, match="已存在"):
        backups.backup(get_settings(), engine, tmp_path / "backup")
    dispose_engines()

    # restore elsewhere
    monkeypatch.setenv("DUIJIE_HOME", str(tmp_path / "restored"))
    if backend == "postgresql":
        monkeypatch.setenv("DUIJIE_DATABASE_URL", _pg_database(f"drill_b_{suffix}"))
    reset_settings()
    result = backups.restore(get_settings(), tmp_path / "backup")
    assert result["integrity"] == "ok" and result["migration_now"] == head_revision()
    engine = get_engine()
    assert integrity_check(engine) == "ok"
    assert current_revision(engine) == head_revision()
    assert backups.row_counts(engine) == manifest["rows"]
    with session_scope(engine) as session:
        assert (
            accounts.verify_password(session, "organizer@demo.duijie.cn", DEMO_PASSWORD) is not None
        )
    manager = IndexManager(engine).open()
    assert manager.rebuilt == {} or all(v == "no index yet" for v in manager.rebuilt.values())
    again = {q: _ranked(Matcher(manager), q) for q in recorded}
    manager.close()
    assert again == recorded
    print(
        f"restore drill ({backend}): ok — integrity ok, {sum(manifest['rows'].values())} rows in "
        f"{len(manifest['rows'])} tables identical, migration {head_revision()}, login ok, "
        f"{len(recorded)}/{len(recorded)} recorded searches return the same top-5"
    )
    # a second restore into a directory that now holds data is refused
    with pytest.raises(backups.BackupError, match="已有数据"):
        backups.restore(get_settings(), tmp_path / "backup")
    dispose_engines()


def test_a_damaged_backup_is_refused(
    tmp_path: Path, engine, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    if not str(engine.url).startswith("sqlite"):
        pytest.skip("the file check is the same for both databases")
    manifest = backups.backup(get_settings(), engine, tmp_path / "b")
    db_file = tmp_path / "b" / manifest["database_file"]
    data = bytearray(db_file.read_bytes())
    data[200] ^= 0xFF
    db_file.write_bytes(bytes(data))
    monkeypatch.setenv("DUIJIE_HOME", str(tmp_path / "other"))
    monkeypatch.delenv("DUIJIE_DATABASE_URL", raising=False)
    reset_settings()
    with pytest.raises(backups.BackupError, match="校验和不符"):
        backups.restore(get_settings(), tmp_path / "b")


def test_backup_waits_for_an_index_save_and_leaves_half_written_saves_out(
    tmp_path: Path, sqlite_engine: object
) -> None:
    import threading
    import time

    from index.collection import directory_lock

    settings = get_settings()
    index = settings.index_dir
    (index / "technologies").mkdir(parents=True)
    (index / "technologies" / "manifest.json").write_text("old")
    (index / ".tmp-technologies-x").mkdir()  # a save in progress elsewhere
    (index / ".tmp-technologies-x" / "vectors.faiss").write_text("partial")
    saving = threading.Event()

    def save() -> None:  # what Collection.save does: hold the lock, replace the directory
        with directory_lock(index / "technologies"):
            saving.set()
            time.sleep(0.5)
            (index / "technologies" / "manifest.json").write_text("new")

    saver = threading.Thread(target=save)
    saver.start()
    saving.wait()
    started = time.monotonic()
    backups.backup(settings, get_engine(), tmp_path / "backup")
    saver.join()
    assert time.monotonic() - started >= 0.3  # it waited for the save
    assert (tmp_path / "backup" / "index" / "technologies" / "manifest.json").read_text() == "new"
    assert not list((tmp_path / "backup" / "index").glob(".tmp-*"))
    assert not list((tmp_path / "backup" / "index").glob("*.lock"))
