"""Concurrency on SQLite (WAL, BEGIN IMMEDIATE for writes) and PostgreSQL: 8 threads × 200
read-then-write transactions end with no "database is locked" and exact counts; searches while
the index is being updated never fail and never return an item withdrawn before they began."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from matcher.catalog import import_catalog
from matcher.config import get_settings, reset_settings
from matcher.db import is_sqlite, session_scope
from matcher.indexing import IndexManager
from matcher.matching import Matcher
from matcher.models import Lead, Notification, Organization, Technology, User, pk

THREADS, TRANSACTIONS = 8, 200


def test_read_then_write_transactions_lose_nothing(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = Organization(name="计数单位", kind="enterprise")
        session.add(org)
        session.flush()
        user = User(
            email="c@example.cn",
            name="c",
            password_hash="x",
            role="enterprise",
            organization_id=pk(org),
        )
        lead = Lead(supplier_id=pk(org), demander_id=pk(org), contract_amount=0.0)
        session.add(user)
        session.add(lead)
        session.flush()
        lead_id, user_id = pk(lead), pk(user)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(TRANSACTIONS):
                with session_scope(engine) as session:
                    stmt = select(Lead).where(Lead.id == lead_id)
                    if not is_sqlite(engine):
                        stmt = (
                            stmt.with_for_update()
                        )  # SQLite's write transaction is already exclusive
                    row = session.exec(stmt).one()
                    row.contract_amount = (row.contract_amount or 0.0) + 1
                    session.add(row)
                    session.add(Notification(user_id=user_id, kind="t", text="+1"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, [repr(e) for e in errors[:3]]
    with session_scope(engine, write=False) as session:
        assert session.get(Lead, lead_id).contract_amount == THREADS * TRANSACTIONS  # type: ignore[union-attr]
        count = session.exec(select(func.count()).select_from(Notification)).one()
        assert count == THREADS * TRANSACTIONS


def test_searches_while_the_index_changes(
    engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    settings = get_settings()
    rows = "".join(
        f"C{i},高炉炉况监测方法{i},北辰理工大学,冶金与矿业,基于风口图像的高炉炉况在线监测第{i}种方案,5,转让\n"
        for i in range(120)
    )
    import_catalog(
        engine=engine,
        kind="organizations",
        data="单位名称,单位类型\n北辰理工大学,高校\n".encode(),
        filename="o.csv",
        settings=settings,
    )
    import_catalog(
        engine=engine, kind="technologies",
        data=("编号,成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n" + rows).encode(),
        filename="t.csv", settings=settings,
    )  # fmt: skip
    manager = IndexManager(engine, settings).open()
    matcher = Matcher(manager)
    withdrawn: set[int] = set()
    lock = threading.Lock()
    stop = threading.Event()
    failures: list[str] = []
    searches = [0]

    def writer() -> None:
        rng = random.Random(3)
        with session_scope(engine, write=False) as session:
            ids = [t.id for t in session.exec(select(Technology)) if t.id]
        rng.shuffle(ids)
        for tech_id in ids[:60]:
            with session_scope(engine) as session:
                tech = session.get(Technology, tech_id)
                tech.status = "withdrawn"  # type: ignore[union-attr]
                session.add(tech)
            with lock:
                withdrawn.add(tech_id)
            manager.catch_up()
            time.sleep(0.005)
        stop.set()

    def searcher(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            with lock:
                before = set(withdrawn)
            try:
                hits = matcher.search(f"高炉炉况 监测 方案{rng.randrange(120)}", limit=20).hits
            except Exception as exc:
                failures.append(f"search failed: {exc!r}")
                return
            returned = {h.id for h in hits}
            if returned & before:
                failures.append(f"returned withdrawn items {sorted(returned & before)}")
            searches[0] += 1

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=searcher, args=(i,)) for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    manager.close()
    assert not failures, failures[:3]
    assert searches[0] > 20
