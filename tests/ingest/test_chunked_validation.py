"""Validation in chunks gives exactly the import of validation in one piece: the same
accepted rows, the same quarantine (row numbers, reasons, details), the same report —
including duplicates that straddle chunks."""

from __future__ import annotations

import json

import pytest

import retentio.ingest as ingest
from retentio import Workspace

ROWS = [
    "subscription_id,account_id,plan,start_date,end_date,amount,billing_period_months,currency,is_trial",
    "s1,a1,pro,2024-01-01,,100,1,EUR,false",
    "s2,a2,pro,2024-01-01,2023-12-01,100,1,EUR,false",      # end before start
    "s3,nobody,pro,2024-01-01,,100,1,EUR,false",            # unknown account
    "s4,a1,pro,2024-02-30,,100,1,EUR,false",                # bad date
    "s5,a2,pro,2024-01-01,,-5,1,EUR,false",                 # negative amount
    "s6,a1,pro,2024-01-01,,100,0,EUR,false",                # zero billing period
    "s7,a1,pro,2024-01-01,,100,1,EURO,false",               # bad currency
    "s1,a1,pro,2024-01-01,,100,1,EUR,false",                # exact copy of row 1 (other chunk)
    "s8,a1,pro,2024-01-01,,100,1,EUR,false",
    "s8,a2,pro,2024-01-01,,200,1,EUR,false",                # same id, other values
    "s9,a2,basic,2024-03-01,,29.9,1,EUR,maybe",             # bad boolean
    "s10,a2,basic,2024-03-01,,29.9,1,EUR,true",
]


def _import(tmp_path, monkeypatch, chunk: int, name: str):
    monkeypatch.setattr(ingest, "CHUNK_ROWS", chunk)
    ws = Workspace.init(tmp_path / name)
    (tmp_path / f"{name}-acc.csv").write_text("account_id,name\na1,A\na2,B\n")
    ws.import_file("accounts", tmp_path / f"{name}-acc.csv")
    f = tmp_path / "subs.csv"
    f.write_text("\n".join(ROWS) + "\n")
    report = ws.import_file("subscriptions", f)
    data = ws.warehouse.query("SELECT * FROM subscriptions ORDER BY subscription_id, account_id")
    quarantine = ws.warehouse.query(
        "SELECT row_number, \"column\", value, reason, detail, raw FROM quarantine WHERE entity = 'subscriptions' ORDER BY row_number"
    )
    return report, data, quarantine


@pytest.mark.parametrize("chunk", [1, 3, 5])
def test_chunked_validation_equals_one_piece(tmp_path, monkeypatch, chunk):
    whole = _import(tmp_path, monkeypatch, 1_000_000, "whole")
    parts = _import(tmp_path, monkeypatch, chunk, f"chunk{chunk}")
    r1, d1, q1 = whole
    r2, d2, q2 = parts
    assert (r1.rows_read, r1.rows_accepted, r1.rows_quarantined, r1.reasons) == (
        r2.rows_read, r2.rows_accepted, r2.rows_quarantined, r2.reasons)
    assert d1 == d2
    assert json.dumps(q1, default=str) == json.dumps(q2, default=str)
    # by hand: 12 rows; accepted s1, s10 (s1's copy is a duplicate_row, both s8 duplicate_id)
    assert r1.rows_read == 12 and r1.rows_accepted == 2 and r1.rows_quarantined == 10
    assert r1.reasons["duplicate_id"] == 2 and r1.reasons["duplicate_row"] == 1
