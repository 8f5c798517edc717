"""Every revenue and retention figure of metrics.md §1-§6 for one or many periods.

The engine computes integer aggregates (cents, counts) per month, per endpoint pair and
per bucket; this module turns them into figures with plain Python arithmetic, once, for
every engine.  A "bucket" is a reported period: the requested one, or each of its months
for a time series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine, distinct
from retentio.figures import NONE_GROUP, assemble, assess, evaluate, safe_div
from retentio.metrics.costs import cost_cents
from retentio.errors import DataError
from retentio.metrics.changes import (
    DELTA_FIELDS,
    ENDPOINT_PARTS,
    LEVEL_FIELDS,
    OVERLAP_PARTS,
    change_table,
    endpoint_deltas,
    fx_between,
    in_force,
    lag_overlaps,
    lagged_pairs,
    level_deltas,
    level_totals,
    fold_kind_sums,
    kind_sums,
    values_at,
)
from retentio.metrics.movements import MOVEMENT_TYPES
from retentio.metrics.mrr import (
    _fx_at_line_start,
    check_fx_lines,
    history_first_month,
    line_months,
    one_off_lines,
    to_cents,
)
from retentio.metrics.periods import Period, month_label
from retentio.metrics.renewals import bucket_frame, renewal_lines, trial_accounts
from retentio.metrics.registry import METRICS, RevenueAggregates
from retentio.metrics.segments import cohort_label_to_key, group_frame

if TYPE_CHECKING:
    from retentio.metrics.rollups import MonthRollups

MONTHLY_FIELDS = (
    "mrr_start", "mrr_end", "customers_start", "customers_end", "new", "reactivation", "expansion",
    "contraction", "churn", "fx", "n_new", "n_reactivation", "n_expansion", "n_contraction", "n_churn",
)
ENDPOINT_FIELDS = ("s_customers", "s_mrr", "s_end_mrr", "s_kept_mrr", "s_retained", "end_customers", "end_not_in_s")


@dataclass
class Book:
    """The change table C of a workspace up to a month (see ``changes.py``), computed once
    and reused.  ``A`` (account-month snapshots) and ``lines`` (line-months) are kept for
    callers that want them; they expand accounts x months and are computed only when read."""

    engine: Engine
    settings: Settings
    last: int
    first: int | None = None
    C: nw.LazyFrame | None = None
    subs: nw.LazyFrame | None = None
    keep: nw.LazyFrame | None = None  # account_id of the accounts kept by filters
    filtered: bool = False  # restricted by filters: costs are then not attributed
    tables: list = field(default_factory=list)  # materialised intermediates it holds
    rollups: "MonthRollups | None" = None  # the stored sums of every month, while they stand

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
        from retentio.metrics.incremental import stored_state
        from retentio.metrics.rollups import MonthRollups

        book = cls(engine, settings, last)
        book.subs = engine.table("subscriptions")
        # C as the last import left it in the workspace (kept by every import of subscriptions
        # or FX rates), else computed from the lines: the same rows either way
        stored = stored_state(engine, settings, last)
        meta = {} if stored is None else stored[1]
        # the refresh that stored C read the first month and checked the FX rates of the
        # same data through a month >= last (a check of [first, through] covers [first, last])
        book.first = (int(meta["history_first"]) if meta["history_first"] else None) if "history_first" in meta \
            else history_first_month(engine)
        lo = book.first if book.first is not None else last
        lo = min(lo, last)
        if meta.get("fx_checked") != "yes":
            check_fx_lines(engine, settings, lo, last)
        book.C = stored[0] if stored is not None else engine.materialize(change_table(engine, settings, last))
        book.rollups = MonthRollups.stored(engine, settings, meta)
        if filters:
            book._apply_filters(filters)
        return book

    # -- views of the book -----------------------------------------------------------------
    def at(self, months: list[int]) -> nw.LazyFrame:
        """account_id, month, mrr_cents (> 0) at each of ``months`` (as-of lookups in C)."""
        ms = sorted(set(months))
        return values_at(self.engine, self.C, ms).select(
            "account_id", "month", "mrr_cents")

    def firsts(self) -> nw.LazyFrame:
        """account_id, m: each account's first paid month."""
        return self.C.filter(~nw.col("first_paid").is_null()).group_by("account_id").agg(
            nw.col("first_paid").min().alias("m"))

    def lines_at(self, first: int, last: int) -> nw.LazyFrame:
        """Line-months of the months [first, last] only (the expansion of the asked months)."""
        lm = line_months(self.engine, self.settings, first, last)
        return lm if self.keep is None else lm.join(self.keep, on="account_id", how="semi")

    @property
    def A(self) -> nw.LazyFrame:
        lo = self.first if self.first is not None else self.last
        return values_at(self.engine, self.C, list(range(min(lo, self.last), self.last + 1))).select(
            "account_id", "month", "mrr_cents")

    @property
    def lines(self) -> nw.LazyFrame:
        lo = self.first if self.first is not None else self.last
        return self.lines_at(min(lo, self.last), self.last)

    def groups(self, attribute: str, start_m: int, end_m: int) -> nw.LazyFrame:
        """account_id, grp of ``attribute`` judged between the snapshots start_m and end_m."""
        return group_frame(self.engine, self.settings, attribute, self.at([start_m, end_m]),
                           self.lines_at(start_m, end_m), start_m, end_m, firsts=self.firsts())

    def _apply_filters(self, filters: dict[str, str]) -> None:
        # Filters on derived attributes (touch, plan) are judged at the book's last month.
        keep = None
        for attr, value in filters.items():
            if attr.strip().lower() == "cohort":
                value = cohort_label_to_key(value)
            g = self.groups(attr, self.last - 1, self.last)
            ids = g.filter(nw.col("grp") == str(value)).select("account_id")
            keep = ids if keep is None else keep.join(ids, on="account_id", how="semi")
        assert keep is not None
        keep = self.engine.materialize(keep)
        self.C = self.engine.materialize(self.C.join(keep, on="account_id", how="semi"))
        self.subs = self.subs.join(keep, on="account_id", how="semi")
        self.keep = keep
        self.filtered = True
        self.rollups = None  # sums of the whole book


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


