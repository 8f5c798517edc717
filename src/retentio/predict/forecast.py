"""Forecasts from the current book: MRR for the next months with an interval (Monte Carlo,
fixed seed) and the fixed-term renewals due in the next days with their risk.

MRR forecast, per simulated path and month t = 1..N after the last complete month L:

- **existing accounts**: each customer at L keeps its lines' MRR (line MRR of
  ``metrics.mrr.line_days``) except lines whose cancellation is recorded (``canceled_at`` on
  or before as_of), which end on their end date for sure; it churns in a month with the
  monthly hazard ``1 - (1 - risk)^(1/horizon)`` derived from its churn risk (the churn
  model's calibrated probability over the horizon); an account whose every line is
  cancelled is not also given the hazard;
- **expansion and contraction**: surviving MRR moves by the mean monthly net rate
  (expansion - contraction) / start MRR of the last ``rate_window_months`` months (the
  movements of metrics.md §3);
- **new business** (new and reactivated accounts): a Poisson number a month with the mean
  of the window; each draws its MRR from the window's new accounts; they churn with the
  window's mean monthly customer churn rate and move with the same net rate.

The interval is the central ``interval`` share of the simulated paths (quantiles).  It
covers churn and new-business randomness, not the uncertainty of the rates themselves.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl


def _window_rates(ws, last: int) -> dict[str, Any]:
    from retentio.metrics.movements import account_movements
    from retentio.metrics.mrr import account_months

    w = ws.settings.predict.rate_window_months
    eng = ws.engine()
    first = last - w + 1
    A = account_months(eng, ws.settings, first - 1, last)
    # sorted: engines return rows in no fixed order, and the simulation draws from these values
    mv = eng.collect(account_movements(eng, ws.settings, A, first, last).select("account_id", "month", "s", "e", "ecc",
                                                                                 "kind")).sort("month", "account_id")
    start = mv.group_by("month").agg((pl.col("s").sum() / 100).alias("mrr_start"),
                                     (pl.col("s") > 0).sum().alias("customers_start"))
    # expansion and contraction at constant currency (metrics.md §3), as in the figures
    exp = mv.filter(pl.col("kind") == "expansion").select(((pl.col("ecc") - pl.col("s")).sum() / 100)).item() or 0.0
    con = mv.filter(pl.col("kind") == "contraction").select(((pl.col("s") - pl.col("ecc")).sum() / 100)).item() or 0.0
    churned = mv.filter(pl.col("kind") == "churn").height
    mrr_start = float(start["mrr_start"].sum())
    cust_start = int(start["customers_start"].sum())
    new = mv.filter(pl.col("kind").is_in(["new", "reactivation"]))
    return {
        "window": [first, last],
        "expansion_rate": exp / mrr_start if mrr_start else 0.0,
        "contraction_rate": con / mrr_start if mrr_start else 0.0,
        "new_accounts_per_month": new.height / w,
        "new_mrr_values": (new["e"] / 100).to_list(),
        "new_customer_churn_rate": churned / cust_start if cust_start else 0.0,
    }


def _book(ws, as_of: date, last: int) -> pl.DataFrame:
    """Lines of the customers at the month end of L: account_id, mrr, end_month (month index
    from which the line is gone when its cancellation is recorded, else None)."""
    from retentio.metrics.mrr import line_days
    from retentio.metrics.periods import month_end, month_index

    eng = ws.engine()
    me = month_end(last)
    lines = eng.collect(line_days(eng, ws.settings, [me]).select("subscription_id", "account_id", "mrr_cents"))
    subs = eng.collect(eng.table("subscriptions").select("subscription_id", "end_date", "canceled_at"))
    j = lines.join(subs, on="subscription_id", how="left")
    known = pl.col("canceled_at").is_not_null() & (pl.col("canceled_at") <= as_of) & pl.col("end_date").is_not_null()
    j = j.with_columns(pl.when(known).then(pl.col("end_date")).otherwise(None).alias("ends"))
    j = j.with_columns(pl.col("ends").map_elements(lambda d: month_index(d), return_dtype=pl.Int64).alias("end_month"))
    # accounts that are customers at L (MRR > 0 after discounts)
    pos = j.group_by("account_id").agg(pl.col("mrr_cents").sum().alias("t")).filter(pl.col("t") > 0).select("account_id")
    return (j.join(pos, on="account_id", how="semi").sort("account_id", "subscription_id")
            .select("account_id", (pl.col("mrr_cents") / 100.0).alias("mrr"), "end_month"))


def simulate(sched: np.ndarray, hazard: np.ndarray, net: float, new_per_month: float, new_vals: np.ndarray,
             new_churn: float, *, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Simulated MRR of ``n`` paths: (existing, new), each of shape (n, months).

    ``sched[a, t]`` is account a's MRR at month t (t = 0 .. months) if it stays; each month
    a surviving account churns with probability ``hazard[a]``; surviving MRR is multiplied
    by (1 + net)^t.  New accounts arrive as Poisson(new_per_month) a month with MRR drawn
    from ``new_vals``; each later month a cohort keeps Binomial(count, 1 - new_churn)
    customers (at the cohort's mean MRR) and grows by (1 + net) a month."""
    months = sched.shape[1] - 1
    n_acc = sched.shape[0]
    rng = np.random.default_rng(seed)
    alive = np.ones((n, n_acc), dtype=bool)
    existing = np.zeros((n, months))
    new_total = np.zeros((n, months))
    cohort_n = np.zeros((n, months), dtype=np.int64)
    cohort_mean = np.zeros((n, months))
    for t in range(1, months + 1):
        alive &= rng.random((n, n_acc)) >= hazard
        existing[:, t - 1] = (alive * sched[:, t]).sum(axis=1) * (1.0 + net) ** t
        # earlier new cohorts lose customers, then this month's cohort arrives
        if t > 1:
            cohort_n[:, : t - 1] = rng.binomial(cohort_n[:, : t - 1], 1.0 - new_churn)
        k = rng.poisson(new_per_month, size=n)
        cohort_n[:, t - 1] = k
        draws = rng.choice(new_vals, size=(n, int(k.max()) if k.max() > 0 else 1))
        mask = np.arange(draws.shape[1])[None, :] < k[:, None]
        cohort_mean[:, t - 1] = np.where(k > 0, (draws * mask).sum(axis=1) / np.maximum(k, 1), 0.0)
        ages = t - 1 - np.arange(t)  # months since each cohort arrived
        new_total[:, t - 1] = (cohort_n[:, :t] * cohort_mean[:, :t] * (1.0 + net) ** ages[None, :]).sum(axis=1)
    return existing, new_total


