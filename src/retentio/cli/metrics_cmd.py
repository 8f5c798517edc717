"""retentio metrics / movements / explain / cohorts."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from retentio.cli.common import (
    EngineOpt,
    FormatOpt,
    OutputFormat,
    SparkMasterOpt,
    WorkspaceOpt,
    console,
    open_workspace,
    print_csv,
    print_json,
    print_table,
)
from retentio.cli.main import app
from retentio.errors import UsageError
from retentio.metrics.periods import PERIOD_HELP

PeriodOpt = Annotated[str, typer.Option("--period", "-p", help=f"Period: {PERIOD_HELP}.")]
FilterOpt = Annotated[
    list[str] | None,
    typer.Option("--filter", help="Keep accounts with ATTR=VALUE (repeatable), e.g. --filter industry=retail --filter touch=high."),
]

RATES = {
    "customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "nrr", "grr", "crr", "arpa_change",
    "cs_headwind", "cs_tailwind", "cs_roi", "renewal_rate", "trial_conversion_rate", "expansion_share",
    "nrr_trailing_12m", "grr_trailing_12m", "gross_margin", "nrr_constant_currency", "grr_constant_currency",
}
MONEY = {"mrr", "arr", "arpa", "mrr_start", "ltv", "cac", "crc", "one_off_revenue"}
STATUS_STYLE = {"good": "green", "watch": "yellow", "alarm": "bold red"}


def parse_filters(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--filter {item!r}: expected ATTR=VALUE", hint="e.g. --filter industry=retail")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _fmt(key: str, v, currency: str) -> str:
    if v is None:
        return "—"
    if key in RATES or key.startswith("annualised."):
        return f"{v * 100:.2f} %"
    if key in MONEY or key.startswith(("movements.", "ltv_variants.", "costs.")) or key == "renewals.renewed_mrr":
        return f"{v:,.2f} {currency}"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _figures_table(fig: dict, title: str) -> Table:
    from retentio.metrics.flatten import flatten

    cur = fig.get("currency", "")
    bench = fig.get("benchmarks", {})
    t = Table(title=title)
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("benchmark")
    for k, v in flatten(fig).items():
        if k in ("period", "currency"):
            continue
        b = bench.get(k)
        status = f"[{STATUS_STYLE[b['status']]}]{b['status']}[/]" if b else ""
        t.add_row(k, _fmt(k, v, cur), status)
    return t


@app.command("metrics")
def metrics_cmd(
    period: PeriodOpt,
    workspace: WorkspaceOpt = None,
    by: Annotated[str | None, typer.Option("--by", help="Group by an account attribute, or touch / plan / cohort.")] = None,
    filter: FilterOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    series: Annotated[bool, typer.Option("--series", help="One row per month of the period (always so with csv).")] = False,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Revenue and retention figures of a period: MRR, churn, NRR, GRR, LTV, CAC, CS metrics...

    Examples:
      retentio metrics --period 2024-03
      retentio metrics --period 2024-Q1 --by industry --format json
      retentio metrics --period 2023-01..2024-12 --format csv > kpis.csv
    """
    ws = open_workspace(workspace, engine, spark_master)
    filters = parse_filters(filter)
    if format == OutputFormat.csv or series:
        if by:
            raise UsageError("--by cannot be combined with a monthly series", hint="drop --by, or use --format json/table without --series")
        from retentio.metrics.flatten import flatten

        rows = ws.metrics_series(period, filters=filters)
        if format == OutputFormat.csv:
            print_csv([flatten(r) for r in rows])
        elif format == OutputFormat.json:
            print_json(rows)
        else:
            for r in rows:
                console.print(_figures_table(r, f"{r['period']}"))
        return
    result = ws.metrics(period, by=by, filters=filters)
    if format == OutputFormat.json:
        print_json(result)
        return
    if by:
        from retentio.metrics.flatten import flatten

        groups = result["groups"]
        keys = ["mrr", "customers", "arpa", "customer_churn_rate", "gross_mrr_churn_rate", "nrr", "grr", "quick_ratio", "ltv"]
        t = Table(title=f"{result['period']} by {by}")
        t.add_column(by)
        for k in keys:
            t.add_column(k, justify="right")
        for g, fig in groups.items():
            flat = flatten(fig)
            t.add_row(str(g), *[_fmt(k, flat.get(k), fig["currency"]) for k in keys])
        console.print(t)
        return
    console.print(_figures_table(result, f"Retentio — {result['period']} ({ws.path})"))


