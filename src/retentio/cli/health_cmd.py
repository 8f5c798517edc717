"""retentio health score|explain|history|backtest|fit|pulse|cards|init."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from retentio.cli.common import (
    EngineOpt,
    FormatOpt,
    ListLimitOpt,
    OutputFormat,
    SortOpt,
    WorkspaceOpt,
    console,
    fmt_value,
    open_workspace,
    print_csv,
    list_rows,
    print_json,
    print_more,
    print_table,
)
from retentio.cli.main import app

health_app = typer.Typer(help="Health scores: configurable scorecards, backtested against churn.", no_args_is_help=True)
app.add_typer(health_app, name="health")

AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Score as of this day, YYYY-MM-DD (default: today).",
                                             show_default=False)]
CardOpt = Annotated[str | None, typer.Option("--scorecard", help="Use this scorecard for every account.", show_default=False)]
HorizonOpt = Annotated[int | None, typer.Option("--horizon", help="Churn horizon in months (default: health.horizon_months, 3).",
                                                show_default=False)]
AccountArg = Annotated[str, typer.Argument(help="Account id.", show_default=False)]


def _f(v: Any, nd: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return fmt_value(v)


@health_app.command("score")
def score(workspace: WorkspaceOpt = None, engine: EngineOpt = None, as_of: AsOfOpt = None, scorecard: CardOpt = None,
          band: Annotated[str | None, typer.Option("--band", help="Only this band: red, yellow, green, thriving, none.",
                                                   show_default=False)] = None,
          summary: Annotated[bool, typer.Option("--summary", help="Only the number of accounts per band.")] = False,
          limit: ListLimitOpt = None, sort: SortOpt = None,
          format: FormatOpt = OutputFormat.table) -> None:
    """Health score of every customer account: score, band, trend, missing inputs.

    Lowest score first (--sort to change it). The table shows 20 rows unless --limit says otherwise (0: all); JSON (a list, one object per account) and CSV give every account unless --limit is given.

    Examples:
      retentio health score -w acme --band red
      retentio health score -w acme --sort=-trend_1m --limit 10
      retentio health score -w acme --limit 0 --format csv > health.csv
    """
    rows = open_workspace(workspace, engine).health_scores(as_of=as_of, scorecard=scorecard, band=band)
    counts = {b: 0 for b in ("red", "yellow", "green", "thriving", "not scored")}
    for r in rows:
        counts[r["band"] or "not scored"] += 1
    if summary:
        out = [{"band": b, "accounts": n} for b, n in counts.items()]
        if format == OutputFormat.json:
            print_json({b: n for b, n in counts.items()})
        elif format == OutputFormat.csv:
            print_csv(out)
        else:
            print_table(out, title=f"Health bands ({len(rows):,} customer accounts)")
        return
    shown = list_rows(rows, limit, sort, format)
    if format == OutputFormat.json:
        print_json(shown)  # pinned: a list, one object per account
        return
    flat = [{"account_id": r["account_id"], "account_name": r["account_name"], "scorecard": r["scorecard"],
             "score": r["score"], "band": r["band"], "trend_1m": r["trend_1m"], "trend_3m": r["trend_3m"],
             "missing": " ".join(r["missing"])} for r in shown]
    if format == OutputFormat.csv:
        print_csv(flat)
        return
    table = [{"account_name": r["account_name"], "score": _f(r["score"]), "band": r["band"] or "not scored",
              "1m": (_f(r["trend_1m"]) + " " + (r["arrow"] or "")).strip(), "missing": len(r["missing"]),
              "account_id": r["account_id"]} for r in shown]
    cards = sorted({r["scorecard"] for r in rows if r["scorecard"]})
    print_table(table, title=f"Health scores ({len(rows)} accounts; scorecard {', '.join(cards) or '—'})",
                wrap=("account_name",))
    print_more(len(rows), len(shown), "accounts")
    console.print("bands: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v), highlight=False)


@health_app.command("explain")
def explain(account: AccountArg, workspace: WorkspaceOpt = None, engine: EngineOpt = None, as_of: AsOfOpt = None,
            scorecard: CardOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """Each measure's raw value, 0-100 score, weight and contribution; what is missing; the smallest change that reaches the next band.

    Example: retentio health explain acc_00042 -w acme
    """
    res = open_workspace(workspace, engine).health_explain(account, as_of=as_of, scorecard=scorecard)
    if format == OutputFormat.json:
        print_json(res)
        return
    rows = [{"measure": m["measure"], "group": m["group"], "raw": _f(m["raw"], 3) if isinstance(m["raw"], float) else _f(m["raw"]),
             "score": _f(m["score"]), "weight": _f(m["weight"], 3), "contrib": _f(m["contribution"])}
            for m in res["measures"]]
    if format == OutputFormat.csv:
        print_csv(res["measures"])
        return
    print_table(rows, title=f"{res['account_id']} — {res['scorecard']} ({res['model']}) on {res['as_of']}")
    console.print(f"score {_f(res['score'])}, band {res['band'] or 'not scored'}"
                  + (f" ({res['reason']})" if res["reason"] else ""), highlight=False)
    if res["missing"]:
        console.print(f"missing ({res['missing_policy']}): " + ", ".join(res["missing"]), highlight=False)
    nb = res["next_band"]
    if nb and nb.get("measure"):
        console.print(f"to reach {nb['next_band']}: {nb['measure']} from {_f(nb['from'], 3)} to {_f(nb['to'], 3)}",
                      highlight=False)
    elif nb and nb.get("change_all"):
        console.print(f"to reach {nb['next_band']}: " + "; ".join(
            f"{c['measure']} from {_f(c['from'], 3)} to {_f(c['to'], 3)}" for c in nb["change_all"]), highlight=False)
    elif nb:
        console.print(f"to reach {nb['next_band']}: {nb.get('note')}", highlight=False)


@health_app.command("history")
def history(account: AccountArg, workspace: WorkspaceOpt = None, engine: EngineOpt = None, as_of: AsOfOpt = None,
            format: FormatOpt = OutputFormat.table) -> None:
    """The account's score at every month end (and as of), with band transitions; the stored history (warehouse table health_scores) is brought up to as-of first.

    Example: retentio health history acc_00042 -w acme
    """
    res = open_workspace(workspace, engine).health_history(account, as_of=as_of)
    if format == OutputFormat.json:
        print_json(res)
        return
    rows = [{"day": p["day"], "scorecard": p["scorecard"], "score": _f(p["score"]), "band": p["band"] or "not scored",
             "missing": len(p["missing"])} for p in res["points"]]
    if format == OutputFormat.csv:
        print_csv(rows)
        return
    print_table(rows, title=f"Health history of {account}")
    for t in res["transitions"]:
        console.print(f"{t['day']}: {t['from'] or 'not scored'} -> {t['to'] or 'not scored'}", highlight=False)


def _backtest_table(res: dict[str, Any], title: str) -> None:
    rows = [{"band": b, "account-months": v["account_months"], "churned": v["churned"],
             "churn rate": _f(None if v["churn_rate"] is None else 100 * v["churn_rate"]) + ("" if v["churn_rate"] is None else " %")}
            for b, v in res["bands"].items()]
    print_table(rows, title=title)
    lo, hi = res["auc_ci"]
    console.print(f"AUC {_f(res['auc'], 3)} (95 % CI {_f(lo, 3)}-{_f(hi, 3)}), lift red vs green "
                  f"{_f(res['lift_red_vs_green'], 2)}, red precision {_f(res['precision_red'], 3)}, "
                  f"recall {_f(res['recall_red'], 3)}", highlight=False)


@health_app.command("refresh")
def refresh(workspace: WorkspaceOpt = None, engine: EngineOpt = None, as_of: AsOfOpt = None,
            full: Annotated[bool, typer.Option("--full", help="Recompute every stored day (after editing a scorecard).")] = False,
            format: FormatOpt = OutputFormat.table) -> None:
    """Store every account's score at each month end and as of (incremental), and list the band transitions of the days computed.

    Example: retentio health refresh -w acme
    """
    res = open_workspace(workspace, engine).health_refresh(as_of=as_of, full=full)
    if format == OutputFormat.json:
        print_json(res)
        return
    if format == OutputFormat.csv:
        print_csv(res["transitions"])
        return
    console.print(f"{res['rows']} scores stored for {res['days_computed']} day(s); "
                  f"{len(res['transitions'])} band transition(s)", highlight=False)
    if res["transitions"]:
        print_table(res["transitions"][-20:], title="Latest band transitions")


@health_app.command("backtest")
def backtest(workspace: WorkspaceOpt = None, engine: EngineOpt = None, as_of: AsOfOpt = None, scorecard: CardOpt = None,
             horizon: HorizonOpt = None,
             outcome: Annotated[str, typer.Option("--outcome", help="churn, or churn_or_contraction.")] = "churn",
             format: FormatOpt = OutputFormat.table) -> None:
    """Score every account at each past month end with only the data known then, and compare with churn within the horizon: AUC with a 95 % bootstrap interval, churn per band, lift, calibration by decile, per scorecard and overall.

    Example: retentio health backtest -w acme --horizon 3 --format json
    """
    res = open_workspace(workspace, engine).health_backtest(as_of=as_of, scorecard=scorecard, horizon=horizon,
                                                            outcome=outcome)
    if format == OutputFormat.json:
        print_json(res)
        return
    if format == OutputFormat.csv:
        print_csv(res["calibration"])
        return
    months = res["months"] or ["—", "—"]
    what = "churn" if res["outcome"] == "churn" else "churn or contraction"
    _backtest_table(res, f"Backtest {res['scorecard']}, {res['horizon_months']}-month {what}, "
                         f"month ends {months[0]}..{months[1]}")
    console.print(f"{res['account_months']} account-months scored, {res['churned']} churned; left out: "
                  + ", ".join(f"{k} {v}" for k, v in res["left_out"].items()), highlight=False)
    for name, r in res["per_scorecard"].items():
        console.print(f"  {name}: {r['account_months']} account-months, AUC {_f(r['auc'], 3)} "
                      f"({_f(r['auc_ci'][0], 3)}-{_f(r['auc_ci'][1], 3)})", highlight=False)


@health_app.command("fit")
def fit(workspace: WorkspaceOpt = None, engine: EngineOpt = None, as_of: AsOfOpt = None, scorecard: CardOpt = None,
        horizon: HorizonOpt = None,
        write: Annotated[str | None, typer.Option("--write", help="Save the fitted card as health/NAME.yaml.",
                                                  show_default=False)] = None,
        format: FormatOpt = OutputFormat.table) -> None:
    """Propose measure weights (regularised logistic regression on the earlier months) and compare the configured and fitted cards on the later months.

    Example: retentio health fit -w acme --write fitted
    """
    res = open_workspace(workspace, engine).health_fit(as_of=as_of, horizon=horizon, scorecard=scorecard, write=write)
    if format == OutputFormat.json:
        print_json(res)
        return
    rows = [{"measure": k, "weight": _f(v, 1)} for k, v in sorted(res["weights"].items(), key=lambda kv: -kv[1])]
    if format == OutputFormat.csv:
        print_csv(rows)
        return
    print_table(rows, title=f"Fitted weights of {res['scorecard']} (trained {res['train_months'][0]}..{res['train_months'][1]})")
    for k in ("configured", "fitted"):
        r = res[k]
        if r:
            console.print(f"{k:>10}: AUC {_f(r['auc'], 3)} ({_f(r['auc_ci'][0], 3)}-{_f(r['auc_ci'][1], 3)}) on "
                          f"{r['account_months']} account-months of {res['test_months'][0]}..{res['test_months'][1]}",
                          highlight=False)
    if res.get("written"):
        console.print(f"written: {res['written']}", highlight=False)


@health_app.command("pulse")
def pulse(account: AccountArg, workspace: WorkspaceOpt = None,
          score: Annotated[int | None, typer.Option("--score", help="1 (at risk) to 5 (thriving).", show_default=False)] = None,
          colour: Annotated[str | None, typer.Option("--colour", help="red, orange, yellow, light-green, green.",
                                                     show_default=False)] = None,
          comment: Annotated[str | None, typer.Option("--comment", help="Why.", show_default=False)] = None,
          author: Annotated[str | None, typer.Option("--author", help="Who rates (default: $USER).", show_default=False)] = None,
          as_of: AsOfOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """Record a CSM's rating of an account; it counts for health.pulse_expiry_days.

    Example: retentio health pulse acc_00042 -w acme --score 2 --comment "champion left"
    """
    res = open_workspace(workspace).health_pulse(account, score=score, colour=colour, comment=comment, author=author,
                                                 rated_at=as_of)
    if format == OutputFormat.json:
        print_json(res)
    elif format == OutputFormat.csv:
        print_csv([res])
    else:
        console.print(f"pulse {res['score']} recorded for {account} by {res['author']} "
                      f"(counts {res['expires_after_days']} days)", highlight=False)


@health_app.command("cards")
def cards(workspace: WorkspaceOpt = None, format: FormatOpt = OutputFormat.table) -> None:
    """The scorecards in force (health/*.yaml, or the shipped ones) and how they apply."""
    res = open_workspace(workspace).health_cards()
    if format == OutputFormat.json:
        print_json(res)
        return
    rows = [{"name": c["name"], "model": c["model"], "default": bool(c.get("default")),
             "criteria": ", ".join(f"{k}={v}" for k, v in (c.get("criteria") or {}).items()),
             "measures": sum(len(g["measures"]) for g in c["groups"])} for c in res["cards"]]
    if format == OutputFormat.csv:
        print_csv(rows)
        return
    print_table(rows, title=f"Scorecards ({res['source']})")


@health_app.command("init")
def init(workspace: WorkspaceOpt = None,
         force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
         format: FormatOpt = OutputFormat.table) -> None:
    """Write the shipped scorecards into the workspace's health/ folder, to edit them."""
    files = open_workspace(workspace).health_init(force=force)
    if format == OutputFormat.json:
        print_json({"written": files})
    elif format == OutputFormat.csv:
        print_csv([{"file": f} for f in files])
    else:
        for f in files:
            console.print(f"written: {f}", highlight=False)
