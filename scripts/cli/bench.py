"""`duijie bench`: benchmarks that print measured figures."""

from __future__ import annotations

from pathlib import Path
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

app = typer.Typer(help="基准测试：打印实测数字。", no_args_is_help=True)


@app.command("search")
@friendly_errors
def bench_search(
    n: Annotated[int, typer.Option("--n", help="条目数（CSL 摘要变体扩充到 N）")] = 100_000,
    queries: Annotated[int, typer.Option(help="查询条数")] = 300,
    as_json: JsonOption = False,
) -> None:
    """N 条目下的建索引吞吐、端到端检索延迟、向量检索延迟、内存与近似检索召回率。"""
    from matcher.config import get_settings
    from tools.bench.search import run

    if n < 1:
        raise DomainError("N 至少为 1")
    with ProgressBar() as bar:
        result = run(get_settings(), n=n, queries=queries, progress=bar)
    if as_json:
        print_json(result)
        return
    console.print(
        f"N={result['n']}  索引 {result['index_type']}  建索引 {result['index_docs_per_s']} 条/秒"
        f"（模型编码 {result['encode_docs_per_s']} 条/秒）\n"
        f"端到端检索 ms：{result['search_ms']}\n向量检索 ms：{result['vector_ms']}"
        f"（对照：暴力精确检索 {result['exact_vector_ms']}）\n"
        f"ANN recall@10：存量向量作查询 {result['ann_recall@10']}，真实查询 {result['ann_recall@10_queries']}"
        f"（nlist {result['nlist']}，nprobe {result['nprobe']}）  内存 {result['rss_mb']} MB\n"
        f"说明：{result['note']}"
    )


