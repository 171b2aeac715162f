"""Several hosts on one PostgreSQL: two `duijie serve` with data directories of their own (one of
them two processes sharing its directory), two `duijie worker`; listings written through either
host in random order are found on both; a worker killed with SIGKILL in the middle of a batch
loses nothing; a host started afterwards loads without encoding anything."""

from __future__ import annotations

import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from matcher import accounts
from matcher.catalog import import_catalog
from matcher.db import session_scope
from matcher.embedding import store
from matcher.models import EmbeddingJob
from matcher.services import organization_by_name
from tools.bench.cluster import Process, WebHost, start_web, start_worker, stopping, wait_until

UNIVERSITIES = ["北辰理工大学", "云岫材料研究所", "南溪农业大学", "东岳工程研究院"]
LISTINGS = 200
FIELDS = ["新材料", "能源与动力", "冶金与矿业", "电子信息", "生物医药"]


def _seed(engine: Engine) -> list[str]:
    orgs = "单位名称,单位类型\n" + "".join(f"{n},高校\n" for n in UNIVERSITIES)
    import_catalog(engine=engine, kind="organizations", data=orgs.encode(), filename="o.csv")
    tokens = []
    with session_scope(engine) as session:
        for i, name in enumerate(UNIVERSITIES):
            org = organization_by_name(session=session, name=name)
            assert org is not None
            user = accounts.create_user(
                session=session, email=f"u{i}@example.cn", name=f"u{i}", password="test-pass-123",
                role="university", organization_id=org.id,
            )  # fmt: skip
            tokens.append(accounts.new_api_token(session=session, user=user, name="mp"))
        admin = accounts.create_user(
            session=session, email="admin@example.cn", name="admin", password="test-pass-123",
            role="admin", organization_id=None,
        )  # fmt: skip
        session.flush()
        tokens.append(accounts.new_api_token(session=session, user=admin, name="search"))
    return tokens


