from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from matcher.catalog import import_catalog
from web.app import create_app

ORGS = "单位名称,单位类型\n北辰理工大学,高校\n"
TECHS = (
    "成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n"
    "高铬耐磨衬板,北辰理工大学,新材料,一种高铬铸铁耐磨衬板,6,转让\n"
    "<script>alert(1)</script>,北辰理工大学,新材料,恶意标题,6,转让\n"
)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    import_catalog(engine=engine, kind="organizations", data=ORGS.encode(), filename="o.csv")
    import_catalog(engine=engine, kind="technologies", data=TECHS.encode(), filename="t.csv")
    with TestClient(create_app()) as c:
        yield c


def test_home_lists_and_searches(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "高铬耐磨衬板" in page.text
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    found = client.get("/", params={"q": "耐磨"}, headers={"HX-Request": "true"})
    assert "高铬耐磨衬板" in found.text and "<html" not in found.text


def test_missing_technology_is_a_chinese_404(client: TestClient) -> None:
    page = client.get("/technologies/424242")
    assert page.status_code == 404 and "不存在" in page.text
