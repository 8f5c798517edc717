"""retentio analyze nps-vs-churn."""

from __future__ import annotations

from typing import Annotated

import typer

from retentio.cli.common import AsOfOpt, EngineOpt, FormatOpt, OutputFormat, WorkspaceOpt, console, open_workspace, print_csv, print_json, print_table

from retentio.cli.main import app

analyze_app = typer.Typer(help="Questions answered on your own data.", no_args_is_help=True)
app.add_typer(analyze_app, name="analyze")


@analyze_app.command("nps-vs-churn")
def nps_vs_churn(workspace: WorkspaceOpt = None, engine: EngineOpt = None,
                 months: Annotated[int, typer.Option("--months", "-n", help="Months after the answer in which churn counts.")] = 6,
                 as_of: AsOfOpt = None,
                 format: FormatOpt = OutputFormat.table) -> None:
    """Do detractors churn more than promoters in the N months after their answer?

    Only answers whose N months have passed by --as-of are judged; the others are counted as too recent.

    Example: retentio analyze nps-vs-churn --workspace acme --months 6
    """
    res = open_workspace(workspace, engine).nps_vs_churn(months, as_of)
    if format == OutputFormat.json:
        print_json(res)
        return
    rows = [{"group": g, **v} for g, v in res["groups"].items()]
    if format == OutputFormat.csv:
        print_csv(rows)
        return
    print_table(rows, title=f"Churn within {months} months of an NPS answer (history to {res['horizon']})")
    if res["difference"] is not None:
        console.print(f"detractors - promoters: {100 * res['difference']:+.1f} points "
                      f"(95 % interval {100 * res['ci95_low']:+.1f} to {100 * res['ci95_high']:+.1f}, {res['ci_method']})",
                      highlight=False)
    ex = res["excluded"]
    console.print(f"left out: {ex['too_recent']} answer(s) too recent to judge at {res['as_of']}, "
                  f"{ex['not_customer_at_answer']} from accounts that were not customers", highlight=False)
    console.print(res["verdict"], highlight=False)
