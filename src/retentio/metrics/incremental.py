"""Incremental refresh of the revenue figures after an import (issue 6).

Every revenue and retention figure of metrics.md §1-§6 is computed from the change table C
(``changes.py``: one row per account and month where its MRR changes).  C is persisted in the
workspace's DuckDB file, with the inputs it was computed from, so that after an import only
what changed is recomputed.  Every import of subscriptions or FX rates runs ``refresh``
(``Workspace.import_file``), and the figures read the stored C instead of computing it while
it stands for the data (``stored_changes``):

- ``derived_mrr_changes``   C through the ``through`` month;
- ``derived_mrr_snapshot``  a view (account_id, month, mrr_cents): the account-month
                            snapshots for months [first, through], as-of lookups in C;
- ``derived_mrr_lines``     the subscription rows (all columns that MRR depends on) A was
                            computed from;
- ``derived_fx_rates``      the FX rates A was computed from;
- ``derived_costs``         the costs the figures were computed from (they change CAC, CRC ...);
- ``derived_meta``          (key, value): first / through month, base currency, FX rule,
                            the data stamp (``data_stamp``), when it was computed.

``refresh`` compares the current subscriptions with the stored copy (one join on the
subscription id, ``warehouse.CHANGED_LINES_SQL`` run by ``Warehouse.diff_stored_copies``) and the FX rates and costs with theirs (set
differences of small tables).  A changed line (added, removed or modified) touches only its
account and only the months from the earliest start month of its old and new versions on
(from the earlier end month when only the end date changed; a kind written differently -
empty = recurring - changes nothing); the stored copy is updated for the changed lines only.
A changed FX rate touches every account from the month of the rate's date on.  The change rows
of the touched accounts are recomputed with the same narwhals code as a full computation
(``changes.change_table`` on the subscriptions of those accounts only: work proportional to
their lines), replaced in one transaction, and the figures of the affected months are
computed from the stored change table (``kpis._compute`` on the persisted C).  A changed FX
rate or a later ``through`` rebuilds C (proportional to lines and rate changes, not to
accounts x months).  A change of the settings C depends on (base currency, FX rule) or a
missing table triggers a full build.

The snapshot is a cache: deleting the ``derived_*`` tables is always safe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine
from retentio.metrics.periods import Period, month_index, month_label
from retentio.warehouse import StoredCopyTables

if TYPE_CHECKING:  # a figure read from the stored change table needs no Arrow
    import pyarrow as pa

SNAPSHOT = "derived_mrr_snapshot"  # a view over CHANGES
CHANGES = "derived_mrr_changes"
LINES = "derived_mrr_lines"
FX = "derived_fx_rates"
META = "derived_meta"
COSTS = "derived_costs"

LINE_COLUMNS = ("subscription_id", "account_id", "plan", "start_date", "end_date", "amount",
                "billing_period_months", "currency", "is_trial", "kind")
C_COLUMNS = ("account_id", "month", "s", "e", "ecc", "raw", "arr", "arr_prev", "last_churn",
             "next_month", "kind", "fx", "first_paid")
C_TYPES = ("VARCHAR", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "BIGINT",
           "BIGINT", "VARCHAR", "BIGINT", "BIGINT")
FX_COLUMNS = ("date", "currency", "rate")
TABLES = StoredCopyTables(changes=CHANGES, change_columns=C_COLUMNS, change_types=C_TYPES, snapshot=SNAPSHOT,
                          lines=LINES, line_columns=LINE_COLUMNS, fx=FX, fx_columns=FX_COLUMNS, costs=COSTS, meta=META)


@dataclass
class RefreshReport:
    mode: str  # full | incremental | unchanged
    first_month: str | None
    through: str | None
    from_month: str | None = None  # earliest month whose figures changed
    accounts_recomputed: int = 0
    rows_written: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    figures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "first_month": self.first_month, "through": self.through, "from_month": self.from_month,
            "accounts_recomputed": self.accounts_recomputed, "rows_written": self.rows_written,
            "seconds": self.seconds, "figures": self.figures,
        }


class _Scoped(Engine):
    """An engine whose ``subscriptions`` table holds only the lines of some accounts."""

    def __init__(self, inner: Engine, accounts: nw.LazyFrame):
        self._inner, self._accounts = inner, accounts
        self.name = inner.name

    def table(self, name: str) -> nw.LazyFrame:
        lf = self._inner.table(name)
        if name == "subscriptions":
            return lf.join(self._accounts, on="account_id", how="semi")
        return lf

    def from_arrow(self, table: pa.Table) -> nw.LazyFrame:
        return self._inner.from_arrow(table)

    def from_columns(self, data: dict[str, list], types: dict[str, str]) -> nw.LazyFrame:
        # the inner engine's way (DuckDB: a VALUES query): the base class goes through
        # pyarrow, whose conversion of Python lists imports pandas (~1 s of CPU per refresh)
        return self._inner.from_columns(data, types)

    def materialize(self, lf: nw.LazyFrame) -> nw.LazyFrame:
        return self._inner.materialize(lf)

    def collect(self, lf: nw.LazyFrame):
        return self._inner.collect(lf)


def _meta(engine: Engine) -> dict[str, str]:
    """The stored table's meta (first and through month, settings, data stamp ...); {} before
    the first refresh.  Read through the engine: no connection of its own to open."""
    M = engine.stored(META)
    return {} if M is None else {r["key"]: r["value"] for r in engine.rows(M)}


def _settings_key(settings: Settings) -> str:
    # "changes-N": the stored table's version (older workspaces stored A, or C without
    # first_paid: rebuilt)
    return (f"changes-3|{settings.workspace.base_currency}|{settings.metrics.fx_rule}"
            f"|{settings.metrics.reactivation_window_months}")


# The entities the change table is computed from (the names the imports log records).
CHANGE_INPUTS = ("subscriptions", "fx-rates")


def data_stamp(engine: Engine) -> str:
    """What the change table was computed from, as the imports log knows it: how many imports
    of subscriptions and FX rates there were and when the latest was.  Every write of those
    tables is an import, logged in its own transaction (``Warehouse.import_writer``), so a
    stored change table whose stamp is the current one was computed from the current data."""
    row = engine.rows(engine.table("imports").filter(nw.col("entity").is_in(CHANGE_INPUTS)).select(
        nw.len().alias("n"), nw.col("imported_at").max().alias("at")))[0]
    at = row["at"]
    return f"{int(row['n'])}|{'' if at is None else at.isoformat()}"


def stored_changes(engine: Engine, settings: Settings, last: int) -> nw.LazyFrame | None:
    """The stored change table C as it would be computed through month ``last``, or None
    when it cannot stand for it: absent, computed under other settings (base currency, FX
    rule, reactivation window), from other data (``data_stamp``), or through an earlier month.

    C through a later month T holds the same rows for months <= last, except that an
    account's next change month after ``last`` is then known: it becomes OPEN_END, as in C
    computed through ``last``."""
    got = stored_state(engine, settings, last)
    return None if got is None else got[0]


def stored_state(engine: Engine, settings: Settings, last: int) -> tuple[nw.LazyFrame, dict[str, str]] | None:
    """(C, meta) as :func:`stored_changes` defines C, with the meta it was stored with (what
    the refresh also checked and summed: ``history_first``, ``fx_checked``, ``rollups``)."""
    from retentio.metrics.mrr import OPEN_END

    C = engine.stored(CHANGES)
    if C is None:
        return None
    meta = _meta(engine)
    if (meta.get("settings") != _settings_key(settings) or not meta.get("through")
            or meta.get("data") != data_stamp(engine)):
        return None
    through = int(meta["through"])
    if last > through:
        return None
    C = C.select(*C_COLUMNS)
    if last < through:
        nxt = nw.col("next_month")
        C = C.filter(nw.col("month") <= last).with_columns(
            next_month=nw.when(nxt > last).then(nw.lit(OPEN_END, nw.Int64)).otherwise(nxt))
    return C, meta


def _compute_rows(engine: Engine, settings: Settings, last: int, accounts: pa.Table | None) -> pa.Table:
    """C through month ``last``, of all accounts or only ``accounts``."""
    from retentio.metrics.changes import change_table

    eng: Engine = engine if accounts is None else _Scoped(engine, engine.from_arrow(accounts))
    lf = change_table(eng, settings, last).select(*C_COLUMNS)
    return engine.collect(lf).to_arrow()


def _line_bounds(engine: Engine) -> tuple[int | None, int | None]:
    """First month with a paid line; last month in which a paid line starts."""
    from retentio.metrics.mrr import paid_lines

    row = engine.rows(paid_lines(engine).select(nw.col("from_month").min().alias("a"),
                                                nw.col("from_month").max().alias("b")))[0]
    return (None if row["a"] is None else int(row["a"]), None if row["b"] is None else int(row["b"]))


def refresh(ws, *, through: str | None = None, figures: bool = True, full: bool = False) -> RefreshReport:
    """Bring the stored account-month snapshot up to date with the workspace's data and
    return the figures of the months that changed (``ws`` is a retentio.service.Workspace)."""
    t0 = time.perf_counter()
    # one connection reads the data, computes and writes C, its inputs' copies and the month
    # rollups (a fresh one: it sees the latest data)
    with ws.writing_engine() as engine:
        report, from_m, last = _refresh(ws, engine, through, full)
    if figures and from_m is not None:
        t = time.perf_counter()
        report.figures = snapshot_series(ws, f"{month_label(from_m)}..{month_label(last)}")
        report.seconds["figures"] = time.perf_counter() - t
    report.seconds["total"] = time.perf_counter() - t0
    return report


def _refresh(ws, engine: Engine, through: str | None, full: bool) -> tuple[RefreshReport, int | None, int]:
    """The refresh on the writable ``engine``: (report, the first month whose figures
    changed or None, C's through month)."""
    settings = ws.settings
    meta = _meta(engine)
    stamp = data_stamp(engine)  # read with the data the change rows are computed from
    first, max_start = _line_bounds(engine)
    from retentio.clock import today

    requested = month_index(today()) if through is None else _last_of(through)
    stored_through = int(meta["through"]) if meta.get("through") else None
    last = max(x for x in (requested, stored_through, max_start, first) if x is not None) if first is not None else requested
    seconds: dict[str, float] = {}
    history_first = first
    if first is None:
        first = last
    # the FX rates of the lines active through ``last``, checked once here for every figure
    # that reads this C (a check of [first, last] covers any [first, earlier month])
    from retentio.errors import DataError
    from retentio.metrics.mrr import check_fx_lines

    try:
        check_fx_lines(engine, settings, min(first, last), last)
        fx_checked = "yes"
    except DataError:
        fx_checked = "no"  # each figure checks its own months, and names what is missing

    rebuild = full or not meta or meta.get("settings") != _settings_key(settings) or int(meta["first"]) > first
    affected: pa.Table | None = None
    from_m: int | None = None
    candidates: list[int] = []
    parts: list[tuple[pa.Table, pa.Table | None]] = []  # (C rows, their accounts or None = all)
    changed_lines: pa.Table | None = None  # the lines whose stored copy is replaced (rebuild: all)
    fx_changed = costs_changed = None
    if rebuild:
        from_m = first
        parts.append((_compute_rows(engine, settings, last, None), None))
        mode = "full"
    else:
        t = time.perf_counter()
        # the stored copies live in the workspace's DuckDB file: the warehouse compares them
        diff = ws.warehouse.diff_stored_copies(engine.con, lines=LINES, fx=FX, costs=COSTS,
                                               line_columns=LINE_COLUMNS, fx_columns=FX_COLUMNS)
        changed_lines, changed = diff.lines, diff.accounts
        fx_changed, costs_changed = diff.fx_month, diff.cost_period
        seconds["diff"] = time.perf_counter() - t
        t = time.perf_counter()
        candidates = [int(m) for m in changed.column("m").to_pylist()]
        grows = stored_through is not None and last > stored_through
        if fx_changed is not None:
            candidates.append(max(int(fx_changed), first))
        if grows:
            candidates.append(stored_through + 1)
        if fx_changed is not None or grows:
            # rate changes touch every foreign line, a later month every account: rebuild C
            # (proportional to lines and rate changes)
            parts.append((_compute_rows(engine, settings, last, None), None))
        elif changed.num_rows:
            affected = changed.select(["account_id"])
            parts.append((_compute_rows(engine, settings, last, affected), affected))
        if changed.num_rows:
            affected = changed.select(["account_id"])
        if costs_changed is not None:  # costs change figures (CAC, CRC ...) but not C
            y, mo = str(costs_changed)[:7].split("-")
            candidates.append(int(y) * 12 + int(mo) - 1)
        from_m = max(min(candidates), first) if candidates else None
        mode = "incremental" if candidates else "unchanged"
        seconds["compute"] = time.perf_counter() - t

    t = time.perf_counter()
    rows_written = ws.warehouse.write_stored_copies(
        engine.con, tables=TABLES, parts=parts, first=first, last=last, rebuild=rebuild,
        changed_line_ids=None if changed_lines is None else changed_lines.select(["subscription_id"]),
        fx_changed=fx_changed is not None, costs_changed=costs_changed is not None,
        meta={"first": str(first), "through": str(last), "settings": _settings_key(settings), "data": stamp,
              "history_first": "" if history_first is None else str(history_first), "fx_checked": fx_checked,
              "computed_at": datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")})
    seconds["write"] = time.perf_counter() - t
    t = time.perf_counter()
    # When the stored rollups stood for the data before this refresh, only the months from
    # the earliest one a changed line, rate or cost touches can differ (C is the same before
    # it), unless C was rebuilt from other settings or an earlier first month.  That month
    # is not clamped to the first paid month (from_m is): a trial may end before it.
    from retentio.metrics.rollups import rollups_key

    stood = bool(not rebuild and meta and meta.get("rollups") == rollups_key(settings, meta))
    since = min(candidates) if stood and candidates else None
    # nothing changed (a file imported again, a kind written differently): C, its through
    # month and the lines' copies are what the stored rollups were computed from; only the
    # data stamp their key names moved on
    same = stood and not candidates
    if _keep_rollups(ws, engine, settings, last, since, same=same):
        seconds["rollups"] = time.perf_counter() - t
    report = RefreshReport(mode, month_label(first), month_label(last),
                           None if from_m is None else month_label(from_m),
                           0 if affected is None else affected.num_rows, rows_written, seconds)
    return report, from_m, last


def _keep_rollups(ws, engine: Engine, settings: Settings, last: int, since: int | None = None, *,
                  same: bool = False) -> bool:
    """Recompute the month rollups from the C just stored through ``engine`` (from month
    ``since`` on when the stored ones stood for the data before: ``rollups.compute``), unless
    they were computed from the same (``rollups.rollups_key``); True when they were written.
    ``same``: the stored ones stood for the data before and C did not change: they are kept,
    under the new key."""
    from retentio.metrics import rollups

    meta = _meta(engine)  # as just written
    key = rollups.rollups_key(settings, meta)
    if meta.get("rollups") == key or meta.get("fx_checked") != "yes":
        return False  # up to date; or rates are missing, which every figure reports itself
    tables = {} if same else rollups.compute(engine, settings, last, since)
    ws.warehouse.write_derived_tables(engine.con, tables=tables, meta_table=META, meta={"rollups": key})
    return True


def _last_of(text: str) -> int:
    from retentio.metrics.periods import parse_period

    return parse_period(text).last


def snapshot_series(ws, period: str) -> list[dict[str, Any]]:
    """The monthly figures of ``period`` computed from the stored change table (the Book reads
    it while it stands for the data: ``stored_changes``)."""
    from retentio.metrics.kpis import compute
    from retentio.metrics.periods import parse_period

    p = parse_period(period)
    engine = ws.engine("duckdb")
    if not _meta(engine):
        from retentio.errors import UsageError

        raise UsageError("no stored MRR snapshot in this workspace", hint="run Workspace.refresh() first")
    return compute(engine, ws.settings, [Period.month(m) for m in p.months])


__all__ = ["CHANGE_INPUTS", "COSTS", "FX", "FX_COLUMNS", "LINES", "LINE_COLUMNS", "META",
    "RefreshReport", "SNAPSHOT", "data_stamp", "refresh", "snapshot_series", "stored_changes"]
