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
    """载入演示数据：2,000 项科技成果、150 余条企业需求、单位与投资机构（可重复执行）。"""
    from matcher.demo.build import load_demo

    engine = _ready_engine()
    with console.status("正在导入演示数据…"):
        reports = load_demo(engine)
    for report in reports:
        console.print(report.summary())
    _after_data_change(engine)
    _print_counts(engine)


def _after_data_change(engine: Any) -> None:
    """Hook for the index: apply pending changes after bulk writes (filled in by the index)."""
    try:
        from index.service import catch_up_all
    except ImportError:
        return
    catch_up_all(engine, progress=True)


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
    import os
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DomainError(f"无法写入 {target}：{exc.strerror or exc}") from exc


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
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("已中断")
        sys.exit(130)


if __name__ == "__main__":
    main()
