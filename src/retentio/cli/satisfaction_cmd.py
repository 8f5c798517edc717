"""retentio satisfaction nps|csat|tickets|sentiment|sentiment-text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from retentio.cli.common import (AsOfOpt, EngineOpt, FormatOpt, LimitOpt, OutputFormat, SortOpt, WorkspaceOpt, console,
                                 open_workspace, print_csv, print_json, print_table)
from retentio.cli.engagement_cmd import render
from retentio.cli.main import app

satisfaction_app = typer.Typer(help="Satisfaction: NPS, CSAT, support tickets, FR/EN text sentiment.", no_args_is_help=True)
app.add_typer(satisfaction_app, name="satisfaction")

PeriodOpt = Annotated[str, typer.Option("--period", "-p", help="YYYY-MM, YYYY-Qn, YYYY, FROM..TO, last, last-N, last-quarter, last-year, ytd, or 'all' (nps, csat).")]
ByOpt = Annotated[list[str] | None, typer.Option("--by", help="account, month, or an account attribute; repeat to combine.")]


def _p(period: str) -> str | None:
    return None if period == "all" else period


def _survey(metric: str, workspace, engine, period, by, as_of, format) -> None:
    from retentio.output import satisfaction_result

    res, key, data = satisfaction_result(open_workspace(workspace, engine), metric, period=period, by=by, as_of=as_of)
    render(data, key, format, f"{metric.upper()} — {res['period'] or 'all time'}")


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
    from retentio.output import satisfaction_result

    res, key, data = satisfaction_result(open_workspace(workspace, engine), "tickets", period=period, as_of=as_of)
    render(data, key, format, f"Tickets by topic — {res['period']} (backlog at {res['backlog_date']})")


@satisfaction_app.command("sentiment")
def sentiment(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last",
              flagged: Annotated[bool, typer.Option("--flagged", help="Only account-months whose sentiment dropped.")] = False,
              texts: Annotated[bool, typer.Option("--texts", help="Include each scored text (json).")] = False,
              limit: LimitOpt = 20, sort: SortOpt = None, as_of: AsOfOpt = None,
              format: FormatOpt = OutputFormat.table) -> None:
    """Sentiment (FR/EN, offline) of ticket texts and survey comments per account and month.

    Example: retentio satisfaction sentiment -w acme -p last-6 --flagged
    """
    from retentio.output import satisfaction_result

    res, key, data = satisfaction_result(open_workspace(workspace, engine), "sentiment", period=period, texts=texts,
                                         flagged=flagged, limit=limit, sort=sort, as_of=as_of)
    render(data, key, format, f"Sentiment — {res['period']} — {res['model']}", listed=True,
           columns=["account_name", "month", "texts", "mean_score", "previous_mean_score", "drop", "flagged", "csm"])


@satisfaction_app.command("sentiment-text")
def sentiment_text(
    file: Annotated[str, typer.Argument(help="A UTF-8 text file, one text per line; '-' or nothing = standard input.",
                                        show_default=False)] = "-",
    lang: Annotated[str | None, typer.Option("--lang", "-l", help="fr or en (default: detected for each line).",
                                             show_default=False)] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="trained or lexicon (default: the workspace's "
                                              "sentiment.model when --workspace is given, else trained).",
                                              show_default=False)] = None,
    workspace: WorkspaceOpt = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Sentiment (label, score -1..1) of each line of a file or of standard input, offline.

    Example: echo "Great support, thanks!" | retentio satisfaction sentiment-text --format json
    """
    from retentio.errors import DataError
    from retentio.service import Workspace

    if model is None:
        model = open_workspace(workspace).settings.sentiment.model if workspace else "trained"
    if file == "-":
        lines = sys.stdin.read().splitlines()
    else:
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise DataError(f"{file}: no such file", hint="give a text file with one text per line, or - for standard input") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})", hint="save the file as UTF-8") from None
    res = Workspace.score_texts(lines, lang, model)
    if format == OutputFormat.json:
        print_json(res)
        return
    if format == OutputFormat.csv:
        print_csv(res["rows"], ["line", "label", "score", "language", "language_source", "model", "text"])
        return
    mark = {"fallback": "*", "mixed": "~"}
    rows = [{"line": r["line"], "label": r["label"], "score": round(r["score"], 3),
             "lang": r["language"] + mark.get(r["language_source"], ""),
             "text": r["text"] if len(r["text"]) <= 38 else r["text"][:37] + "…"} for r in res["rows"]]
    print_table(rows, title=f"Sentiment — {res['model']}")
    c = res["counts"]
    console.print(f"{res['texts']} texts: {c['negative']} negative, {c['neutral']} neutral, {c['positive']} positive")
    sources = {r["language_source"] for r in res["rows"]}
    if "fallback" in sources:
        console.print("* no French or English clue: the English model was used (or pass --lang)")
    if "mixed" in sources:
        console.print("~ clues of both languages: the one with more was used")
