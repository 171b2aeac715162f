"""A web app on a small catalog with the stand-in model, and signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from matcher import accounts
from matcher.catalog import import_catalog
from matcher.config import get_settings, reset_settings
from matcher.db import session_scope
from matcher.indexing import IndexManager
from matcher.services import organization_by_name
from web.app import create_app

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


@pytest.fixture
def web_app(
    engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[object]:
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    settings = get_settings()
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
    manager = IndexManager(engine, settings).open()
    app = create_app(settings, index_manager=manager)
    yield app


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
