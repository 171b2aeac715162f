"""A process that keeps importing catalogs and saving the index until it is killed.

Used by the crash tests: each import is acknowledged on stdout only after its transaction
committed, so the parent knows which writes must survive a `kill -9`."""

from __future__ import annotations

import sys

from matcher.catalog.importer import import_catalog
from matcher.config import get_settings
from matcher.db import get_engine
from matcher.indexing import IndexManager
from matcher.migrate import upgrade

HEADER = "编号,成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n"


def main(start: int) -> None:
    settings = get_settings()
    engine = get_engine(settings)
    upgrade(engine)
    import_catalog(
        engine=engine,
        kind="organizations",
        data="单位名称,单位类型\n北辰理工大学,高校\n".encode(),
        filename="o.csv",
    )
    manager = IndexManager(engine, settings).open()
    print("READY", flush=True)
    batch = start
    while True:
        rows = "".join(
            f"K{batch}-{i},高炉监测方法{batch}-{i},北辰理工大学,冶金与矿业,基于风口图像的高炉炉况监测第{batch}批第{i}项,5,转让\n"
            for i in range(20)
        )
        import_catalog(
            engine=engine,
            kind="technologies",
            data=(HEADER + rows).encode(),
            filename=f"b{batch}.csv",
        )
        print(f"ACK {batch}", flush=True)
        manager.catch_up(force_save=True)
        print(f"SAVED {batch}", flush=True)
        batch += 1


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
