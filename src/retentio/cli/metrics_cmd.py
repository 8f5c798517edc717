"""retentio metrics / movements / explain / cohorts.

Every command calls the service facade only; labels, sections, units and benchmark words come
from the figure registry (retentio.figures).  Output contract: --format table|json|csv with
the same content, a period is one row (--series: one per month), --by gives one row per group
plus a total row, rates are fractions in JSON and CSV and % in tables.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from retentio.cli.common import (
    AsOfOpt,
    EngineOpt,
    FormatOpt,
    LimitOpt,
    OutputFormat,
    SortOpt,
    SparkMasterOpt,
    WorkspaceOpt,
    console,
    fmt,
    open_workspace,
    print_csv,
    print_json,
    print_more,
    print_table,
)
from retentio.cli.main import app
from retentio.clock import PERIOD_HELP
from retentio.errors import UsageError
from retentio.figures import round_value

PeriodOpt = Annotated[str, typer.Option("--period", "-p", help=f"Period: {PERIOD_HELP}.")]
FilterOpt = Annotated[
    list[str] | None,
    typer.Option("--filter", help="Keep accounts with ATTR=VALUE (repeatable), e.g. --filter industry=retail --filter touch=high."),
]
STATUS_STYLE = {"best": "bold green", "good": "green", "watch": "yellow", "alarm": "bold red"}
# The figures of a grouped table (all of them are in --format csv / json).
GROUPED = ("mrr", "customers", "customer_churn_rate", "gross_mrr_churn_rate", "nrr", "grr", "quick_ratio", "arpa")


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


def _flat(fig: dict) -> dict[str, Any]:
    from retentio.results import flatten

    return flatten(fig)


def _figures_table(fig: dict, title: str) -> None:
    """One period's figures by section of the registry: label, value, benchmark in words."""
    from rich.table import Table

    from retentio.figures import SECTIONS, figures_of
    from retentio.results import lookup

    cur = fig.get("currency", "")
    bench = fig.get("benchmarks", {})
    console.print(f"[bold]{title}[/] (money in {cur})", highlight=False)
    for section in SECTIONS:
        defs = [d for d in figures_of("metrics") if d.section == section]
        if not defs:
            continue
        t = Table(title=section, title_justify="left", show_header=False, box=None, padding=(0, 1))
        t.add_column("figure", no_wrap=True)
        t.add_column("value", justify="right", no_wrap=True)
        t.add_column("benchmark", overflow="fold")
        shown = 0
        for d in defs:
            v = lookup(fig, d.path)
            if v is None and d.path.startswith("costs."):
                continue
            b = bench.get(d.key)
            status = f"[{STATUS_STYLE[b['status']]}]{b['status']}[/]" if b else ""
            t.add_row(d.label, fmt(d.path, v), status)
            shown += 1
        if shown:
            console.print(t)
    if bench:
        console.print("[bold]Benchmark bands[/]")
        from retentio.figures import figure

        for key, b in bench.items():
            d = figure(key)
            console.print(f"  {d.label if d else key}: {b['reference']}", highlight=False, soft_wrap=False)


def _grouped_rows(result: dict, by: str) -> list[dict[str, Any]]:
    rows = [{by: g, **_flat(f)} for g, f in result["groups"].items()]
    rows.append({by: "total", **_flat(result["overall"])})
    return rows


