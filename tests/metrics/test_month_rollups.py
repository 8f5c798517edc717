"""The month rollups (metrics/rollups.py) kept by the refresh = the expansion oracle.

A workspace's refresh stores C and, beside it, the sums of every month that the figures are
made of (and the cohort deltas of the cohort triangle).  Figures read from them must equal the expansion's on the books of the change-point
property test (random books with FX moves, trials, reactivations, same-day and within-month
lines, discounts and one-offs; the deterministic rich book), asked through an earlier month
than the stored one, under both FX rules; and the rollups must stop being read as soon as
what they were computed from changes.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from retentio.metrics import metrics_series, oracle, rollups
from retentio.metrics.kpis import Book, compute
from retentio.metrics.periods import parse_period
from retentio.model import ENTITIES
from retentio.service import Workspace
from test_change_points import PERIOD, _cells, books, rich_book
from test_metrics_properties import arrow_tables

COMPUTE = rollups.compute  # unpatched (the tests below record its calls)


def _workspace(path, book: dict, fx_rule: str, window: int) -> Workspace:
    """A workspace holding ``book``, written straight through the warehouse (as imports do),
    then refreshed: C and the rollups are stored."""
    ws = Workspace.init(path)
    ws.settings.metrics.fx_rule = fx_rule
    ws.settings.metrics.reactivation_window_months = window
    _write(ws, book, [ent.table for ent in ENTITIES.values()])
    report = ws.refresh(figures=False)
    assert "rollups" in report["seconds"], report
    return ws


def _write(ws: Workspace, book: dict, tables: list[str]) -> None:
    """The book's rows of ``tables`` written as an import writes them (upserted by key)."""
    arrow = arrow_tables(book)
    for ent in ENTITIES.values():
        rows = arrow[ent.table]
        if ent.table in tables and rows.num_rows:
            ws.warehouse.write_import(ent, rows, [], file="book", kind="csv", rows_read=rows.num_rows)


def _check(ws: Workspace) -> None:
    """The figures read from the stored rollups (DuckDB) = the expansion of the workspace's
    data on Polars: engine-independent arithmetic, ~5x quicker there on books this small
    (test_change_points.expected)."""
    eng, o = ws.engine("duckdb"), ws.engine("polars")
    s = ws.settings
    last = parse_period(PERIOD).last
    assert Book.load(eng, s, last).rollups is not None  # the figures below read them
    assert metrics_series(eng, s, PERIOD) == oracle.metrics_series(o, s, PERIOD)
    # longer periods: their own comparisons from C, the months' sums from the rollups
    q = [parse_period("2023-Q4"), parse_period("2024-Q2"), parse_period("2023-06..2024-05"), parse_period("2024")]
    assert compute(eng, s, q) == oracle.compute(o, s, q)
    # a period before the first line, and one month at a time
    for p in ("2022-06", "2023-01", "2024-10"):
        assert compute(eng, s, [parse_period(p)]) == oracle.compute(o, s, [parse_period(p)])
    # the cohort triangle from the stored cohort deltas, through the stored month and earlier
    for through in (PERIOD.split("..")[1], "2023-09", "2022-06"):
        assert _cells(eng, s, through) == oracle.cohort_cells(o, s, parse_period(through).last)


@pytest.mark.parametrize("fx_rule,window", [("snapshot", 0), ("line_start", 3)])
def test_rollups_of_the_rich_book_equal_the_expansion(tmp_path, fx_rule, window):
    ws = _workspace(tmp_path / "ws", rich_book(), fx_rule, window)
    try:
        _check(ws)
    finally:
        ws.close()


@pytest.mark.slow
@example(book=rich_book(), fx_rule="snapshot", window=3)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(book=books(), fx_rule=st.sampled_from(["snapshot", "line_start"]), window=st.sampled_from([0, 3]))
def test_rollups_equal_the_expansion(tmp_path_factory, book, fx_rule, window):
    ws = _workspace(tmp_path_factory.mktemp("ws"), book, fx_rule, window)
    try:
        _check(ws)
    finally:
        ws.close()


