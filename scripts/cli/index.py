"""`duijie index`: rebuild, prepare a new model's vectors, status, verify against the database."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from matcher.errors import DomainError
from scripts.cli.common import (
    JsonOption,
    ProgressBar,
    console,
    friendly_errors,
    print_json,
    ready_engine,
)

app = typer.Typer(help="检索索引：重建、状态、与数据库核对。", no_args_is_help=True)


@app.command("rebuild")
@friendly_errors
def index_rebuild(
    collection: Annotated[
        str | None, typer.Option(help="technologies | needs | investors；默认全部")
    ] = None,
) -> None:
    """从数据库重建索引（向量 + BM25），原子替换。"""
    from matcher.documents import COLLECTIONS
    from matcher.indexing import IndexManager

    names = (collection,) if collection else COLLECTIONS
    if collection and collection not in COLLECTIONS:
        raise DomainError(f"未知的索引集合：{collection}（可选：{'、'.join(COLLECTIONS)}）")
    engine = ready_engine()
    manager = IndexManager(engine)
    with ProgressBar() as bar:
        for name in names:
            built = manager.rebuild(name, progress=bar)
            console.print(f"{name}：{len(built)} 条，索引类型 {built.vectors.kind}")


@app.command("prepare")
@friendly_errors
def index_prepare(
    model: Annotated[
        str, typer.Option("--model", help="要切换到的模型：e5、static、本地路径或模型名")
    ],
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="每批编码条数")] = None,
) -> None:
    """换模型的第一步：为新模型计算并存入全部向量（显示进度），网站照常用旧模型服务；完成后再切换设置、依次重启。"""
    from matcher.config import get_settings
    from matcher.db import session_scope
    from matcher.documents import COLLECTIONS as NAMES
    from matcher.embedding import store
    from matcher.embedding.encoder import get_encoder
    from matcher.embedding.worker import EmbeddingWorker

    engine = ready_engine()
    encoder = get_encoder(get_settings(), model=model)
    scope = store.Scope(encoder.fingerprint, default_model=False)
    job = EmbeddingWorker(engine, encoder=encoder, batch_size=batch_size, scope=scope)
    done = 0
    with ProgressBar() as bar:
        # Rows keep changing while this runs (the site serves on): go again until none is left.
        for _round in range(5):
            queued = job.backfill()
            with session_scope(engine, write=False) as session:
                total = done + store.count_jobs(session)
            if not queued and _round:
                break

            def step(report: Any, total: int = total) -> None:
                nonlocal done
                done += report.claimed
                bar(f"{model}：编码 {done}/{total}", done / max(total, 1))

            job.on_batch = step
            job.drain()
    with session_scope(engine, write=False) as session:
        left = {n: len(store.missing_for_model(session, job.model, n)) for n in NAMES}
        stored = store.vector_counts(session).get(encoder.fingerprint, {})
    console.print(
        f"模型 {model}（{encoder.fingerprint}）的向量已存入数据库："
        + "，".join(f"{n} {stored.get(n, 0)} 条" for n in NAMES)
        + f"（编码 {job.totals.encoded} 条，用时 {job.totals.seconds:.0f} 秒）"
    )
    if any(left.values()):
        console.print(f"[yellow]仍有条目未就绪：{left}（worker 运行时会补上）[/yellow]")
    console.print(
        f"下一步：把所有 web 与 worker 进程的 DUIJIE_EMBEDDING_MODEL 设为 {model}，先重启 worker，"
        "再逐台重启 web 进程（每台从数据库载入新向量，不再编码）。"
    )


@app.command("status")
@friendly_errors
def index_status(as_json: JsonOption = False) -> None:
    """各集合的条数、索引类型、模型指纹、待应用的变更、近似检索召回率。"""
    from matcher.indexing import IndexManager

    engine = ready_engine()
    status = IndexManager(engine).status()
    if as_json:
        print_json(status)
        return
    table = Table(title="检索索引")
    for title in (
        "集合", "条数", "类型", "模型", "待应用变更", "等待向量", "已存向量", "ANN recall@10", "保存时间",
    ):  # fmt: skip
        table.add_column(title)
    for name, info in status.items():
        ivf = info.get("ivf") or {}
        table.add_row(
            name,
            str(info["count"]),
            str(info["index_type"])
            + (f"（{ivf['nlist']} 个单元，探查 {ivf['nprobe']}）" if ivf else ""),
            f"{info['model']} ({info['model_fingerprint']})",
            str(info["pending_changes"]),
            str(info["awaiting_vectors"]),
            str(info["stored_vectors"]),
            str(info["ann_recall@10"]),
            str(info["saved_at"]),
        )
    console.print(table)
    jobs = next(iter(status.values()))["queued_jobs"] if status else 0
    console.print(f"编码队列：{jobs} 个任务")


@app.command("verify")
@friendly_errors
def index_verify(as_json: JsonOption = False) -> None:
    """载入索引、补齐未应用的变更，再逐一核对数据库与索引中的 id；不一致时退出码非零。"""
    from matcher.indexing import IndexManager

    engine = ready_engine()
    manager = IndexManager(engine).open()
    report = manager.verify()
    manager.close()
    if as_json:
        print_json(report)
    else:
        for name, info in report.items():
            mark = "[green]一致[/green]" if info["ok"] else "[red]不一致[/red]"
            console.print(
                f"{name}：数据库 {info['database']}，向量 {info['vectors']}，BM25 {info['lexical']} — {mark}"
                + (f"  缺少 {info['missing']} 多出 {info['extra']}" if not info["ok"] else "")
            )
    if not all(info["ok"] for info in report.values()):
        raise typer.Exit(1)
