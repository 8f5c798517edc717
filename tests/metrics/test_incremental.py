"""Incremental refresh (retentio.metrics.incremental): every import of subscriptions or FX
rates keeps the stored change table up to date (its report says how: ``change_table``), and
after any sequence of imports the stored account-month snapshot and the figures read from it
equal a full recompute."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from retentio.metrics.incremental import SNAPSHOT
from retentio.metrics.mrr import account_months
from retentio.metrics.periods import month_index, parse_period
from retentio.service import Workspace

THROUGH = "2025-12"
SUB_FIELDS = ["subscription_id", "account_id", "plan", "start_date", "end_date", "amount", "billing_period_months",
              "currency", "is_trial"]


def _write(path: Path, fields: list[str], rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r[k]) for k in fields})
    return path


def _random_lines(rng: random.Random, accounts: list[str], n: int, prefix: str) -> list[dict]:
    rows = []
    for i in range(n):
        start = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 600))
        end = None if rng.random() < 0.5 else start + timedelta(days=rng.randrange(20, 400))
        bpm = rng.choice([1, 1, 1, 12])
        rows.append({
            "subscription_id": f"{prefix}{i}", "account_id": rng.choice(accounts), "plan": rng.choice(["a", "b"]),
            "start_date": start.isoformat(), "end_date": None if end is None else end.isoformat(),
            "amount": rng.choice([29, 49, 99, 120.5, 990]) * bpm, "billing_period_months": bpm,
            "currency": rng.choice(["EUR", "EUR", "USD"]), "is_trial": "true" if rng.random() < 0.1 else "false",
        })
    return rows


def _fx_rows(rate_shift: float = 0.0) -> list[dict]:
    rows, d = [], date(2023, 12, 1)
    while d <= date(2026, 1, 1):
        rows.append({"date": d.isoformat(), "currency": "USD", "rate": round(0.9 + 0.01 * (d.month % 5) + rate_shift, 4)})
        d = (d.replace(day=1) + timedelta(days=32)).replace(day=1)
    return rows


def _stored(ws: Workspace) -> list[tuple]:
    last = parse_period(THROUGH).last
    return sorted(tuple(r.values()) for r in ws.warehouse.query(
        f'SELECT account_id, month, mrr_cents FROM "{SNAPSHOT}" WHERE month <= {last}'))


def _full(ws: Workspace, first: str) -> list[tuple]:
    ws.close()
    eng = ws.engine("duckdb")
    lf = account_months(eng, ws.settings, month_index(date.fromisoformat(first + "-01")), parse_period(THROUGH).last)
    return sorted(tuple(r) for r in eng.collect(lf.select("account_id", "month", "mrr_cents")).iter_rows())


def _check_equal_to_full(ws: Workspace, report: dict) -> None:
    assert _stored(ws) == _full(ws, report["first_month"])
    if report["from_month"] is not None:
        period = f"{report['from_month']}..{THROUGH}"
        # DuckDB reads the stored change table; Polars computes it from the lines
        assert _figures(ws, report) == ws.metrics_series(period, engine="polars")


def _figures(ws: Workspace, report: dict) -> list[dict]:
    """The figures of the months the import changed (from its report's from_month), read from
    the stored change table."""
    return ws.metrics_series(f"{report['from_month']}..{THROUGH}", engine="duckdb")


def _kept(ws: Workspace, entity: str, path: Path, **kw) -> dict:
    """Import and return how the stored change table was kept up to date."""
    return ws.import_file(entity, path, **kw).change_table


@pytest.fixture()
def ws(tmp_path):
    w = Workspace.init(tmp_path / "ws")
    yield w
    w.close()


def test_incremental_equals_full_recompute_after_several_imports(ws, tmp_path):
    rng = random.Random(6)
    ids = [f"acc{i:02d}" for i in range(40)]
    ws.import_file("accounts", _write(tmp_path / "acc.csv", ["account_id", "name"],
                                      [{"account_id": a, "name": a.upper()} for a in ids + ["new1", "new2"]]))
    ws.import_file("fx-rates", _write(tmp_path / "fx.csv", ["date", "currency", "rate"], _fx_rows()))
    lines = _random_lines(rng, ids, 80, "s")
    first = _kept(ws, "subscriptions", _write(tmp_path / "subs1.csv", SUB_FIELDS, lines))
    assert first["mode"] == "full"
    _check_equal_to_full(ws, first)

    # 1. nothing changed: nothing recomputed
    again = ws.refresh()
    assert again["mode"] == "unchanged" and again["figures"] == [] and again["rows_written"] == 0

    # 2. one more batch: new lines (two new accounts), changed end dates and amounts (upsert by id)
    changed = [dict(lines[i], end_date="2025-07-10") for i in range(0, 10)]
    changed += [dict(lines[i], amount=float(lines[i]["amount"]) + 11) for i in range(10, 15)]
    changed += [dict(r, account_id=rng.choice(["new1", "new2"])) for r in _random_lines(rng, ids, 6, "n")]
    rep = _kept(ws, "subscriptions", _write(tmp_path / "subs2.csv", SUB_FIELDS, changed))
    assert rep["mode"] == "incremental"
    assert 0 < rep["accounts_recomputed"] <= len({r["account_id"] for r in changed})
    _check_equal_to_full(ws, rep)

    # 3. an FX rate corrected in the past: every account from that month on
    rep = _kept(ws, "fx-rates", _write(tmp_path / "fx2.csv", ["date", "currency", "rate"],
                                       [{"date": "2025-03-01", "currency": "USD", "rate": 1.25}]))
    assert rep["mode"] == "incremental" and rep["from_month"] == "2025-03"
    _check_equal_to_full(ws, rep)

    # 4. a replace import dropping lines
    keep = [r for r in lines[20:]]
    rep = _kept(ws, "subscriptions", _write(tmp_path / "subs3.csv", SUB_FIELDS, keep), replace=True)
    assert rep["mode"] == "incremental"
    _check_equal_to_full(ws, rep)


def test_one_changed_line_recomputes_one_account_from_its_start_month(ws, tmp_path):
    """Hand-worked: accounts x and y each have one EUR monthly line of 100 from 2025-02-10,
    open.  MRR at every month end 2025-02..2025-12 is 200.  Re-importing x's line at 150
    (same id) changes x only, from 2025-02 (its start month): MRR becomes 250 in every month
    2025-02..2025-12, and the 2025-02 bridge shows new = 250 (both accounts start that month)."""
    ws.import_file("accounts", _write(tmp_path / "a.csv", ["account_id", "name"],
                                      [{"account_id": "x", "name": "X"}, {"account_id": "y", "name": "Y"}]))
    base = {"plan": "p", "start_date": "2025-02-10", "end_date": None, "billing_period_months": 1,
            "currency": "EUR", "is_trial": "false"}
    rows = [dict(base, subscription_id="sx", account_id="x", amount=100),
            dict(base, subscription_id="sy", account_id="y", amount=100)]
    first = _kept(ws, "subscriptions", _write(tmp_path / "s.csv", SUB_FIELDS, rows))
    assert _figures(ws, first)[-1]["mrr"] == 200.0
    rep = _kept(ws, "subscriptions", _write(tmp_path / "s2.csv", SUB_FIELDS, [dict(rows[0], amount=150)]))
    assert rep["mode"] == "incremental"
    assert rep["accounts_recomputed"] == 1
    assert rep["from_month"] == "2025-02"
    figures = _figures(ws, rep)
    assert [f["period"] for f in figures] == [f"2025-{m:02d}" for m in range(2, 13)]
    assert all(f["mrr"] == 250.0 for f in figures)
    assert figures[0]["movements"]["new"] == 250.0
    # the stored table is the change table (issue 12): x's change rows were rewritten, y's
    # were not.  x has one change row, 2025-02 (its line starts: s = 0, e = 150.00)
    assert rep["rows_written"] == 1

    # x cancels: end date 2025-10-05 (only the end date changes).  x's line is active on
    # 2025-09-30 but not on 2025-10-31, so figures change from 2025-10 only: MRR 100 (y),
    # churn 150 in 2025-10, and x has no snapshot row left from 2025-10 on.
    rep = _kept(ws, "subscriptions", _write(tmp_path / "s3.csv", SUB_FIELDS,
                                            [dict(rows[0], amount=150, end_date="2025-10-05")]))
    assert rep["from_month"] == "2025-10"
    figures = _figures(ws, rep)
    assert [f["period"] for f in figures] == ["2025-10", "2025-11", "2025-12"]
    assert figures[0]["movements"]["churn"] == 150.0
    assert [f["mrr"] for f in figures] == [100.0, 100.0, 100.0]
    # x's change rows rewritten: 2025-02 (0 -> 150) and 2025-10 (150 -> 0, its line ends)
    assert rep["rows_written"] == 2
    _check_equal_to_full(ws, rep)


def test_a_kind_written_differently_changes_nothing(ws, tmp_path):
    """Hand-worked: x has one EUR monthly line of 100 from 2025-02-10, imported with kind
    "recurring".  Re-importing it from a file without the kind column (empty = recurring,
    metrics.md §2) changes no figure: nothing is recomputed.  Re-importing it again without
    kind but with an end date 2025-10-05 is an end-date change only: figures change from
    2025-10 (churn 100, MRR 0), not from its start month 2025-02."""
    ws.import_file("accounts", _write(tmp_path / "a.csv", ["account_id", "name"], [{"account_id": "x", "name": "X"}]))
    row = {"subscription_id": "sx", "account_id": "x", "plan": "p", "start_date": "2025-02-10", "end_date": None,
           "amount": 100, "billing_period_months": 1, "currency": "EUR", "is_trial": "false", "kind": "recurring"}
    assert _kept(ws, "subscriptions", _write(tmp_path / "s.csv", SUB_FIELDS + ["kind"], [row]))["mode"] == "full"
    rep = _kept(ws, "subscriptions", _write(tmp_path / "s2.csv", SUB_FIELDS, [row]))
    assert rep["mode"] == "unchanged" and rep["from_month"] is None and rep["rows_written"] == 0
    rep = _kept(ws, "subscriptions", _write(tmp_path / "s3.csv", SUB_FIELDS, [dict(row, end_date="2025-10-05")]))
    assert rep["mode"] == "incremental" and rep["from_month"] == "2025-10"
    figures = _figures(ws, rep)
    assert figures[0]["movements"]["churn"] == 100.0
    assert [f["mrr"] for f in figures] == [0.0, 0.0, 0.0]
    _check_equal_to_full(ws, rep)


def _c_rows(engine, lf) -> list[tuple]:
    from retentio.metrics.incremental import C_COLUMNS

    return sorted(tuple(r[c] for c in C_COLUMNS) for r in engine.rows(lf.select(*C_COLUMNS)))


def test_figures_read_the_stored_change_table_only_while_it_stands_for_the_data(ws, tmp_path):
    """Hand-worked: x has a USD monthly line of 100 from 2025-02-10 to 2025-10-05 (rates 0.9
    from 2024-12, 1.0 from 2025-05).  Its change rows through 2025-12 are 2025-02 (0 -> 90.00),
    2025-05 (90 -> 100, currency only) and 2025-10 (100 -> 0).  Asked through 2025-06, C has the
    first two, and the 2025-05 row's next change month is open (2025-10 is not yet known): the
    stored table, kept through a later month, gives exactly those rows.  The stored table stops
    being read when the settings it was computed under change, and when data is written
    without it being kept (an import straight through the warehouse)."""
    from retentio.metrics.changes import change_table
    from retentio.metrics.incremental import stored_changes
    from retentio.metrics.mrr import OPEN_END
    from retentio.model import ENTITIES
    import pyarrow as pa

    ws.import_file("accounts", _write(tmp_path / "a.csv", ["account_id", "name"], [{"account_id": "x", "name": "X"}]))
    ws.import_file("fx-rates", _write(tmp_path / "fx.csv", ["date", "currency", "rate"],
                                      [{"date": "2024-12-01", "currency": "USD", "rate": 0.9},
                                       {"date": "2025-05-01", "currency": "USD", "rate": 1.0}]))
    row = {"subscription_id": "sx", "account_id": "x", "plan": "p", "start_date": "2025-02-10",
           "end_date": "2025-10-05", "amount": 100, "billing_period_months": 1, "currency": "USD", "is_trial": "false"}
    kept = _kept(ws, "subscriptions", _write(tmp_path / "s.csv", SUB_FIELDS, [row]))
    assert kept["mode"] == "full" and kept["rows_written"] == 3
    june, dec = parse_period("2025-06").last, parse_period("2025-12").last
    eng = ws.engine("duckdb")
    stored = stored_changes(eng, ws.settings, june)
    assert stored is not None
    rows = _c_rows(eng, stored)
    assert [(r[1] - june, r[2], r[3], r[9]) for r in rows] == [(-4, 0, 9000, june - 1), (-1, 9000, 10000, OPEN_END)]
    assert rows == _c_rows(eng, change_table(eng, ws.settings, june))
    assert _c_rows(eng, stored_changes(eng, ws.settings, dec)) == _c_rows(eng, change_table(eng, ws.settings, dec))
    # settings C depends on: the stored table no longer stands for C
    ws.settings.metrics.reactivation_window_months = 3
    assert stored_changes(eng, ws.settings, june) is None
    ws.settings.metrics.reactivation_window_months = 0
    assert stored_changes(eng, ws.settings, june) is not None
    # data written without keeping the table: figures are computed from the lines
    ws.close()
    direct = {**row, "amount": 300.0, "start_date": date(2025, 2, 10), "end_date": date(2025, 10, 5), "is_trial": False}
    line = pa.table({c.name: pa.array([direct.get(c.name)], type=_arrow(c)) for c in ENTITIES["subscriptions"].columns})
    ws.warehouse.write_import(ENTITIES["subscriptions"], line, [], file="direct", kind="csv", rows_read=1)
    eng = ws.engine("duckdb")
    assert stored_changes(eng, ws.settings, june) is None
    assert ws.metrics_series("2025-06", engine="duckdb")[0]["mrr"] == 300.0


def _arrow(column):
    from retentio.model import arrow_types

    return arrow_types()[column.dtype]


def test_an_import_whose_change_table_cannot_be_kept_is_still_an_import(ws, tmp_path, monkeypatch):
    """Hand-worked: x has one EUR monthly line of 100 from 2025-02-10.  If keeping the stored
    change table fails after the import committed, the import is reported done with a note,
    and the figures are computed from the lines: MRR 100 in 2025-06."""
    import retentio.metrics.incremental as inc

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    ws.import_file("accounts", _write(tmp_path / "a.csv", ["account_id", "name"], [{"account_id": "x", "name": "X"}]))
    monkeypatch.setattr(inc, "refresh", broken)
    row = {"subscription_id": "sx", "account_id": "x", "plan": "p", "start_date": "2025-02-10", "end_date": None,
           "amount": 100, "billing_period_months": 1, "currency": "EUR", "is_trial": "false"}
    report = ws.import_file("subscriptions", _write(tmp_path / "s.csv", SUB_FIELDS, [row]))
    assert report.rows_accepted == 1
    assert report.change_table == {"mode": "failed", "error": "RuntimeError: disk full"}
    assert any("change table was not updated" in n for n in report.notes)
    assert ws.metrics_series("2025-06", engine="duckdb")[0]["mrr"] == 100.0


def test_a_refresh_opens_one_connection_to_the_workspace(ws, tmp_path, monkeypatch):
    """The refresh that ends an import reads, compares, computes and writes C and the month
    rollups through one DuckDB connection (Workspace.writing_engine): it used five, each
    20-40 ms to open and close, most of a small refresh.  A refresh that opens a connection
    of its own again (the warehouse's, or a second engine) fails this test."""
    import duckdb

    ws.import_file("accounts", _write(tmp_path / "a.csv", ["account_id", "name"], [{"account_id": "x", "name": "X"}]))
    line = {"subscription_id": "sx", "account_id": "x", "plan": "p", "start_date": "2025-02-10", "end_date": None,
            "amount": 100, "billing_period_months": 1, "currency": "EUR", "is_trial": "false"}
    _kept(ws, "subscriptions", _write(tmp_path / "s.csv", SUB_FIELDS, [line]))
    in_refresh, opened = [], []
    real_refresh, real_connect = ws.refresh, duckdb.connect

    def refresh(**kw):  # what the import calls once its rows are written
        in_refresh.append(True)
        try:
            return real_refresh(**kw)
        finally:
            in_refresh.pop()

    monkeypatch.setattr(ws, "refresh", refresh)
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: (opened.append(a) if in_refresh else None) or real_connect(*a, **k))
    rep = _kept(ws, "subscriptions", _write(tmp_path / "s2.csv", SUB_FIELDS, [dict(line, amount=150)]))
    assert rep["mode"] == "incremental" and rep["accounts_recomputed"] == 1
    assert "rollups" in rep["seconds"]  # the month rollups were written through it too
    assert len(opened) == 1, opened
    monkeypatch.undo()
    assert [f["mrr"] for f in ws.metrics_series("2025-02..2025-03")] == [150.0, 150.0]
