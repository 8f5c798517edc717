"""retentio demo: create a workspace filled with the deterministic demo book."""

from __future__ import annotations

from typing import Annotated

import typer

from retentio.cli.common import FormatOpt, OutputFormat, WorkspaceOpt, console, print_json, print_table, progress_bar
from retentio.cli.main import app


@app.command("demo")
def demo(
    workspace: WorkspaceOpt = None,
    accounts: Annotated[int, typer.Option("--accounts", "-n", min=1, help="Number of accounts in the book.")] = 2000,
    months: Annotated[int, typer.Option("--months", "-m", min=1, max=240, help="Months of history.")] = 36,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed: the same arguments give the same data.")] = 42,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Last month of the book, YYYY-MM (default: the last complete month before today).",
                     show_default=False),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the data of a workspace that already holds some (settings are reset).")
    ] = False,
    no_usage: Annotated[
        bool, typer.Option("--no-usage", help="Skip product usage events (for very large books).")
    ] = False,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Generate a realistic, deterministic B2B SaaS customer book into a workspace.

    Accounts with attributes, monthly / annual / multi-year subscriptions in EUR, USD, GBP and CHF with FX rates, trials, upgrades, downgrades, add-ons, churn with reasons and reactivations, product usage of named users, support tickets, NPS and CSAT answers in French and English, and monthly costs.  See docs/demo-data.md for the assumptions.

    Examples:

      retentio demo --workspace demo-workspace

      retentio demo --workspace big --accounts 20000 --months 24 --seed 7 --end 2025-12 --force
    """
    from retentio.service import Workspace

    with progress_bar("Generating the demo book", None, enabled=format == OutputFormat.table) as advance:
        summary = Workspace.demo(
            workspace, accounts=accounts, months=months, seed=seed, end_month=end, force=force,
            usage=not no_usage, progress=advance,
        )
    if format == OutputFormat.json:
        print_json(summary.to_dict())
        return
    if format == OutputFormat.csv:
        from retentio.cli.common import print_csv

        print_csv([{"entity": k, "rows": v} for k, v in summary.rows.items()], ["entity", "rows"])
        return
    print_table([{"entity": k, "rows": v} for k, v in summary.rows.items()],
                title=f"Demo book {summary.start_month}..{summary.end_month}, seed {summary.seed}")
    ev = summary.events
    console.print(
        f"{ev['signups']:,} signups ({ev['trials']:,} trials, {ev['trial_conversions']:,} converted), "
        f"{ev['churns']:,} churns, {ev['reactivations']:,} reactivations, {ev['upgrades']:,} upgrades, "
        f"{ev['downgrades']:,} downgrades, {ev['addons_started']:,} add-ons; generated in {summary.seconds:.1f} s.",
        highlight=False,
    )
    console.print(f"Workspace ready in [bold]{summary.workspace}[/]. Next: retentio status --workspace {summary.workspace}")
