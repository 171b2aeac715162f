"""What every `duijie` command shares: the app, its consoles, the error handling, the engine of
an initialized data directory, the progress bar, and the steps several commands end with."""

from __future__ import annotations

import functools
import json
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


def ready_engine() -> Any:
    """The engine of an initialized data directory (migrations applied)."""
    from matcher.config import get_settings
    from matcher.db import get_engine
    from matcher.migrate import upgrade

    get_settings().ensure_home()
    engine = get_engine()
    upgrade(engine)
    return engine


def safe_url(url: str) -> str:
    """The database URL as it may be printed: the password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def after_data_change(engine: Any) -> None:
    """Bring the search index up to date after bulk writes (it would also catch up on its next start)."""
    from matcher.errors import ModelUnavailable
    from matcher.indexing import IndexManager

    try:
        with ProgressBar() as bar:
            manager = IndexManager(engine).open(progress=bar)
        manager.close()
    except ModelUnavailable as exc:
        # The data is committed and its outbox rows wait: the index catches up on its next start.
        err_console.print(f"[yellow]数据已写入；检索索引暂未更新：{exc.message}[/yellow]")


def print_counts(engine: Any) -> None:
    """The row count of every table, as a table."""
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
JsonOption = Annotated[bool, typer.Option("--json")]
QueriesOption = Annotated[
    Path | None, typer.Option("--queries", help="需求查询文件（needs_dev.jsonl 同格式）")
]


def print_json(data: Any) -> None:
    """What --json prints: the command's result, indented, Chinese left readable."""
    print(json.dumps(data, ensure_ascii=False, indent=2))


def require_queries_file(path: Path | None) -> None:
    if path is not None and not path.exists():
        raise DomainError(f"查询文件不存在：{path}")


def write_atomic(target: Path, data: bytes) -> None:
    """Write a whole output file or none of it; a failure is a domain error, not a traceback."""
    from matcher.files import atomic_write_bytes

    try:
        atomic_write_bytes(target, data)
    except OSError as exc:
        raise DomainError(f"无法写入 {target}：{exc.strerror or exc}") from exc


class ProgressBar:
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

    def __enter__(self) -> ProgressBar:
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


def open_matcher(engine: Any) -> Any:
    """The search engine over this data directory's index, opened (and caught up) with a progress bar."""
    from matcher.indexing import IndexManager
    from matcher.matching import Matcher

    with ProgressBar() as bar:
        manager = IndexManager(engine).open(progress=bar)
    return Matcher(manager)
