"""retentio satisfaction nps|csat|tickets|sentiment."""

from __future__ import annotations

from typing import Annotated

import typer

from retentio.cli.common import EngineOpt, FormatOpt, OutputFormat, WorkspaceOpt, open_workspace
from retentio.cli.engagement_cmd import render
from retentio.cli.main import app

satisfaction_app = typer.Typer(help="Satisfaction: NPS, CSAT, support tickets, FR/EN text sentiment.", no_args_is_help=True)
app.add_typer(satisfaction_app, name="satisfaction")

PeriodOpt = Annotated[str, typer.Option("--period", "-p", help="YYYY-MM, YYYY-Qn, YYYY, FROM..TO, last, last-N, or 'all' (nps, csat).")]
ByOpt = Annotated[list[str] | None, typer.Option("--by", help="account, month, or an account attribute; repeat to combine.")]


def _p(period: str) -> str | None:
    return None if period == "all" else period


@satisfaction_app.command("nps")
def nps(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last", by: ByOpt = None,
        format: FormatOpt = OutputFormat.table) -> None:
    """NPS (% promoters 9-10 - % detractors 0-6) with response counts and benchmark status.

    Example: retentio satisfaction nps -w acme -p 2024 --by month --by segment
    """
    res = open_workspace(workspace, engine).satisfaction("nps", period=_p(period), by=by)
    render(res, "groups", format, f"NPS — {res['period'] or 'all time'}")


@satisfaction_app.command("csat")
def csat(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last", by: ByOpt = None,
         format: FormatOpt = OutputFormat.table) -> None:
    """CSAT: share of positive answers (1-5 scale: >= 4; 0-10 scale: >= 7, settings).

    Example: retentio satisfaction csat -w acme -p 2024-Q2 --by account
    """
    res = open_workspace(workspace, engine).satisfaction("csat", period=_p(period), by=by)
    render(res, "groups", format, f"CSAT — {res['period'] or 'all time'}")


@satisfaction_app.command("tickets")
def tickets(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last",
            format: FormatOpt = OutputFormat.table) -> None:
    """Tickets opened per month, time to resolution, open backlog at the period's end, by topic.

    Example: retentio satisfaction tickets -w acme -p last-3
    """
    res = open_workspace(workspace, engine).satisfaction("tickets", period=period)
    render(res, "topics", format, f"Tickets by topic — {res['period']} (backlog at {res['backlog_date']})")


@satisfaction_app.command("sentiment")
def sentiment(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last",
              flagged: Annotated[bool, typer.Option("--flagged", help="Only account-months whose sentiment dropped.")] = False,
              texts: Annotated[bool, typer.Option("--texts", help="Include each scored text (json).")] = False,
              format: FormatOpt = OutputFormat.table) -> None:
    """Sentiment (FR/EN, offline) of ticket texts and survey comments per account and month.

    Example: retentio satisfaction sentiment -w acme -p last-6 --flagged
    """
    res = open_workspace(workspace, engine).satisfaction("sentiment", period=period, texts=texts)
    render(res, "flagged" if flagged else "rows", format, f"Sentiment — {res['period']}")
