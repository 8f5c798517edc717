"""retentio analyze nps-vs-churn."""

from __future__ import annotations

from typing import Annotated

import typer

from retentio.cli.common import EngineOpt, FormatOpt, OutputFormat, WorkspaceOpt, console, open_workspace, print_json, print_table
from retentio.cli.main import app

analyze_app = typer.Typer(help="Questions answered on your own data.", no_args_is_help=True)
app.add_typer(analyze_app, name="analyze")


@analyze_app.command("nps-vs-churn")
def nps_vs_churn(workspace: WorkspaceOpt = None, engine: EngineOpt = None,
                 months: Annotated[int, typer.Option("--months", "-n", help="Months after the answer in which churn counts.")] = 6,
                 as_of: Annotated[str | None, typer.Option("--as-of", help="Last month of history to use (YYYY-MM; default: last complete month).")] = None,
                 format: FormatOpt = OutputFormat.table) -> None:
    """Do detractors churn more than promoters in the N months after their answer?

    Example: retentio analyze nps-vs-churn --workspace acme --months 6
    """
    res = open_workspace(workspace, engine).nps_vs_churn(months, as_of)
    if format == OutputFormat.json:
        print_json(res)
        return
    rows = [{"group": g, **v} for g, v in res["groups"].items()]
    if format == OutputFormat.csv:
        from retentio.cli.common import print_csv

        print_csv(rows)
        return
    print_table(rows, title=f"Churn within {months} months of an NPS answer (history to {res['horizon']})")
    if res["difference_pct_points"] is not None:
        console.print(f"detractors - promoters: {res['difference_pct_points']:+.1f} points "
                      f"(95 % CI {res['ci95_low']:+.1f} to {res['ci95_high']:+.1f}, {res['ci_method']})")
    console.print(f"excluded answers: {res['excluded']}")
    console.print(res["verdict"])
