"""Shared fixtures: a fresh data directory per test, and databases on SQLite and PostgreSQL.

When DUIJIE_TEST_PG_URL is set, every test using `db_url` / `engine` also runs on PostgreSQL,
each in a schema of its own; if the server is unreachable the tests fail instead of skipping."""

from __future__ import annotations

import os

# No test reaches a model hub (CI has no network but the package registries). huggingface_hub
# reads this once, when it is first imported, so it is set before anything imports it: setting
# it later inside a test has no effect and a hub name then waits on the network for a minute.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from matcher.config import Settings, reset_settings
from matcher.db import dispose_engines, make_engine, postgres_url
from matcher.migrate import upgrade

PG_URL = os.environ.get("DUIJIE_TEST_PG_URL", "").strip()
# The models `make setup` built, in the data directory the session started with (tests then
# switch DUIJIE_HOME per test and link this folder in where they need the real models).
REAL_MODELS = Settings().models_dir


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[object]:
    """argon2 at production cost takes about 0.3 s per account and per sign-in here, which was
    most of a web test's set-up. In-process tests use argon2id's cheapest parameters; the
    production parameters are checked in tests/matcher/test_accounts.py, and subprocesses
    (the CLI, the multi-process and crash tests) keep them."""
    from argon2 import PasswordHasher

    from matcher import accounts

    production = accounts.PASSWORD_HASHER
    accounts.PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield production
    accounts.PASSWORD_HASHER = production


@pytest.fixture(autouse=True)
def duijie_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own DUIJIE_HOME and fresh settings; nothing touches ~/.local/share."""
    home = tmp_path / "duijie-home"
    monkeypatch.setenv("DUIJIE_HOME", str(home))
    monkeypatch.delenv("DUIJIE_DATABASE_URL", raising=False)
    reset_settings()
    yield home
    dispose_engines()
    reset_settings()


@pytest.fixture
def settings(duijie_home: Path) -> Settings:
    return Settings(home=duijie_home)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine | None]:
    if not PG_URL:
        yield None
        return
    engine = make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # pragma: no cover - exercised only when PG is down
        pytest.fail(f"DUIJIE_TEST_PG_URL is set but PostgreSQL is unreachable: {exc}")
    yield engine
    engine.dispose()


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, duijie_home: Path, pg_admin: Engine | None
) -> Iterator[str]:
    """A database URL with an empty database, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{duijie_home / 'test.db'}"
        return
    if pg_admin is None:
        pytest.skip("PostgreSQL tests run when DUIJIE_TEST_PG_URL is set (CI sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgres_url(PG_URL, schema=schema)
    finally:
        dispose_engines()
        with pg_admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database at the head revision, migrated once per run: each test that
    needs one starts from a copy (running the migrations took most of a small test's time).
    tests/matcher/test_db.py still runs every migration, up and down, on both backends."""
    path = tmp_path_factory.mktemp("migrated") / "migrated.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()
    return path


def migrated_engine(url: str, template: Path, *, at_head: bool = False) -> Engine:
    """An engine on a database at the head revision: a copy of the template for a new SQLite
    file, nothing for a copy known to be at head, the migrations otherwise."""
    if at_head:
        return make_engine(url)
    if url.startswith("sqlite:///"):
        target = Path(url.removeprefix("sqlite:///"))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, target)
            return make_engine(url)
    eng = make_engine(url)
    upgrade(eng)
    return eng


@pytest.fixture
def engine(db_url: str, migrated_sqlite: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated, empty database; also made the configured one (DUIJIE_DATABASE_URL)."""
    monkeypatch.setenv("DUIJIE_DATABASE_URL", db_url)
    reset_settings()
    eng = migrated_engine(db_url, migrated_sqlite)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(duijie_home: Path, migrated_sqlite: Path) -> Iterator[Engine]:
    eng = migrated_engine(f"sqlite:///{duijie_home / 'duijie.db'}", migrated_sqlite)
    yield eng
    eng.dispose()


@pytest.fixture
def real_models(duijie_home: Path) -> Path:
    """Link the built models (e5, static) into this test's data directory; fail if missing."""
    from matcher.embedding.encoder import read_manifest

    missing = [name for name in ("e5", "static") if not read_manifest(REAL_MODELS / name)]
    if missing:
        pytest.fail(
            f"built models missing in {REAL_MODELS}: {missing}; run `make setup` or `duijie model build`"
        )
    duijie_home.mkdir(parents=True, exist_ok=True)
    link = duijie_home / "models"
    if not link.exists():
        link.symlink_to(REAL_MODELS, target_is_directory=True)
    return link


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small deterministic stand-in model for fast unit tests (characters and bigrams with
    hashed vectors): texts that share characters are similar, as with a real model."""
    from tests.helpers import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))
