"""Vectors are computed once per model and stored with the data; workers compute them off the
request path; a new model is prepared beside the serving one."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from matcher import services
from matcher.catalog import import_catalog
from matcher.config import Settings
from matcher.db import session_scope
from matcher.embedding import store
from matcher.embedding.encoder import Encoder
from matcher.embedding.worker import EmbeddingWorker
from matcher.indexing import IndexManager
from matcher.models import EmbeddingJob, EmbeddingVector, Technology, TechnologyCreate

ORGS = (
    "单位名称,单位类型,统一社会信用代码\n北辰理工大学,高校,\n"
    "鞍辽钢铁股份有限公司,企业,91350100M000100Y43\n"
).encode()
TECHS = (
    "编号,成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n"
    "T1,高炉炉况在线监测,北辰理工大学,冶金与矿业,基于风口图像与炉顶温度的高炉炉况监测与预警,6,转让\n"
    "T2,茶叶保鲜包装,北辰理工大学,食品,高阻隔包装袋延缓绿茶褐变与香气散失,5,许可\n"
    "T3,耐磨衬板材料,北辰理工大学,新材料,高铬铸铁耐磨衬板及热处理工艺,7,转让\n"
).encode()
NEEDS = (
    "编号,需求名称,需求类型,发布单位,需求描述\n"
    "N1,高炉异常预警,技术需求,鞍辽钢铁股份有限公司,希望在线监测高炉炉况并提前预警\n"
).encode()


@pytest.fixture
def tiny_settings(
    engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    from matcher.config import get_settings, reset_settings

    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    settings = get_settings()
    for kind, data in (("organizations", ORGS), ("technologies", TECHS), ("needs", NEEDS)):
        import_catalog(
            engine=engine, kind=kind, data=data, filename=f"{kind}.csv", settings=settings
        )
    return settings


def _counts(engine: Engine) -> tuple[int, int]:
    with session_scope(engine, write=False) as session:
        vectors = session.exec(select(func.count()).select_from(EmbeddingVector)).one()
        jobs = session.exec(select(func.count()).select_from(EmbeddingJob)).one()
    return int(vectors), int(jobs)


def _add(engine: Engine, title: str, summary: str) -> int:
    with session_scope(engine) as session:
        org = services.organization_by_name(session=session, name="北辰理工大学")
        assert org is not None and org.id is not None
        tech = services.save_technology(
            session=session,
            data=TechnologyCreate(
                title=title, summary=summary, field="新材料", trl=5, cooperation_modes=["转让"]
            ),
            owner_id=org.id,
        )
        assert tech.id is not None
        return tech.id


def test_vectors_are_computed_once_and_any_new_process_loads_them(
    engine: Engine, tiny_settings: Settings, tmp_path: Path
) -> None:
    manager = IndexManager(engine, tiny_settings).open()
    assert manager.encoder.documents_requested == 4  # three results and one need, once
    # every document vector, plus the need's query vector; the import's jobs are done
    assert _counts(engine) == (5, 0)
    # a "new host": another data directory, no index on disk, a fresh model instance
    host = tiny_settings.model_copy(update={"home": tmp_path / "host-2"})
    encoder = Encoder(host)
    other = IndexManager(engine, host, encoder=encoder, encode_inline=False).open()
    assert other.rebuilt["technologies"] == "no index yet"
    assert other.loaded_vectors == 4 and encoder.documents_requested == 0
    assert other.collections["technologies"].ids() == manager.collections["technologies"].ids()
    assert all(r["ok"] for r in other.verify().values())
    # the lexical side came from the tokens stored beside the vectors, the same as jieba's
    with session_scope(engine, write=False) as session:
        rows = session.exec(
            select(EmbeddingVector).where(EmbeddingVector.role == store.ROLE_DOCUMENT)
        ).all()
    assert rows and all(r.tokens and r.tokenizer == other.lexer.fingerprint for r in rows)
    for i in manager.collections["technologies"].ids():
        assert other.collections["technologies"].lexical.document_tokens(i) == (
            manager.collections["technologies"].lexical.document_tokens(i)
        )
    # a restart after the index directory was lost: the same, from the database
    shutil.rmtree(tiny_settings.index_dir)
    again = IndexManager(engine, tiny_settings, encoder=Encoder(tiny_settings)).open()
    assert again.loaded_vectors == 4 and again.encoder.documents_requested == 0


def test_a_web_process_waits_for_the_worker_and_never_encodes(
    engine: Engine, tiny_settings: Settings
) -> None:
    IndexManager(engine, tiny_settings).open().close()
    web = IndexManager(engine, tiny_settings, encoder=Encoder(tiny_settings), encode_inline=False)
    web.open()
    new_id = _add(engine, "深海机器人关节密封", "深海机器人关节的动密封与耐压结构")
    web.catch_up()
    assert new_id not in web.collections["technologies"].ids()
    assert web.pending()["technologies"] == 1 and not web.is_searchable("technologies", new_id)
    worker = EmbeddingWorker(engine, tiny_settings, encoder=Encoder(tiny_settings))
    report = worker.run_batch()
    assert report is not None and report.stored == 1 and worker.run_batch() is None
    web.catch_up()
    assert web.is_searchable("technologies", new_id) and web.pending()["technologies"] == 0
    assert web.encoder.documents_requested == 0
    # a status change keeps the text: the worker drops the job without encoding anything
    with session_scope(engine) as session:
        tech = session.get(Technology, new_id)
        assert tech is not None
        tech.status = "withdrawn"
        session.add(tech)
    web.catch_up()
    assert new_id not in web.collections["technologies"].ids()
    with session_scope(engine) as session:
        tech = session.get(Technology, new_id)
        assert tech is not None
        tech.status = "published"
        session.add(tech)
    report = worker.run_batch()
    assert report is not None and report.encoded == 0
    web.catch_up()
    assert web.is_searchable("technologies", new_id)
    assert all(r["ok"] for r in web.verify().values())


def test_an_encoding_of_an_older_text_never_overwrites_a_newer_one(
    engine: Engine, tiny_settings: Settings
) -> None:
    """The row changes while a worker encodes it: the worker stores nothing stale and puts the
    row back in the queue; the next batch stores the vector of the current text."""
    IndexManager(engine, tiny_settings).open().close()
    tech_id = _add(engine, "风电叶片检测", "风电叶片表面裂纹的无人机检测")

    class EditsWhileEncoding(Encoder):
        def encode_documents(self, texts, progress=None):  # type: ignore[no-untyped-def]
            with session_scope(engine) as session:
                tech = session.get(Technology, tech_id)
                if tech is not None and "红外" not in tech.summary:
                    tech.summary = "风电叶片内部缺陷的红外热成像检测"
                    session.add(tech)
            return super().encode_documents(texts, progress)

    racing = EmbeddingWorker(engine, tiny_settings, encoder=EditsWhileEncoding(tiny_settings))
    first = racing.run_batch()
    assert first is not None and first.stored == 0 and first.requeued == 1
    later = EmbeddingWorker(engine, tiny_settings, encoder=Encoder(tiny_settings))
    later.drain()
    model = store.Model.of(later.encoder)
    with session_scope(engine, write=False) as session:
        tech = session.get(Technology, tech_id)
        assert tech is not None
        from matcher.text import technology_text

        hashes = store.stored_hashes(session, model.fingerprint, "technologies", [tech_id])
        assert hashes[tech_id] == model.hash(store.ROLE_DOCUMENT, technology_text(tech))
    assert _counts(engine)[1] == 0


def test_jobs_one_worker_holds_are_skipped_by_others_and_return_when_it_dies(
    engine: Engine, tiny_settings: Settings
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED claims are PostgreSQL's; SQLite runs one worker thread")
    IndexManager(engine, tiny_settings).open().close()
    ids = [_add(engine, f"第{i}号密封件", f"第{i}号深海密封件的结构设计") for i in range(3)]
    dying = Session(engine)
    scope = store.Scope(Encoder(tiny_settings).fingerprint)
    held = store.claim_jobs(dying, scope, 2)  # claimed inside an open transaction, not stored
    assert len(held) == 2
    other = EmbeddingWorker(engine, tiny_settings, encoder=Encoder(tiny_settings))
    report = other.run_batch()
    assert report is not None and report.claimed == 1  # only the job nobody holds
    assert other.run_batch() is None
    dying.connection().invalidate()  # the worker's connection dies with it: its claim is gone
    dying.close()
    deadline = time.monotonic() + 10  # the server notices the closed connection in a moment
    while (report := other.run_batch()) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert report is not None and report.claimed == 2 and report.stored == 2
    with session_scope(engine, write=False) as session:
        stored = store.stored_hashes(session, scope.fingerprint, "technologies", ids)
    assert set(stored) == set(ids)


def test_a_new_model_is_prepared_beside_the_serving_index(
    engine: Engine, tiny_settings: Settings, tiny_model_dir: Path, tmp_path: Path
) -> None:
    serving = IndexManager(engine, tiny_settings).open()
    version = serving.version
    second = tmp_path / "tiny-2"
    shutil.copytree(tiny_model_dir, second)
    manifest = json.loads((second / "duijie-model.json").read_text())
    (second / "duijie-model.json").write_text(
        json.dumps({**manifest, "fingerprint": "tiny-test-model-2"})
    )
    encoder = Encoder(tiny_settings, model=str(second))
    prepare = EmbeddingWorker(
        engine, tiny_settings, encoder=encoder, scope=store.Scope(encoder.fingerprint, False)
    )
    assert prepare.backfill() == 4
    totals = prepare.drain()
    assert totals.stored == 4 and encoder.documents_requested == 4
    # the serving index saw vectors of another model go by and changed nothing
    assert serving.catch_up() == 0 and serving.version == version
    # after the switch, a web process loads the new model's vectors and encodes nothing
    switched = tiny_settings.model_copy(update={"embedding_model": str(second)})
    fresh = Encoder(switched)
    web = IndexManager(engine, switched, encoder=fresh, encode_inline=False).open()
    assert "technologies" in web.rebuilt and web.loaded_vectors == 4
    assert fresh.documents_requested == 0
    assert web.collections["technologies"].ids() == serving.collections["technologies"].ids()


def test_a_saved_position_from_another_database_rebuilds_from_stored_vectors(
    engine: Engine, tiny_settings: Settings
) -> None:
    """A restored backup (another PostgreSQL cluster, an older SQLite file) must not trust the
    saved position: the index is rebuilt, from the stored vectors."""
    manager = IndexManager(engine, tiny_settings).open()
    manager.close()
    path = manager.path("technologies") / "manifest.json"
    manifest = json.loads(path.read_text())
    position = manifest["outbox_position"]
    position["last_id"] += 10**6
    if "xmax" in position:
        position["xmax"] += 10**9
    path.write_text(json.dumps(manifest))
    again = IndexManager(engine, tiny_settings, encoder=Encoder(tiny_settings)).open()
    assert "ahead of this database" in again.rebuilt["technologies"]
    assert again.encoder.documents_requested == 0
    assert all(r["ok"] for r in again.verify().values())


def test_on_sqlite_one_process_encodes_a_batch_at_a_time(
    engine: Engine, tiny_settings: Settings
) -> None:
    """`duijie serve --workers 2` on SQLite runs two embedded workers: while one encodes a batch
    the other skips its round instead of encoding the same rows."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL workers share the queue with SKIP LOCKED")
    IndexManager(engine, tiny_settings).open().close()
    _add(engine, "船舶压载水处理", "船舶压载水的紫外线处理装置")
    first = EmbeddingWorker(engine, tiny_settings, encoder=Encoder(tiny_settings))
    second = EmbeddingWorker(engine, tiny_settings, encoder=Encoder(tiny_settings))
    with first._sqlite_turn() as turn:  # as if the first process were encoding a batch
        assert turn
        assert second.run_batch() is None
    report = second.run_batch()
    assert report is not None and report.stored == 1


