"""The index follows the database through the outbox, rebuilds when stale, survives kill -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import services
from matcher.catalog import import_catalog
from matcher.config import Settings
from matcher.db import session_scope
from matcher.indexing import IndexManager
from matcher.models import Technology

ORGS = "单位名称,单位类型\n北辰理工大学,高校\n".encode()
TECHS = (
    "编号,成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n"
    "T1,高炉炉况在线监测,北辰理工大学,冶金与矿业,基于风口图像与炉顶温度的高炉炉况监测与预警,6,转让\n"
    "T2,茶叶保鲜包装,北辰理工大学,食品,高阻隔包装袋延缓绿茶褐变与香气散失,5,许可\n"
    "T3,耐磨衬板材料,北辰理工大学,新材料,高铬铸铁耐磨衬板及热处理工艺,7,转让\n"
).encode()


@pytest.fixture
def tiny_settings(
    engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    from matcher.config import reset_settings

    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    from matcher.config import get_settings

    return get_settings()


def _load(engine: Engine, settings: Settings) -> None:
    import_catalog(
        engine=engine, kind="organizations", data=ORGS, filename="o.csv", settings=settings
    )
    import_catalog(
        engine=engine, kind="technologies", data=TECHS, filename="t.csv", settings=settings
    )


def test_build_follow_the_outbox_and_verify(engine: Engine, tiny_settings: Settings) -> None:
    _load(engine, tiny_settings)
    manager = IndexManager(engine, tiny_settings).open()
    assert manager.collections["technologies"].ids() and manager.verify()["technologies"]["ok"]
    with session_scope(engine) as session:
        tech = session.exec(select(Technology).where(Technology.code == "T2")).one()
        tech.status = "withdrawn"
        session.add(tech)
        t3 = session.exec(select(Technology).where(Technology.code == "T3")).one()
        t3.summary = "一种新型高炉煤气余热回收装置"
        session.add(t3)
        t2_id, t3_id = tech.id, t3.id
    assert manager.catch_up() == 2
    ids = manager.collections["technologies"].ids()
    assert t2_id not in ids and t3_id in ids
    lexical = manager.collections["technologies"].lexical
    assert t3_id in dict(lexical.top(manager.lexer.tokens("煤气余热"), 5))
    report = manager.verify()
    assert all(r["ok"] for r in report.values()), report


def test_a_restart_catches_up_and_a_model_change_rebuilds(
    engine: Engine, tiny_settings: Settings
) -> None:
    _load(engine, tiny_settings)
    IndexManager(engine, tiny_settings).open().close()
    with session_scope(engine) as session:
        org = services.organization_by_name(session=session, name="北辰理工大学")
        from matcher.models import TechnologyCreate

        services.save_technology(
            session=session,
            data=TechnologyCreate(
                title="新成果",
                summary="余热回收",
                field="能源与动力",
                trl=5,
                cooperation_modes=["转让"],
            ),
            owner_id=org.id,  # type: ignore[union-attr,arg-type]
        )
    restarted = IndexManager(engine, tiny_settings).open()
    assert restarted.rebuilt == {} and len(restarted.collections["technologies"]) == 4
    # another model fingerprint: the index is rebuilt from the database, not served empty
    restarted.encoder.fingerprint = "another-model"
    again = IndexManager(engine, tiny_settings, encoder=restarted.encoder).open()
    assert "technologies" in again.rebuilt and len(again.collections["technologies"]) == 4


def test_beyond_the_exact_threshold_the_index_is_ivf_and_comes_back_to_exact(
    engine: Engine, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matcher.config import get_settings, reset_settings

    monkeypatch.setenv("DUIJIE_INDEX_EXACT_MAX", "2")
    reset_settings()
    settings = get_settings()
    _load(engine, settings)
    manager = IndexManager(engine, settings).open()
    vectors = manager.collections["technologies"].vectors
    assert vectors.kind == "ivf" and vectors.trained_for == 3 and vectors.nprobe >= 1
    manager.close()
    status = IndexManager(engine, settings).status()["technologies"]
    assert status["index_type"] == "ivf" and status["ivf"]["trained_for"] == 3
    assert status["ann_recall@10"] == 1.0
    again = IndexManager(engine, settings).open()
    assert again.rebuilt == {} and again.collections["technologies"].vectors.kind == "ivf"
    with session_scope(engine) as session:
        tech = session.exec(select(Technology).where(Technology.code == "T2")).one()
        tech.status = "withdrawn"
        session.add(tech)
    again.catch_up(force_save=True)
    assert again.collections["technologies"].vectors.kind == "flat"
    assert all(r["ok"] for r in again.verify().values())
    # growing again: the IVF store is built beside the live one and swapped in
    from matcher.models import TechnologyCreate

    before = again.collections["technologies"].vectors
    with session_scope(engine) as session:
        org = services.organization_by_name(session=session, name="北辰理工大学")
        for i in range(10):
            services.save_technology(
                session=session,
                data=TechnologyCreate(
                    title=f"余热回收装置第{i}代", summary=f"第{i}代高炉煤气余热回收与发电",
                    field="能源与动力", trl=5, cooperation_modes=["转让"],
                ),
                owner_id=org.id,  # type: ignore[union-attr,arg-type]
            )  # fmt: skip
    again.catch_up(force_save=True)
    vectors = again.collections["technologies"].vectors
    assert vectors is not before and vectors.kind == "ivf" and vectors.trained_for == 12
    assert len(before) == 2  # the store searches used meanwhile was left as it was
    assert all(r["ok"] for r in again.verify().values())


def test_a_corrupt_file_triggers_a_rebuild_not_an_empty_index(
    engine: Engine, tiny_settings: Settings
) -> None:
    _load(engine, tiny_settings)
    manager = IndexManager(engine, tiny_settings).open()
    path = manager.path("technologies") / "vectors.faiss"
    path.write_bytes(path.read_bytes()[:-10])
    again = IndexManager(engine, tiny_settings).open()
    assert "checksum" in again.rebuilt["technologies"]
    assert len(again.collections["technologies"]) == 3


# Long on purpose: each run kills a real process at a random moment and then checks the whole
# index against the database; the checks only mean something together.
@pytest.mark.slow
@pytest.mark.timeout(max(1800, 60 * int(os.environ.get("DUIJIE_CRASH_RUNS", "20"))))
def test_kill_minus_nine_during_imports_and_saves_never_breaks_the_index(
    duijie_home: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs killed at random moments (20; DUIJIE_CRASH_RUNS=100 in `make soak`) during imports,
    index saves and event scheduling; after each restart the database passes its integrity
    check, the index loads (no rebuild needed) and agrees with the database, every acknowledged
    import and event is there, and no event is half-scheduled or double-booked."""
    from matcher.config import reset_settings
    from matcher.db import dispose_engines, get_engine, integrity_check
    from matcher.events import schedule, scheduling, setup
    from matcher.events.models import Event

    env = {
        **os.environ,
        "DUIJIE_HOME": str(duijie_home),
        "DUIJIE_EMBEDDING_MODEL": str(tiny_model_dir),
    }
    env.pop("DUIJIE_DATABASE_URL", None)
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    rng = random.Random(7)
    acknowledged: set[int] = set()
    start = 0
    root = Path(__file__).resolve().parents[2]
    runs = int(os.environ.get("DUIJIE_CRASH_RUNS", "20"))
    acknowledged_events: set[int] = set()
    for _run in range(runs):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.crash_worker", str(start)],
            env=env,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # start-up (imports, model) is not what we want to interrupt
            lines.append(line)
            if line.startswith("READY"):
                break
        time.sleep(rng.uniform(0.05, 2.5))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        out = "".join(lines) + out
        assert "READY" in out, err[-2000:]
        acks = [int(line.split()[1]) for line in out.splitlines() if line.startswith("ACK")]
        acknowledged.update(acks)
        acknowledged_events.update(
            int(line.split()[1]) for line in out.splitlines() if line.startswith("EVENT")
        )
        start = (max(acks) + 1) if acks else start + 1000

        # the restart, in this process: integrity, the index loads as saved, nothing lost, no drift
        dispose_engines()
        engine = get_engine()
        assert integrity_check(engine) == "ok"
        manager = IndexManager(engine).open()
        assert {k: v for k, v in manager.rebuilt.items() if v != "no index yet"} == {}
        report = manager.verify()
        assert all(r["ok"] for r in report.values()), report
        with session_scope(engine, write=False) as session:
            codes = [t.code for t in session.exec(select(Technology)) if t.code]
        present = {int(c.split("-")[0][1:]) for c in codes}
        assert acknowledged <= present, (
            f"lost acknowledged batches: {sorted(acknowledged - present)}"
        )
        with session_scope(engine, write=False) as session:
            saved = {e.id: e for e in session.exec(select(Event))}
            assert acknowledged_events <= set(saved), "lost an acknowledged schedule"
            for event in saved.values():
                meetings = schedule.meetings_of(session=session, event_id=event.id)  # type: ignore[arg-type]
                assert event.status == "scheduled" and meetings, "a half-written event"
                tables = [t.id for t in setup.event_tables(session=session, event_id=event.id)]  # type: ignore[arg-type]
                placed = [
                    scheduling.Placed(
                        m.demand_id, m.supply_id, m.slot, tables.index(m.table_id), 0, False
                    )
                    for m in meetings
                ]
                problem = scheduling.Problem([], [], {}, 3, len(tables))
                assert scheduling.check(problem, placed) == []
        dispose_engines()
    assert len(acknowledged) >= 5
    print(
        f"crash runs survived: {runs}/{runs}; acknowledged imports {len(acknowledged)}, schedules {len(acknowledged_events)}"
    )