def _check_by(buckets: list[Period], by: str | None) -> None:
    if by and len(buckets) != 1:
        from retentio.errors import UsageError

        raise UsageError("by works on one period, not on a time series", hint="drop by, or give one period",
                         details={"parameter": "by"})


class _Grouper:
    def __init__(self, group_lf: nw.LazyFrame | None):
        self.group_lf = group_lf
        self.keys = [] if group_lf is None else ["grp"]

    def __call__(self, lf: nw.LazyFrame) -> nw.LazyFrame:
        if self.group_lf is None:
            return lf
        return lf.join(self.group_lf, on="account_id", how="left").with_columns(
            grp=nw.when(nw.col("grp").is_null()).then(nw.lit(NONE_GROUP)).otherwise(nw.col("grp"))
        )


def _running(rows, keys: list[str], fields: tuple[str, ...]) -> dict[tuple, dict[int, dict]]:
    """{(g, month): row} -> per group, the running sums of ``fields`` at every month from the
    group's first month to its last (months without a row carry the previous sums)."""
    per: dict = {}
    for r in rows:
        per.setdefault(r.get("grp") if keys else None, {})[int(r["month"])] = r
    out: dict = {}
    for g, months in per.items():
        acc = {f: 0 for f in fields}
        series = {}
        for m in range(min(months), max(months) + 1):
            r = months.get(m)
            if r is not None:
                for f in fields:
                    acc[f] += int(r[f])
            series[m] = dict(acc)
        out[g] = series
    return out


def _at(series: dict, g, m: int, fields) -> dict:
    s = series.get(g)
    if not s or m < min(s):
        return {f: 0 for f in fields}
    return s[min(m, max(s))]


