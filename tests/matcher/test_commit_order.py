"""The index never skips a change, whatever the order in which transactions commit.

On PostgreSQL ids are handed out at insert time but transactions commit in any order: a follower
that remembers only "the last applied id" skips a change whose transaction committed after a
later id was applied. These tests commit out of order on purpose."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from matcher import services
from matcher.catalog import import_catalog
from matcher.config import Settings
from matcher.db import session_scope
from matcher.indexing import IndexManager
from matcher.matching import Matcher
from matcher.models import Technology, TechnologyCreate

ORGS = "单位名称,单位类型\n北辰理工大学,高校\n".encode()


@pytest.fixture
def tiny_settings(
    engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    from matcher.config import get_settings, reset_settings

    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    settings = get_settings()
    import_catalog(
        engine=engine, kind="organizations", data=ORGS, filename="o.csv", settings=settings
    )
    return settings


def _owner(engine: Engine) -> int:
    with session_scope(engine, write=False) as session:
        org = services.organization_by_name(session=session, name="北辰理工大学")
        assert org is not None and org.id is not None
        return org.id


def _add(session: Session, owner_id: int, title: str) -> int:
    tech = services.save_technology(
        session=session,
        data=TechnologyCreate(
            title=title, summary=f"{title}的技术方案与应用", field="新材料", trl=5,
            cooperation_modes=["转让"],
        ),
        owner_id=owner_id,
    )  # fmt: skip
    assert tech.id is not None
    return tech.id


def _postgres_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: a transaction cannot commit after a later id")


def test_a_change_committed_after_a_later_one_is_still_applied(
    engine: Engine, tiny_settings: Settings
) -> None:
    """Session A flushes (outbox id N) without committing; B writes N+1 and commits; a catch-up
    applies N+1; A commits; a later catch-up must apply N, and `index verify` is clean."""
    _postgres_only(engine)
    owner = _owner(engine)
    manager = IndexManager(engine, tiny_settings).open()
    with Session(engine, expire_on_commit=False) as a:
        first = _add(a, owner, "先写后提交的耐磨衬板")
        a.flush()  # outbox id N handed out; A has not committed
        with session_scope(engine) as b:
            second = _add(b, owner, "后写先提交的陶瓷涂层")
        assert first < second
        manager.catch_up()
        assert second in manager.collections["technologies"].ids()
        assert first not in manager.collections["technologies"].ids()  # not committed yet
        a.commit()
    manager.catch_up()
    assert first in manager.collections["technologies"].ids()
    report = manager.verify()
    assert all(r["ok"] for r in report.values()), report
    # and after a restart from what was saved
    manager.close()
    again = IndexManager(engine, tiny_settings).open()
    assert {first, second} <= again.collections["technologies"].ids()
    assert all(r["ok"] for r in again.verify().values())


def test_a_rolled_back_id_below_the_high_water_mark_costs_nothing_later(
    engine: Engine, tiny_settings: Settings
) -> None:
    """A transaction that rolls back leaves a hole in the ids; the follower neither waits for it
    forever nor re-reads it on every catch-up once nothing can fill it."""
    _postgres_only(engine)
    owner = _owner(engine)
    manager = IndexManager(engine, tiny_settings).open()
    with Session(engine) as a:
        _add(a, owner, "回滚的成果")
        a.flush()
        a_xid = int(a.exec(text("SELECT pg_current_xact_id()::text::bigint")).one()[0])  # type: ignore[call-overload]
        with session_scope(engine) as b:
            kept = _add(b, owner, "保留的成果")
        manager.catch_up()
        assert a_xid in manager.positions["technologies"].xip  # still to come, maybe
        a.rollback()
    manager.catch_up()
    assert kept in manager.collections["technologies"].ids()
    position = manager.positions["technologies"]
    assert a_xid not in position.xip and position.xmax is not None and position.xmax > a_xid
    assert manager.catch_up() == 0  # nothing is read again for the hole
    assert all(r["ok"] for r in manager.verify().values())


# Long on purpose: one scenario (writers committing in random order while catch-ups run) whose
# value is that every step shares the same timeline; its parts are tested apart above.
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_random_commit_order_with_concurrent_catch_ups(
    engine: Engine, tiny_settings: Settings
) -> None:
    """Writers insert, update and withdraw listings, each holding its transaction open for a
    random time before committing or rolling back, while catch-ups run all along. Afterwards
    `index verify` is clean and every committed listing is found by search."""
    writers = int(os.environ.get("DUIJIE_COMMIT_ORDER_WRITERS", "6"))
    rounds = int(os.environ.get("DUIJIE_COMMIT_ORDER_ROUNDS", "25"))
    owner = _owner(engine)
    manager = IndexManager(engine, tiny_settings).open()
    committed: dict[int, str] = {}  # id → title as committed
    withdrawn: set[int] = set()
    lock = threading.Lock()
    failures: list[str] = []
    done = threading.Event()
    sqlite = engine.dialect.name == "sqlite"

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for r in range(rounds):
                with Session(engine, expire_on_commit=False) as session:
                    title = f"随机提交第{seed}号写者第{r}项材料{rng.randrange(10**6)}"
                    new_id = _add(session, owner, title)
                    session.flush()
                    touched: tuple[str, int] | None = None
                    with lock:
                        mine = [i for i in committed if i % writers == seed % writers]
                    if mine and rng.random() < 0.4:
                        target = rng.choice(mine)
                        tech = session.get(Technology, target)
                        assert tech is not None
                        if rng.random() < 0.5:
                            tech.title = f"改名第{seed}号第{r}项{rng.randrange(10**6)}"
                            touched = ("title", target)
                        else:
                            tech.status = "withdrawn"
                            touched = ("withdrawn", target)
                        session.add(tech)
                        session.flush()
                    # SQLite holds the write lock for the whole transaction: keep it short there
                    time.sleep(rng.uniform(0, 0.01 if sqlite else 0.3))
                    if rng.random() < 0.15:
                        session.rollback()
                        continue
                    session.commit()
                    with lock:
                        committed[new_id] = title
                        if touched and touched[0] == "title":
                            committed[touched[1]] = tech.title
                        elif touched:
                            withdrawn.add(touched[1])
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(f"writer {seed}: {exc!r}")

    def follower() -> None:
        while not done.is_set():
            try:
                manager.catch_up()
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(f"catch-up: {exc!r}")
                return
            time.sleep(random.uniform(0, 0.05))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    followers = [threading.Thread(target=follower) for _ in range(2)]
    for t in threads + followers:
        t.start()
    for t in threads:
        t.join()
    done.set()
    for t in followers:
        t.join()
    assert not failures, failures[:3]
    manager.catch_up()
    report = manager.verify()
    assert all(r["ok"] for r in report.values()), report
    live = {i: t for i, t in committed.items() if i not in withdrawn}
    assert manager.collections["technologies"].ids() == set(live)
    matcher = Matcher(manager)
    missed = []
    for tech_id, title in live.items():
        hits = matcher.search(title, limit=5).hits
        if tech_id not in {h.id for h in hits}:
            missed.append((tech_id, title))
    assert not missed, missed[:5]
    with session_scope(engine, write=False) as session:
        in_db = {
            t.id for t in session.exec(select(Technology).where(Technology.status == "published"))
        }
    assert in_db == set(live)
    print(
        f"commit-order: {writers} writers × {rounds} rounds, {len(committed)} committed, "
        f"{len(withdrawn)} withdrawn, {len(live)} searchable, verify clean"
    )