def test_rollups_stand_only_for_what_they_were_computed_from(tmp_path):
    """A window of renewals changed, or data written without a refresh: the figures are
    computed from C (or from the lines) again, and still equal the expansion; a refresh
    stores rollups that stand again."""
    ws = _workspace(tmp_path / "ws", rich_book(), "snapshot", 0)
    try:
        last = parse_period(PERIOD).last
        ws.settings.metrics.renewal_window_days = 45
        ws.close()
        eng = ws.engine("duckdb")
        assert Book.load(eng, ws.settings, last).rollups is None
        assert metrics_series(eng, ws.settings, PERIOD) == oracle.metrics_series(eng, ws.settings, PERIOD)
        ws.refresh(figures=False)
        ws.close()
        eng = ws.engine("duckdb")
        assert Book.load(eng, ws.settings, last).rollups is not None
        assert metrics_series(eng, ws.settings, PERIOD) == oracle.metrics_series(eng, ws.settings, PERIOD)
        # a line written straight through the warehouse (no refresh): C and the rollups no
        # longer stand for the data
        extra = rich_book()
        extra["subscriptions"] = [dict(extra["subscriptions"][0], subscription_id="late", amount=700.0)]
        ws.close()
        _write(ws, extra, ["subscriptions"])
        eng = ws.engine("duckdb")
        assert Book.load(eng, ws.settings, last).rollups is None
        assert metrics_series(eng, ws.settings, PERIOD) == oracle.metrics_series(eng, ws.settings, PERIOD)
    finally:
        ws.close()


def test_upgrade_recomputes_rollups_an_older_retentio_wrote(tmp_path):
    """Rollups stored by an older Retentio (another key) are not read; `retentio upgrade`
    recomputes them, and the figures read from them equal the expansion."""
    from retentio.metrics.incremental import META

    ws = _workspace(tmp_path / "ws", rich_book(), "snapshot", 0)
    try:
        last = parse_period(PERIOD).last
        with ws.writing_engine() as e:
            ws.warehouse.write_derived_tables(e.con, tables={}, meta_table=META, meta={"rollups": "rollups-0|older"})
        assert Book.load(ws.engine("duckdb"), ws.settings, last).rollups is None
    finally:
        ws.close()
    done = Workspace.upgrade(tmp_path / "ws")
    assert "stored change table and month rollups recomputed" in done
    assert "stored change table and month rollups recomputed" not in Workspace.upgrade(tmp_path / "ws")
    ws = Workspace(tmp_path / "ws")
    try:
        _check(ws)
    finally:
        ws.close()


CUT = date(2024, 6, 1)


def _stage(book: dict) -> dict:
    """The book as an earlier import had it, before what happened from CUT on: every other
    line starting on or after CUT not there yet, lines ended on or after CUT still open
    (their cancellation comes later), the rates dated on or after CUT other than the final
    ones.  So the refresh of the full book changes months from CUT on, and the months before
    hold sums (steps of the lag-12 overlaps) that the kept part must carry."""
    subs = []
    for i, line in enumerate(book["subscriptions"]):
        if line["start_date"] >= CUT and i % 2:
            continue
        if line.get("end_date") and line["end_date"] >= CUT:
            line = dict(line, end_date=None)
        subs.append(line)
    rates = [dict(r, rate=r["rate"] * 1.25) if r["date"] >= CUT else r for r in book.get("fx_rates", [])]
    return {**book, "subscriptions": subs, "fx_rates": rates}


def _with_renewals_across_the_cut(book: dict) -> dict:
    """Two accounts whose renewal and trial conversion of May 2024 depend on lines that start
    in June 2024, CUT's month (within the 30-day windows): the later import changes a month
    before the first month it touches."""
    def sub(sid, acc, start, end, trial=False):
        return {"subscription_id": sid, "account_id": acc, "plan": "basic", "start_date": start, "end_date": end,
                "amount": 100.0, "billing_period_months": 1, "currency": "EUR", "is_trial": trial, "kind": None}

    extra = [sub("r1", "renew", date(2024, 2, 1), date(2024, 5, 20)),
             sub("r2", "renew", date(2024, 6, 5), None),
             sub("t1", "trial", date(2024, 5, 1), date(2024, 5, 28), trial=True),
             sub("t2", "trial", date(2024, 6, 10), None)]
    return {**book, "accounts": book["accounts"] + [{"account_id": "renew", "name": "Renew"},
                                                   {"account_id": "trial", "name": "Trial"}],
            "subscriptions": book["subscriptions"] + extra}


def _stored_rollups(ws: Workspace) -> dict:
    from retentio.metrics.rollups import TABLES

    eng = ws.engine("duckdb")
    return {t: sorted(tuple(sorted(r.items())) for r in eng.rows(eng.table(t))) for t in TABLES}