def _levels(book: Book, wg: _Grouper, lo: int, rows: list[dict]) -> dict:
    """Per group, MRR, customers and ARR at every month-end from lo - 1 on: the totals at
    lo - 1 (the rows of C in force then) plus the running sums of ``rows``, the month deltas
    of [lo, hi].  The running sums from the first month of history telescope to those
    totals, so the history before lo is read by a filter, never grouped by month."""
    before = book.engine.rows(level_totals(wg(book.C), wg.keys, lo - 1))
    return _running([{**r, "month": lo - 1} for r in before if r["d_mrr"] is not None] + rows, wg.keys, LEVEL_FIELDS)


def _monthly_from_changes(book: Book, wg: _Grouper, lo: int, hi: int, start: int) -> tuple[dict[tuple, dict], dict]:
    """({(g, month): monthly row} for months [lo, hi], levels): the month's own movements,
    and running sums of the change table's per-month deltas (MRR, customers, ARR) from
    ``start`` - 1 (<= lo - 1) on, which every lag comparison reads its snapshots from too."""
    engine = book.engine
    C = book.C
    # The totals at start - 1 (MRR, customers, ARR of the rows in force then), then the month
    # deltas of [start, hi] only: the running sums from the first month of history telescope
    # to those totals, so the history before start is read by a filter, never grouped by month.
    own = fold_kind_sums(engine.rows(kind_sums(wg(C.filter((nw.col("month") >= lo) & (nw.col("month") <= hi))),
                                              wg.keys)), wg.keys)
    earlier = engine.rows(level_deltas(wg(C.filter((nw.col("month") >= start) & (nw.col("month") < lo))), wg.keys)) \
        if start < lo else []
    run = _levels(book, wg, start, earlier + [{"grp": g, "month": m, **r} for (g, m), r in own.items()])
    return _month_rows(own, run, lo, hi), run


def _monthly_from_rollups(rollups, lo: int, hi: int) -> tuple[dict[tuple, dict], dict]:
    """The same as :func:`_monthly_from_changes` (no groups) from the stored sums of every
    month of history (``rollups.MonthRollups``): the running sums from its first month are
    the totals, and months after ``hi`` do not enter the sums at ``hi`` or before."""
    own = fold_kind_sums(rollups.kind_rows(), [])
    run = _running([{"month": m, **r} for (_g, m), r in own.items()], [], LEVEL_FIELDS)
    return _month_rows(own, run, lo, hi), run


def _month_rows(own: dict[tuple, dict], run: dict, lo: int, hi: int) -> dict[tuple, dict]:
    """{(g, month): monthly row} for months [lo, hi]: the month's own changes (``own``, folded
    kind sums) with its start and end levels (``run``)."""
    by_month: dict[tuple, dict] = {}
    for g in run:
        for m in range(lo, hi + 1):
            end = _at(run, g, m, LEVEL_FIELDS)
            start = _at(run, g, m - 1, LEVEL_FIELDS)
            r = own.get((g, m)) or {}
            row = {f: r.get(f, 0) for f in DELTA_FIELDS}
            row.update(
                mrr_start=start["d_mrr"], mrr_end=end["d_mrr"], customers_start=start["d_customers"],
                customers_end=end["d_customers"], arr_end=end["d_arr"],
            )
            if row["customers_start"] or row["customers_end"]:
                finish_month_row(row)
                by_month[(g, m)] = row
    return by_month


def finish_month_row(row: dict) -> None:
    """The month's endpoint comparison (S = customers at its start) from its start and its
    changes: accounts that did not change keep e = s."""
    ms = row["mrr_start"]
    row["s_end_mrr"] = ms + row["x_end"]
    row["s_kept_mrr"] = ms + row["x_kept"]
    row["s_end_mrr_cc"] = ms + row["x_end_cc"]
    row["s_kept_mrr_cc"] = ms + row["x_kept_cc"]
    row["s_retained"] = row["customers_start"] - row["n_churn"]
    row["end_not_in_s"] = row["n_new"] + row["n_reactivation"]
    row["accounts"] = row["customers_start"] + row["n_new"] + row["n_reactivation"]


