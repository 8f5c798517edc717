"""Month rollups of the change table: the sums every monthly figure is made of, for every
month of history, kept by the refresh that keeps C (``incremental.refresh``).

A monthly figure of metrics.md §1-§6 is plain arithmetic on a few sums per month
(``kpis.finish``).  Those sums depend on the month, never on the period asked, so the refresh
computes them once for every month, with the same narwhals definitions a figure uses, and
stores them beside C:

- ``derived_month_kind_sums``  the rows of ``changes.kind_sums`` over all of C (month, kind,
                               in_s and ten sums): the month's movements, and the month
                               deltas whose running sums are MRR, customers and ARR;
- ``derived_t12_overlaps``     the rows of ``changes.lag_overlaps`` at lag 12 over the whole
                               history, folded into one step per month
                               (``changes.overlap_steps``): the trailing-twelve-month NRR/GRR
                               sums of every month;
- ``derived_month_renewals``   per month: renewable and renewed lines, renewed MRR, trials
                               ended and converted (``kpis.renewals_and_trials`` with one
                               bucket per month);
- ``derived_cohort_month_deltas`` per cohort and month: the change of MRR and logos
                               (``changes.cohort_month_deltas``), whose running sums are the
                               cells of the cohort triangle (metrics.md §7).

After an import that changed some months, the refresh computes the months from the first
changed one on and keeps the earlier rows (``compute(..., since)``).  A series (and a
cohort triangle) then reads small tables instead of scanning C (docs/architecture.md, "Month
rollups").  They stand for the data only while the meta's ``rollups`` entry names the
settings they depend on, the data stamp and the through month of the stored C; otherwise (or
with groups, filters, longer periods' own comparisons) the figures are computed from C.
Like every ``derived_*`` table they are a cache: deleting them is always safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retentio.config import Settings
from retentio.engine import Engine
from retentio.metrics.periods import Period

if TYPE_CHECKING:
    import pyarrow as pa

KIND_SUMS_TABLE = "derived_month_kind_sums"
T12_TABLE = "derived_t12_overlaps"
RENEWALS_TABLE = "derived_month_renewals"
COHORTS_TABLE = "derived_cohort_month_deltas"
TABLES = (KIND_SUMS_TABLE, T12_TABLE, RENEWALS_TABLE, COHORTS_TABLE)
RENEWAL_FIELDS = ("renewable", "renewed", "renewed_mrr", "trials", "converted")


def rollups_key(settings: Settings, meta: dict[str, str]) -> str:
    """What the rollups were computed from: C's own key (base currency, FX rule, reactivation
    window), the windows of renewals and trial conversions, the data stamp and C's through."""
    m = settings.metrics
    return (f"rollups-3|{meta.get('settings')}|{m.renewal_window_days}|{m.trial_conversion_window_days}"
            f"|{meta.get('data')}|{meta.get('through')}")


