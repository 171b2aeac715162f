"""`duijie` — the command-line tool. Every command is a thin layer over matcher/ and index/, or over
the offline tooling in tools/ (demo data, evaluations, benchmarks, model building).

The top-level commands register on `app` when their module is imported (data before serve keeps
`duijie --help` in its order); each command group is a Typer app of its own, added here."""

from __future__ import annotations

import sys

# data and serve are imported for the commands they register on `app`
from scripts.cli import bench, data, evaluation, events, index, model, serve  # noqa: F401
from scripts.cli.common import app, err_console

__all__ = ["app", "main"]

app.add_typer(model.app, name="model")
app.add_typer(evaluation.app, name="eval")
app.add_typer(index.app, name="index")
app.add_typer(bench.app, name="bench")
app.add_typer(events.app, name="event")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("已中断")
        sys.exit(130)
