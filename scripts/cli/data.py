"""The data directory's commands: init, status, the demo data, catalog import and export,
templates and columns, backup and restore."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from matcher.errors import DomainError, ImportRejected
from scripts.cli.common import (
    JsonOption,
    KindOption,
    after_data_change,
    app,
    console,
    err_console,
    friendly_errors,
    open_matcher,
    print_counts,
    print_json,
    ready_engine,
    safe_url,
    write_atomic,
)


@app.command()
@friendly_errors
def init() -> None:
    """创建数据目录并把数据库迁移到最新结构。"""
    from matcher.config import get_settings
    from matcher.migrate import head_revision

    settings = get_settings()
    ready_engine()
    console.print(f"数据目录：{settings.home}")
    console.print(
        f"数据库：{safe_url(settings.resolved_database_url)}（结构版本 {head_revision()}）"
    )


@app.command("demo-data")
@friendly_errors
def demo_data() -> None:
    """载入演示数据：1,400 余项理工农医科技成果、160 余条企业需求、单位与投资机构、揭榜挂帅榜单和一场钢铁集团专场对接会（可重复执行）。"""
    from tools.demo.build import load_demo
    from tools.demo.users import DEMO_PASSWORD, DOMAIN, load_demo_users

    engine = ready_engine()
    from tools.demo.challenges import load_demo_challenges, load_demo_experts

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
    after_data_change(engine)
    demo_event_if_missing(engine)
    print_counts(engine)


def demo_event_if_missing(engine: Any) -> None:
    """The steel group's 对接会 with its draft schedule, once (it needs the search model)."""
    from matcher.errors import ModelUnavailable
    from tools.demo.events import DEMO_EVENT_NAME, create_demo_event, demo_event_id

    if demo_event_id(engine) is not None:
        return
    try:
        matcher = open_matcher(engine)
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
    engine = ready_engine()
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
    after_data_change(engine)


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
    engine = ready_engine()
    target = output or Path(f"duijie-{kind}.{fmt}")
    with session_scope(engine, write=True) as session:
        data = export_catalog(session, kind, fmt)
        services.audit(
            session=session,
            action="catalog.export",
            object_type=kind,
            detail={"format": fmt, "cli": True},
        )
    write_atomic(target, data)
    console.print(f"已导出 {kind} → {target}（{len(data) / 1024:.0f} KB）")


@app.command()
@friendly_errors
def backup(
    path: Annotated[Path, typer.Argument(help="备份目录（须不存在）")],
    as_json: JsonOption = False,
) -> None:
    """在线备份：数据库（SQLite 在线备份 API / pg_dump）、检索索引、附件与带校验和的清单。"""
    from matcher import backup as backups
    from matcher.config import get_settings

    engine = ready_engine()
    with console.status("正在备份…"):
        manifest = backups.backup(get_settings(), engine, path)
    if as_json:
        print_json(manifest)
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
    as_json: JsonOption = False,
) -> None:
    """从备份恢复到当前数据目录（默认要求是新的空数据目录），并校验完整性与行数。"""
    from matcher import backup as backups
    from matcher.config import get_settings

    if not path.exists():
        raise DomainError(f"备份目录不存在：{path}")
    with console.status("正在恢复…"):
        result = backups.restore(get_settings(), path, force=force)
    if as_json:
        print_json(result)
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
    write_atomic(target, template_workbook(kind))
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
def status(as_json: JsonOption = False) -> None:
    """数据目录、数据库与各表行数。"""
    from matcher import services
    from matcher.config import get_settings
    from matcher.db import session_scope
    from matcher.migrate import current_revision, head_revision

    settings = get_settings()
    engine = ready_engine()
    with session_scope(engine, write=False) as session:
        data = services.counts(session=session)
    info = {
        "home": str(settings.home),
        "database": safe_url(settings.resolved_database_url),
        "revision": current_revision(engine),
        "head": head_revision(),
        "counts": data,
    }
    if as_json:
        print_json(info)
        return
    console.print(
        f"数据目录：{info['home']}\n数据库：{info['database']}（版本 {info['revision']}）"
    )
    print_counts(engine)
