"""retentio predict train|evaluate|score|explain|ltv|benchmark and retentio forecast mrr|renewals."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from retentio.cli.common import (FormatOpt, ListLimitOpt, OutputFormat, SortOpt, WorkspaceOpt, console, open_workspace,
                                 list_rows, print_csv, print_json, print_more, print_table)
from retentio.cli.main import app


def _call(workspace: str | None, method: str, *args: Any, **kwargs: Any) -> Any:
    """Run one service method on the workspace and release its database handles (a later
    command of the same process — tests, notebooks — may need to write to the file)."""
    ws = open_workspace(workspace)
    try:
        return getattr(ws, method)(*args, **kwargs)
    finally:
        ws.close()

predict_app = typer.Typer(help="Churn risk per account with its drivers, survival LTV, public benchmark (docs/prediction.md).",
                          no_args_is_help=True)
forecast_app = typer.Typer(help="MRR forecast with an interval, renewals due with their risk (docs/prediction.md).",
                           no_args_is_help=True)
app.add_typer(predict_app, name="predict")
app.add_typer(forecast_app, name="forecast")

AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Day the prediction is made (YYYY-MM-DD; default today): "
                                             "the model uses month ends up to its last complete month.")]
HorizonOpt = Annotated[int | None, typer.Option("--horizon", help="Months ahead the churn label looks (default: setting predict.horizon_months, 3).")]


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f} %"


def _num(v: float | None, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _kv(rows: dict[str, Any], format: OutputFormat, title: str) -> None:
    if format == OutputFormat.json:
        print_json(rows)
        return
    flat = [{"key": k, "value": v if not isinstance(v, (list, dict)) else str(v)} for k, v in rows.items()]
    if format == OutputFormat.csv:
        print_csv(flat)
    else:
        print_table(flat, title=title)


@predict_app.command("train")
def train(workspace: WorkspaceOpt = None, as_of: AsOfOpt = None, horizon: HorizonOpt = None,
          format: FormatOpt = OutputFormat.table) -> None:
    """Evaluate on a time split, fit on every labelled month end and save the model in <workspace>/models/.

    Example: retentio predict train -w acme --as-of 2024-12-31
    """
    res = _call(workspace, "predict_train", as_of=as_of, horizon=horizon)
    if format == OutputFormat.json:
        print_json(res)
        return
    ev = res["evaluation"]
    _kv({"model_id": res["model_id"], "path": res["path"], "scored_month_end": res["scored_month_end"],
         "horizon_months": res["horizon_months"], "training_window": "..".join(res["training_window"]),
         "calibration_months": "..".join(res["calibration_months"]), "features": len(res["features"]),
         "train_rows": res["class_balance"]["rows"], "train_churned": res["class_balance"]["churned"],
         "test_auc": _num(ev["model"]["auc"]), "baseline_test_auc": _num(ev["baseline"]["auc"])},
        format, f"Churn model {res['model_id']}")


@predict_app.command("evaluate")
def evaluate(workspace: WorkspaceOpt = None, as_of: AsOfOpt = None, horizon: HorizonOpt = None,
             format: FormatOpt = OutputFormat.table) -> None:
    """Time-based evaluation: AUC, PR-AUC, Brier, lift at the top decile, reliability table; LightGBM vs logistic baseline.

    Example: retentio predict evaluate -w acme --horizon 3 -f json
    """
    res = _call(workspace, "predict_evaluate", as_of=as_of, horizon=horizon)
    if format == OutputFormat.json:
        print_json(res)
        return
    m, b = res["model"], res["baseline"]
    rows = [{"measure": k, "lightgbm": _num(m[k]), "logistic": _num(b[k])} for k in ("auc", "pr_auc", "brier", "lift_top_decile")]
    if format == OutputFormat.csv:
        print_csv(rows)
        return
    print_table(rows, title=f"Churn within {res['horizon_months']} months — test {'..'.join(res['test_months'])}")
    console.print(f"trained on {'..'.join(res['train_months'])}; test: {res['test_account_months']:,} account-months, "
                  f"{res['test_churned']:,} churned", highlight=False)
    print_table([{"bin": r["bin"], "rows": r["rows"], "predicted": _pct(r["predicted"]), "observed": _pct(r["observed"])}
                 for r in res["calibration"]], title=f"Reliability ({res['calibration_method']} calibration), low to high risk")


def _score_rows(res: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"account_id": r["account_id"], "account_name": r["account_name"], "risk": r["risk"],
             # "raises: …" rather than "+ …": a cell that begins with + is quoted by the CSV
             # guard against formula injection (common.safe_cell), which a spreadsheet shows
             "drivers": "; ".join(f"{'raises' if d['effect'] > 0 else 'lowers'}: {d['text']}" for d in r["drivers"])}
            for r in res]


@predict_app.command("score")
def score(workspace: WorkspaceOpt = None, as_of: AsOfOpt = None, horizon: HorizonOpt = None,
          limit: ListLimitOpt = None, sort: SortOpt = None,
          format: FormatOpt = OutputFormat.table) -> None:
    """Churn risk of every customer at the last complete month end, riskiest first, with its drivers; risks are stored.

    The table shows the 20 riskiest unless --limit says otherwise (0: all); JSON (a list, one object per account) and CSV give every account unless --limit is given.

    Examples:
      retentio predict score -w acme --limit 10
      retentio predict score -w acme --limit 0 --format csv > risk.csv
    """
    res = _call(workspace, "predict_score", as_of=as_of, horizon=horizon)
    shown = list_rows(res, limit, sort, format)
    if format == OutputFormat.json:
        print_json(shown)  # pinned: a list, one object per account
    elif format == OutputFormat.csv:
        print_csv(_score_rows(shown))
    else:
        print_table([{"account_name": r["account_name"], "risk": _pct(r["risk"]),
                      "raises risk": "; ".join(d["text"] for d in r["drivers"] if d["effect"] > 0),
                      "account_id": r["account_id"]}
                     for r in shown], title=f"Churn risk ({len(res)} customers)", wrap=("account_name", "raises risk"))
        print_more(len(res), len(shown), "accounts")


@predict_app.command("explain")
def explain(account: Annotated[str, typer.Argument(help="Account id.")], workspace: WorkspaceOpt = None,
            as_of: AsOfOpt = None, horizon: HorizonOpt = None,
            top: Annotated[int, typer.Option("--top", help="Drivers shown each way.")] = 5,
            format: FormatOpt = OutputFormat.table) -> None:
    """Why one account's churn risk is what it is: the factors raising and lowering it.

    Example: retentio predict explain acc_00042 -w acme
    """
    res = _call(workspace, "predict_explain", account, as_of=as_of, horizon=horizon, top=top)
    if format == OutputFormat.json:
        print_json(res)
        return
    rows = [{"effect": ("raises" if d["effect"] > 0 else "lowers"), "log_odds": f"{d['effect']:+.2f}", "factor": d["text"]}
            for d in res["drivers"]]
    if format == OutputFormat.csv:
        print_csv([{**d, "value": d["value"]} for d in res["drivers"]], ["feature", "value", "effect", "text"])
        return
    print_table(rows, title=f"{res['account_id']} {res['account_name'] or ''}: risk {_pct(res['risk'])} "
                            f"(rank {res['rank']} of {res['accounts_scored']}) at {res['month_end']}")


@predict_app.command("ltv")
def ltv(workspace: WorkspaceOpt = None, as_of: AsOfOpt = None,
        by: Annotated[str, typer.Option("--by", help="Account attribute of the segments.")] = "size",
        accounts: Annotated[bool, typer.Option("--accounts", help="Each customer's expected remaining lifetime and LTV instead.")] = False,
        format: FormatOpt = OutputFormat.table) -> None:
    """Survival LTV by segment (Kaplan-Meier, Weibull) beside the ARPA / churn LTV of metrics.md.

    Example: retentio predict ltv -w acme --by size
    """
    res = _call(workspace, "survival_ltv", as_of=as_of, by=by, accounts=accounts)
    if format == OutputFormat.json:
        print_json(res)
        return
    if accounts:
        rows = [{"account": r["account_id"], "segment": r["segment"], "age_m": r["age_months"], "mrr": _num(r["mrr"], 0),
                 "remaining_m": _num(r["remaining_lifetime_months"], 1), "remaining_ltv": _num(r["remaining_ltv"], 0)}
                for r in res["accounts"]]
        if format == OutputFormat.csv:
            print_csv(res["accounts"])
        else:
            print_table(rows, title=f"Expected remaining lifetime by account at {res['month_end']} (shortest first)")
        return
    rows = [{"segment": g["segment"], "customers": g["customers"], "km_12m": _pct(g["km_survival"].get("12")),
             "life_m": _num(g["expected_lifetime_months"], 1), "ltv_surv": _num(g["survival_ltv"], 0),
             "ltv_arpa": _num(g["arpa_churn_ltv"], 0)} for g in res["segments"]]
    if format == OutputFormat.csv:
        print_csv(rows)
    else:
        print_table(rows, title=f"Lifetime value by {by} at {res['month_end']} (EUR)")


@predict_app.command("benchmark")
def benchmark(dataset: Annotated[str, typer.Argument(help="Public data set: telco.")],
              data: Annotated[str, typer.Option("--data", help="The data set's CSV file.")],
              folds: Annotated[int, typer.Option("--folds", help="Stratified cross-validation folds.")] = 5,
              seed: Annotated[int, typer.Option("--seed", help="Seed of the folds and models.")] = 42,
              format: FormatOpt = OutputFormat.table) -> None:
    """Cross-validated AUC of the churn model on a public data set, beside the logistic baseline.

    Example: retentio predict benchmark telco --data tests/data/telco/Telco-Customer-Churn.csv
    """
    from retentio.predict.service import predict_benchmark

    res = predict_benchmark(None, dataset, data=data, folds=folds, seed=seed)
    if format == OutputFormat.json:
        print_json(res)
    else:
        _kv({k: v for k, v in res.items() if k != "fold_auc"}, format, f"Benchmark {dataset}")


@forecast_app.command("mrr")
def forecast_mrr(workspace: WorkspaceOpt = None, as_of: AsOfOpt = None,
                 months: Annotated[int, typer.Option("--months", help="Months ahead.")] = 12,
                 format: FormatOpt = OutputFormat.table) -> None:
    """MRR of the next months from the current book: scheduled ends, predicted churn, expansion, new business; simulated interval.

    Example: retentio forecast mrr -w acme --months 12 -f csv
    """
    res = _call(workspace, "forecast_mrr", as_of=as_of, months=months)
    if format == OutputFormat.json:
        print_json(res)
        return
    if format == OutputFormat.csv:
        print_csv(res["months"])
        return
    print_table([{"month": r["month"], "expected": _num(r["expected"], 0), "low": _num(r["low"], 0),
                  "high": _num(r["high"], 0), "existing": _num(r["existing_expected"], 0), "new": _num(r["new_expected"], 0)}
                 for r in res["months"]],
                title=f"MRR forecast from {res['start_month']} ({res['start_mrr']:,.0f}); {int(res['interval'] * 100)} % interval")


@forecast_app.command("renewals")
def forecast_renewals(workspace: WorkspaceOpt = None, as_of: AsOfOpt = None,
                      days: Annotated[int, typer.Option("--days", help="Days ahead.")] = 90,
                      format: FormatOpt = OutputFormat.table) -> None:
    """Fixed-term renewals due in the next N days with the account's churn risk and the MRR at risk.

    Example: retentio forecast renewals -w acme --days 90
    """
    res = _call(workspace, "forecast_renewals", as_of=as_of, days=days)
    if format == OutputFormat.json:
        print_json(res)
        return
    if format == OutputFormat.csv:
        print_csv(res["renewals"])
        return
    print_table([{"date": r["renewal_date"], "account": r["account_id"], "plan": r["plan"], "mrr": _num(r["mrr"], 0),
                  "risk": _pct(r["risk"]), "at_risk": _num(r["mrr_at_risk"], 0)} for r in res["renewals"]],
                title=f"Renewals {res['from']}..{res['to']}: {res['count']} lines, MRR {res['mrr']:,.0f}, "
                      f"at risk {res['mrr_at_risk']:,.0f}")
