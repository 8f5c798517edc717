"""retentio import / quarantine."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from retentio.cli.common import (
    FormatOpt,
    OutputFormat,
    WorkspaceOpt,
    console,
    open_workspace,
    print_csv,
    print_json,
    print_table,
    progress_bar,
)
from retentio.cli.main import app


class InputKind(str, Enum):
    auto = "auto"
    csv = "csv"
    parquet = "parquet"
    xlsx = "xlsx"
    stripe = "stripe"
    chargebee = "chargebee"
    stripe_invoice_lines = "stripe-invoice-lines"
    chargebee_invoice_lines = "chargebee-invoice-lines"


class ReportFormat(str, Enum):
    table = "table"
    json = "json"


@app.command("import")
def import_(
    entity: Annotated[str, typer.Argument(help="accounts, subscriptions, usage, tickets, surveys, costs, fx-rates or csm-pulse.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="The file to import (.csv, .parquet, .xlsx).", show_default=False)],
    workspace: WorkspaceOpt = None,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", "-m", help="YAML mapping file renaming / deriving columns (docs/import-guide.md).", show_default=False),
    ] = None,
    kind: Annotated[InputKind, typer.Option("--as", help="Kind of input; auto = from the file extension.")] = InputKind.auto,
    replace: Annotated[bool, typer.Option("--replace", help="Replace all rows of the entity instead of upserting by key.")] = False,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="Report format.")] = ReportFormat.table,
) -> None:
    """Import one file into one entity: bad rows go to quarantine, nothing is lost.

    The import is atomic and idempotent: importing the same file twice gives the same workspace (rows are upserted by key); --replace replaces the entity's rows. Exit code 0 when the import ran, even with quarantined rows; 1 when the file could not be imported (nothing changed).

    Examples:

      retentio import --workspace acme accounts accounts.csv

      retentio import --workspace acme subscriptions export.csv --as stripe

      retentio import -w acme subscriptions abonnements.xlsx --mapping abonnements.yaml --format json
    """
    ws = open_workspace(workspace)
    if entity.strip().lower() in ("csm-pulse", "csm_pulse"):  # CSM ratings go to the app state (health)
        res = ws.import_csm_pulse(file)
        print_json(res) if format == ReportFormat.json else console.print(f"{res['imported']} CSM pulse(s) imported from {res['file']}")
        return
    with progress_bar(f"importing {file.name}", None, enabled=format == ReportFormat.table) as advance:
        report = ws.import_file(entity, file, mapping=mapping, kind=kind.value, replace=replace, progress=advance)
    if format == ReportFormat.json:
        print_json(report.to_dict())
        return
    rows = [
        {"": "rows read", "count": report.rows_read},
        {"": "accepted", "count": report.rows_accepted},
        {"": "quarantined", "count": report.rows_quarantined},
    ]
    rows += [{"": f"  {reason}", "count": n} for reason, n in report.reasons.items()]
    verb = "replaced by" if report.replaced else "imported from"
    print_table(rows, columns=["", "count"], title=f"{report.entity} {verb} {report.file} ({report.kind})")
    if report.notes:
        console.print("read as: " + ", ".join(report.notes), highlight=False)
    if report.attributes:
        console.print("kept as account attributes: " + ", ".join(report.attributes), highlight=False)
    if report.ignored_columns:
        console.print("ignored columns (not used): " + ", ".join(report.ignored_columns), highlight=False)
    if report.rows_quarantined:
        console.print(
            f"[yellow]{report.rows_quarantined} row(s) quarantined[/] (the import itself succeeded): "
            f"see them with `retentio quarantine --workspace {ws.path} {report.entity}`, fix the file and import it again.",
            highlight=False,
        )
    else:
        console.print("[green]all rows accepted.[/]")


@app.command("quarantine")
def quarantine(
    entity: Annotated[str | None, typer.Argument(help="Only this entity (default: all).", show_default=False)] = None,
    workspace: WorkspaceOpt = None,
    format: FormatOpt = OutputFormat.table,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="Show at most N rows.", show_default=False)] = None,
) -> None:
    """List quarantined rows: file, row number, column, value, reason and what to do.

    Row numbers count data rows from 1; in a CSV file, row N is on line N + 1.

    Examples:

      retentio quarantine --workspace acme

      retentio quarantine --workspace acme subscriptions --format csv > to-fix.csv
    """
    ws = open_workspace(workspace)
    rows = ws.quarantine(entity, limit=limit)
    columns = ["entity", "file", "row_number", "column", "value", "reason", "detail"]
    if format == OutputFormat.json:
        print_json(rows)
    elif format == OutputFormat.csv:
        # The row as read travels as one JSON cell (its columns differ from file to file).
        print_csv([{**r, "raw": json.dumps(r.get("raw"), ensure_ascii=False)} for r in rows], columns + ["raw"])
    else:
        # On screen: the file's name only and no entity column when one entity is asked for.
        shown = [{**r, "file": Path(r["file"]).name if r.get("file") else r.get("file")} for r in rows]
        cols = [c for c in columns if not (entity and c == "entity")]
        print_table(shown, columns=cols, title="Quarantined rows")
        console.print(f"{len(rows)} row(s)" + (" (limited)" if limit is not None and len(rows) == limit else ""))
