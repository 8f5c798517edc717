"""Account lifecycle per month and the Customer Engagement Score (metrics.md §9, seed 004).

Usage of an account in a month = its active user-days: distinct (user, day) pairs with at
least one event.  Counted in the engine; the classification and the score are computed in
Python on the small account x month table.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, NamedTuple

import narwhals as nw

from retentio.config import Settings
from retentio.engagement._common import day_of, month_of
from retentio.usage_rollups import usage_daily, usage_daily_active
from retentio.engine import Engine, distinct
from retentio.errors import ConfigError
from retentio.metrics.periods import Period, month_end, month_label, month_start

if TYPE_CHECKING:
    import polars as pl

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


def capped_ratio(x: pl.Expr, ref: pl.Expr, *, higher_is_better: bool = True) -> pl.Expr:
    """min(x / ref, 1) (or 1 minus it when lower is better); ref 0: 1 when x > 0 else 0.  A
    Polars expression: the engagement score's parts are computed column-wise."""
    import polars as pl

    p = (pl.when(ref == 0).then(pl.when(x > 0).then(pl.lit(1.0)).otherwise(pl.lit(0.0)))
         .otherwise(pl.min_horizontal(x / ref, pl.lit(1.0))))
    return p if higher_is_better else pl.lit(1.0) - p


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
    frame = engagement_frame(engine, settings, period)
    unused = [c for c in USAGE_COMPONENTS if weights[c] > 0]
    rows = []
    for r in frame.iter_rows(named=True):
        rows.append({
            "month": month_label(r["month"]), "account_id": r["account_id"], "ces": r["ces"],
            # An account with no usage data at all has no usage components: they are named as
            # missing and the score is undefined, not computed as if it had used nothing.
            "missing_components": [] if r["used"] else list(unused),
            "active_user_days": r["logins"], "features_used": r["adoption"],
            "key_hours": r["key_time"] / 3_600_000, "tickets": r["tickets"],
            **{f"{c}_part": r[f"{c}_part"] for c in CES_COMPONENTS},
        })
    return {"period": period.label, "weights": weights, "rows": rows}


def engagement_frame(engine: Engine, settings: Settings, period: Period) -> pl.DataFrame:
    """The engagement score's account-months as one Polars frame, sorted by month and
    account: month (index), account_id, the raw components (logins, adoption, key_time,
    tickets), used (any usage by the end of the month), each component's part ``{c}_part`` and
    ``ces`` (null when the account never used the product and a usage component has weight).

    Computed column-wise (a loop of dicts per account-month cost 48 s and gigabytes for a
    health score at 1 M accounts); the arithmetic is that of :func:`capped_ratio` and of the
    weighted sum in the components' order, so the floats are those of a row-by-row computation
    (checked against one: equal on 465 k account-months of a 100 k-account book)."""
    import polars as pl

    weights = _ces_weights(settings)
    keys = list(settings.engagement.key_features)
    first_day, last_day = period.first_day, period.last_day
    # from the month before the period, as lifecycle and the health features ask it: one
    # entry of the engine's cache serves all three (the extra month is not in the population)
    usage, first_use = account_usage(engine, period.first - 1, period.last)
    ev = (
        usage_daily(engine)
        .filter((nw.col("day") >= nw.lit(first_day)) & (nw.col("day") <= nw.lit(last_day)))
        .with_columns(month_of("day").alias("month"))
    )
    kev = ev.filter(~nw.col("feature").is_null())
    if keys:
        kev = kev.filter(nw.col("feature").is_in(keys))
    parts = [
        engine.collect(ev.filter(~nw.col("feature").is_null()).select("account_id", "month", "feature").pipe(distinct)
                       .group_by("account_id", "month").agg(nw.len().cast(nw.Int64).alias("adoption"))),
        engine.collect(kev.group_by("account_id", "month").agg(nw.col("duration_ms").sum().cast(nw.Int64)
                                                               .alias("key_time"))),
        engine.collect(
            engine.table("tickets").with_columns(day_of("created_at").alias("day"))
            .filter((nw.col("day") >= nw.lit(first_day)) & (nw.col("day") <= nw.lit(last_day)))
            .with_columns(month_of("day").alias("month"))
            .group_by("account_id", "month").agg(nw.len().cast(nw.Int64).alias("tickets"))),
    ]
    customers = _customer_months(engine, settings, period)
    months = set(period.months)
    # each month's population: customers at its end and accounts with usage in it
    pop = list({(a, m) for (a, m) in itertools.chain(customers, usage) if m in months})  # sorted at the end
    keys_schema = {"account_id": pl.String, "month": pl.Int64}
    df = pl.DataFrame({"account_id": [a for a, _ in pop], "month": [m for _, m in pop]}, schema=keys_schema)
    df = df.join(pl.DataFrame({"account_id": [a for a, _ in usage], "month": [m for _, m in usage],
                               "logins": list(usage.values())}, schema={**keys_schema, "logins": pl.Int64}),
                 on=["account_id", "month"], how="left")
    for part in parts:
        df = df.join(part.with_columns(pl.col("month").cast(pl.Int64)), on=["account_id", "month"], how="left")
    # "used": any usage by the end of the row's month, not by the period's end (a month's
    # score must not depend on what the account did after it: a period's rows are those of
    # its months asked one by one)
    firsts = pl.DataFrame({"account_id": list(first_use), "_first_use": list(first_use.values())},
                          schema={"account_id": pl.String, "_first_use": pl.Int64})
    df = (df.join(firsts, on="account_id", how="left")
          .with_columns(pl.col(*CES_COMPONENTS).fill_null(0).cast(pl.Int64),
                        (pl.col("_first_use") <= pl.col("month")).fill_null(False).alias("used"))
          .drop("_first_use"))
    # the month's reference of each component: the nearest-rank 90th percentile (the
    # ceil(0.9 n)-th smallest value, as quantile_nearest_rank) over the month's population
    rank = ((pl.len() * 0.9).ceil().cast(pl.Int64).clip(lower_bound=1) - 1)
    refs = df.group_by("month").agg(*[pl.col(c).sort().get(rank).alias(f"_ref_{c}") for c in CES_COMPONENTS])
    df = df.join(refs, on="month", how="left")

    df = df.with_columns(*[capped_ratio(pl.col(c), pl.col(f"_ref_{c}"), higher_is_better=(c != "tickets"))
                           .alias(f"{c}_part") for c in CES_COMPONENTS])
    total = pl.lit(weights[CES_COMPONENTS[0]]) * pl.col(f"{CES_COMPONENTS[0]}_part")
    for c in CES_COMPONENTS[1:]:  # summed in the components' order, as sum() over them
        total = total + pl.lit(weights[c]) * pl.col(f"{c}_part")
    undefined = ~pl.col("used") if any(weights[c] > 0 for c in USAGE_COMPONENTS) else pl.lit(False)
    df = df.with_columns(pl.when(undefined).then(pl.lit(None, pl.Float64)).otherwise(pl.lit(100.0) * total).alias("ces"))
    return df.drop([f"_ref_{c}" for c in CES_COMPONENTS]).sort("month", "account_id")


__all__ = ["AccountUsage", "CES_COMPONENTS", "STATUSES", "USAGE_COMPONENTS", "account_usage", "capped_ratio", "classify",
    "engagement_frame", "engagement_score", "lifecycle"]