def _recording_compute(monkeypatch) -> list:
    """Patch ``rollups.compute`` to record the ``since`` of every call (None: computed whole);
    the list it fills."""
    asked: list = []
    monkeypatch.setattr(rollups, "compute",
                        lambda e, s, last, since=None: asked.append(since) or COMPUTE(e, s, last, since))
    return asked


def _assert_equal_to_rollups_computed_whole(ws: Workspace, kept: dict, monkeypatch) -> None:
    """The stored rollups ``kept`` = those a refresh computes whole from the same C (their key
    made stale, ``rollups.compute`` unpatched)."""
    from retentio.metrics.incremental import META

    with ws.writing_engine() as e:
        ws.warehouse.write_derived_tables(e.con, tables={}, meta_table=META, meta={"rollups": "stale"})
    monkeypatch.setattr(rollups, "compute", COMPUTE)
    ws.refresh(figures=False)  # the same C, the rollups computed whole
    ws.close()
    assert _stored_rollups(ws) == kept


def _check_incremental_rollups(path, book: dict, fx_rule: str, window: int, monkeypatch, figures: bool = True) -> None:
    """An import after the first changes lines and a rate: the refresh computes the rollups
    from the month it changed on, keeping the earlier ones; the tables equal those computed
    whole from the same C, and the figures read from them equal the expansion."""
    ws = _workspace(path, _stage(book), fx_rule, window)
    try:
        asked = _recording_compute(monkeypatch)
        ws.close()
        _write(ws, book, ["subscriptions", "fx_rates"])
        report = ws.refresh(figures=False)
        if report["mode"] == "unchanged" and not asked:
            return  # the draw changed nothing the rollups hold
        if report["mode"] == "full":  # the history begins earlier now: C and the rollups computed whole
            assert asked == [None], (report, asked)
        else:  # computed from a month on, the earlier months kept
            assert asked and asked[-1] is not None, (report, asked)
        _assert_equal_to_rollups_computed_whole(ws, _stored_rollups(ws), monkeypatch)
        if figures:  # (rollups computed whole = the expansion: the tests above)
            _check(ws)
    finally:
        ws.close()


def test_an_import_that_changes_nothing_keeps_the_rollups(tmp_path, monkeypatch):
    """The same lines imported again (a new entry in the imports log, so a new data stamp):
    the refresh finds nothing changed and keeps the stored rollups under the new key instead
    of computing a month again; they equal the rollups computed whole, and the figures read
    from them equal the expansion."""
    book = rich_book()
    ws = _workspace(tmp_path / "ws", book, "snapshot", 0)
    try:
        kept = _stored_rollups(ws)
        asked = _recording_compute(monkeypatch)
        ws.close()
        _write(ws, book, ["subscriptions"])
        report = ws.refresh(figures=False)
        assert report["mode"] == "unchanged" and "rollups" in report["seconds"], report
        assert asked == []  # kept, not computed
        ws.close()
        assert Book.load(ws.engine("duckdb"), ws.settings, parse_period(PERIOD).last).rollups is not None
        assert _stored_rollups(ws) == kept
        _assert_equal_to_rollups_computed_whole(ws, kept, monkeypatch)
        _check(ws)
    finally:
        ws.close()


@pytest.mark.parametrize("fx_rule,window", [("snapshot", 0), ("line_start", 3)])
def test_rollups_kept_by_months_equal_rollups_computed_whole(tmp_path, fx_rule, window, monkeypatch):
    _check_incremental_rollups(tmp_path / "ws", _with_renewals_across_the_cut(rich_book()), fx_rule, window,
                               monkeypatch)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(book=books(), fx_rule=st.sampled_from(["snapshot", "line_start"]), window=st.sampled_from([0, 3]))
def test_rollups_kept_by_months_equal_rollups_computed_whole_on_random_books(tmp_path_factory, book, fx_rule, window,
                                                                             monkeypatch):
    _check_incremental_rollups(tmp_path_factory.mktemp("ws"), _with_renewals_across_the_cut(book), fx_rule, window,
                               monkeypatch, figures=False)


def test_upgrade_says_when_the_change_table_could_not_be_recomputed(tmp_path, monkeypatch):
    """The format upgrade stands when the refresh after it fails: the step says so and what
    the figures do meanwhile."""
    ws = _workspace(tmp_path / "ws", rich_book(), "snapshot", 0)
    ws.close()

    def fail(self, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Workspace, "refresh", fail)
    done = Workspace.upgrade(tmp_path / "ws")
    assert done[-1].startswith("stored change table not recomputed (OSError: disk full)"), done
    assert "computed from the lines until the next import" in done[-1]