# Up to this many end months (a span of at most that many months plus the lag), lag
# endpoints come from the overlaps of each account's rows in force over the span (pairs of
# rows of one account: their number grows with the rows per account over the span);
# beyond, from running sums over C and C shifted by the lag (rows of C, whatever the span).
# Measured (docs/benchmarks.md): 60 end months at 1 M accounts, overlaps 2.45 s / 0.52 GB
# against 4.61 s / 1.46 GB; 96 and 120 at 100 k, about equal time, half the memory.
OVERLAP_MAX_ENDS = 96


def _lag_endpoints_from_changes(book: Book, wg: _Grouper, lag: int, ends: list[int], cc: bool,
                                level: dict, overlaps: list[dict] | None = None) -> dict[tuple, dict]:
    """{(g, end month): endpoint sums} comparing each end month with the month ``lag`` before;
    ``level``: the monthly totals of ``_monthly_from_changes``, from the first start snapshot on;
    ``overlaps``: the rows of :func:`lag_overlaps` over the whole history when they are stored
    (``rollups.MonthRollups``), else they are computed over the span of ``ends``."""
    engine = book.engine
    out: dict = {}
    if overlaps is not None or len(ends) <= OVERLAP_MAX_ENDS:
        first, last = min(ends), max(ends)
        # customers and MRR at the start snapshots and customers at the end ones: totals;
        # the sums over the accounts customers at both: overlaps of their rows (pairs that
        # begin before ``first`` step in earlier; those that end after ``last`` never step out)
        steps: dict = {}
        if overlaps is None:
            overlaps = engine.rows(lag_overlaps(wg(book.C), lag, first, last, wg.keys))
        for r in overlaps:
            g = r.get("grp") if wg.keys else None
            for m, sign in ((int(r["lo"]), 1), (int(r["hi"]), -1)):
                if m <= last:
                    d = steps.setdefault(g, {}).setdefault(m, {k: 0 for k in OVERLAP_PARTS})
                    for k in OVERLAP_PARTS:
                        d[k] += sign * int(r[k])
        both = _running([{"grp": g, "month": m, **d} for g, by in steps.items() for m, d in by.items()], wg.keys,
                        OVERLAP_PARTS)
        for g in level:
            for m in ends:
                start, end = _at(level, g, m - lag, LEVEL_FIELDS), _at(level, g, m, LEVEL_FIELDS)
                kept = _at(both, g, m, OVERLAP_PARTS)
                row = {"s_customers": start["d_customers"], "s_mrr": start["d_mrr"], **kept,
                       "end_customers": end["d_customers"],
                       "end_not_in_s": end["d_customers"] - kept["s_retained"]}
                if row["s_customers"] or row["end_customers"]:
                    row["s_end_mrr_cc"], row["s_kept_mrr_cc"] = row["s_end_mrr"], row["s_kept_mrr"]
                    out[(g, m)] = row
    else:
        rows = engine.rows(endpoint_deltas(wg(lagged_pairs(book.C, lag)), wg.keys))
        run = _running(rows, wg.keys, ENDPOINT_PARTS)
        for g in run:
            for m in ends:
                row = dict(_at(run, g, m, ENDPOINT_PARTS))
                if row["s_customers"] or row["end_customers"]:
                    row["s_end_mrr_cc"], row["s_kept_mrr_cc"] = row["s_end_mrr"], row["s_kept_mrr"]
                    out[(g, m)] = row
    if cc:
        adj = engine.rows(_cc_adjustments(book, wg, lag, ends))
        for r in adj:
            row = out.get((r.get("grp") if wg.keys else None, int(r["month"])))
            if row is not None:
                row["s_end_mrr_cc"] += int(r["d_end"])
                row["s_kept_mrr_cc"] += int(r["d_kept"])
    return out


