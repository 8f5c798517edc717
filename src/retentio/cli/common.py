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
from rich.table import Table

# Tables are made to fit 80 columns; a terminal wider than that still gets them at 80.
console = Console(width=80)
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


AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Day the figures are computed as of (YYYY-MM-DD or YYYY-MM; default: today).",
                 show_default=False),
]
LimitOpt = Annotated[int, typer.Option("--limit", help="Rows of a list to show (0: all).")]
# Lists whose JSON is pinned as a plain list (health score, predict score): no limit unless
# asked in JSON and CSV (a script gets every account); the table's default is 20.
ListLimitOpt = Annotated[int | None, typer.Option("--limit", help="Rows to show (0: all). Default: 20 in the table, all in JSON and CSV.",
                                                  show_default=False)]
SortOpt = Annotated[str | None, typer.Option("--sort", help="Column to sort the list by (prefix - for descending).",
                                             show_default=False)]


def open_workspace(path: str | None, engine: str | None = None, spark_master: str | None = None):
    from retentio.service import Workspace

    ws = Workspace(path, engine=engine)
    if spark_master:
        ws.settings.workspace.spark_master = spark_master
    return ws


def refuse(format: "OutputFormat", command: str, why: str) -> None:
    from retentio.errors import UsageError

    raise UsageError(f"{command} cannot give --format {format.value}: {why}", hint="use --format table or json")


# JSON values rounded by unit, and the serialiser shared with the REST API (retentio.output).
from retentio.output import _jsonable, dumps, rounded  # noqa: E402,F401


def print_json(data: Any) -> None:
    if isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        # A list (every account of a book) is written an element at a time: the same bytes as
        # dumps of the whole list, without its text and parsed copy in memory at once (the
        # health scores of 1 M accounts are a 323 MB text).  JSON text never holds a raw
        # newline inside a string, so indenting every line of an element is exact.
        write = sys.stdout.write
        write("[\n")
        for i, item in enumerate(data):
            write(("  " if i == 0 else ",\n  ") + dumps(item).replace("\n", "\n  "))
        write("\n]\n")
        return
    sys.stdout.write(dumps(data) + "\n")


_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(v: Any) -> Any:
    """A CSV cell safe to open in a spreadsheet (OWASP, CSV injection): a text cell that
    begins with = + - @ tab or carriage return is prefixed with a quote; numbers untouched."""
    if isinstance(v, str) and v.startswith(_DANGEROUS):
        return "'" + v
    return v


def print_csv(rows: Iterable[dict[str, Any]], columns: list[str] | None = None) -> None:
    rows = [rounded(dict(r)) for r in rows]
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
        w.writerow({k: ("" if r.get(k) is None else safe_cell(_cell(r.get(k)))) for k in columns})
    sys.stdout.write(buf.getvalue())


def _cell(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "; ".join(str(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, default=str, ensure_ascii=False)
    return v  # the csv module writes floats with repr: exact, and nan / inf without error


# -- tables that fit 80 columns ----------------------------------------------------------------
WIDTH = 80


def fmt(key: str, v: Any, currency: str = "") -> str:
    """A value as a table shows it, by the unit of its figure (rates in %, money 2 decimals)."""
    from retentio.figures import format_value, unit_of

    unit = unit_of(key)
    if unit is not None and not isinstance(v, (str, list)):
        return format_value(v, unit, "" if unit == "money" else currency)
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return fmt_value(v)


def print_table(rows: list[dict[str, Any]], columns: list[str] | None = None, title: str | None = None,
                *, keep: int = 1, currency: str = "", wrap: tuple[str, ...] = ()) -> None:
    """Rows as one table, or as several when the columns do not fit 80 characters: each page
    repeats the first ``keep`` columns.  Values are formatted by unit; nothing is cut."""
    columns = columns or (list(rows[0].keys()) if rows else [])
    cells = [[fmt(c, r.get(c), currency) for c in columns] for r in rows]
    widths = []
    for i, c in enumerate(columns):
        w = max([len(str(c))] + [len(row[i]) for row in cells])
        widths.append(min(w, 24) if c in wrap else w)
    fixed = list(range(min(keep, len(columns))))
    pages: list[list[int]] = []
    cur: list[int] = []
    base = sum(widths[i] + 3 for i in fixed) + 1
    used = base
    for i in range(len(fixed), len(columns)):
        if cur and used + widths[i] + 3 > WIDTH:
            pages.append(cur)
            cur, used = [], base
        cur.append(i)
        used += widths[i] + 3
    pages.append(cur)
    for n, page in enumerate(pages):
        idx = fixed + page
        shown = title if n == 0 else None
        # a table narrower than its title would wrap the title over two lines
        t = Table(title=shown, show_lines=False, min_width=min(len(shown) + 2, WIDTH) if shown else None)
        for i in idx:
            numeric = all(_numeric(row[i]) for row in cells)
            t.add_column(str(columns[i]), justify="right" if numeric else "left",
                         no_wrap=columns[i] not in wrap, overflow="fold", max_width=24 if columns[i] in wrap else None)
        for row in cells:
            t.add_row(*[row[i] for i in idx])
        console.print(t)


def _numeric(text: str) -> bool:
    t = text.replace(",", "").replace(" %", "").replace("—", "").strip().lstrip("-+")
    return t == "" or t.replace(".", "", 1).isdigit()


def print_more(total: int, shown: int, what: str = "rows") -> None:
    if total > shown:
        console.print(f"{total - shown} more {what} (--limit 0 shows all)", highlight=False)


def list_rows(rows: list[dict[str, Any]], limit: int | None, sort: str | None, format: OutputFormat) -> list[dict[str, Any]]:
    """The rows of a pinned list command, sorted by ``sort`` and cut to ``limit`` (None: 20
    in the table, all in JSON and CSV)."""
    if limit is None:
        limit = 20 if format == OutputFormat.table else 0
    return limited(list(rows), limit, sort)


def limited(rows: list[dict[str, Any]], limit: int, sort: str | None) -> list[dict[str, Any]]:
    """The rows sorted by ``sort`` (a column; -column: descending) and cut to ``limit`` (0: all)."""
    from retentio.output import limited as _limited

    return _limited(rows, limit, sort)


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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

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


__all__ = ["OutputFormat", "WIDTH", "dumps", "fmt", "fmt_value", "limited", "open_workspace", "print_csv",
    "print_json", "print_more", "print_table", "progress_bar", "refuse", "rounded", "safe_cell"]
