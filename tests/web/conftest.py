"""A web app on a small catalog with the stand-in model, and signed-in clients."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from matcher import accounts
from matcher.catalog import import_catalog
from matcher.config import Settings, get_settings, reset_settings
from matcher.db import dispose_engines, make_engine, postgres_url, session_scope
from matcher.indexing import IndexManager
from matcher.migrate import upgrade
from matcher.services import organization_by_name
from tests.conftest import PG_URL, migrated_engine
from web.app import configure, create_app

PASSWORD = "test-pass-123"
ORGS = (
    "单位名称,单位类型,省份,统一社会信用代码\n"
    "北辰理工大学,高校,辽宁省,\n"
    "云岫材料研究所,科研院所,辽宁省,\n"
    "鞍辽钢铁股份有限公司,企业,辽宁省,91350100M000100Y43\n"
    "渤澜船舶重工有限公司,企业,辽宁省,91210200MA0QC2RL74\n"
)
TECHS = (
    "编号,成果名称,所属单位,技术领域,成果简介,关键词,成熟度,合作方式,价格（万元）,联系人,联系电话,电子邮箱\n"
    "T1,高炉炉况在线监测,北辰理工大学,冶金与矿业,基于风口图像与炉顶温度的高炉炉况在线监测与异常预警,高炉；炉况,6,转让,80,王老师,13812345678,wang@bc.example.cn\n"
    "T2,绿茶保鲜包装,云岫材料研究所,食品,高阻隔包装袋延缓绿茶褐变与香气散失,包装；保鲜,5,许可,30,李老师,13987654321,li@yx.example.cn\n"
    "T3,高炉煤气余热回收,云岫材料研究所,能源与动力,高炉煤气余热回收与发电装置,高炉；余热,4,技术开发,500,,,\n"
)
NEEDS = (
    "编号,需求名称,需求类型,发布单位,需求描述,技术领域,预算（万元）,最低成熟度,可见范围,联系人,联系电话\n"
    "N1,高炉异常预警,技术需求,鞍辽钢铁股份有限公司,高炉炉况靠经验判断，希望在线监测炉况并提前预警,冶金与矿业,100,6,公开,赵工,13700001111\n"
    "N2,机密高炉余热项目,技术需求,鞍辽钢铁股份有限公司,SECRET-MARKER 内部高炉煤气余热回收改造,能源与动力,100,5,仅组织方,赵工,13700001111\n"
    "N3,注册可见的船型需求,技术需求,渤澜船舶重工有限公司,船型阻力数值预报软件,船舶与海洋,50,,注册用户,钱工,13600002222\n"
)
USERS = {
    "univ": ("univ@example.cn", "北辰理工大学", "university"),
    "inst": ("inst@example.cn", "云岫材料研究所", "university"),
    "steel": ("steel@example.cn", "鞍辽钢铁股份有限公司", "enterprise"),
    "ship": ("ship@example.cn", "渤澜船舶重工有限公司", "enterprise"),
    "organizer": ("org@example.cn", None, "organizer"),
    "admin": ("admin@example.cn", None, "admin"),
}


def load_small_catalog(engine: Engine, settings: Settings) -> None:
    """The organizations, results, needs and users every web test starts from."""
    for kind, data in (("organizations", ORGS), ("technologies", TECHS), ("needs", NEEDS)):
        import_catalog(
            engine=engine, kind=kind, data=data.encode(), filename=f"{kind}.csv", settings=settings
        )
    with session_scope(engine) as session:
        for email, org_name, role in USERS.values():
            org = organization_by_name(session=session, name=org_name) if org_name else None
            accounts.create_user(
                session=session, email=email, name=email.split("@")[0], password=PASSWORD, role=role,
                organization_id=org.id if org else None, phone="13500009999",
            )  # fmt: skip


class WebTemplates:
    """A data directory per backend, built once per run: the migrated database with the small
    catalog and users, and its index. Each web test starts from a copy (a file copy on SQLite,
    CREATE DATABASE … TEMPLATE on PostgreSQL) instead of migrating, importing, hashing and
    indexing again — that set-up was most of a web test's time."""

    def __init__(self, base: Path, model_dir: Path, pg_admin: Engine | None) -> None:
        self.base, self.model_dir, self.pg_admin = base, model_dir, pg_admin
        self.homes: dict[str, tuple[Path, str]] = {}
        self.pg_databases: list[str] = []

    def _build(self, home: Path, url: str) -> None:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DUIJIE_HOME", str(home))
            mp.setenv("DUIJIE_DATABASE_URL", url)
            mp.setenv("DUIJIE_EMBEDDING_MODEL", str(self.model_dir))
            reset_settings()
            settings = get_settings()
            settings.ensure_home()
            engine = make_engine(url)
            upgrade(engine)
            load_small_catalog(engine, settings)
            IndexManager(engine, settings).open().close()
            engine.dispose()
            dispose_engines()
        reset_settings()

    def template(self, backend: str) -> tuple[Path, str]:
        """(data directory, database: a SQLite file name in it or a PostgreSQL database name)."""
        if backend not in self.homes:
            home = self.base / backend
            if backend == "sqlite":
                self._build(home, f"sqlite:///{home / 'test.db'}")
                self.homes[backend] = (home, "test.db")
            else:
                assert self.pg_admin is not None
                name = f"webtpl_{uuid.uuid4().hex[:12]}"
                self._create_database(name)
                self._build(home, postgres_url(PG_URL, database=name))
                self.homes[backend] = (home, name)
        return self.homes[backend]

    def _create_database(self, name: str, template: str | None = None) -> None:
        assert self.pg_admin is not None
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.pg_admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        self.pg_databases.append(name)

    def drop_database(self, name: str) -> None:
        assert self.pg_admin is not None
        with self.pg_admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.pg_databases:
            self.pg_databases.remove(name)

    def copy_into(self, home: Path, db_url: str) -> tuple[str, str | None]:
        """Copy the template for db_url's backend into home: (database URL, database to drop)."""
        backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
        template_home, database = self.template(backend)
        shutil.copytree(template_home, home, dirs_exist_ok=True)
        if backend == "sqlite":
            return f"sqlite:///{home / database}", None
        name = f"web_{uuid.uuid4().hex[:12]}"
        self._create_database(name, template=database)
        return postgres_url(PG_URL, database=name), name