def _cc_adjustments(book: Book, wg: _Grouper, lag: int, ends: list[int]) -> nw.LazyFrame:
    """Per end month: the change of the endpoint sums when the end MRR of the accounts
    customers at both snapshots is taken at constant currency (their lines active at both
    snapshots at the start snapshot's rates)."""
    engine = book.engine
    fxl = fx_between(engine, book.settings, ends, lag).filter(nw.col("fxl") != 0)
    fxl = engine.materialize(fxl if book.keep is None else fxl.join(book.keep, on="account_id", how="semi"))
    Cx = book.C.join(fxl.select("account_id").pipe(distinct), on="account_id", how="semi")
    e_at = values_at(engine, Cx, ends).select(
        "account_id", "month", nw.col("mrr_cents").alias("e"), "raw")
    s_at = values_at(engine, Cx, [m - lag for m in ends]).select(
        "account_id", (nw.col("month") + lag).alias("month"), nw.col("mrr_cents").alias("s"))
    j = fxl.join(e_at, on=["account_id", "month"], how="inner").join(s_at, on=["account_id", "month"], how="inner")
    j = j.with_columns(ecc=nw.max_horizontal(nw.col("raw") - nw.col("fxl"), nw.lit(0, nw.Int64)))
    return wg(j).group_by("month", *wg.keys).agg(
        (nw.col("ecc") - nw.col("e")).sum().cast(nw.Int64).alias("d_end"),
        (nw.min_horizontal("s", "ecc") - nw.min_horizontal("s", "e")).sum().cast(nw.Int64).alias("d_kept"),
    )


def _served_from_changes(book: Book, wg: _Grouper, b: Period) -> nw.LazyFrame:
    """Accounts that are customers at some snapshot of [b.first - 1, b.last]."""
    return wg(
        book.C.filter((nw.col("e") > 0) & in_force(b.first - 1, b.last))
        .select("account_id").pipe(distinct)
    )


def _compute(book: Book, buckets: list[Period], *, by: str | None, raw: bool = False) -> list:
    _check_by(buckets, by)
    return finish(book, buckets, by, change_point_aggregates, raw=raw)


def multi_month_lags(buckets: list[Period]) -> dict[int, list[Period]]:
    """The periods longer than a month, by their length: each length is one lag comparison."""
    lags: dict[int, list[Period]] = {}
    for b in buckets:
        if b.n_months > 1:
            lags.setdefault(b.n_months, []).append(b)
    return lags


def change_point_aggregates(book: Book, buckets: list[Period], wg: _Grouper, lo: int, hi: int):
    """by_month, endpoints, served, renewed_mrr_at (per bucket end, per account) from the
    change table."""
    # the monthly totals from the earliest start snapshot compared: the trailing twelve months'
    # (a longer bucket's start snapshot, b.first - 1, is at lo - 1 or later)
    rollups = None if wg.keys else book.rollups
    if rollups is not None:
        by_month, level = _monthly_from_rollups(rollups, lo, hi)
    else:
        by_month, level = _monthly_from_changes(book, wg, lo, hi, min(lo, min(b.last for b in buckets) - 12))
    endpoints: dict[tuple, dict] = {}
    for lag, bs in multi_month_lags(buckets).items():
        got = _lag_endpoints_from_changes(book, wg, lag, sorted({b.last for b in bs}), cc=True, level=level,
                                          overlaps=rollups.t12_overlaps() if rollups is not None and lag == 12 else None)
        for b in bs:
            for (g, m), row in got.items():
                if m == b.last:
                    endpoints[(g, b.label)] = row
    t12 = _lag_endpoints_from_changes(book, wg, 12, sorted({b.last for b in buckets}), cc=False, level=level,
                                      overlaps=None if rollups is None else rollups.t12_overlaps())
    for b in buckets:
        for (g, m), row in t12.items():
            if m == b.last:
                endpoints[(g, "T12:" + b.label)] = row
    served_map: dict[tuple, int] = {}
    for b in buckets:
        if b.n_months > 1:
            uniq = _served_from_changes(book, wg, b)
            count = nw.len().cast(nw.Int64).alias("served")
            served = book.engine.rows(uniq.group_by(*wg.keys).agg(count) if wg.keys else uniq.select(count))
            for r in served:
                served_map[(r.get("grp"), b.label)] = int(r["served"])

    return by_month, endpoints, served_map, end_values_from_changes(book, buckets)


