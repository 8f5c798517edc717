"""Every revenue and retention figure of metrics.md §1-§6 for one or many periods.

The engine computes integer aggregates (cents, counts) per month, per endpoint pair and
per bucket; this module turns them into figures with plain Python arithmetic, once, for
every engine.  A "bucket" is a reported period: the requested one, or each of its months
for a time series.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine
from retentio.figures import NONE_GROUP, assemble, assess, evaluate, safe_div
from retentio.metrics.costs import cost_cents
from retentio.metrics.movements import (
    MOVEMENT_TYPES,
    account_movements,
    endpoint_totals,
    lag_endpoints,
    monthly_totals,
)
from retentio.metrics.mrr import history_first_month, line_months
from retentio.metrics.periods import Period, month_label
from retentio.metrics.renewals import bucket_frame, renewal_lines, trial_accounts
from retentio.metrics.registry import METRICS, RevenueAggregates
from retentio.metrics.segments import cohort_label_to_key, group_frame

MONTHLY_FIELDS = (
    "mrr_start", "mrr_end", "customers_start", "customers_end", "new", "reactivation", "expansion",
    "contraction", "churn", "n_new", "n_reactivation", "n_expansion", "n_contraction", "n_churn",
)
ENDPOINT_FIELDS = ("s_customers", "s_mrr", "s_end_mrr", "s_kept_mrr", "s_retained", "end_customers", "end_not_in_s")


@dataclass
class Book:
    """The account-month snapshots of a workspace up to a month, computed once and reused."""

    engine: Engine
    settings: Settings
    last: int
    first: int | None = None
    A: nw.LazyFrame | None = None
    lines: nw.LazyFrame | None = None
    subs: nw.LazyFrame | None = None
    filtered: bool = False  # restricted by filters: costs are then not attributed
    tables: list = field(default_factory=list)  # materialised intermediates it holds

    @classmethod
    def load(cls, engine: Engine, settings: Settings, last: int, filters: dict[str, str] | None = None) -> "Book":
        """The book up to month ``last``, computed once per engine, settings and filters (an
        engine is dropped when its workspace's data changes, and its books with it)."""
        key = ("book", settings.model_dump_json(), last, tuple(sorted((filters or {}).items())))
        return engine.cached(key, lambda: cls._load(engine, settings, last, filters), lambda book: book.tables)

    @classmethod
    def _load(cls, engine: Engine, settings: Settings, last: int, filters: dict[str, str] | None) -> "Book":
        with engine.scratch() as made:
            book = cls._build(engine, settings, last, filters)
            book.tables = engine.keep(made)  # held while the book is cached
        return book

    @classmethod
    def _build(cls, engine: Engine, settings: Settings, last: int, filters: dict[str, str] | None) -> "Book":
        book = cls(engine, settings, last)
        book.first = history_first_month(engine)
        book.subs = engine.table("subscriptions")
        lo = book.first if book.first is not None else last
        lo = min(lo, last)
        # Line-months stay lazy (they are wide and large: lines x months); only the narrow
        # account-month snapshot is stored, and the FX check runs on the lines alone.
        book.lines = line_months(engine, settings, lo, last)
        from retentio.metrics.mrr import check_fx_lines

        check_fx_lines(engine, settings, lo, last)
        book.A = engine.materialize(
            book.lines.group_by("account_id", "month")
            .agg(nw.col("mrr_cents").sum().cast(nw.Int64).alias("mrr_cents"))
            .filter(nw.col("mrr_cents") > 0)
        )
        if filters:
            book._apply_filters(filters)
        return book

    def _apply_filters(self, filters: dict[str, str]) -> None:
        # Filters on derived attributes (touch, plan) are judged at the book's last month.
        keep = None
        for attr, value in filters.items():
            if attr.strip().lower() == "cohort":
                value = cohort_label_to_key(value)
            g = group_frame(self.engine, self.settings, attr, self.A, self.lines, self.last - 1, self.last)
            ids = g.filter(nw.col("grp") == str(value)).select("account_id")
            keep = ids if keep is None else keep.join(ids, on="account_id", how="semi")
        assert keep is not None
        keep = self.engine.materialize(keep)
        self.A = self.engine.materialize(self.A.join(keep, on="account_id", how="semi"))
        self.lines = self.lines.join(keep, on="account_id", how="semi")
        self.subs = self.subs.join(keep, on="account_id", how="semi")
        self.filtered = True


def compute(
    engine: Engine,
    settings: Settings,
    buckets: list[Period],
    *,
    by: str | None = None,
    filters: dict[str, str] | None = None,
) -> list[dict]:
    """Figures for each bucket (and each group when ``by`` is given).

    Returns one dict per bucket; with ``by``, each dict has ``groups``: {value: figures}.
    """
    if not buckets:
        return []
    last = max(b.last for b in buckets)
    book = Book.load(engine, settings, last, filters)
    return _compute(book, buckets, by=by)


def compute_aggregates(
    engine: Engine, settings: Settings, period: Period, *, filters: dict[str, str] | None = None
) -> RevenueAggregates:
    """The aggregates of one period (what ``explain`` shows as a figure's inputs)."""
    book = Book.load(engine, settings, period.last, filters)
    return _compute(book, [period], by=None, raw=True)[0]


def _compute(book: Book, buckets: list[Period], *, by: str | None, raw: bool = False) -> list:
    engine, settings = book.engine, book.settings
    window = settings.metrics.ltv_churn_window_months
    lo = min(min(b.first for b in buckets), min(b.last for b in buckets) - window + 1)
    hi = max(b.last for b in buckets)

    group_lf = None
    keys: list[str] = []
    if by:
        if len(buckets) != 1:
            from retentio.errors import UsageError

            raise UsageError("by works on one period, not on a time series", hint="drop by, or give one period",
                             details={"parameter": "by"})
        b = buckets[0]
        group_lf = engine.materialize(
            group_frame(engine, settings, by, book.A, book.lines, b.start_snapshot, b.last)
        )
        keys = ["grp"]

    def with_group(lf: nw.LazyFrame) -> nw.LazyFrame:
        if group_lf is None:
            return lf
        return lf.join(group_lf, on="account_id", how="left").with_columns(
            grp=nw.when(nw.col("grp").is_null()).then(nw.lit(NONE_GROUP)).otherwise(nw.col("grp"))
        )

    # 1. monthly movements and totals; for one-month buckets they also hold the endpoint
    #    comparison (S = customers at the start of the month) and the customers served.
    mv = account_movements(engine, settings, book.A, lo, hi)
    monthly = engine.collect(monthly_totals(with_group(mv), keys))
    by_month: dict[tuple, dict] = {}
    for row in monthly.iter_rows(named=True):
        by_month[(row.get("grp"), int(row["month"]))] = row

    # 2. endpoints of longer buckets, and the trailing twelve months ending with each bucket:
    #    one pass per lag comparing each end month with the month `lag` before it.
    endpoints: dict[tuple, dict] = {}
    for b in buckets:
        if b.n_months == 1:
            for (g, m), row in by_month.items():
                if m == b.last:
                    endpoints[(g, b.label)] = {
                        "s_customers": row["customers_start"], "s_mrr": row["mrr_start"], "s_end_mrr": row["s_end_mrr"],
                        "s_kept_mrr": row["s_kept_mrr"], "s_retained": row["s_retained"],
                        "end_customers": row["customers_end"], "end_not_in_s": row["end_not_in_s"],
                    }
    lags: dict[int, list[Period]] = {}
    for b in buckets:
        if b.n_months > 1:
            lags.setdefault(b.n_months, []).append(b)
    for lag, bs in lags.items():
        rows = engine.collect(endpoint_totals(with_group(lag_endpoints(book.A, [b.last for b in bs], lag)), keys))
        label = {b.last: b.label for b in bs}
        for row in rows.iter_rows(named=True):
            endpoints[(row.get("grp"), label[int(row["month"])])] = row
    t12 = engine.collect(endpoint_totals(with_group(lag_endpoints(book.A, [b.last for b in buckets], 12)), keys))
    label_of_end = {b.last: b.label for b in buckets}
    for row in t12.iter_rows(named=True):
        endpoints[(row.get("grp"), "T12:" + label_of_end[int(row["month"])])] = row

    # 3. renewals, trials, distinct customers served, per bucket
    bf = bucket_frame(engine, [(b.label, b.first, b.last) for b in buckets])
    renewable = engine.materialize(renewal_lines(engine, settings, book.subs, bf))
    ren = engine.collect(
        with_group(renewable)
        .group_by("key", *keys)
        .agg(
            nw.len().cast(nw.Int64).alias("renewable"),
            nw.col("renewed").cast(nw.Int64).sum().cast(nw.Int64).alias("renewed"),
        )
    )
    renewals = {(r.get("grp"), r["key"]): r for r in ren.iter_rows(named=True)}
    renewed_accounts = renewable.filter(nw.col("renewed")).select("key", "account_id").unique()
    end_mrr = book.A.join(
        bf.select("key", nw.col("b_last").alias("month")).unique(), on="month", how="inner"
    ).select(
        "key", "account_id", "mrr_cents"
    )
    rmrr = engine.collect(
        with_group(renewed_accounts.join(end_mrr, on=["key", "account_id"], how="inner"))
        .group_by("key", *keys)
        .agg(nw.col("mrr_cents").sum().cast(nw.Int64).alias("renewed_mrr"))
    )
    renewed_mrr = {(r.get("grp"), r["key"]): int(r["renewed_mrr"]) for r in rmrr.iter_rows(named=True)}
    tri = engine.collect(
        with_group(trial_accounts(engine, settings, book.subs, bf))
        .group_by("key", *keys)
        .agg(nw.len().cast(nw.Int64).alias("trials"), nw.col("converted").cast(nw.Int64).sum().cast(nw.Int64).alias("converted"))
    )
    trials = {(r.get("grp"), r["key"]): r for r in tri.iter_rows(named=True)}
    served_map: dict[tuple, int] = {}
    for b in buckets:
        if b.n_months == 1:
            for (g, m), row in by_month.items():
                if m == b.last:
                    served_map[(g, b.label)] = int(row["accounts"])
        else:
            uniq = with_group(
                book.A.filter((nw.col("month") >= b.first - 1) & (nw.col("month") <= b.last)).select("account_id").unique()
            )
            count = nw.len().cast(nw.Int64).alias("served")
            served = engine.collect(uniq.group_by(*keys).agg(count) if keys else uniq.select(count))
            for r in served.iter_rows(named=True):
                served_map[(r.get("grp"), b.label)] = int(r["served"])
    ends = sorted(label_of_end)
    arr = engine.collect(
        with_group(book.lines.filter(nw.col("month").is_in(ends)))
        .group_by("month", *keys)
        .agg(nw.col("arr_cents").sum().cast(nw.Int64).alias("arr"))
    )
    arr_map = {(r.get("grp"), label_of_end[int(r["month"])]): int(r["arr"]) for r in arr.iter_rows(named=True)}

    # 4. costs are company-wide: not attributed to segments or filtered books
    costs = None
    if not by and not book.filtered:
        costs = cost_cents(engine, settings, min(b.first for b in buckets), hi)

    if by:
        groups = sorted({g for (g, _m) in by_month} | {g for (g, _k) in endpoints})
        b = buckets[0]
        out = {}
        for g in groups:
            label = month_label(int(g)) if by.strip().lower() == "cohort" and g != NONE_GROUP else g
            out[label] = _figures(b, g, settings, by_month, endpoints, renewals, renewed_mrr, trials, served_map, arr_map, None)
        return [{"period": b.label, "by": by, "groups": out}]
    make = aggregates if raw else _figures
    return [
        make(b, None, settings, by_month, endpoints, renewals, renewed_mrr, trials, served_map, arr_map, costs)
        for b in buckets
    ]


def _month_row(by_month: dict, g, m: int) -> dict:
    return by_month.get((g, m)) or {f: 0 for f in MONTHLY_FIELDS}


def _figures(
    b: Period, g, settings: Settings, by_month, endpoints, renewals, renewed_mrr, trials, served_map, arr_map, costs
) -> dict:
    agg = aggregates(b, g, settings, by_month, endpoints, renewals, renewed_mrr, trials, served_map, arr_map, costs)
    return figures_of_aggregates(agg, b.label, settings.workspace.base_currency)


def figures_of_aggregates(agg: RevenueAggregates, label: str, currency: str) -> dict:
    """The figures of one period from its aggregates, as the registry defines them."""
    defs = list(METRICS.values())
    values = evaluate(defs, agg.to_dict())
    out = assemble(defs, values, {"period": label, "currency": currency},
                   null_groups=("costs",) if agg.costs_cents is None else ())
    out["benchmarks"] = assess(defs, values)
    return out


def aggregates(
    b: Period, g, settings: Settings, by_month, endpoints, renewals, renewed_mrr, trials, served_map, arr_map, costs
) -> RevenueAggregates:
    """What the engine summed for bucket ``b`` (and group ``g``), in one frozen object."""
    ms = settings.metrics
    months = [_month_row(by_month, g, m) for m in b.months]
    tot = {f: sum(int(r[f]) for r in months) for f in ("new", "reactivation", "expansion", "contraction", "churn",
                                                      "n_new", "n_reactivation", "n_churn")}
    first_row, last_row = months[0], months[-1]
    ep = endpoints.get((g, b.label)) or {f: 0 for f in ENDPOINT_FIELDS}
    t12 = endpoints.get((g, "T12:" + b.label)) or {f: 0 for f in ENDPOINT_FIELDS}

    # monthly customer churn over the LTV window ending with the bucket's last month
    window_rates = []
    for m in range(b.last - ms.ltv_churn_window_months + 1, b.last + 1):
        r = _month_row(by_month, g, m)
        if int(r["customers_start"]) > 0:
            window_rates.append(int(r["n_churn"]) / int(r["customers_start"]))
    cost = None
    if costs is not None:
        cost = {}
        for (m, cat), cents in costs.items():
            if b.first <= m <= b.last:
                cost[cat] = cost.get(cat, 0) + cents
        cost = dict(sorted(cost.items()))
    ren = renewals.get((g, b.label)) or {"renewable": 0, "renewed": 0}
    tri = trials.get((g, b.label)) or {"trials": 0, "converted": 0}
    return RevenueAggregates(
        n_months=b.n_months,
        mrr_cents=int(last_row["mrr_end"]),
        arr_cents=arr_map.get((g, b.label), 0),
        customers=int(last_row["customers_end"]),
        mrr_start_cents=int(first_row["mrr_start"]),
        customers_start=int(first_row["customers_start"]),
        **{f"{t}_cents": tot[t] for t in MOVEMENT_TYPES},
        n_new=tot["n_new"], n_churn=tot["n_churn"], n_reactivation=tot["n_reactivation"],
        s_customers=ep["s_customers"], s_mrr_cents=ep["s_mrr"], s_end_mrr_cents=ep["s_end_mrr"],
        s_kept_mrr_cents=ep["s_kept_mrr"], s_retained=ep["s_retained"], s_lost=ep["s_customers"] - ep["s_retained"],
        end_customers=ep["end_customers"],
        end_not_in_s=ep["end_not_in_s"],
        t12_s_mrr_cents=t12["s_mrr"], t12_s_end_mrr_cents=t12["s_end_mrr"], t12_s_kept_mrr_cents=t12["s_kept_mrr"],
        window_churn=sum(window_rates) / len(window_rates) if window_rates else None,
        last_month_churn=safe_div(int(last_row["n_churn"]), int(last_row["customers_start"])),
        revenue_cents=sum(int(r["mrr_end"]) for r in months),
        retained_cents=sum(int(r["mrr_start"]) - int(r["churn"]) - int(r["contraction"]) for r in months),
        customers_served=served_map.get((g, b.label), 0),
        renewable=int(ren["renewable"]), renewed=int(ren["renewed"]),
        renewed_mrr_cents=renewed_mrr.get((g, b.label), 0),
        trials_ended=int(tri["trials"]), trials_converted=int(tri["converted"]),
        costs_cents=cost,
        ltv_variant=ms.ltv_variant, gross_margin_setting=ms.gross_margin, annualisation=ms.annualisation,
        cs_attribution=ms.cs_attribution,
    )


__all__ = ["Book", "ENDPOINT_FIELDS", "MONTHLY_FIELDS", "aggregates", "compute", "compute_aggregates",
    "figures_of_aggregates"]
