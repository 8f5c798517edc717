"""retentio engagement usage|adoption|key-time|lifecycle|ces|ttfv|onboarding|trials."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from retentio.cli.common import (EngineOpt, FormatOpt, OutputFormat, WorkspaceOpt, console, open_workspace, print_csv,
                                 print_json, print_table)
from retentio.cli.main import app

engagement_app = typer.Typer(help="Engagement and adoption: DAU/WAU/MAU, stickiness, adoption, lifecycle, CES, TTFV, onboarding, trials.",
                             no_args_is_help=True)
app.add_typer(engagement_app, name="engagement")

PeriodOpt = Annotated[str, typer.Option("--period", "-p", help="YYYY-MM, YYYY-Qn, YYYY, FROM..TO, last, last-N.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Account attribute to group by (ttfv, onboarding, trials).")]

# Which list of a result is the table printed for --format table/csv.
MAIN_ROWS = {"usage": "rows", "adoption": "features", "key-time": "rows", "lifecycle": "summary", "ces": "rows",
             "ttfv": "groups", "onboarding": "groups", "trials": "groups"}


def render(result: dict[str, Any], rows_key: str, format: OutputFormat, title: str) -> None:
    if format == OutputFormat.json:
        print_json(result)
        return
    rows = result.get(rows_key) or []
    rows = [{k: (", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in r.items()} for r in rows]
    if format == OutputFormat.csv:
        print_csv(rows)
        return
    print_table(rows, title=title)
    if "overall" in result:
        console.print("overall: " + ", ".join(f"{k}={v}" for k, v in result["overall"].items()))


def _run(metric: str, workspace, engine, period, by, format, **kw) -> None:
    ws = open_workspace(workspace, engine)
    res = ws.engagement(metric, period=period, by=by, **kw)
    render(res, MAIN_ROWS[metric], format, f"{metric} — {res.get('period', period)}")


@engagement_app.command("usage")
def usage(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last",
          daily: Annotated[bool, typer.Option("--daily", help="One point per day instead of each month end.")] = False,
          overall_only: Annotated[bool, typer.Option("--overall", help="Only the whole base, not each account.")] = False,
          format: FormatOpt = OutputFormat.table) -> None:
    """DAU, WAU, MAU, stickiness (WAU/MAU, DAU/MAU) and MAU vs seats at each month end (or day).

    Example: retentio engagement usage --workspace acme --period 2024-Q1 --overall
    """
    _run("usage", workspace, engine, period, None, format, daily=daily, per_account=not overall_only)


def _simple(metric: str, doc: str):
    def cmd(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last", by: ByOpt = None,
            format: FormatOpt = OutputFormat.table) -> None:
        _run(metric, workspace, engine, period, by, format)

    cmd.__doc__ = doc
    engagement_app.command(metric)(cmd)


_simple("adoption", "Share of active accounts and users using each feature in the period (complex/key flagged).\n\nExample: retentio engagement adoption -w acme -p 2024-03")
_simple("key-time", "Hours on key features per account and month.\n\nExample: retentio engagement key-time -w acme -p 2024-Q1")
_simple("lifecycle", "Accounts per lifecycle status and month: new, active, at_risk, resurrected, dormant, never_active.\n\nExample: retentio engagement lifecycle -w acme -p last-6 -f json")
_simple("ces", "Customer Engagement Score 0-100 per account and month.\n\nExample: retentio engagement ces -w acme -p 2024-06")
_simple("ttfv", "Time to first value (days) by cohort and segment: mean, median, accounts without the event.\n\nExample: retentio engagement ttfv -w acme -p 2024 --by industry")
_simple("onboarding", "Onboarding engagement score: share of milestones completed, and on time, by cohort.\n\nExample: retentio engagement onboarding -w acme -p 2024")
_simple("trials", "Trial-to-paid conversion by cohort (month of the first trial).\n\nExample: retentio engagement trials -w acme -p 2024 --by segment")
