"""Account lifecycle per month and the Customer Engagement Score (metrics.md §9, seed 004).

Usage of an account in a month = its active user-days: distinct (user, day) pairs with at
least one event.  Counted in the engine; the classification and the score are computed in
Python on the small account x month table.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import narwhals as nw

from retentio.config import Settings
from retentio.engagement._common import day_of, month_of, quantile_nearest_rank
from retentio.usage_rollups import usage_daily, usage_daily_active
from retentio.engine import Engine
from retentio.errors import ConfigError
from retentio.metrics.periods import Period, month_end, month_label, month_start

STATUSES = ("new", "active", "at_risk", "resurrected", "dormant", "never_active")
CES_COMPONENTS = ("logins", "adoption", "key_time", "tickets")
USAGE_COMPONENTS = ("logins", "adoption", "key_time")  # read from usage events


def _customer_months(engine: Engine, settings: Settings, period: Period) -> set[tuple[str, int]]:
    from retentio.metrics.mrr import account_month_mrr

    cm = engine.collect(
        account_month_mrr(engine, settings, last=period.last)
        .filter((nw.col("month") >= period.first - 1) & (nw.col("month") <= period.last))
        .select("account_id", "month")
    )
    return {(r["account_id"], int(r["month"])) for r in cm.to_dicts()}


class AccountUsage(NamedTuple):
    """Active user-days per (account, month index) for the months asked, and each account's
    first month with usage up to the last of them."""

    user_days: dict[tuple[str, int], int]
    first_use: dict[str, int]


def account_usage(engine: Engine, first: int, last: int) -> AccountUsage:
    """The active user-days per account of the months ``first``..``last`` (month indexes) and
    the first month with usage of every account that has used the product by ``last``.

    Only the months asked come to Python (and one month per account): a dict of every
    account-month of the history was most of the memory of a health score on a large book.
    Kept in the engine's bounded cache (``Engine.cached``: an engine is dropped when its
    workspace's data changes)."""
    return engine.cached(("account_usage", first, last), lambda: _account_usage(engine, first, last),
                         lambda _usage: [])


def _account_usage(engine: Engine, first: int, last: int) -> AccountUsage:
    daily = usage_daily_active(engine).filter(nw.col("day") <= nw.lit(month_end(last)))
    months = engine.collect(  # the per-account daily active users summed over the month's days
        daily.filter(nw.col("day") >= nw.lit(month_start(first)))
        .with_columns(month_of("day").alias("month"))
        .group_by("account_id", "month")
        .agg(nw.col("users").sum().cast(nw.Int64).alias("user_days"))
    )
    firsts = engine.collect(daily.group_by("account_id").agg(nw.col("day").min().alias("first_day"))
                            .select("account_id", month_of("first_day").alias("month")))
    return AccountUsage(
        {(a, int(m)): int(u) for a, m, u in months.select("account_id", "month", "user_days").iter_rows()},
        {a: int(m) for a, m in firsts.select("account_id", "month").iter_rows()},
    )


def classify(u_now: int, u_prev: int, used_before: bool, customer: bool, drop: float) -> str | None:
    """The lifecycle status of one account-month (None: not listed, i.e. neither a customer
    nor active that month).  ``used_before``: any usage in an earlier month."""
    if u_now > 0:
        if not used_before:
            return "new"
        if u_prev == 0:
            return "resurrected"
        if u_now < (1 - drop) * u_prev:
            return "at_risk"
        return "active"
    if not customer:
        return None
    return "dormant" if used_before else "never_active"


def lifecycle(engine: Engine, settings: Settings, period: Period) -> dict[str, Any]:
    drop = settings.engagement.at_risk_drop
    usage, first_use = account_usage(engine, period.first - 1, period.last)
    customers = _customer_months(engine, settings, period)
    accounts = sorted(set(first_use) | {a for a, _ in customers})
    rows = []
    summary = {m: {s: 0 for s in STATUSES} for m in period.months}
    for m in period.months:
        for a in accounts:
            u = usage.get((a, m), 0)
            st = classify(u, usage.get((a, m - 1), 0), a in first_use and first_use[a] < m, (a, m) in customers, drop)
            if st is None:
                continue
            summary[m][st] += 1
            rows.append({"month": month_label(m), "account_id": a, "status": st, "user_days": u,
                         "user_days_previous_month": usage.get((a, m - 1), 0), "customer": (a, m) in customers})
    return {
        "period": period.label,
        "at_risk_drop": drop,
        "summary": [{"month": month_label(m), **summary[m]} for m in period.months],
        "accounts": rows,
    }


def _ces_weights(settings: Settings) -> dict[str, float]:
    w = dict(settings.engagement.ces_weights)
    unknown = sorted(set(w) - set(CES_COMPONENTS))
    if unknown:
        raise ConfigError(
            f"retentio.toml: engagement.ces_weights has unknown component(s) {', '.join(unknown)}",
            hint="use only: " + ", ".join(CES_COMPONENTS),
        )
    if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
        raise ConfigError("retentio.toml: engagement.ces_weights must be >= 0 and not all 0",
                          hint='e.g. {logins = 0.35, adoption = 0.25, key_time = 0.25, tickets = 0.15}')
    total = sum(w.values())
    return {k: w.get(k, 0.0) / total for k in CES_COMPONENTS}