def _search(host: WebHost, token: str, title: str) -> list[int]:
    response = httpx.get(
        host.base + "/api/v1/search",
        params={"q": title, "limit": 5},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    return [r["id"] for r in response.json()["results"]]


def _waiting_worker(engine: Engine, workers: list[Process]) -> Process | None:
    """A worker whose database session waits for a row lock while storing a batch it claimed
    and encoded: that worker is in the middle of a batch."""
    for worker in workers:
        assert worker.alive(), worker.tail()
    with engine.connect() as conn:
        names = set(
            conn.execute(
                text(
                    "SELECT application_name FROM pg_stat_activity "
                    "WHERE application_name LIKE 'duijie-worker %' AND wait_event = 'advisory'"
                )
            ).scalars()
        )
    for worker in workers:
        if f"duijie-worker {worker.pid}" in names:
            return worker
    return None


# Long on purpose: starting hosts and workers costs seconds each, so one deployment is started
# once and every cross-host property is checked on it, each with its own assertion message.
@pytest.mark.slow
@pytest.mark.pg
@pytest.mark.timeout(1800)
def test_two_hosts_two_workers_a_killed_worker_and_a_fresh_host(
    engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several hosts share a PostgreSQL database")
    tokens = _seed(engine)
    search_token = tokens[-1]
    env = {
        "DUIJIE_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "DUIJIE_EMBEDDING_MODEL": str(tiny_model_dir),
        "DUIJIE_SECRET_KEY": "multi-host-test-secret-key-0123456789abcdef",
        "DUIJIE_EMBEDDED_WORKER": "off",
    }
    rng = random.Random(17)
    # Hold the row locks of the first listings, so that whichever worker takes one of them is
    # caught between encoding and storing its batch: that is the worker to kill.
    lock_conn = engine.connect()
    first_ids = list(range(1, 13))
    for item_id in first_ids:
        lock_conn.execute(
            text("SELECT pg_advisory_lock(:k, :i)"),
            {"k": store._LOCK_CLASS["technologies"], "i": item_id},
        )
    lock_conn.commit()
    with stopping([]) as running:
        host_a = start_web(
            "host-a", tmp_path / "host-a", env, processes=2
        )  # two processes, one dir
        running.append(host_a)
        host_b = start_web("host-b", tmp_path / "host-b", env)
        running.append(host_b)
        workers = [
            start_worker(f"worker-{i}", tmp_path / f"worker-{i}", env, batch_size=8)
            for i in range(2)
        ]
        running.extend(workers)

        written: dict[int, str] = {}

        def write(n: int) -> None:
            host = rng.choice([host_a, host_b])
            title = f"第{n}号多主机测试成果{rng.randrange(10**6)}型{FIELDS[n % 5]}装置"
            response = httpx.post(
                host.base + "/api/v1/my/technologies",
                headers={"Authorization": f"Bearer {tokens[n % len(UNIVERSITIES)]}"},
                json={"title": title, "summary": f"{title}的结构、工艺与应用", "field": FIELDS[n % 5],
                      "trl": 5, "cooperation_modes": ["转让"], "status": "published"},
                timeout=60,
            )  # fmt: skip
            assert response.status_code == 201, response.text
            written[response.json()["id"]] = title

        order = list(range(LISTINGS))
        rng.shuffle(order)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(write, order))
        assert len(written) == LISTINGS and set(first_ids) <= set(written)

        victim = wait_until(
            lambda: _waiting_worker(engine, workers), timeout=120, what="a worker mid-batch"
        )
        with session_scope(engine, write=False) as session:
            queued_before = session.exec(select(func.count()).select_from(EmbeddingJob)).one()
        victim.kill9()
        survivor = next(w for w in workers if w is not victim)
        lock_conn.execute(text("SELECT pg_advisory_unlock_all()"))
        lock_conn.commit()
        lock_conn.close()
        assert queued_before > 0 and survivor.alive()

        def all_there() -> bool:
            return all(h.count() == LISTINGS and h.index()["collections"]["technologies"][
                "awaiting_vectors"] == 0 for h in (host_a, host_b))  # fmt: skip

        wait_until(all_there, timeout=300, every=0.5, what="every listing on both hosts")
        with session_scope(engine, write=False) as session:
            assert session.exec(select(func.count()).select_from(EmbeddingJob)).one() == 0
            stored = store.stored_hashes(session, "tiny-test-model", "technologies", list(written))
        assert set(stored) == set(written)  # the killed worker's batch was redone, nothing lost
        missed = [
            (host.process.name, i)
            for host in (host_a, host_b)
            for i, title in written.items()
            if i not in _search(host, search_token, title)
        ]
        assert not missed, missed[:5]

        # a change written through one host is searchable on the other within 2 s
        lags = []
        for n in range(LISTINGS, LISTINGS + 10):
            before = time.monotonic()
            title = f"第{n}号跨主机延迟测试{FIELDS[n % 5]}样机"
            response = httpx.post(
                host_a.base + "/api/v1/my/technologies",
                headers={"Authorization": f"Bearer {tokens[0]}"},
                json={"title": title, "summary": f"{title}的试制与测试", "field": FIELDS[n % 5],
                      "trl": 5, "cooperation_modes": ["转让"], "status": "published"},
                timeout=60,
            )  # fmt: skip
            new_id = response.json()["id"]
            wait_until(
                lambda t=title, i=new_id: i in _search(host_b, search_token, t),
                timeout=30, every=0.02, what="the listing on the other host",
            )  # fmt: skip
            lags.append(time.monotonic() - before)
        print(
            f"written on host A → searchable on host B: median {statistics.median(lags):.2f}s, "
            f"max {max(lags):.2f}s over {len(lags)} listings"
        )
        assert max(lags) <= 2.0, lags

        # host A restarts: its two processes shared the data directory; the saved index loads
        host_a.process.stop()
        running.remove(host_a)
        host_a = start_web("host-a-again", tmp_path / "host-a", env)
        running.append(host_a)
        info = host_a.index()
        assert info["loaded_vectors"] == 0, "a save by one of the two processes was damaged"
        assert host_a.count() == LISTINGS + 10

        # a third host: a new data directory, no index, loads stored vectors, encodes nothing
        host_c = start_web("host-c", tmp_path / "host-c", env)
        running.append(host_c)
        info = host_c.index()
        assert info["collections"]["technologies"]["count"] == LISTINGS + 10
        assert info["loaded_vectors"] == LISTINGS + 10
        assert info["documents_encoded"] == 0 and info["texts_computed"] == 0
        sample = rng.sample(sorted(written), 20)
        assert all(i in _search(host_c, search_token, written[i]) for i in sample)
        print(
            f"multi-process: {LISTINGS} listings through 2 hosts, worker {victim.pid} killed "
            f"mid-batch with {queued_before} jobs queued, nothing lost; host C loaded "
            f"{info['loaded_vectors']} stored vectors, encoded {info['documents_encoded']}"
        )