def forecast_mrr(ws, as_of: date, months: int, horizon: int) -> dict[str, Any]:
    from retentio.clock import last_complete_month
    from retentio.metrics.periods import month_label
    from retentio.predict.service import predict_score

    p = ws.settings.predict
    y, m = last_complete_month(as_of)
    last = y * 12 + m - 1
    rates = _window_rates(ws, last)
    book = _book(ws, as_of, last)
    risk = {r["account_id"]: r["risk"] for r in predict_score(ws, as_of=as_of, horizon=horizon)}
    accounts = sorted(book["account_id"].unique().to_list())
    idx = {a: i for i, a in enumerate(accounts)}
    n_acc = len(accounts)
    # sched[a, t]: MRR of account a at month L + t (t = 0..months) if it does not churn
    sched = np.zeros((n_acc, months + 1))
    fully_cancelled = np.ones(n_acc, dtype=bool)
    for r in book.iter_rows(named=True):
        i = idx[r["account_id"]]
        if r["end_month"] is None:
            sched[i, :] += r["mrr"]
            fully_cancelled[i] = False
        else:
            gone = max(0, r["end_month"] - last)  # first t without the line
            sched[i, :gone] += r["mrr"]
    sched = np.maximum(sched, 0.0)
    r_arr = np.array([risk.get(a, 0.0) for a in accounts])
    hazard = np.where(fully_cancelled, 0.0, 1.0 - (1.0 - np.clip(r_arr, 0, 1)) ** (1.0 / horizon))
    net = rates["expansion_rate"] - rates["contraction_rate"]
    new_vals = np.array(rates["new_mrr_values"]) if rates["new_mrr_values"] else np.zeros(1)
    c_new = rates["new_customer_churn_rate"]
    existing, new_total = simulate(sched, hazard, net, rates["new_accounts_per_month"], new_vals, c_new,
                                   n=p.simulations, seed=p.seed)
    total = existing + new_total
    lo_q, hi_q = (1 - p.interval) / 2, 1 - (1 - p.interval) / 2
    scheduled = sched[:, 0].sum() - sched[:, 1:].sum(axis=0)
    rows = []
    for t in range(months):
        rows.append({
            "month": month_label(last + t + 1),
            "expected": float(total[:, t].mean()),
            "median": float(np.quantile(total[:, t], 0.5)),
            "low": float(np.quantile(total[:, t], lo_q)),
            "high": float(np.quantile(total[:, t], hi_q)),
            "existing_expected": float(existing[:, t].mean()),
            "new_expected": float(new_total[:, t].mean()),
            "scheduled_loss": round(float(scheduled[t]), 2),
        })
    return {
        "start_month": month_label(last),
        "start_mrr": float(sched[:, 0].sum()),
        "customers": n_acc,
        "horizon_months": horizon,
        "simulations": p.simulations,
        "seed": p.seed,
        "interval": p.interval,
        "rates": {
            "window": [month_label(rates["window"][0]), month_label(rates["window"][1])],
            "expansion_rate": rates["expansion_rate"],
            "contraction_rate": rates["contraction_rate"],
            "new_accounts_per_month": rates["new_accounts_per_month"],
            "new_mrr_mean": float(new_vals.mean()) if rates["new_mrr_values"] else 0.0,
            "new_customer_churn_rate": c_new,
            "expected_churners_existing": float((1 - (1 - hazard) ** months).sum()),
        },
        "months": rows,
    }


