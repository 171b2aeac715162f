"""Encoding never happens in a request: posting a need answers at once, its page says matching
is running and fills in the recommendations when a worker has stored the vectors; an import
shows its progress to the end of encoding; the health route counts what a process encoded."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from matcher import accounts
from matcher.catalog import import_catalog
from matcher.config import Settings, get_settings, reset_settings
from matcher.db import session_scope
from matcher.embedding.encoder import Encoder
from matcher.embedding.worker import EmbeddingWorker
from matcher.indexing import IndexManager
from matcher.models import User
from matcher.services import organization_by_name
from tests.web.conftest import NEEDS, ORGS, PASSWORD, TECHS, USERS, Browser, load_small_catalog
from web.app import create_app


@pytest.fixture
def settings(engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("DUIJIE_EMBEDDED_WORKER", "off")  # the test plays the worker
    reset_settings()
    settings = get_settings()
    load_small_catalog(engine, settings)
    IndexManager(engine, settings).open().close()  # the catalog's vectors, stored once
    return settings


@pytest.fixture
def app_and_worker(engine: Engine, settings: Settings) -> Iterator[tuple[object, EmbeddingWorker]]:
    manager = IndexManager(engine, settings, encoder=Encoder(settings), encode_inline=False)
    app = create_app(settings, index_manager=manager.open())
    worker = EmbeddingWorker(engine, settings, encoder=Encoder(settings))
    yield app, worker


def _token(engine: Engine, email: str) -> str:
    with session_scope(engine) as session:
        from sqlmodel import select

        user = session.exec(select(User).where(User.email == email)).one()
        return accounts.new_api_token(session=session, user=user, name="t")


def test_a_posted_need_says_matching_is_running_then_fills_in(  # type: ignore[no-untyped-def]
    engine: Engine, app_and_worker
) -> None:
    app, worker = app_and_worker
    token = _token(engine, USERS["steel"][0])
    with TestClient(app) as client:
        manager = app.state.index
        posted = client.post(
            "/api/v1/my/needs",
            headers={"Authorization": f"Bearer {token}"},
            json={"title": "高炉炉况预警系统", "description": "希望在线监测高炉炉况，提前预警异常",
                  "kind": "tech"},
        )  # fmt: skip
        assert posted.status_code == 201, posted.text
        need_id = posted.json()["id"]
        assert manager.encoder.documents_requested == 0  # nothing was encoded for the post
        browser = Browser(client).login("steel")
        page = browser.get(f"/needs/{need_id}")
        assert f'hx-get="/needs/{need_id}/technologies"' in page.text
        pending = browser.get(f"/needs/{need_id}/technologies", headers={"HX-Request": "true"}).text
        assert "匹配计算中" in pending
        assert f'hx-get="/needs/{need_id}/technologies?wait=1"' in pending
        assert 'hx-trigger="load delay:1s"' in pending
        teams = browser.get(f"/needs/{need_id}/teams", headers={"HX-Request": "true"}).text
        assert "匹配计算中" in teams
        # the worker computes the need's vectors; the follower thread applies them
        report = worker.run_batch()
        assert report is not None and report.stored == 1
        deadline = time.monotonic() + 10
        while not manager.is_searchable("needs", need_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert manager.is_searchable("needs", need_id)
        filled = browser.get(
            f"/needs/{need_id}/technologies?wait=1", headers={"HX-Request": "true"}
        ).text
        assert "匹配计算中" not in filled and "高炉炉况在线监测" in filled
        health = client.get("/healthz/index").json()
        assert health["documents_encoded"] == 0 and health["texts_computed"] == 0
        assert health["collections"]["needs"]["awaiting_vectors"] == 0
        assert health["collections"]["technologies"]["count"] == 3


def test_recommendations_are_computed_in_the_request_when_no_worker_answers(  # type: ignore[no-untyped-def]
    engine: Engine, app_and_worker
) -> None:
    app, _worker = app_and_worker
    token = _token(engine, USERS["steel"][0])
    with TestClient(app) as client:
        posted = client.post(
            "/api/v1/my/needs",
            headers={"Authorization": f"Bearer {token}"},
            json={"title": "高炉预警", "description": "高炉炉况在线监测与预警", "kind": "tech"},
        )
        need_id = posted.json()["id"]
        browser = Browser(client).login("steel")
        late = browser.get(
            f"/needs/{need_id}/technologies?wait=60", headers={"HX-Request": "true"}
        ).text
        assert "匹配计算中" not in late and "高炉炉况在线监测" in late


def test_an_import_shows_progress_to_the_end_of_encoding(  # type: ignore[no-untyped-def]
    engine: Engine, app_and_worker
) -> None:
    app, worker = app_and_worker
    rows = "".join(
        f"I{i},深海装备密封件第{i}型,北辰理工大学,船舶与海洋,深海装备动密封第{i}种结构,5,转让\n"
        for i in range(5)
    )
    csv = "编号,成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n" + rows
    with TestClient(app) as client:
        univ = Browser(client).login("univ")
        preview = univ.client.post(
            "/workspace/import/preview", data={"csrf_token": univ.token, "kind": "technologies"},
            files={"file": ("t.csv", csv.encode(), "text/csv")},
        )  # fmt: skip
        token = re.search(r'name="token" value="([^"]+)"', preview.text)
        assert token, preview.text[:500]
        done = univ.post(
            "/workspace/import/confirm",
            {"token": token.group(1), "kind": "technologies", "filename": "t.csv"},
        )
        main = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", done.text))
        assert "导入完成" in done.text and "正在计算语义向量：0/5" in done.text, main[:1500]
        poll = re.search(r'hx-get="(/workspace/import/encoding\?[^"]+)"', done.text)
        assert poll
        url = poll.group(1).replace("&amp;", "&")
        assert "0/5" in univ.get(url, headers={"HX-Request": "true"}).text
        worker.drain()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            finished = univ.get(url, headers={"HX-Request": "true"}).text
            if "语义向量计算完成" in finished:
                break
            time.sleep(0.1)
        assert "语义向量计算完成：本次导入的 5 条均已可检索" in finished
        hits = client.get("/api/v1/search", params={"q": "深海装备密封件第3型"}).json()
        assert hits["results"][0]["title"] == "深海装备密封件第3型"


def test_the_embedded_site_needs_no_other_process(
    engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`duijie serve` on SQLite: an index built from scratch is encoded before the site serves
    (as it always was), and a need posted later is encoded by the site's own worker thread,
    never by the request, and becomes searchable and matched without anything else running."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the embedded default is SQLite")
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    monkeypatch.delenv("DUIJIE_EMBEDDED_WORKER", raising=False)
    reset_settings()
    settings = get_settings()
    for kind, data in (("organizations", ORGS), ("technologies", TECHS), ("needs", NEEDS)):
        import_catalog(
            engine=engine, kind=kind, data=data.encode(), filename=f"{kind}.csv", settings=settings
        )
    with session_scope(engine) as session:
        org = organization_by_name(session=session, name="鞍辽钢铁股份有限公司")
        assert org is not None
        accounts.create_user(
            session=session, email="steel@example.cn", name="steel", password=PASSWORD,
            role="enterprise", organization_id=org.id, phone="13500009999",
        )  # fmt: skip
    token = _token(engine, "steel@example.cn")
    with TestClient(create_app(settings)) as client:
        health = client.get("/healthz/index").json()
        assert health["embedded_worker"] is True
        assert health["collections"]["technologies"]["count"] == 3
        assert health["documents_encoded"] == 6  # three results, three needs: at start
        posted = client.post(
            "/api/v1/my/needs",
            headers={"Authorization": f"Bearer {token}"},
            json={"title": "高炉炉况预警", "description": "高炉炉况在线监测与异常预警",
                  "kind": "tech"},
        )  # fmt: skip
        assert posted.status_code == 201
        need_id = posted.json()["id"]
        manager = client.app.state.index  # type: ignore[attr-defined]
        deadline = time.monotonic() + 20
        while not manager.is_searchable("needs", need_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert manager.is_searchable("needs", need_id)
        assert client.get("/healthz/index").json()["documents_encoded"] == 7
        browser = Browser(client).login("steel")
        filled = browser.get(f"/needs/{need_id}/technologies", headers={"HX-Request": "true"}).text
        assert "匹配计算中" not in filled and "高炉炉况在线监测" in filled


def test_a_write_whose_only_flush_is_the_commit_still_updates_the_index(  # type: ignore[no-untyped-def]
    make_browser, engine: Engine, web_app
) -> None:
    """A withdrawal flushes only when it commits: the unit of work must look for outbox rows
    after the commit, or the index learns of it only when the follower next wakes."""
    from tests.web.test_pages import _tech_id

    t1 = _tech_id(engine, "T1")
    univ = make_browser("univ")
    web_app.state.index_follower.stop()  # nothing but the request itself may apply it
    univ.post(f"/workspace/technologies/{t1}/withdraw", follow_redirects=False)
    assert t1 not in web_app.state.index.collections["technologies"].ids()
    univ.post(f"/workspace/technologies/{t1}/renew", follow_redirects=False)
    assert t1 in web_app.state.index.collections["technologies"].ids()
