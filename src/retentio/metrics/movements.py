"""MRR movements (metrics.md §3): their names, and the comparison of account snapshots at
two months (used on as-of lookups of the change table by segments and ``explain``).  The
movements themselves are computed from the change table (``changes.py``); the expansion
computation they replaced is the test oracle (``oracle.py``)."""

from __future__ import annotations

import narwhals as nw


MOVEMENT_TYPES = ("new", "expansion", "contraction", "churn", "reactivation", "fx")


def _i64(v: int) -> nw.Expr:
    return nw.lit(v, nw.Int64)


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