def renewals(ws, as_of: date, days: int, horizon: int) -> dict[str, Any]:
    """Fixed-term lines (billing period > 1 month) active on as_of whose next renewal — or,
    when a cancellation is recorded, whose end — falls in (as_of, as_of + days]."""
    from retentio.features.compute import next_renewal
    from retentio.metrics.mrr import line_days
    from retentio.predict.service import _names, predict_score

    eng = ws.engine()
    lines = eng.collect(line_days(eng, ws.settings, [as_of]).select("subscription_id", "account_id", "plan", "mrr_cents"))
    subs = eng.collect(eng.table("subscriptions").select("subscription_id", "start_date", "end_date", "canceled_at",
                                                         "billing_period_months"))
    j = lines.join(subs, on="subscription_id", how="left").filter(pl.col("billing_period_months") > 1)
    to = as_of + timedelta(days=days)
    risk = {r["account_id"]: r["risk"] for r in predict_score(ws, as_of=as_of, horizon=horizon)}
    names = _names(ws)
    out = []
    for r in j.sort("subscription_id").iter_rows(named=True):
        cancelled = r["canceled_at"] is not None and r["canceled_at"] <= as_of and r["end_date"] is not None
        due = r["end_date"] if cancelled else next_renewal(r["start_date"], r["billing_period_months"], as_of)
        if not (as_of < due <= to):
            continue
        mrr = r["mrr_cents"] / 100.0
        rk = 1.0 if cancelled else risk.get(r["account_id"])
        out.append({"renewal_date": due.isoformat(), "account_id": r["account_id"], "account_name": names.get(r["account_id"]),
                    "subscription_id": r["subscription_id"], "plan": r["plan"], "billing_period_months": r["billing_period_months"],
                    "mrr": mrr, "status": "cancellation recorded" if cancelled else "due",
                    "risk": rk, "mrr_at_risk": None if rk is None else mrr * rk})
    out.sort(key=lambda r: (r["renewal_date"], r["account_id"], r["subscription_id"]))
    return {"as_of": as_of.isoformat(), "from": (as_of + timedelta(days=1)).isoformat(), "to": to.isoformat(),
            "days": days, "horizon_months": horizon, "count": len(out),
            "mrr": sum(r["mrr"] for r in out), "mrr_at_risk": sum(r["mrr_at_risk"] or 0.0 for r in out),
            "renewals": out}