def test_a_row_whose_job_another_model_took_is_queued_again_for_this_one(
    engine: Engine,
    tiny_settings: Settings,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Halfway through a model change, a worker of the new model takes a job a web process of
    the old model waits on: after a while the web process queues one naming its own model; a
    row whose job is still queued is left alone."""
    from matcher import indexing

    IndexManager(engine, tiny_settings).open().close()
    web = IndexManager(engine, tiny_settings, encoder=Encoder(tiny_settings), encode_inline=False)
    web.open()
    new_id = _add(engine, "盾构刀具耐磨涂层", "盾构机刀具的耐磨涂层与修复工艺")
    monkeypatch.setattr(indexing, "RESCUE_AFTER_S", 0.0)
    web.catch_up()  # waiting, and its job is still queued: nothing to do
    assert web.pending()["technologies"] == 1 and _counts(engine)[1] == 1
    second = tmp_path / "tiny-2"
    shutil.copytree(tiny_model_dir, second)
    manifest = json.loads((second / "duijie-model.json").read_text())
    (second / "duijie-model.json").write_text(json.dumps({**manifest, "fingerprint": "tiny-2"}))
    other = EmbeddingWorker(
        engine, tiny_settings, encoder=Encoder(tiny_settings, model=str(second))
    )
    report = other.run_batch()
    assert report is not None and report.stored == 1 and _counts(engine)[1] == 0
    web.catch_up()  # no job left for its model: it queues one
    assert _counts(engine)[1] == 1
    mine = EmbeddingWorker(engine, tiny_settings, encoder=Encoder(tiny_settings))
    report = mine.run_batch()
    assert report is not None and report.stored == 1
    web.catch_up()
    assert web.is_searchable("technologies", new_id)
