"""The long-running processes: the web site and the embedding worker."""

from __future__ import annotations

from typing import Annotated

import typer

from scripts.cli.common import app, friendly_errors, ready_engine


@app.command()
@friendly_errors
def serve(
    host: Annotated[str | None, typer.Option(help="默认取 DUIJIE_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="默认取 DUIJIE_PORT")] = None,
    workers: Annotated[int, typer.Option(help="进程数")] = 1,
) -> None:
    """启动网站（http://127.0.0.1:8000）。"""
    import uvicorn

    from matcher.config import get_settings

    settings = get_settings()
    ready_engine()
    if workers > 1:
        # each worker process gets one core's worth of torch threads instead of fighting for all
        import os

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
    )


@app.command()
@friendly_errors
def worker(
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", help="每批编码条数；默认 DUIJIE_EMBEDDING_BATCH_SIZE"),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="处理完队列中现有的任务后退出")] = False,
    threads: Annotated[
        int | None, typer.Option(help="torch 计算线程数（一台机器上运行多个 worker 时分配 CPU）")
    ] = None,
) -> None:
    """计算向量的后台进程：从数据库领取待编码的条目，批量编码后存入数据库，各网站进程随即载入。

    PostgreSQL 上用 SELECT … FOR UPDATE SKIP LOCKED 领取任务，多台机器上的多个 worker 分担队列；
    被强行终止的 worker 未提交的批次自动回到队列。SQLite 默认部署无需运行它（duijie serve 内置）。"""
    import logging
    import os
    import signal
    import threading

    from matcher.embedding.worker import EmbeddingWorker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if threads:
        import torch

        torch.set_num_threads(threads)
    engine = ready_engine()
    job = EmbeddingWorker(engine, batch_size=batch_size)
    queued = job.backfill()
    print(
        f"worker {os.getpid()}：模型 {job.model.fingerprint}，每批 {job.batch_size} 条；"
        f"补登记缺少向量的条目 {queued} 条",
        flush=True,
    )
    if once:
        totals = job.drain()
        print(
            f"完成：编码 {totals.encoded} 条，存入 {totals.stored} 条，用时 {totals.seconds:.1f} 秒"
        )
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    loop = job.start()
    while not stop.wait(1.0):
        pass
    print("正在停止：当前批次完成后退出", flush=True)
    loop.stop(timeout=600)