@app.command("metrics")
def metrics_cmd(
    period: PeriodOpt = "last",
    workspace: WorkspaceOpt = None,
    by: Annotated[str | None, typer.Option("--by", help="Group by an account attribute, or touch / plan / cohort.")] = None,
    filter: FilterOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    series: Annotated[bool, typer.Option("--series", help="One row per month of the period.")] = False,
    as_of: AsOfOpt = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Revenue and retention figures of a period: MRR, churn, NRR, GRR, LTV, CAC, CS metrics...

    A period is one row (--series: one per month); --by gives one row per group and a total.

    Examples:
      retentio metrics --period last
      retentio metrics --period 2024-Q1 --by industry --format csv
      retentio metrics --period 2023-01..2024-12 --series --format csv > kpis.csv
    """
    from retentio.output import metrics_result

    ws = open_workspace(workspace, engine, spark_master)
    filters = parse_filters(filter)
    if series:
        if by:
            raise UsageError("--by cannot be combined with --series", hint="drop --by, or drop --series")
        rows = metrics_result(ws, period, filters=filters, series=True, as_of=as_of)
        if format == OutputFormat.csv:
            print_csv([_flat(r) for r in rows])
        elif format == OutputFormat.json:
            print_json(rows)
        else:
            flat = [_flat(r) for r in rows]
            keys = ["period", *[k for k in flat[0] if k not in ("period", "currency")]] if flat else []
            print_table([{k: r.get(k) for k in keys} for r in flat], keys, title=f"Monthly figures {period}")
        return
    result = metrics_result(ws, period, by=by, filters=filters, as_of=as_of)
    data = result.to_dict()
    to_date = " (to date)" if result.to_date else ""
    if format == OutputFormat.json:
        print_json(data)
        return
    if by:
        rows = _grouped_rows(data, by)
        if format == OutputFormat.csv:
            print_csv(rows)
            return
        print_table([{k: r.get(k) for k in (by, *GROUPED)} for r in rows], [by, *GROUPED],
                    title=f"{result.period}{to_date} by {by} (money in {result.currency})", wrap=(by,))
        console.print("all figures: --format csv or json", highlight=False)
        return
    if format == OutputFormat.csv:
        print_csv([_flat(data)])
        return
    _figures_table(data, f"Retentio — {result.period}{to_date}")


@app.command("movements")
def movements_cmd(
    period: PeriodOpt = "last",
    workspace: WorkspaceOpt = None,
    type: Annotated[str | None, typer.Option("--type", help="new | expansion | contraction | churn | reactivation | fx")] = None,
    filter: FilterOpt = None,
    limit: LimitOpt = 20,
    sort: SortOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    as_of: AsOfOpt = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """Every account's MRR movement in the period, with the subscription lines behind it.

    Examples:
      retentio movements --period last-quarter --type contraction --sort=-amount --limit 5
      retentio movements --period 2024-Q1 --limit 0 --format csv > movements.csv
    """
    from retentio.output import movements_result

    ws = open_workspace(workspace, engine, spark_master)
    data = movements_result(ws, period, type=type, filters=parse_filters(filter), limit=limit, sort=sort, as_of=as_of)
    rows = data["rows"]
    if format == OutputFormat.json:
        print_json(data)
        return
    cols = ["month", "account_id", "account_name", "csm", "type", "mrr_start", "mrr_end", "amount"]
    flat = [
        {**{k: r.get(k) for k in cols},
         "lines": "; ".join(f"{ln['subscription_id']} ({ln['plan']}, {ln['currency']}): {ln['mrr_start']:.2f} -> {ln['mrr_end']:.2f}"
                            for ln in r["lines"])}
        for r in rows
    ]
    if format == OutputFormat.csv:
        print_csv(flat, [*cols, "lines"])
        return
    print_table(flat, ["account_name", "month", "type", "mrr_start", "mrr_end", "amount", "csm", "account_id"],
                title=f"MRR movements {data['period']} ({data['count']}; money in {data['currency']})",
                wrap=("account_name", "csm"))
    print_more(data["count"], len(rows), "movements")


@app.command("explain")
def explain_cmd(
    metric: Annotated[str, typer.Argument(help="Metric name, e.g. nrr, mrr, customer_churn_rate, quick_ratio.")],
    period: PeriodOpt = "last",
    workspace: WorkspaceOpt = None,
    filter: FilterOpt = None,
    top: Annotated[int, typer.Option("--top", help="How many contributing accounts to list.", min=0)] = 10,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    as_of: AsOfOpt = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """How a figure was computed: formula, inputs, the value recomputed from them, top accounts.

    --format csv gives the contributing accounts, one row each, with the figure's value and unit.

    Examples:
      retentio explain nrr --period 2024-03
      retentio explain contraction_mrr --period last-quarter --top 5 --format csv
    """
    ws = open_workspace(workspace, engine, spark_master)
    e = ws.explain(metric, period, filters=parse_filters(filter), top=top, as_of=as_of)
    if format == OutputFormat.json:
        print_json(e)
        return
    if format == OutputFormat.csv:
        # each row carries the figure's unit, so the shared rounding (retentio.output.rounded)
        # rounds its value as in the JSON
        print_csv([{"metric": e.metric, "period": e.period, "value": e.value, **a, "unit": e.unit} for a in e.accounts])
        return
    cur = e.currency
    value = fmt(e.metric, e.value, cur) if e.value is not None else f"undefined ({e.undefined_reason})"
    console.print(f"[bold]{e.title}[/] ({e.metric}) for {e.period}: [bold]{value}[/]", highlight=False)
    console.print(f"formula: {e.formula}", highlight=False)
    for k, v in e.inputs.items():
        label = e.input_labels.get(k, k)
        name = k if label == k else f"{label} ({k})"
        console.print(f"  {name} = {fmt(k, v, cur) if not isinstance(v, dict) else v}", highlight=False)
    recomputed = "undefined" if e.recomputed_from_inputs is None else fmt(e.metric, e.recomputed_from_inputs, cur)
    console.print(f"recomputed from the inputs: {recomputed}", highlight=False)
    if e.settings:
        console.print("settings: " + ", ".join(f"{k} = {v}" for k, v in e.settings.items()), highlight=False)
    console.print(f"code: {e.code}", highlight=False)
    if e.accounts:
        cols = [c for c in e.accounts[0] if c != "account_id"] + ["account_id"]
        print_table(list(e.accounts), cols, title=f"accounts contributing most (money in {cur})",
                    wrap=("account_name", "csm"))


@app.command("cohorts")
def cohorts_cmd(
    workspace: WorkspaceOpt = None,
    grain: Annotated[str, typer.Option("--grain", help="month | quarter")] = "month",
    measure: Annotated[str, typer.Option("--measure", help="mrr | logos | arpa")] = "mrr",
    values: Annotated[str, typer.Option("--values", help="relative (to age 0) | absolute")] = "relative",
    segment: Annotated[str | None, typer.Option("--segment", "--by", help="Split each cohort by an account attribute.")] = None,
    through: Annotated[str | None, typer.Option("--through", help="Last month to include (default: last month with a change).")] = None,
    filter: FilterOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    as_of: AsOfOpt = None,
    format: FormatOpt = OutputFormat.table,
) -> None:
    """The cohort triangle: accounts by month (or quarter) of first payment, followed by age.

    Long triangles are shown in pages of ages; cohorts still inside their onboarding window are marked * (in progress).

    Examples:
      retentio cohorts --measure mrr --values relative
      retentio cohorts --grain quarter --measure logos --segment size --format csv
    """
    ws = open_workspace(workspace, engine, spark_master)
    c = ws.cohorts(grain=grain, measure=measure, values=values, segment=segment, through=through,
                   filters=parse_filters(filter), as_of=as_of)
    if format == OutputFormat.json:
        print_json(c)
        return
    width = max((len(r["values"]) for r in c["rows"]), default=0)

    def cell(r, k):
        v = r["values"][k] if k < len(r["values"]) else None
        if v is None:
            return v
        if format == OutputFormat.csv:
            return round_value(v, c["unit"])  # as the JSON rounds them (retentio.output)
        return f"{v * 100:.0f}%" if values == "relative" else (f"{v:,.0f}" if measure != "arpa" else f"{v:,.2f}")

    csv_ = format == OutputFormat.csv
    rows = [{"cohort": r["cohort"] + ("*" if r.get("in_progress") and not csv_ else ""),
             **({"segment": r["segment"]} if segment or csv_ else {}), "size": r["size"],
             **{f"age_{k}" if csv_ else str(k): cell(r, k) for k in range(width)},
             **({"in_progress": r.get("in_progress")} if csv_ else {})}
            for r in c["rows"]]
    if format == OutputFormat.csv:
        print_csv(rows)
        return
    keep = 3 if segment else 2
    print_table(rows, title=f"Cohorts: {measure} {values} by {grain} (through {c['through']}; columns: age)", keep=keep)
    if any(r.get("in_progress") for r in c["rows"]):
        console.print(f"* in progress: still inside the onboarding window ({c['onboarding_window_days']} days) "
                      f"at {c['as_of']}", highlight=False)
