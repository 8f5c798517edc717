"""retentio engagement usage|adoption|key-time|lifecycle|ces|ttfv|onboarding|trials.

One table per command: its main rows (one per account, month, feature or cohort) with the
figures formatted by their unit in the registry; the same rows in --format csv; the whole
result in --format json.  Account lists take --limit and --sort.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from retentio.cli.common import (AsOfOpt, EngineOpt, FormatOpt, LimitOpt, OutputFormat, SortOpt, WorkspaceOpt, console,
                                 fmt, open_workspace, print_csv, print_json, print_more, print_table)
from retentio.cli.main import app
from retentio.output import ENGAGEMENT_LISTS, ENGAGEMENT_ROWS
from retentio.clock import PERIOD_HELP

engagement_app = typer.Typer(help="Engagement and adoption: DAU/WAU/MAU, stickiness, adoption, lifecycle, CES, TTFV, onboarding, trials.",
                             no_args_is_help=True)
app.add_typer(engagement_app, name="engagement")

PeriodOpt = Annotated[str, typer.Option("--period", "-p", help=f"Period: {PERIOD_HELP}.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Account attribute to group by (ttfv, onboarding, trials).")]

# Which list of a result is the table of --format table and csv; which are lists of accounts
# (limited and sortable): retentio.output, shared with the REST API.
ACCOUNT_LISTS = ENGAGEMENT_LISTS
MAIN_ROWS = ENGAGEMENT_ROWS
# Columns a table leaves out (in csv and json they are all there).
TABLE_COLUMNS = {
    "usage": ["account_name", "date", "dau", "wau", "mau", "stickiness_wau_mau", "mau_per_seat", "csm"],
    "key-time": ["account_name", "month", "hours", "active_users", "hours_per_active_user", "csm"],
    "ces": ["account_name", "month", "ces", "active_user_days", "features_used", "key_hours", "tickets", "csm"],
    "adoption": ["feature", "accounts_using", "account_share", "users_using", "user_share", "hours"],
}


def render(data: dict[str, Any], rows_key: str, format: OutputFormat, title: str, *, listed: bool = False,
           columns: list[str] | None = None, notes: list[str] | None = None) -> None:
    """Print a result's JSON shape (``data``, from retentio.output) or its table ``rows_key``;
    ``listed``: the rows were cut to a limit (``shown`` of ``count``)."""
    result = data
    rows = list(data.get(rows_key) or [])
    limit = True if listed else None
    if format == OutputFormat.json:
        print_json(data)
        return
    if format == OutputFormat.csv:
        print_csv(rows)
        return
    cols = [c for c in (columns or (list(rows[0]) if rows else [])) if not rows or c in rows[0]]
    # the row of the whole base has no account: the table names it (JSON and CSV keep null)
    rows = [{**r, "account_name": "(all accounts)"} if "account_id" in r and r["account_id"] is None
            and r.get("account_name") is None else r for r in rows]
    overall = result.get("overall")
    if len(rows) == 1 and limit is None:
        # one row: shown as figure / value, with the registry's labels
        from retentio.figures import for_path

        print_table([{"figure": (for_path(k).label if for_path(k) else k), "value": fmt(k, v)} for k, v in rows[0].items()],
                    ["figure", "value"], title=title)
        overall = None if overall == rows[0] else overall
    else:
        print_table(rows, cols, title=title, wrap=("account_name", "csm", "segment"))
    if listed:
        print_more(data["count"], len(rows))
    if isinstance(overall, dict):
        console.print("overall: " + ", ".join(f"{k} {fmt(k, v)}" for k, v in overall.items()), highlight=False)
    for n in notes or []:
        console.print(n, highlight=False)


def _run(metric: str, workspace, engine, period, by, format, as_of, limit=None, sort=None, **kw) -> None:
    from retentio.output import engagement_result

    ws = open_workspace(workspace, engine)
    res, data = engagement_result(ws, metric, period=period, by=by, as_of=as_of, limit=20 if limit is None else limit,
                                  sort=sort, **kw)
    notes = []
    if res.get("to_date"):
        notes.append(f"{res['period']} is not complete at {res['as_of']}: figures to date")
    left = (res.get("overall") or {}).get("left_out") if isinstance(res.get("overall"), dict) else None
    if left:
        notes.append(f"{left} account(s) left out: their window has not ended at {res['as_of']} (in progress)")
    render(data, MAIN_ROWS[metric], format, f"{metric} — {res.get('period', period)}",
           listed=metric in ACCOUNT_LISTS, columns=TABLE_COLUMNS.get(metric), notes=notes)


@engagement_app.command("usage")
def usage(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last",
          daily: Annotated[bool, typer.Option("--daily", help="One point per day instead of each month end.")] = False,
          overall_only: Annotated[bool, typer.Option("--overall", help="Only the whole base, not each account.")] = False,
          limit: LimitOpt = 20, sort: SortOpt = None, as_of: AsOfOpt = None,
          format: FormatOpt = OutputFormat.table) -> None:
    """DAU, WAU, MAU, stickiness (WAU/MAU, DAU/MAU) and MAU vs seats at each month end (or day).

    Example: retentio engagement usage --workspace acme --period 2024-Q1 --overall
    """
    _run("usage", workspace, engine, period, None, format, as_of, limit, sort, daily=daily, per_account=not overall_only)


def _simple(metric: str, doc: str, grouped: bool):
    if grouped:
        def cmd(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last", by: ByOpt = None,
                as_of: AsOfOpt = None, format: FormatOpt = OutputFormat.table) -> None:
            _run(metric, workspace, engine, period, by, format, as_of)
    elif metric in ACCOUNT_LISTS:
        def cmd(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last",
                limit: LimitOpt = 20, sort: SortOpt = None, as_of: AsOfOpt = None,
                format: FormatOpt = OutputFormat.table) -> None:
            _run(metric, workspace, engine, period, None, format, as_of, limit, sort)
    else:
        def cmd(workspace: WorkspaceOpt = None, engine: EngineOpt = None, period: PeriodOpt = "last",
                as_of: AsOfOpt = None, format: FormatOpt = OutputFormat.table) -> None:
            _run(metric, workspace, engine, period, None, format, as_of)

    cmd.__doc__ = doc
    engagement_app.command(metric)(cmd)


_simple("adoption", "Share of active accounts and users using each feature in the period (complex/key flagged).\n\nExample: retentio engagement adoption -w acme -p 2024-03", False)
_simple("key-time", "Hours on key features per account and month.\n\nExample: retentio engagement key-time -w acme -p 2024-Q1 --sort=-hours", False)
_simple("lifecycle", "Accounts per lifecycle status and month: new, active, at_risk, resurrected, dormant, never_active.\n\nExample: retentio engagement lifecycle -w acme -p last-6 -f json", False)
_simple("ces", "Customer Engagement Score 0-100 per account and month.\n\nExample: retentio engagement ces -w acme -p 2024-06 --sort ces", False)
_simple("ttfv", "Time to first value (days) by cohort and segment: mean, median, accounts without the event.\n\nExample: retentio engagement ttfv -w acme -p 2024 --by industry", True)
_simple("onboarding", "Onboarding engagement score: share of milestones completed, and on time, by cohort; accounts still inside their window are left out (in progress).\n\nExample: retentio engagement onboarding -w acme -p last-quarter", True)
_simple("trials", "Trial-to-paid conversion by cohort (month of the first trial); trials still inside their window are left out.\n\nExample: retentio engagement trials -w acme -p 2024 --by segment", True)
