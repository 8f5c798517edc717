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

A series (and a cohort triangle) then reads small tables instead of scanning C (docs/architecture.md, "Month
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


def compute(engine: Engine, settings: Settings, last: int) -> dict[str, "pa.Table"]:
    """The rollup tables through month ``last`` from the stored C (the book the figures read),
    computed by the definitions the figures use."""
    import narwhals as nw
    import pyarrow as pa

    from retentio.metrics.changes import cohort_month_deltas, kind_sums, lag_overlaps, overlap_steps
    from retentio.metrics.kpis import Book, _Grouper, end_values_from_changes, renewals_and_trials

    book = Book.load(engine, settings, last)
    kinds = engine.collect(kind_sums(book.C, [])).to_arrow()
    first = book.first if book.first is not None else last
    t12 = engine.collect(overlap_steps(lag_overlaps(book.C, 12, min(first, last), last, []), [])).to_arrow()
    # one bucket per month from the month of the earliest line (a trial may end before the
    # first paid month): no line ends before it, so a month without a row has no renewal,
    # renewed MRR or trial
    d = engine.rows(book.subs.select(nw.col("start_date").min().alias("d")))[0]["d"]
    rows: list[dict[str, int]] = []
    if d is not None:
        buckets = [Period.month(m) for m in range(min(d.year * 12 + d.month - 1, last), last + 1)]
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
    renewals_table = pa.table({f: pa.array([r[f] for r in rows], pa.int64()) for f in ("month", *RENEWAL_FIELDS)})
    cohorts = engine.collect(cohort_month_deltas(book.C, [])).to_arrow()
    return {KIND_SUMS_TABLE: kinds, T12_TABLE: t12, RENEWALS_TABLE: renewals_table, COHORTS_TABLE: cohorts}