@app.command("ingest")
@friendly_errors
def bench_ingest(
    n: Annotated[int, typer.Option("--n", help="文档数（CSL 摘要变体）")] = 20_000,
    model: Annotated[
        str | None,
        typer.Option("--model", help="static | e5 | 其他模型；默认 DUIJIE_EMBEDDING_MODEL"),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="PostgreSQL；默认 DUIJIE_DATABASE_URL")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """写入到两台主机均可检索的文档数/秒（1 个与 2 个 worker），以及新主机就绪时间：载入已存向量 vs 重新编码。"""
    import tempfile

    from matcher.config import get_settings
    from tools.bench.ingest import run

    if n < 2:
        raise DomainError("N 至少为 2")
    with tempfile.TemporaryDirectory(prefix="duijie-bench-ingest-") as tmp, ProgressBar() as bar:
        result = run(
            get_settings(), n=n, model=model, database_url=database_url, work_dir=Path(tmp),
            progress=bar,
        )  # fmt: skip
    if as_json:
        print_json(result)
        return
    table = Table(title=f"写入 → 两台主机可检索（{result['n']} 条，模型 {result['model']}）")
    for name in ("worker 数", "文档", "写入秒", "两台均可检索秒", "文档/秒", "写完后的延迟秒"):
        table.add_column(name, justify="right")
    for r in result["rounds"]:
        table.add_row(
            str(r["workers"]), str(r["documents"]), str(r["write_s"]),
            str(r["searchable_on_both_s"]), str(r["docs_per_s"]), str(r["lag_after_last_write_s"]),
        )  # fmt: skip
    console.print(table)
    fresh = result["fresh_host"]
    console.print(
        f"新主机就绪：载入已存向量 {fresh['from_stored_vectors_s']} 秒（编码 "
        f"{fresh['from_stored_vectors_documents_encoded']} 条） vs 重新编码 {fresh['re_encoding_s']} 秒"
        f"（快 {fresh['speedup']} 倍）"
    )


@app.command("web")
@friendly_errors
def bench_web(
    clients: Annotated[int, typer.Option(help="并发客户端数")] = 20,
    seconds: Annotated[float, typer.Option(help="持续秒数")] = 30.0,
    workers: Annotated[int, typer.Option(help="服务进程数")] = 2,
    think: Annotated[
        float, typer.Option(help="每个客户端两次操作之间的平均思考时间（秒）；0 为不停顿")
    ] = 1.0,
    ramp: Annotated[
        str | None,
        typer.Option(
            help="混合负载逐级加压，如 4,8,16,32,64：检索、详情+推荐、发布需求、表达意向；"
            "直到出错或 p99 > 1 秒（在数据目录的副本上运行）"
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """在本机回环上对演示数据压测：检索片段与带推荐的详情页的 p50/p95/p99 与错误数。"""
    from matcher.config import get_settings
    from tools.bench.web import run, run_ramp

    ready_engine()
    if ramp:
        try:
            levels = [int(x) for x in ramp.replace("，", ",").split(",") if x.strip()]
        except ValueError:
            raise DomainError("--ramp 应为逗号分隔的并发数，如 4,8,16,32") from None
        with console.status("混合负载逐级加压…"):
            report = run_ramp(
                get_settings(), levels=levels, seconds=seconds, workers=workers, think_s=think
            )
        if as_json:
            print_json(report)
            return
        print_ramp(report)
        return
    with console.status(f"{clients} 个客户端压测 {seconds:g} 秒…"):
        result = run(
            get_settings(), clients=clients, seconds=seconds, workers=workers, think_s=think
        )
    if as_json:
        print_json(result)
        return
    console.print(
        f"{result['requests']} 个请求（{result['requests_per_s']}/秒），错误 {result['errors']}\n"
        f"检索片段 ms：{result['endpoints']['search']}\n详情页+推荐 ms：{result['endpoints']['detail']}"
    )


def print_ramp(report: dict[str, Any]) -> None:
    """One table per server set-up (a single process first, when measured): each load level's
    rate, latency, errors and whether it held."""
    for measured in (report.get("single_process"), report):
        if not measured:
            continue
        table = Table(title=f"混合负载，{measured['workers']} 个网站进程（{measured['workload']}）")
        for name in (
            "并发",
            "请求/秒",
            "p50",
            "p95",
            "p99",
            "错误率",
            "5xx",
            "达标",
            "最慢操作 p95",
        ):
            table.add_column(name, justify="right")
        for lv in measured["levels"]:
            lat = lv["latency_ms"]
            slowest = max(lv["by_action"].items(), key=lambda kv: kv[1])
            table.add_row(
                str(lv["clients"]), str(lv["requests_per_s"]), str(lat["p50"]), str(lat["p95"]),
                str(lat["p99"]), f"{lv['error_rate']:.2%}", str(lv["5xx"]), "是" if lv["held"] else "否",
                f"{slowest[0]} {slowest[1]}",
            )  # fmt: skip
        console.print(table)
        console.print(
            f"达标的最高负载（{measured['workers']} 个网站进程）：{measured['held']}（{measured['criteria']}）"
        )


@app.command("event")
@friendly_errors
def bench_event(
    enterprises: Annotated[int, typer.Option(help="需求方企业数")] = 300,
    teams: Annotated[int, typer.Option(help="成果方团队数")] = 300,
    slots: Annotated[int, typer.Option(help="洽谈轮次")] = 12,
    tables: Annotated[int, typer.Option(help="桌位数")] = 60,
    fairness: Annotated[
        float, typer.Option(help="每位参会者第一场洽谈的奖励（0 = 只看总价值）", min=0)
    ] = 0.5,
    as_json: JsonOption = False,
) -> None:
    """合成一场给定规模的对接会并排程：求解时间、洽谈数、冲突（独立校验）、必须见、价值比。"""
    from tools.bench.event import run

    if min(enterprises, teams, slots, tables) < 1:
        raise DomainError("各项规模至少为 1")
    with console.status("正在求解…"):
        result = run(enterprises, teams, slots, tables, fairness=fairness)
    if as_json:
        print_json(result)
        return
    for key, value in result.items():
        console.print(f"{key}: {value}")
