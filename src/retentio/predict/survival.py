"""Survival-based lifetime value (lifelines): Kaplan–Meier curves of customer lifetime by
segment and cohort, a Weibull model giving the expected (remaining) lifetime, and LTV
beside metrics.md §5's ARPA / churn LTV (docs/prediction.md explains the difference).

Lifetime of an account = months from its first month with MRR to its first churn movement
(metrics.md §3): an account that is a customer at the snapshots of months f .. c-1 and
churns in month c lived c - f months.  An account still a customer at the last complete
month L is censored at L - f + 1 months.  Only the first spell counts (a reactivation starts
no new lifetime).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from retentio.errors import DataError

KM_POINTS = (6, 12, 24, 36)
NONE = "(none)"


def lifetimes(engine, settings, last: int, by: str | None) -> pl.DataFrame:
    """account_id, first_month, months, churned (bool), segment, cohort (year), mrr_last
    (MRR at L for customers at L, else None), mrr_first (EUR)."""
    import narwhals as nw

    from retentio.metrics.movements import account_movements
    from retentio.metrics.mrr import account_months, history_first_month

    first = history_first_month(engine)
    if first is None or first > last:
        raise DataError("no paid subscription line before the as_of month", hint="import subscriptions first")
    A = account_months(engine, settings, first, last)
    mv = engine.collect(account_movements(engine, settings, A, first + 1, last).filter(nw.col("kind") == "churn")
                        .group_by("account_id").agg(nw.col("month").min().alias("churn_month")))
    a = engine.collect(A.select("account_id", "month", "mrr_cents"))
    starts = a.group_by("account_id").agg(pl.col("month").min().alias("first_month"))
    firsts = a.join(starts, on="account_id").filter(pl.col("month") == pl.col("first_month")).select(
        "account_id", (pl.col("mrr_cents") / 100.0).alias("mrr_first"))
    at_last = a.filter(pl.col("month") == last).select("account_id", (pl.col("mrr_cents") / 100.0).alias("mrr_last"))
    out = (starts.join(mv, on="account_id", how="left").join(firsts, on="account_id").join(at_last, on="account_id", how="left")
           .with_columns(churned=pl.col("churn_month").is_not_null() & (pl.col("churn_month") > pl.col("first_month")))
           .with_columns(months=pl.when(pl.col("churned")).then(pl.col("churn_month") - pl.col("first_month"))
                         .otherwise(last - pl.col("first_month") + 1).cast(pl.Float64),
                         cohort=(pl.col("first_month") // 12).cast(pl.Utf8)))
    if by:
        at = engine.collect(engine.table("account_attributes").filter(nw.col("attribute") == by)
                            .group_by("account_id").agg(nw.col("value").min().alias("segment")))
        out = out.join(at, on="account_id", how="left").with_columns(pl.col("segment").fill_null(NONE))
    else:
        out = out.with_columns(pl.lit("all").alias("segment"))
    return out.sort("account_id")


def km_table(durations: np.ndarray, events: np.ndarray) -> dict[str, Any]:
    """Kaplan–Meier survival at KM_POINTS months, median lifetime (None when the curve
    does not fall to 0.5) and restricted mean up to the longest follow-up."""
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(durations, events)
    horizon = float(durations.max())
    surv = {str(t): (float(km.survival_function_at_times(t).iloc[0]) if t <= horizon else None) for t in KM_POINTS}
    med = km.median_survival_time_
    from lifelines.utils import restricted_mean_survival_time

    rmst = float(restricted_mean_survival_time(km, t=horizon))
    return {"km_survival": surv, "km_median_months": None if not math.isfinite(med) else float(med),
            "km_restricted_mean_months": rmst, "followup_months": horizon}


def _weibull(df: pl.DataFrame):
    """Weibull AFT: log(lifetime) depends on the segment (dummies) and log first MRR."""
    import pandas as pd
    from lifelines import WeibullAFTFitter

    segs = sorted(df["segment"].unique().to_list())
    X = pd.DataFrame({"months": df["months"].to_numpy(), "churned": df["churned"].cast(pl.Int64).to_numpy(),
                      "log_mrr": np.log1p(df["mrr_first"].to_numpy())})
    for s in segs[1:]:
        X[f"seg_{s}"] = (df["segment"] == s).cast(pl.Int64).to_numpy()
    fit = WeibullAFTFitter(penalizer=0.01).fit(X, duration_col="months", event_col="churned")
    return fit, segs


def _design(segs: list[str], segments: list[str], mrr: list[float]):
    import pandas as pd

    X = pd.DataFrame({"log_mrr": np.log1p(np.asarray(mrr, dtype=float))})
    for s in segs[1:]:
        X[f"seg_{s}"] = [1 if g == s else 0 for g in segments]
    return X


def expected_remaining(fit, X, ages: list[float], cap: int) -> list[float]:
    """E[min(T, cap) - age | T > age] = ∫_age^cap S(t) dt / S(age) for each row of X
    (S on a monthly grid 0..cap, trapezoid rule)."""
    if len(X) == 0:
        return []
    grid = np.arange(0.0, cap + 1, 1.0)
    S = fit.predict_survival_function(X, times=grid).to_numpy()  # (len(grid), rows)
    out = []
    for j, age in enumerate(ages):
        a = int(min(max(age, 0), cap))
        s = S[a:, j]
        out.append(float(np.trapezoid(s, grid[a:]) / s[0]) if len(s) > 1 and s[0] > 0 else 0.0)
    return out


def survival_ltv(ws, as_of: date, by: str, accounts: bool = False) -> dict[str, Any]:
    from retentio.clock import last_complete_month, month_end
    from retentio.metrics.periods import month_label

    y, m = last_complete_month(as_of)
    last = y * 12 + m - 1
    cap = ws.settings.predict.lifetime_cap_months
    df = lifetimes(ws.engine(), ws.settings, last, by)
    if df.height < 10 or df["churned"].sum() < 2:
        raise DataError("too few customers or churns for a survival model",
                        hint="survival LTV needs at least 10 customers and 2 churns")
    fit, segs = _weibull(df)
    figures = ws.metrics(month_label(last), by=by)["groups"]
    out_segments = []
    for s in segs:
        part = df.filter(pl.col("segment") == s)
        km = km_table(part["months"].to_numpy(), part["churned"].cast(pl.Int64).to_numpy())
        current = part.filter(pl.col("mrr_last").is_not_null())
        arpa = figures.get(s, {}).get("arpa")
        new_life = expected_remaining(fit, _design(segs, [s], [float(part["mrr_first"].median())]), [0.0], cap)[0]
        rem = expected_remaining(fit, _design(segs, [s] * current.height, current["mrr_first"].to_list()),
                                 current["months"].to_list(), cap)
        rem_ltv = float(sum(l * v for l, v in zip(rem, current["mrr_last"].to_list())))
        out_segments.append({
            "segment": s, "accounts": part.height, "churned": int(part["churned"].sum()), "customers": current.height,
            **km,
            "expected_lifetime_months": new_life,
            "arpa": arpa,
            "survival_ltv": None if arpa is None else arpa * new_life,
            "arpa_churn_ltv": figures.get(s, {}).get("ltv"),
            "customer_churn_rate": figures.get(s, {}).get("customer_churn_rate"),
            "remaining_lifetime_months_mean": (sum(rem) / len(rem)) if rem else None,
            "remaining_ltv": rem_ltv,
        })
    cohorts = []
    for c in sorted(df["cohort"].unique().to_list()):
        part = df.filter(pl.col("cohort") == c)
        cohorts.append({"cohort": c, "accounts": part.height, "churned": int(part["churned"].sum()),
                        **km_table(part["months"].to_numpy(), part["churned"].cast(pl.Int64).to_numpy())})
    out: dict[str, Any] = {
        "month_end": month_end(y, m).isoformat(),
        "by": by,
        "lifetime_cap_months": cap,
        "model": {"kind": "weibull_aft", "rho": float(np.exp(fit.params_.loc["rho_"].iloc[0])),
                  "concordance": float(fit.concordance_index_), "accounts": df.height, "churned": int(df["churned"].sum())},
        "overall": {"accounts": df.height, "churned": int(df["churned"].sum()),
                    **km_table(df["months"].to_numpy(), df["churned"].cast(pl.Int64).to_numpy())},
        "segments": out_segments,
        "cohorts": cohorts,
    }
    if accounts:
        out["accounts"] = _remaining(df, fit, segs, cap)
    return out


def _remaining(df: pl.DataFrame, fit, segs: list[str], cap: int) -> list[dict[str, Any]]:
    """Expected remaining lifetime (months, capped) and remaining LTV (x MRR at L) of each
    current customer, riskiest (shortest) first."""
    cur = df.filter(pl.col("mrr_last").is_not_null())
    lives = expected_remaining(fit, _design(segs, cur["segment"].to_list(), cur["mrr_first"].to_list()),
                               cur["months"].to_list(), cap)
    rows = [{"account_id": r["account_id"], "segment": r["segment"], "age_months": int(r["months"]), "mrr": r["mrr_last"],
             "remaining_lifetime_months": life, "remaining_ltv": life * r["mrr_last"]}
            for life, r in zip(lives, cur.iter_rows(named=True))]
    return sorted(rows, key=lambda r: (r["remaining_lifetime_months"], r["account_id"]))
