"""retentio init / upgrade / status."""

from __future__ import annotations

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
)
from retentio.cli.main import app


@app.command("init")
def init(
    workspace: WorkspaceOpt = None,
    base_currency: Annotated[str, typer.Option("--base-currency", help="ISO 4217 code of the reporting currency.")] = "EUR",
    engine: Annotated[str, typer.Option("--engine", help="Default engine: duckdb, polars or spark.")] = "duckdb",
    force: Annotated[bool, typer.Option("--force", help="Reset the settings of an existing workspace (data is kept).")] = False,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Create a workspace: settings (retentio.toml), analytics DuckDB file, app-state SQLite file.

    Example: retentio init --workspace acme --base-currency EUR
    """
    from retentio.service import Workspace

    ws = Workspace.init(workspace, base_currency=base_currency, engine=engine, force=force)
    rows = sum(ws.counts().values()) if ws.init_action == "reset" else 0
    info = {"workspace": str(ws.path), "action": ws.init_action, "base_currency": ws.settings.workspace.base_currency,
            "engine": ws.settings.workspace.engine, "rows_kept": rows}
    if format == OutputFormat.json:
        print_json(info)
        return
    if format == OutputFormat.csv:
        print_csv([info])
        return
    if ws.init_action == "reset":
        console.print(
            f"Settings of the existing workspace in [bold]{ws.path}[/] reset to the defaults "
            f"(base currency {info['base_currency']}, engine {info['engine']}); its data was kept ({rows:,} rows).",
            soft_wrap=True, highlight=False,
        )
        return
    console.print(
        f"Workspace created in [bold]{ws.path}[/] (base currency {ws.settings.workspace.base_currency}).",
        soft_wrap=True, highlight=False,
    )
    console.print(f"Next: retentio import --workspace {ws.path} accounts accounts.csv", soft_wrap=True, highlight=False)


@app.command("upgrade")
def upgrade(workspace: WorkspaceOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """Bring a workspace made by an older Retentio to the current format, keeping its data.

    Also recomputes the change table and month rollups when this Retentio computes them differently.

    Example: retentio upgrade --workspace acme
    """
    from retentio.service import Workspace

    steps = Workspace.upgrade(workspace)
    if format == OutputFormat.json:
        print_json({"steps": steps})
        return
    if format == OutputFormat.csv:
        print_csv([{"step": s} for s in steps], ["step"])
        return
    for line in steps:
        console.print(f"- {line}", soft_wrap=True, highlight=False)
    console.print("Workspace is up to date.")


@app.command("status")
def status(workspace: WorkspaceOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """Show what a workspace holds: rows per entity and quarantined rows.

    Example: retentio status --workspace acme --format json
    """
    ws = open_workspace(workspace)
    counts = ws.counts()
    quarantined = len(ws.quarantine())
    app = ws.app_status()
    if format == OutputFormat.json:
        print_json({"workspace": str(ws.path), "base_currency": ws.settings.workspace.base_currency,
                    "engine": ws.engine_name, "rows": counts, "quarantined": quarantined, "app_database": app})
        return
    if format == OutputFormat.csv:
        print_csv([{"entity": k, "rows": v} for k, v in counts.items()], ["entity", "rows"])
        return
    print_table([{"entity": k, "rows": v} for k, v in counts.items()], title=f"Workspace {ws.path}")
    console.print(f"quarantined rows: {quarantined}")
    console.print(
        f"base currency {ws.settings.workspace.base_currency}, engine {ws.engine_name}; "
        f"application database {app['url']} at revision {app['revision']}"
        + (f" ({app['users']} users, {app['audit_entries']} audit entries)" if "users" in app else ""),
        highlight=False, soft_wrap=True,
    )


@app.command("export")
def export(
    to: Annotated[str, typer.Option("--to", help="Folder to write <table>.parquet files into.")],
    workspace: WorkspaceOpt = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Write every canonical table as Parquet, e.g. for a Spark cluster (workspace.spark_data_uri).

    Examples:
      retentio export --workspace acme --to acme-parquet
      (copy acme-parquet/ to s3://bucket/acme/, set spark_data_uri = "s3a://bucket/acme" in
      retentio.toml, then: retentio metrics --workspace acme --engine spark --spark-master spark://host:7077 -p 2024-03)
    """
    ws = open_workspace(workspace)
    written = ws.export_parquet(to)
    if format == OutputFormat.json:
        print_json({"to": to, "rows": written})
        return
    if format == OutputFormat.csv:
        print_csv([{"table": k, "rows": v} for k, v in written.items()], ["table", "rows"])
        return
    print_table([{"table": k, "rows": v} for k, v in written.items()], title=f"Parquet files written to {to}")