@app.command("movements")
def movements_cmd(
    period: PeriodOpt,
    workspace: WorkspaceOpt = None,
    type: Annotated[str | None, typer.Option("--type", help="new | expansion | contraction | churn | reactivation | fx")] = None,
    filter: FilterOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Every account's MRR movement in the period, with the subscription lines behind it.

    Examples:
      retentio movements --period 2024-03 --type churn
      retentio movements --period 2024-Q1 --format csv > movements.csv
    """
    ws = open_workspace(workspace, engine, spark_master)
    rows = ws.movements(period, type=type, filters=parse_filters(filter))
    if format == OutputFormat.json:
        print_json(rows)
        return
    flat = [
        {**{k: r[k] for k in ("month", "account_id", "type", "mrr_start", "mrr_end", "amount")},
         "lines": "; ".join(f"{ln['subscription_id']} ({ln['plan']}, {ln['currency']}): {ln['mrr_start']:.2f} -> {ln['mrr_end']:.2f}"
                            for ln in r["lines"])}
        for r in rows
    ]
    if format == OutputFormat.csv:
        print_csv(flat, ["month", "account_id", "type", "mrr_start", "mrr_end", "amount", "lines"])
        return
    print_table(flat, title=f"MRR movements {period} ({len(rows)})")


@app.command("explain")
def explain_cmd(
    metric: Annotated[str, typer.Argument(help="Metric name, e.g. nrr, mrr, customer_churn_rate, quick_ratio.")],
    period: PeriodOpt,
    workspace: WorkspaceOpt = None,
    filter: FilterOpt = None,
    top: Annotated[int, typer.Option("--top", help="How many contributing accounts to list.")] = 10,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """How a figure was computed: formula, inputs, the value recomputed from them, top accounts.

    Examples:
      retentio explain nrr --period 2024-03
      retentio explain gross_mrr_churn_rate --period 2024-Q1 --format json
    """
    ws = open_workspace(workspace, engine, spark_master)
    e = ws.explain(metric, period, filters=parse_filters(filter), top=top)
    if format == OutputFormat.json:
        print_json(e)
        return
    cur = e["currency"]
    console.print(f"[bold]{e['title']}[/] ({e['metric']}) for {e['period']}: [bold]{_fmt(e['metric'], e['value'], cur)}[/]")
    console.print(f"formula: {e['formula']}")
    for k, v in e["inputs"].items():
        console.print(f"  {k} = {v}")
    console.print(f"recomputed from the inputs: {e['recomputed_from_inputs']}")
    if e["settings"]:
        console.print("settings: " + ", ".join(f"{k} = {v}" for k, v in e["settings"].items()))
    console.print(f"code: {e['code']}")
    if e["accounts"]:
        print_table(e["accounts"], title="accounts contributing most")


@app.command("cohorts")
def cohorts_cmd(
    workspace: WorkspaceOpt = None,
    grain: Annotated[str, typer.Option("--grain", help="month | quarter")] = "month",
    measure: Annotated[str, typer.Option("--measure", help="mrr | logos | arpa")] = "mrr",
    values: Annotated[str, typer.Option("--values", help="relative (to age 0) | absolute")] = "relative",
    segment: Annotated[str | None, typer.Option("--segment", help="Split each cohort by an account attribute.")] = None,
    through: Annotated[str | None, typer.Option("--through", help="Last month to include (default: last month with a change).")] = None,
    filter: FilterOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """The cohort triangle: accounts by month (or quarter) of first payment, followed by age.

    Examples:
      retentio cohorts --measure mrr --values relative
      retentio cohorts --grain quarter --measure logos --segment size --format csv
    """
    ws = open_workspace(workspace, engine, spark_master)
    c = ws.cohorts(grain=grain, measure=measure, values=values, segment=segment, through=through, filters=parse_filters(filter))
    if format == OutputFormat.json:
        print_json(c)
        return
    width = max((len(r["values"]) for r in c["rows"]), default=0)
    if format == OutputFormat.csv:
        rows = [{"cohort": r["cohort"], "segment": r["segment"], "size": r["size"],
                 **{f"age_{k}": (r["values"][k] if k < len(r["values"]) else None) for k in range(width)}} for r in c["rows"]]
        print_csv(rows, ["cohort", "segment", "size"] + [f"age_{k}" for k in range(width)])
        return
    t = Table(title=f"Cohorts: {measure} {values} by {grain} (through {c['through']})")
    t.add_column("cohort")
    if segment:
        t.add_column(segment)
    t.add_column("size", justify="right")
    shown = min(width, 13)
    for k in range(shown):
        t.add_column(str(k), justify="right")
    for r in c["rows"]:
        cells = []
        for k in range(shown):
            v = r["values"][k] if k < len(r["values"]) else None
            if v is None:
                cells.append("")
            elif values == "relative":
                cells.append(f"{v * 100:.0f}%")
            else:
                cells.append(f"{v:,.0f}" if measure != "arpa" else f"{v:,.2f}")
        t.add_row(r["cohort"], *([str(r["segment"])] if segment else []), str(r["size"]), *cells)
    console.print(t)
    if width > shown:
        console.print(f"(first {shown} ages shown; --format csv or json for all {width})")
