"""`duijie backup PATH` and `duijie restore PATH`.

A backup is a directory: the database (SQLite through its online backup API, consistent while
the site keeps writing; PostgreSQL through `pg_dump --format=custom`) — with the stored vectors, so
a restore never encodes again — the search index as last saved, the application attachments, and a
manifest — when, which migration, row counts per table, and a SHA-256 for every file. It is
written to a temporary directory beside PATH and moved into place only when complete.

A restore checks every file against the manifest, refuses a data directory that already holds
data, loads the database, migrates it forward if the backup is older, puts the index and the
attachments back, and checks integrity and row counts against the manifest."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Engine, make_url

from index.collection import file_sha256
from matcher.config import Settings
from matcher.db import integrity_check, is_sqlite, make_engine
from matcher.errors import DomainError
from matcher.migrate import current_revision, upgrade

FORMAT = 1
MANIFEST = "manifest.json"


class BackupError(DomainError):
    status_code = 409


def row_counts(engine: Engine) -> dict[str, int]:
    names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
    out = {}
    with engine.connect() as conn:
        for name in sorted(names):
            out[name] = int(conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar() or 0)
    return out


def _pg_env(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq arguments for pg_dump / pg_restore (the password goes through the environment)."""
    u = make_url(url)
    args = ["--host", u.host or "127.0.0.1", "--port", str(u.port or 5432)]
    if u.username:
        args += ["--username", u.username]
    env = {**os.environ}
    if u.password:
        env["PGPASSWORD"] = u.password
    return [*args, "--dbname", u.database or "postgres"], env


def _copy_tree(source: Path, target: Path) -> None:
    if source.exists():
        shutil.copytree(source, target, symlinks=False, dirs_exist_ok=True)


def _copy_index(source: Path, target: Path) -> None:
    """Copy each collection while holding its save lock, so a save by the running server
    cannot replace the directory halfway through the copy (the copy would fail its checksum
    and the restored site would rebuild the index); half-written saves and lock files stay."""
    from index.collection import directory_lock

    if not source.exists():
        return
    target.mkdir(parents=True, exist_ok=True)
    for child in sorted(source.iterdir()):
        if child.name.startswith(".") or child.suffix == ".lock":
            continue
        if child.is_dir():
            with directory_lock(child):
                shutil.copytree(child, target / child.name, symlinks=False)
        else:
            shutil.copy2(child, target / child.name)


def backup(settings: Settings, engine: Engine, path: Path) -> dict[str, Any]:
    path = path.expanduser().resolve()
    if path.exists():
        raise BackupError(f"备份位置已存在：{path}（请换一个新目录）")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".duijie-backup-", dir=path.parent))
    try:
        if is_sqlite(engine):
            source = make_url(settings.resolved_database_url).database
            database_file = "duijie.db"
            src = sqlite3.connect(str(source))
            dst = sqlite3.connect(staging / database_file)
            with dst:
                src.backup(dst)
            dst.close()
            src.close()
        else:
            database_file = "database.pgdump"
            args, env = _pg_env(settings.resolved_database_url)
            result = subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", "--file", str(staging / database_file), *args],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise BackupError(f"pg_dump 失败：{result.stderr.strip()[:500]}")
        _copy_index(settings.index_dir, staging / "index")
        _copy_tree(settings.attachments_dir, staging / "attachments")
        files = {
            str(p.relative_to(staging)): file_sha256(p)
            for p in sorted(staging.rglob("*"))
            if p.is_file()
        }
        manifest = {
            "format": FORMAT,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "database": "sqlite" if is_sqlite(engine) else "postgresql",
            "database_file": database_file,
            "migration": current_revision(engine),
            "rows": row_counts(engine),
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
        for p in staging.rglob("*"):
            if p.is_file():
                with p.open("rb") as fh:
                    os.fsync(fh.fileno())
        os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    file = path / MANIFEST
    if not file.exists():
        raise BackupError(f"{path} 不是 duijie 备份（缺少 {MANIFEST}）")
    manifest: dict[str, Any] = json.loads(file.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"不支持的备份格式：{manifest.get('format')}")
    for name, digest in manifest["files"].items():
        member = path / name
        if not member.exists() or file_sha256(member) != digest:
            raise BackupError(f"备份文件损坏或缺失：{name}（校验和不符）")
    return manifest


def _has_data(engine: Engine) -> bool:
    tables = set(inspect(engine).get_table_names())
    if "organization" not in tables:
        return False
    with engine.connect() as conn:
        return bool(conn.execute(text('SELECT COUNT(*) FROM "organization"')).scalar())


def restore(settings: Settings, path: Path, *, force: bool = False) -> dict[str, Any]:
    path = path.expanduser().resolve()
    manifest = read_manifest(path)
    url = settings.resolved_database_url
    target_is_sqlite = url.startswith("sqlite")
    if (manifest["database"] == "sqlite") != target_is_sqlite:
        raise BackupError("备份与目标数据库类型不同（SQLite 与 PostgreSQL 之间请用导出导入迁移）")
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        if _has_data(engine) and not force:
            raise BackupError("目标数据目录已有数据：请恢复到新的数据目录，或加 --force 覆盖")
    finally:
        engine.dispose()
    source = path / manifest["database_file"]
    if target_is_sqlite:
        target = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        tmp = target.with_name(target.name + ".restoring")
        shutil.copyfile(source, tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    else:
        args, env = _pg_env(url)
        result = subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "--exit-on-error", *args, str(source)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise BackupError(f"pg_restore 失败：{result.stderr.strip()[:500]}")
    restored = [("attachments", settings.attachments_dir)]
    if target_is_sqlite:
        # A saved index position on PostgreSQL is a snapshot of the cluster it was taken on; a
        # restore may land on another: the index is rebuilt there from the stored vectors
        # (seconds to minutes, nothing is encoded again). On SQLite positions are ids and hold.
        restored.append(("index", settings.index_dir))
    else:
        shutil.rmtree(settings.index_dir, ignore_errors=True)
    for name, target_dir in restored:
        if (path / name).exists():
            shutil.rmtree(target_dir, ignore_errors=True)
            shutil.copytree(path / name, target_dir)
    engine = make_engine(url)
    try:
        upgrade(engine)
        if not target_is_sqlite:
            # Transaction ids written on the source cluster mean nothing here: the restored
            # outbox is history, older than any position the rebuilt index will take.
            with engine.begin() as conn:
                conn.execute(text("UPDATE indexoutbox SET txid = NULL WHERE txid IS NOT NULL"))
        check = integrity_check(engine)
        if check != "ok":
            raise BackupError(f"恢复后的数据库完整性检查未通过：{check}")
        rows = row_counts(engine)
        different = {
            table: (count, rows.get(table))
            for table, count in manifest["rows"].items()
            if rows.get(table) != count
        }
        if different:
            raise BackupError(f"恢复后的行数与备份不符：{different}")
        with engine.connect() as conn:
            from matcher.models import User

            users = conn.execute(select(func.count()).select_from(User)).scalar()
        return {
            "restored_from": str(path),
            "created_at": manifest["created_at"],
            "migration_in_backup": manifest["migration"],
            "migration_now": current_revision(engine),
            "integrity": check,
            "tables": len(rows),
            "rows": sum(rows.values()),
            "users": users,
        }
    finally:
        engine.dispose()
