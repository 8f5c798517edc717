"""The expansion oracle: the previous computation of every revenue figure, kept to test the
change-point one (``changes.py``) against it.

It expands every paid line over every month (lines x months), sums per account and month
into the account-month snapshots A, and compares each account's snapshots month by month.
It is slow (accounts x months) but obviously right; tests/metrics/test_change_points.py
proves on random books that both give equal figures, movements and cohorts on every engine.
Nothing in the product calls this module.
"""

from __future__ import annotations

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine, distinct
from retentio.metrics import kpis
from retentio.metrics.changes import MOVEMENT_FIELDS, fold_kind_sums, kind_sums
from retentio.metrics.movements import account_movements, cc_account_months, lag_endpoints
from retentio.metrics.mrr import account_months
from retentio.metrics.periods import Period


def _i64(v: int) -> nw.Expr:
    return nw.lit(v, nw.Int64)


def _count(cond: nw.Expr) -> nw.Expr:
    return nw.when(cond).then(_i64(1)).otherwise(_i64(0)).sum().cast(nw.Int64)


def _sum_if(cond: nw.Expr, value: nw.Expr) -> nw.Expr:
    return nw.when(cond).then(value).otherwise(_i64(0)).sum().cast(nw.Int64)


def monthly_totals(mv: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    s, e, ecc = nw.col("s"), nw.col("e"), nw.col("ecc")
    return mv.group_by("month", *keys).agg(
        s.sum().cast(nw.Int64).alias("mrr_start"),
        e.sum().cast(nw.Int64).alias("mrr_end"),
        _count(s > 0).alias("customers_start"),
        _count(e > 0).alias("customers_end"),
        _sum_if(s > 0, e).alias("s_end_mrr"),
        _sum_if(s > 0, nw.min_horizontal("s", "e")).alias("s_kept_mrr"),
        _sum_if(s > 0, ecc).alias("s_end_mrr_cc"),
        _sum_if(s > 0, nw.min_horizontal("s", "ecc")).alias("s_kept_mrr_cc"),
        _count((s > 0) & (e > 0)).alias("s_retained"),
        _count((e > 0) & (s == 0)).alias("end_not_in_s"),
        nw.len().cast(nw.Int64).alias("accounts"),
    )


def endpoint_totals(per_account: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    s, e = nw.col("s"), nw.col("e")
    in_s = s > 0
    return per_account.group_by("month", *keys).agg(
        _count(in_s).alias("s_customers"),
        _sum_if(in_s, s).alias("s_mrr"),
        _sum_if(in_s, e).alias("s_end_mrr"),
        _sum_if(in_s, nw.min_horizontal("s", "e")).alias("s_kept_mrr"),
        _sum_if(in_s, nw.col("ecc")).alias("s_end_mrr_cc"),
        _sum_if(in_s, nw.min_horizontal("s", "ecc")).alias("s_kept_mrr_cc"),
        _count(in_s & (e > 0)).alias("s_retained"),
        _count(e > 0).alias("end_customers"),
        _count((e > 0) & ~in_s).alias("end_not_in_s"),
    )


class ExpansionBook(kpis.Book):
    """A book whose snapshots are the expansion A (accounts x months)."""

    @classmethod
    def load(cls, engine: Engine, settings: Settings, last: int, filters: dict[str, str] | None = None) -> "ExpansionBook":
        book = cls._load(engine, settings, last, filters)
        book.rollups = None  # the oracle sums everything itself, never the stored month sums
        lo = book.first if book.first is not None else last
        book.EA = engine.materialize(account_months(engine, settings, min(lo, last), last))
        if book.keep is not None:
            book.EA = engine.materialize(book.EA.join(book.keep, on="account_id", how="semi"))
        return book


def _aggregates(book: ExpansionBook, buckets: list[Period], wg, lo: int, hi: int):
    engine, settings = book.engine, book.settings
    A = book.EA
    mv = account_movements(engine, settings, A, lo, hi)
    monthly = engine.collect(monthly_totals(wg(mv), wg.keys))
    zero = _i64(0)
    moves = fold_kind_sums(engine.rows(kind_sums(wg(mv).with_columns(arr=zero, arr_prev=zero), wg.keys)), wg.keys)
    by_month: dict[tuple, dict] = {}
    for row in monthly.iter_rows(named=True):
        key = (row.get("grp"), int(row["month"]))
        got = moves.get(key) or {}
        by_month[key] = {**row, **{k: got.get(k, 0) for k in MOVEMENT_FIELDS}}
    # ARR per account clipped at 0 like MRR (a discount never makes it negative)
    lo_arr = min(lo, hi)
    arr = engine.collect(
        wg(book.lines_at(lo_arr, hi).group_by("account_id", "month").agg(
            nw.col("arr_cents").sum().cast(nw.Int64).alias("a")).filter(nw.col("a") > 0))
        .group_by("month", *wg.keys).agg(nw.col("a").sum().cast(nw.Int64).alias("arr"))
    )
    arr_of = {(r.get("grp"), int(r["month"])): int(r["arr"]) for r in arr.iter_rows(named=True)}
    for key, row in by_month.items():
        row["arr_end"] = arr_of.get(key, 0)

    endpoints: dict[tuple, dict] = {}
    for lag, bs in kpis.multi_month_lags(buckets).items():
        ends = [b.last for b in bs]
        pe = lag_endpoints(A, ends, lag)
        ecc = cc_account_months(engine, settings, min(ends), max(ends), lag)
        pe = pe.join(ecc, on=["account_id", "month"], how="left").with_columns(
            ecc=nw.when((nw.col("s") > 0) & (nw.col("e") > 0)).then(nw.col("ecc").fill_null(0)).otherwise(nw.col("e")))
        rows = engine.collect(endpoint_totals(wg(pe), wg.keys))
        label = {b.last: b.label for b in bs}
        for row in rows.iter_rows(named=True):
            endpoints[(row.get("grp"), label[int(row["month"])])] = row
    pe = lag_endpoints(A, [b.last for b in buckets], 12).with_columns(ecc=nw.col("e"))
    t12 = engine.collect(endpoint_totals(wg(pe), wg.keys))
    label_of_end = {b.last: b.label for b in buckets}
    for row in t12.iter_rows(named=True):
        endpoints[(row.get("grp"), "T12:" + label_of_end[int(row["month"])])] = row

    served_map: dict[tuple, int] = {}
    for b in buckets:
        if b.n_months > 1:
            uniq = wg(A.filter((nw.col("month") >= b.first - 1) & (nw.col("month") <= b.last)).select("account_id").pipe(distinct))
            count = nw.len().cast(nw.Int64).alias("served")
            served = engine.collect(uniq.group_by(*wg.keys).agg(count) if wg.keys else uniq.select(count))
            for r in served.iter_rows(named=True):
                served_map[(r.get("grp"), b.label)] = int(r["served"])

    def end_values(pairs: nw.LazyFrame) -> nw.LazyFrame:
        return pairs.join(A.select("account_id", "month", "mrr_cents"), on=["account_id", "month"], how="inner")

    return by_month, endpoints, served_map, end_values


def compute(engine: Engine, settings: Settings, buckets: list[Period], *, by: str | None = None,
            filters: dict[str, str] | None = None) -> list[dict]:
    """kpis.compute by the expansion."""
    if not buckets:
        return []
    book = ExpansionBook.load(engine, settings, max(b.last for b in buckets), filters)
    kpis._check_by(buckets, by)
    return kpis.finish(book, buckets, by, _aggregates)


def metrics_series(engine: Engine, settings: Settings, period: str) -> list[dict]:
    from retentio.metrics.periods import parse_period

    p = parse_period(period)
    return compute(engine, settings, [Period.month(m) for m in p.months])


def movement_rows(engine: Engine, settings: Settings, first: int, last: int,
                  filters: dict[str, str] | None = None) -> nw.LazyFrame:
    """account_id, month, s, e, ecc, fx, kind of every account-month of [first, last] by the expansion."""
    book = ExpansionBook.load(engine, settings, last, filters)
    return account_movements(engine, settings, book.EA, first, last)


def cohort_cells(engine: Engine, settings: Settings, last: int) -> dict[tuple[int, int], tuple[int, int]]:
    """{(cohort month, age): (mrr cents, logos)} of the monthly cohorts by the expansion."""
    book = ExpansionBook.load(engine, settings, last)
    A = book.EA
    A = A.join(A.group_by("account_id").agg(nw.col("month").min().alias("cohort")), on="account_id")
    cells = engine.collect(
        A.with_columns(age=nw.col("month") - nw.col("cohort")).group_by("cohort", "age").agg(
            nw.col("mrr_cents").sum().cast(nw.Int64).alias("mrr"), nw.len().cast(nw.Int64).alias("logos"))
    )
    return {(int(r["cohort"]), int(r["age"])): (int(r["mrr"]), int(r["logos"])) for r in cells.iter_rows(named=True)}
