"""retentio satisfaction nps|csat|tickets|sentiment."""

from __future__ import annotations

from typing import Annotated

import typer

from retentio.cli.common import (AsOfOpt, EngineOpt, FormatOpt, LimitOpt, OutputFormat, SortOpt, WorkspaceOpt,
                                 open_workspace)
from retentio.cli.engagement_cmd import render
from retentio.cli.main import app

satisfaction_app = typer.Typer(help="Satisfaction: NPS, CSAT, support tickets, FR/EN text sentiment.", no_args_is_help=True)
app.add_typer(satisfaction_app, name="satisfaction")

PeriodOpt = Annotated[str, typer.Option("--period", "-p", help="YYYY-MM, YYYY-Qn, YYYY, FROM..TO, last, last-N, last-quarter, last-year, ytd, or 'all' (nps, csat).")]
ByOpt = Annotated[list[str] | None, typer.Option("--by", help="account, month, or an account attribute; repeat to combine.")]


def _p(period: str) -> str | None:
    return None if period == "all" else period


def _survey(metric: str, workspace, engine, period, by, as_of, format) -> None:
    res = open_workspace(workspace, engine).satisfaction(metric, period=_p(period), by=by, as_of=as_of)
    title = f"{metric.upper()} — {res['period'] or 'all time'}"
    if by:
        # one row per group, then the total
        res = {**res, "groups": [*res["groups"], {**{b: "total" for b in by}, **res["overall"]}]}
        render(res, "groups", format, title)
    else:
        render({**res, "rows": [res["overall"]]}, "rows", format, title)


@satisfaction_app.command("nps")
def nps(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last", by: ByOpt = None,
        as_of: AsOfOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """NPS (% promoters 9-10 - % detractors 0-6) with response counts and benchmark status.

    Example: retentio satisfaction nps -w acme -p 2024 --by month --by segment
    """
    _survey("nps", workspace, engine, period, by, as_of, format)


@satisfaction_app.command("csat")
def csat(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last", by: ByOpt = None,
         as_of: AsOfOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """CSAT: share of positive answers (1-5 scale: >= 4; 0-10 scale: >= 7, settings).

    Example: retentio satisfaction csat -w acme -p 2024-Q2 --by account
    """
    _survey("csat", workspace, engine, period, by, as_of, format)


@satisfaction_app.command("tickets")
def tickets(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last",
            as_of: AsOfOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """Tickets opened per month, time to resolution, open backlog at the period's end, by topic.

    Example: retentio satisfaction tickets -w acme -p last-3
    """
    res = open_workspace(workspace, engine).satisfaction("tickets", period=period, as_of=as_of)
    render(res, "topics", format, f"Tickets by topic — {res['period']} (backlog at {res['backlog_date']})")


@satisfaction_app.command("sentiment")
def sentiment(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last",
              flagged: Annotated[bool, typer.Option("--flagged", help="Only account-months whose sentiment dropped.")] = False,
              texts: Annotated[bool, typer.Option("--texts", help="Include each scored text (json).")] = False,
              limit: LimitOpt = 20, sort: SortOpt = None, as_of: AsOfOpt = None,
              format: FormatOpt = OutputFormat.table) -> None:
    """Sentiment (FR/EN, offline) of ticket texts and survey comments per account and month.

    Example: retentio satisfaction sentiment -w acme -p last-6 --flagged
    """
    res = open_workspace(workspace, engine).satisfaction("sentiment", period=period, texts=texts, as_of=as_of)
    render(res, "flagged" if flagged else "rows", format, f"Sentiment — {res['period']}", limit=limit, sort=sort,
           columns=["account_name", "month", "texts", "mean_score", "previous_mean_score", "drop", "flagged", "csm"])