@pytest.fixture(scope="session")
def web_templates(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, pg_admin: Engine | None
) -> Iterator[WebTemplates]:
    templates = WebTemplates(tmp_path_factory.mktemp("web-templates"), tiny_model_dir, pg_admin)
    yield templates
    for name in list(templates.pg_databases):
        templates.drop_database(name)


@pytest.fixture
def engine(
    request: pytest.FixtureRequest,
    db_url: str,
    duijie_home: Path,
    migrated_sqlite: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Engine]:
    """As the suite's `engine` (migrated, the configured database); a test that runs the web
    app gets a copy of the template with the small catalog, users and index instead of an empty one."""
    url, cloned, copied = db_url, None, False
    if "web_app" in request.fixturenames:
        copied = True
        templates: WebTemplates = request.getfixturevalue("web_templates")
        url, cloned = templates.copy_into(duijie_home, db_url)
    monkeypatch.setenv("DUIJIE_DATABASE_URL", url)
    reset_settings()
    eng = migrated_engine(url, migrated_sqlite, at_head=copied)
    yield eng
    eng.dispose()
    if cloned:
        dispose_engines()
        request.getfixturevalue("web_templates").drop_database(cloned)


@pytest.fixture
def web_app(
    request: pytest.FixtureRequest,
    engine: Engine,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[object]:
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    settings = get_settings()
    manager = IndexManager(engine, settings).open()
    app = request.getfixturevalue("shared_web_app")
    configure(app, settings, index_manager=manager)
    yield app


@pytest.fixture(scope="session")
def shared_web_app() -> object:
    """One app for the run, configured for each test's data directory by `web_app` (building a
    new app per test made FastAPI prepare every route again on its first request)."""
    return create_app(Settings())


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html) or re.search(
        r'"X-CSRF-Token": "([0-9a-f]+)"', html
    )
    assert m, "no CSRF token on the page"
    return m.group(1)


def flash_of(browser: Browser, response) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Follow a redirect as a browser does; the one-time message it carries: (level, text)."""
    assert response.status_code == 303, response.text[:300]
    page = browser.get(response.headers["location"])
    m = re.search(r'<div class="alert (error|success) flash"[^>]*>(.*?)</div>', page.text, re.S)
    return (m.group(1), m.group(2).strip()) if m else ("", "")


class Browser:
    """A TestClient that remembers the page's CSRF token, like a browser does."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token = ""

    def get(self, url: str, **kw):  # type: ignore[no-untyped-def]
        response = self.client.get(url, **kw)
        if 'name="csrf_token"' in response.text:
            self.token = csrf_of(response.text)
        return response

    def post(self, url: str, data: dict | None = None, **kw):  # type: ignore[no-untyped-def,type-arg]
        if not self.token:
            self.get("/login")
        payload = {"csrf_token": self.token, **(data or {})}
        return self.client.post(url, data=payload, **kw)

    def login(self, who: str) -> Browser:
        self.get("/login")
        response = self.post(
            "/login", {"email": USERS[who][0], "password": PASSWORD}, follow_redirects=False
        )
        assert response.status_code == 303, response.text[:500]
        self.get("/workspace")
        return self


@pytest.fixture
def client(web_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(web_app) as c:
        yield c


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)


@pytest.fixture
def make_browser(web_app):  # type: ignore[no-untyped-def]
    clients: list[TestClient] = []

    def make(who: str | None = None, *, address: str = "testclient") -> Browser:
        c = TestClient(web_app, client=(address, 50000))
        c.__enter__()
        clients.append(c)
        b = Browser(c)
        return b.login(who) if who else b

    yield make
    for c in clients:
        c.__exit__(None, None, None)
