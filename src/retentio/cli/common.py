"""What every command shares: the --workspace / --format / --engine options, output
rendering (table, json, csv), progress bars, and turning errors into one clear line."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $RETENTIO_WORKSPACE, then ./retentio-workspace).",
        show_default=False,
    ),
]
EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", "-e", help="duckdb | polars | spark (default: the workspace's setting).", show_default=False),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="Spark master URL for --engine spark (default: the workspace's spark_master, local[2]).",
        show_default=False,
    ),
]


def open_workspace(path: str | None, engine: str | None = None, spark_master: str | None = None):
    from retentio.service import Workspace

    ws = Workspace(path, engine=engine)
    if spark_master:
        ws.settings.workspace.spark_master = spark_master
    return ws


from retentio.figures import _jsonable, dumps  # noqa: E402,F401  (shared with the REST API)


def print_json(data: Any) -> None:
    sys.stdout.write(dumps(data) + "\n")


def print_csv(rows: Iterable[dict[str, Any]], columns: list[str] | None = None) -> None:
    rows = list(rows)
    if columns is None:
        columns = []
        for r in rows:
            for k in r:
                if k not in columns:
                    columns.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else _cell(r.get(k))) for k in columns})
    sys.stdout.write(buf.getvalue())


def _cell(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return v  # the csv module writes floats with repr: exact, and nan / inf without error


def print_table(rows: list[dict[str, Any]], columns: list[str] | None = None, title: str | None = None) -> None:
    columns = columns or (list(rows[0].keys()) if rows else [])
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[fmt_value(r.get(c)) for c in columns])
    console.print(t)


def fmt_value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.4f}".rstrip("0").rstrip(".") if abs(v) < 10 else f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


@contextmanager
def progress_bar(description: str, total: int | None = None, *, enabled: bool = True) -> Iterator[Any]:
    """A Rich progress bar on stderr; yields ``advance(done, total)`` for services to call."""
    if not enabled or not err_console.is_terminal:
        yield lambda done, total=None: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)

        def advance(done: int, new_total: int | None = None) -> None:
            if new_total is not None:
                progress.update(task, total=new_total)
            progress.update(task, completed=done)

        yield advance