def capped_ratio(x: float, ref: float | None, *, higher_is_better: bool = True) -> float:
    """min(x / ref, 1) (or 1 minus it when lower is better); ref 0: 1 when x > 0 else 0."""
    if not ref:
        p = 1.0 if x > 0 else 0.0
    else:
        p = min(x / ref, 1.0)
    return p if higher_is_better else 1.0 - p


def engagement_score(engine: Engine, settings: Settings, period: Period) -> dict[str, Any]:
    """Customer Engagement Score 0-100 per account and month (see docs/metrics-engagement.md).

    Components of an account-month: logins = active user-days; adoption = distinct features
    used; key_time = milliseconds on key features (all features when none is set);
    tickets = tickets opened.  Each is scaled by the month's reference, the 90th percentile
    (nearest rank) over the month's population (customers at the month end and accounts with
    usage that month): p = min(x / P90, 1); tickets: p = 1 - min(x / P90, 1).
    CES = 100 x sum(weight x p) with the weights normalised to sum 1.
    """
    weights = _ces_weights(settings)
    keys = list(settings.engagement.key_features)
    first_day, last_day = period.first_day, period.last_day
    usage, first_use = account_usage(engine, period.first, period.last)
    ev = (
        usage_daily(engine)
        .filter((nw.col("day") >= nw.lit(first_day)) & (nw.col("day") <= nw.lit(last_day)))
        .with_columns(month_of("day").alias("month"))
    )
    feats = engine.collect(
        ev.filter(~nw.col("feature").is_null()).select("account_id", "month", "feature").unique()
        .group_by("account_id", "month").agg(nw.len().cast(nw.Int64).alias("features"))
    )
    kev = ev.filter(~nw.col("feature").is_null())
    if keys:
        kev = kev.filter(nw.col("feature").is_in(keys))
    ktime = engine.collect(
        kev.group_by("account_id", "month").agg(nw.col("duration_ms").sum().cast(nw.Int64).alias("ms"))
    )
    tk = engine.collect(
        engine.table("tickets").with_columns(day_of("created_at").alias("day"))
        .filter((nw.col("day") >= nw.lit(first_day)) & (nw.col("day") <= nw.lit(last_day)))
        .with_columns(month_of("day").alias("month"))
        .group_by("account_id", "month").agg(nw.len().cast(nw.Int64).alias("tickets"))
    )
    F = {(r["account_id"], int(r["month"])): int(r["features"]) for r in feats.to_dicts()}
    K = {(r["account_id"], int(r["month"])): int(r["ms"]) for r in ktime.to_dicts()}
    T = {(r["account_id"], int(r["month"])): int(r["tickets"]) for r in tk.to_dicts()}
    customers = _customer_months(engine, settings, period)
    ever_used = first_use  # accounts with any usage event up to the period's end
    # each month's population (customers at its end and accounts with usage in it), indexed
    # once: scanning every account-month of the history for each month was quadratic in it
    population: dict[int, set[str]] = {m: set() for m in period.months}
    for (a, mm) in itertools.chain(customers, usage):
        if mm in population:
            population[mm].add(a)
    rows = []
    for m in period.months:
        pop = sorted(population[m])
        if not pop:
            continue
        raw = {a: {"logins": usage.get((a, m), 0), "adoption": F.get((a, m), 0), "key_time": K.get((a, m), 0),
                   "tickets": T.get((a, m), 0)} for a in pop}
        ref = {c: quantile_nearest_rank([raw[a][c] for a in pop], 0.9) for c in CES_COMPONENTS}
        for a in pop:
            parts = {c: capped_ratio(raw[a][c], ref[c], higher_is_better=(c != "tickets")) for c in CES_COMPONENTS}
            # An account with no usage data at all has no usage components: they are named as
            # missing and the score is undefined, not computed as if it had used nothing.
            missing = [] if a in ever_used else [c for c in USAGE_COMPONENTS if weights[c] > 0]
            score = None if missing else 100.0 * sum(weights[c] * parts[c] for c in CES_COMPONENTS)
            rows.append({
                "month": month_label(m), "account_id": a, "ces": score, "missing_components": missing,
                "active_user_days": raw[a]["logins"], "features_used": raw[a]["adoption"],
                "key_hours": raw[a]["key_time"] / 3_600_000, "tickets": raw[a]["tickets"],
                **{f"{c}_part": parts[c] for c in CES_COMPONENTS},
            })
    return {"period": period.label, "weights": weights, "rows": rows}


__all__ = ["AccountUsage", "CES_COMPONENTS", "STATUSES", "USAGE_COMPONENTS", "capped_ratio", "classify", "engagement_score",
    "account_usage", "lifecycle"]