class MonthRollups:
    """The stored month sums of a workspace, read on first use (each a small table)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._read: dict[str, Any] = {}

    @classmethod
    def stored(cls, engine: Engine, settings: Settings, meta: dict[str, str]) -> "MonthRollups | None":
        """The rollups when the meta of a stored C that stands for the data (``stored_state``)
        says they were computed with it, else None."""
        if not meta or meta.get("rollups") != rollups_key(settings, meta):
            return None
        return cls(engine)

    def _rows(self, table: str) -> list[dict[str, Any]]:
        if table not in self._read:
            self._read[table] = self.engine.rows(self.engine.table(table))
        return self._read[table]

    def kind_rows(self) -> list[dict[str, Any]]:
        """The rows of ``kind_sums`` over all of C (no groups)."""
        return self._rows(KIND_SUMS_TABLE)

    def t12_overlaps(self) -> list[dict[str, Any]]:
        """The rows of ``lag_overlaps`` at lag 12 over the whole history (no groups), one net
        step per month (``changes.overlap_steps``)."""
        return self._rows(T12_TABLE)

    def cohort_columns(self) -> dict[str, list[Any]]:
        """The columns of ``cohort_month_deltas`` over all of C (no segment): cohorts x
        months rows, read as columns."""
        if COHORTS_TABLE not in self._read:
            self._read[COHORTS_TABLE] = self.engine.columns(self.engine.table(COHORTS_TABLE))
        return self._read[COHORTS_TABLE]

    def renewals_of(self, buckets: list[Period]) -> tuple[dict, dict, dict]:
        """What ``kpis.renewals_and_trials`` returns for one-month buckets: a month's line ends
        and trial ends are those of the month, whatever else is asked."""
        per = {int(r["month"]): r for r in self._rows(RENEWALS_TABLE)}
        renewals, renewed_mrr, trials = {}, {}, {}
        for b in buckets:
            r = per.get(b.last)
            if r is None:
                continue
            if r["renewable"]:
                renewals[(None, b.label)] = {"renewable": int(r["renewable"]), "renewed": int(r["renewed"])}
            if r["renewed"]:
                renewed_mrr[(None, b.label)] = int(r["renewed_mrr"])
            if r["trials"]:
                trials[(None, b.label)] = {"trials": int(r["trials"]), "converted": int(r["converted"])}
        return renewals, renewed_mrr, trials


def renewal_margin(settings: Settings) -> int:
    """Months before a changed month whose renewals or trial conversions a change may alter:
    a line (or trial) ending up to a window's days before a new or changed line is renewed
    (converted) by it, and a month has at least 28 days."""
    m = settings.metrics
    return max(m.renewal_window_days, m.trial_conversion_window_days) // 28 + 1


def compute(engine: Engine, settings: Settings, last: int, since: int | None = None) -> dict[str, "pa.Table"]:
    """The rollup tables through month ``last`` from the stored C (the book the figures read),
    computed by the definitions the figures use.

    ``since``: the first month whose sums the refresh that just ran may have changed (the
    stored rollups stood for the data before it, and C is unchanged before ``since``).  The
    sums of earlier months are then kept from the stored tables and only the later ones
    computed: kind sums and cohort deltas of C's rows from ``since`` on; the lag-12 steps from
    the overlaps over ``[since, last]`` (their running sums start from nothing at ``since``,
    so the step at ``since`` takes back what the kept steps add up to); renewals and trials
    from ``renewal_margin`` months earlier."""
    import narwhals as nw
    import polars as pl  # already imported by ``collect``; pyarrow would import pandas (~0.5 s)

    from retentio.metrics.changes import OVERLAP_PARTS, cohort_month_deltas, kind_sums, lag_overlaps, overlap_steps
    from retentio.metrics.kpis import Book, _Grouper, end_values_from_changes, renewals_and_trials
    from retentio.metrics.mrr import OPEN_END

    book = Book.load(engine, settings, last)
    first = book.first if book.first is not None else last
    lo = min(first, last) if since is None else max(min(first, last), since)
    C = book.C if since is None else book.C.filter(nw.col("month") >= lo)

    def kept_and(table: str, month: str, new: nw.LazyFrame) -> "pa.Table":
        if since is None:
            return engine.collect(new).to_arrow()
        cols = new.collect_schema().names()
        old = engine.table(table).filter(nw.col(month) < lo).select(*cols)
        return engine.collect(nw.concat([old, new])).to_arrow()

    kinds = kept_and(KIND_SUMS_TABLE, "month", kind_sums(C, []))
    cohorts = kept_and(COHORTS_TABLE, "month", cohort_month_deltas(C, []))
    steps = engine.rows(overlap_steps(lag_overlaps(book.C, 12, lo, last, []), []))
    if since is not None:
        kept = [r for r in engine.rows(engine.table(T12_TABLE)) if r["lo"] < lo]
        at_lo = next((r for r in steps if r["lo"] == lo), None)
        if at_lo is None:
            at_lo = {"lo": lo, "hi": OPEN_END, **{k: 0 for k in OVERLAP_PARTS}}
            steps.append(at_lo)
        for k in OVERLAP_PARTS:
            at_lo[k] -= sum(r[k] for r in kept)
        steps = kept + steps
    steps = [r for r in steps if any(r[k] for k in OVERLAP_PARTS)]  # a step of nothing is no step
    t12_fields = ("lo", "hi", *OVERLAP_PARTS)
    t12 = pl.DataFrame({f: [r[f] for r in steps] for f in t12_fields},
                       schema={f: pl.Int64 for f in t12_fields}).to_arrow()
    # one bucket per month from the month of the earliest line (a trial may end before the
    # first paid month): no line ends before it, so a month without a row has no renewal,
    # renewed MRR or trial
    d = engine.rows(book.subs.select(nw.col("start_date").min().alias("d")))[0]["d"]
    rows: list[dict[str, int]] = []
    if d is not None:
        start = min(d.year * 12 + d.month - 1, last)
        if since is not None:
            r_lo = max(start, min(since, lo) - renewal_margin(settings))  # a trial may end before C's first month
            rows = [r for r in engine.rows(engine.table(RENEWALS_TABLE)) if r["month"] < r_lo]
            start = r_lo
        buckets = [Period.month(m) for m in range(start, last + 1)]
        renewals, renewed_mrr, trials = renewals_and_trials(book, buckets, _Grouper(None),
                                                            end_values_from_changes(book, buckets))
        for b in buckets:
            ren = renewals.get((None, b.label)) or {}
            tri = trials.get((None, b.label)) or {}
            vals = {"renewable": ren.get("renewable", 0), "renewed": ren.get("renewed", 0),
                    "renewed_mrr": renewed_mrr.get((None, b.label), 0), "trials": tri.get("trials", 0),
                    "converted": tri.get("converted", 0)}
            vals = {k: int(v or 0) for k, v in vals.items()}
            if any(vals.values()):
                rows.append({"month": b.last, **vals})
    fields = ("month", *RENEWAL_FIELDS)
    renewals_table = pl.DataFrame({f: [r[f] for r in rows] for f in fields},
                                  schema={f: pl.Int64 for f in fields}).to_arrow()
    return {KIND_SUMS_TABLE: kinds, T12_TABLE: t12, RENEWALS_TABLE: renewals_table, COHORTS_TABLE: cohorts}
