"""The month rollups (metrics/rollups.py) kept by the refresh = the expansion oracle.

A workspace's refresh stores C and, beside it, the sums of every month that the figures are
made of (and the cohort deltas of the cohort triangle).  Figures read from them must equal the expansion's on the books of the change-point
property test (random books with FX moves, trials, reactivations, same-day and within-month
lines, discounts and one-offs; the deterministic rich book), asked through an earlier month
than the stored one, under both FX rules; and the rollups must stop being read as soon as
what they were computed from changes.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from retentio.metrics import metrics_series, oracle
from retentio.metrics.kpis import Book, compute
from retentio.metrics.periods import parse_period
from retentio.model import ENTITIES
from retentio.service import Workspace
from test_change_points import PERIOD, _cells, books, rich_book
from test_metrics_properties import arrow_tables


def _workspace(path, book: dict, fx_rule: str, window: int) -> Workspace:
    """A workspace holding ``book``, written straight through the warehouse (as imports do),
    then refreshed: C and the rollups are stored."""
    ws = Workspace.init(path)
    ws.settings.metrics.fx_rule = fx_rule
    ws.settings.metrics.reactivation_window_months = window
    arrow = arrow_tables(book)
    for ent in ENTITIES.values():
        rows = arrow[ent.table]
        if rows.num_rows:
            ws.warehouse.write_import(ent, rows, [], file="book", kind="csv", rows_read=rows.num_rows)
    report = ws.refresh(figures=False)
    assert "rollups" in report["seconds"], report
    return ws


def _check(ws: Workspace) -> None:
    eng = ws.engine("duckdb")
    s = ws.settings
    last = parse_period(PERIOD).last
    assert Book.load(eng, s, last).rollups is not None  # the figures below read them
    assert metrics_series(eng, s, PERIOD) == oracle.metrics_series(eng, s, PERIOD)
    # longer periods: their own comparisons from C, the months' sums from the rollups
    q = [parse_period("2023-Q4"), parse_period("2024-Q2"), parse_period("2023-06..2024-05"), parse_period("2024")]
    assert compute(eng, s, q) == oracle.compute(eng, s, q)
    # a period before the first line, and one month at a time
    for p in ("2022-06", "2023-01", "2024-10"):
        assert compute(eng, s, [parse_period(p)]) == oracle.compute(eng, s, [parse_period(p)])
    # the cohort triangle from the stored cohort deltas, through the stored month and earlier
    for through in (PERIOD.split("..")[1], "2023-09", "2022-06"):
        assert _cells(eng, s, through) == oracle.cohort_cells(eng, s, parse_period(through).last)


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
        ws.warehouse.write_import(ENTITIES["subscriptions"], arrow_tables(extra)["subscriptions"], [], file="direct",
                                  kind="csv", rows_read=1)
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
        ws.close()
        ws.warehouse.write_derived_tables(tables={}, meta_table=META, meta={"rollups": "rollups-0|older"})
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