def end_values_from_changes(book: Book, buckets: list[Period]):
    """The lookup (pairs of account_id, month -> the same with mrr_cents) of an account's MRR
    at bucket ends, from the change table."""

    def end_values(pairs: nw.LazyFrame) -> nw.LazyFrame:
        # each (account, month) pair looks up the account's own rows (an equality join on the
        # account, then the as-of condition): pairs x the account's rows, not rows x months;
        # the pairs' months are bucket ends, so only the rows in force over them take part
        ends = [b.last for b in buckets]
        rows = book.C.filter((nw.col("e") > 0) & in_force(min(ends), max(ends))).select("account_id", nw.col("month").alias("c_month"), "next_month", "e")
        return pairs.join(rows, on="account_id", how="inner").filter(
            (nw.col("c_month") <= nw.col("month")) & (nw.col("month") < nw.col("next_month"))
        ).select(*pairs.columns, nw.col("e").alias("mrr_cents"))

    return end_values


def finish(book: Book, buckets: list[Period], by: str | None, parts, *, raw: bool = False) -> list:
    """The figures of each bucket (with ``raw``: its :class:`RevenueAggregates`) from the
    engine's sums (``parts`` computes the change-table ones; the test oracle passes the
    expansion ones)."""
    engine, settings = book.engine, book.settings
    window = settings.metrics.ltv_churn_window_months
    lo = min(min(b.first for b in buckets), min(b.last for b in buckets) - window + 1)
    hi = max(b.last for b in buckets)

    group_lf = None
    if by:
        b = buckets[0]
        group_lf = engine.materialize(book.groups(by, b.start_snapshot, b.last))
    wg = _Grouper(group_lf)
    keys = wg.keys

    # 1-2. monthly movements and totals (for one-month buckets they also hold the endpoint
    #      comparison), endpoints of longer buckets and of the trailing twelve months
    by_month, endpoints, served_map, end_values = parts(book, buckets, wg, lo, hi)
    for b in buckets:
        if b.n_months == 1:
            for (g, m), row in by_month.items():
                if m == b.last:
                    endpoints[(g, b.label)] = {
                        "s_customers": row["customers_start"], "s_mrr": row["mrr_start"], "s_end_mrr": row["s_end_mrr"],
                        "s_kept_mrr": row["s_kept_mrr"], "s_retained": row["s_retained"],
                        "end_customers": row["customers_end"], "end_not_in_s": row["end_not_in_s"],
                        "s_end_mrr_cc": row["s_end_mrr_cc"], "s_kept_mrr_cc": row["s_kept_mrr_cc"],
                    }
                    served_map[(g, b.label)] = int(row["accounts"])
    label_of_end = {b.last: b.label for b in buckets}

    # 3. renewals, trials, per bucket
    rollups = None if keys else book.rollups
    if rollups is not None and all(b.n_months == 1 for b in buckets):
        renewals, renewed_mrr, trials = rollups.renewals_of(buckets)
    else:
        renewals, renewed_mrr, trials = renewals_and_trials(book, buckets, wg, end_values)
    arr_map = {(g, label_of_end[m]): int(row["arr_end"]) for (g, m), row in by_month.items() if m in label_of_end}
    one_off = one_off_cents(engine, settings, book.subs, wg, min(b.first for b in buckets), hi)

    # 4. costs are company-wide: not attributed to segments or filtered books
    costs = None
    if not by and not book.filtered:
        costs = cost_cents(engine, settings, min(b.first for b in buckets), hi)

    ctx = (settings, by_month, endpoints, renewals, renewed_mrr, trials, served_map, arr_map, one_off)
    if by:
        groups = sorted({g for (g, _m) in by_month} | {g for (g, _k) in endpoints})
        b = buckets[0]
        out = {}
        for g in groups:
            label = month_label(int(g)) if by.strip().lower() == "cohort" and g != NONE_GROUP else g
            out[label] = _figures(b, g, *ctx, None)
        return [{"period": b.label, "by": by, "groups": out}]
    make = aggregates if raw else _figures
    return [make(b, None, *ctx, costs) for b in buckets]


