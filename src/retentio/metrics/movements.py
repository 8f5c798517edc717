"""MRR movements (metrics.md §3) and the aggregates every rate is built from.

From the account-month snapshots A (account_id, month, mrr_cents > 0), each account and
month m gets s = MRR at the end of m-1 and e = MRR at the end of m, and one movement:
new, reactivation, expansion, contraction, churn (or flat).  The monthly totals and the
endpoint comparisons (NRR, GRR, customer churn over any span) are integer sums.
"""

from __future__ import annotations

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine

MOVEMENT_TYPES = ("new", "expansion", "contraction", "churn", "reactivation")


def movement_amount(kind: str, s, e):
    """The amount of a movement from the MRR at the start (s) and end (e) of its month: the
    one definition, used on engine expressions and on Python numbers alike."""
    return {"new": e, "reactivation": e, "churn": s, "expansion": e - s, "contraction": s - e}[kind]


def _i64(v: int) -> nw.Expr:
    return nw.lit(v, nw.Int64)


def account_movements(engine: Engine, settings: Settings, A: nw.LazyFrame, first: int, last: int) -> nw.LazyFrame:
    """account_id, month, s, e (cents), first_month, kind for months [first, last]; only
    rows where the account was a customer at one of the two snapshots."""
    cur = A.filter((nw.col("month") >= first) & (nw.col("month") <= last))
    prev = A.filter((nw.col("month") >= first - 1) & (nw.col("month") <= last - 1))
    mv = compare(cur, prev, 1)
    firsts = A.group_by("account_id").agg(nw.col("month").min().alias("first_month"))
    mv = mv.join(firsts, on="account_id", how="left")

    starting = (nw.col("s") == 0) & (nw.col("e") > 0)
    window = settings.metrics.reactivation_window_months
    if window > 0:
        # A return counts as a reactivation only if the account had MRR within the last
        # `window` months before its gap ended: some month p with m-1-window <= p < m-1.
        starts = mv.filter(starting).select("account_id", "month")
        recent = (
            starts.join(A.select("account_id", nw.col("month").alias("p")), on="account_id", how="inner")
            .filter((nw.col("p") < nw.col("month") - 1) & (nw.col("p") >= nw.col("month") - 1 - window))
            .select("account_id", "month")
            .unique()
            .with_columns(recent=nw.lit(True))
        )
        mv = mv.join(recent, on=["account_id", "month"], how="left")
        was_customer = ~nw.col("recent").is_null()
    else:
        was_customer = nw.col("first_month") < nw.col("month")

    kind = (
        nw.when(starting & was_customer)
        .then(nw.lit("reactivation"))
        .when(starting)
        .then(nw.lit("new"))
        .when((nw.col("s") > 0) & (nw.col("e") == 0))
        .then(nw.lit("churn"))
        .when((nw.col("s") > 0) & (nw.col("e") > nw.col("s")))
        .then(nw.lit("expansion"))
        .when((nw.col("e") > 0) & (nw.col("e") < nw.col("s")))
        .then(nw.lit("contraction"))
        .otherwise(nw.lit("flat"))
    )
    return mv.with_columns(kind=kind).select("account_id", "month", "s", "e", "first_month", "kind")


def _count(cond: nw.Expr) -> nw.Expr:
    return nw.when(cond).then(_i64(1)).otherwise(_i64(0)).sum().cast(nw.Int64)


def _sum_if(cond: nw.Expr, value: nw.Expr) -> nw.Expr:
    return nw.when(cond).then(value).otherwise(_i64(0)).sum().cast(nw.Int64)


def monthly_totals(mv: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    """Per month (and group keys): start/end MRR and customers, movement amounts and counts."""
    k = nw.col("kind")
    s, e = nw.col("s"), nw.col("e")
    return mv.group_by("month", *keys).agg(
        s.sum().cast(nw.Int64).alias("mrr_start"),
        e.sum().cast(nw.Int64).alias("mrr_end"),
        _count(s > 0).alias("customers_start"),
        _count(e > 0).alias("customers_end"),
        *[_sum_if(k == t, movement_amount(t, s, e)).alias(t) for t in ("new", "reactivation", "expansion", "contraction", "churn")],
        _count(k == "new").alias("n_new"),
        _count(k == "reactivation").alias("n_reactivation"),
        _count(k == "expansion").alias("n_expansion"),
        _count(k == "contraction").alias("n_contraction"),
        _count(k == "churn").alias("n_churn"),
        # the endpoint comparison of the month (S = customers at its start) ...
        _sum_if(s > 0, e).alias("s_end_mrr"),
        _sum_if(s > 0, nw.min_horizontal("s", "e")).alias("s_kept_mrr"),
        _count((s > 0) & (e > 0)).alias("s_retained"),
        _count((e > 0) & (s == 0)).alias("end_not_in_s"),
        # ... and the accounts that were customers at its start or end
        nw.len().cast(nw.Int64).alias("accounts"),
    )


def compare(cur: nw.LazyFrame, prev: nw.LazyFrame, lag: int) -> nw.LazyFrame:
    """Per account and month m of ``cur``: e = its MRR at m, s = its MRR at m - lag (from
    ``prev``), 0 where the account has none.  A full outer join (2-3x faster than stacking
    both and grouping, on DuckDB at 1 M accounts)."""
    e = cur.select("account_id", "month", nw.col("mrr_cents").alias("e"))
    s = prev.select("account_id", (nw.col("month") + lag).alias("month"), nw.col("mrr_cents").alias("s"))
    return e.join(s, on=["account_id", "month"], how="full").select(
        nw.coalesce("account_id", "account_id_right").alias("account_id"),
        nw.coalesce("month", "month_right").alias("month"),
        nw.col("s").fill_null(0).cast(nw.Int64).alias("s"),
        nw.col("e").fill_null(0).cast(nw.Int64).alias("e"),
    )


def lag_endpoints(A: nw.LazyFrame, end_months: list[int], lag: int) -> nw.LazyFrame:
    """Per account and end month m: s = MRR at the end of m - lag, e = MRR at the end of m.
    Columns account_id, month (= m), s, e; accounts that are customers at neither are absent."""
    return compare(
        A.filter(nw.col("month").is_in(end_months)),
        A.filter(nw.col("month").is_in([m - lag for m in end_months])),
        lag,
    )


def endpoint_totals(per_account: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    """S = customers at the start snapshot; per end month (rows of lag_endpoints), the sums
    NRR, GRR, customer churn and CRR need."""
    s, e = nw.col("s"), nw.col("e")
    in_s = s > 0
    return per_account.group_by("month", *keys).agg(
        _count(in_s).alias("s_customers"),
        _sum_if(in_s, s).alias("s_mrr"),
        _sum_if(in_s, e).alias("s_end_mrr"),
        _sum_if(in_s, nw.min_horizontal("s", "e")).alias("s_kept_mrr"),
        _count(in_s & (e > 0)).alias("s_retained"),
        _count(e > 0).alias("end_customers"),
        _count((e > 0) & ~in_s).alias("end_not_in_s"),
    )


__all__ = ["MOVEMENT_TYPES", "account_movements", "compare", "endpoint_totals", "lag_endpoints",
    "monthly_totals", "movement_amount"]