def renewals_and_trials(book: Book, buckets: list[Period], wg: "_Grouper", end_values) -> tuple[dict, dict, dict]:
    """({(g, bucket label): renewable, renewed}, {(g, label): renewed MRR cents},
    {(g, label): trials, converted}) of each bucket (metrics.md §4); ``end_values`` gives an
    account's MRR at a month (the change table's as-of lookup, or the oracle's expansion)."""
    engine, settings, keys = book.engine, book.settings, wg.keys
    hi = max(b.last for b in buckets)
    bf = bucket_frame(engine, [(b.label, b.first, b.last) for b in buckets])
    renewable = engine.materialize(renewal_lines(engine, settings, book.subs, bf,
                                                 (min(b.first for b in buckets), hi)))
    ren = engine.rows(
        wg(renewable)
        .group_by("key", *keys)
        .agg(
            nw.len().cast(nw.Int64).alias("renewable"),
            nw.col("renewed").cast(nw.Int64).sum().cast(nw.Int64).alias("renewed"),
        )
    )
    renewals = {(r.get("grp"), r["key"]): r for r in ren}
    renewed_accounts = engine.materialize(renewable.filter(nw.col("renewed")).select("key", "account_id").pipe(distinct))
    ends = bf.select("key", "b_last").pipe(distinct)
    at_end = end_values(renewed_accounts.join(ends, on="key", how="inner").select(
        "key", "account_id", nw.col("b_last").alias("month")))
    rmrr = engine.rows(
        wg(at_end)
        .group_by("key", *keys)
        .agg(nw.col("mrr_cents").sum().cast(nw.Int64).alias("renewed_mrr"))
    )
    renewed_mrr = {(r.get("grp"), r["key"]): int(r["renewed_mrr"]) for r in rmrr}
    tri = engine.rows(
        wg(trial_accounts(engine, settings, book.subs, bf))
        .group_by("key", *keys)
        .agg(nw.len().cast(nw.Int64).alias("trials"), nw.col("converted").cast(nw.Int64).sum().cast(nw.Int64).alias("converted"))
    )
    trials = {(r.get("grp"), r["key"]): r for r in tri}
    return renewals, renewed_mrr, trials


def one_off_cents(engine: Engine, settings: Settings, subs: nw.LazyFrame, wg: _Grouper, first: int, last: int) -> dict:
    """{(g, month): cents} of one-off revenue (metrics.md §2): one-off lines dated in the
    month, converted at the rate in force on their date."""
    base = settings.workspace.base_currency
    lines = one_off_lines(engine)
    if not engine.rows(lines.select(nw.len().alias("n")))[0]["n"]:
        return {}  # a book without one-off lines (most): no rates to look up, no sums to make
    oo = one_off_lines_of(engine, subs, lines).filter((nw.col("month") >= first) & (nw.col("month") <= last))
    rates = _fx_at_line_start(engine, oo, base)
    j = oo.join(rates, on="subscription_id", how="left").with_columns(
        rate=nw.when(nw.col("currency") == base).then(nw.lit(1.0)).otherwise(nw.col("rate"))
    )
    out = engine.rows(
        wg(j).group_by("month", *wg.keys).agg(
            (nw.when(nw.col("amount") < 0).then(nw.lit(-1, nw.Int64)).otherwise(nw.lit(1, nw.Int64))
             * to_cents(nw.col("amount").abs() * nw.col("rate"))).sum().cast(nw.Int64).alias("cents"),
            nw.when(nw.col("rate").is_null()).then(nw.lit(1, nw.Int64)).otherwise(nw.lit(0, nw.Int64)).sum()
            .cast(nw.Int64).alias("missing"),
            nw.col("currency").max().alias("currency"),
        )
    )
    result: dict = {}
    for r in out:
        if r["missing"]:
            raise DataError(
                f"no FX rate for a one-off line of {month_label(int(r['month']))} on or before its date",
                hint="import fx-rates covering that date: retentio import fx-rates rates.csv",
            )
        result[(r.get("grp") if wg.keys else None, int(r["month"]))] = int(r["cents"] or 0)
    return result


def one_off_lines_of(engine: Engine, subs: nw.LazyFrame, lines: nw.LazyFrame | None = None) -> nw.LazyFrame:
    lines = one_off_lines(engine) if lines is None else lines
    return lines.join(subs.select("subscription_id"), on="subscription_id", how="semi")


def _month_row(by_month: dict, g, m: int) -> dict:
    return by_month.get((g, m)) or {f: 0 for f in MONTHLY_FIELDS}


def _figures(
    b: Period, g, settings: Settings, by_month, endpoints, renewals, renewed_mrr, trials, served_map, arr_map, one_off,
    costs,
) -> dict:
    agg = aggregates(b, g, settings, by_month, endpoints, renewals, renewed_mrr, trials, served_map, arr_map, one_off,
                     costs)
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
    b: Period, g, settings: Settings, by_month, endpoints, renewals, renewed_mrr, trials, served_map, arr_map, one_off,
    costs,
) -> RevenueAggregates:
    """What the engine summed for bucket ``b`` (and group ``g``), in one frozen object."""
    ms = settings.metrics
    months = [_month_row(by_month, g, m) for m in b.months]
    tot = {f: sum(int(r[f]) for r in months) for f in ("new", "reactivation", "expansion", "contraction", "churn",
                                                      "fx", "n_new", "n_reactivation", "n_churn")}
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
        s_kept_mrr_cents=ep["s_kept_mrr"],
        # constant currency (metrics.md §3): the end MRR of S with its lines at the start's rates
        s_end_mrr_cc_cents=ep.get("s_end_mrr_cc", ep["s_end_mrr"]),
        s_kept_mrr_cc_cents=ep.get("s_kept_mrr_cc", ep["s_kept_mrr"]),
        s_retained=ep["s_retained"], s_lost=ep["s_customers"] - ep["s_retained"],
        end_customers=ep["end_customers"],
        end_not_in_s=ep["end_not_in_s"],
        t12_s_mrr_cents=t12["s_mrr"], t12_s_end_mrr_cents=t12["s_end_mrr"], t12_s_kept_mrr_cents=t12["s_kept_mrr"],
        window_churn=sum(window_rates) / len(window_rates) if window_rates else None,
        last_month_churn=safe_div(int(last_row["n_churn"]), int(last_row["customers_start"])),
        revenue_cents=sum(int(r["mrr_end"]) for r in months),
        retained_cents=sum(int(r["mrr_start"]) - int(r["churn"]) - int(r["contraction"]) for r in months),
        customers_served=served_map.get((g, b.label), 0),
        one_off_cents=sum(one_off.get((g, m), 0) for m in b.months),
        renewable=int(ren["renewable"]), renewed=int(ren["renewed"]),
        renewed_mrr_cents=renewed_mrr.get((g, b.label), 0),
        trials_ended=int(tri["trials"]), trials_converted=int(tri["converted"]),
        costs_cents=cost,
        ltv_variant=ms.ltv_variant, gross_margin_setting=ms.gross_margin, annualisation=ms.annualisation,
        cs_attribution=ms.cs_attribution,
    )


__all__ = ["Book", "ENDPOINT_FIELDS", "MONTHLY_FIELDS", "aggregates", "compute", "compute_aggregates",
    "figures_of_aggregates"]
