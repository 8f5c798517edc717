"""Imports read, validate and stage a file in batches of BATCH_ROWS rows (tiny here): the
outcome must be exactly that of one batch — the same accepted rows, the same quarantine
(the file's real row numbers, reasons, details), the same report — including duplicates
that straddle batches, account attributes, --replace, and a failure in a middle batch."""

from __future__ import annotations

import json

import polars as pl
import pytest

import retentio.ingest.pipeline as ingest
from ingest_helpers import accounts, data_fingerprint, reasons
from retentio import Workspace
from retentio.warehouse import ImportWriter

SUBS = [
    "subscription_id,account_id,plan,start_date,end_date,amount,billing_period_months,currency,is_trial",
    "s1,a1,pro,2024-01-01,,100,1,EUR,false",
    "s2,a2,pro,2024-01-01,2023-12-01,100,1,EUR,false",      # end before start
    "s3,nobody,pro,2024-01-01,,100,1,EUR,false",            # unknown account
    "s4,a1,pro,2024-02-30,,100,1,EUR,false",                # bad date
    "s5,a2,pro,2024-01-01,,-5,1,EUR,false",                 # negative amount
    "s6,a1,pro,2024-01-01,,100,0,EUR,false",                # zero billing period
    "s7,a1,pro,2024-01-01,,100,1,EURO,false",               # bad currency
    "s1,a1,pro,2024-01-01,,100,1,EUR,false",                # exact copy of row 1 (other batch)
    "s8,a1,pro,2024-01-01,,100,1,EUR,false",
    "s8,a2,pro,2024-01-01,,200,1,EUR,false",                # same id, other values
    "s9,a2,basic,2024-03-01,,29.9,1,EUR,maybe",             # bad boolean
    "s10,a2,basic,2024-03-01,,29.9,1,EUR,true",
]


def _import(tmp_path, monkeypatch, batch: int, name: str):
    monkeypatch.setattr(ingest, "BATCH_ROWS", batch)
    ws = Workspace.init(tmp_path / name)
    (tmp_path / f"{name}-acc.csv").write_text("account_id,name\na1,A\na2,B\n")
    ws.import_file("accounts", tmp_path / f"{name}-acc.csv")
    f = tmp_path / "subs.csv"
    f.write_text("\n".join(SUBS) + "\n")
    report = ws.import_file("subscriptions", f)
    data = ws.warehouse.query("SELECT * FROM subscriptions ORDER BY subscription_id, account_id")
    quarantine = ws.warehouse.query(
        "SELECT row_number, \"column\", value, reason, detail, raw FROM quarantine WHERE entity = 'subscriptions' ORDER BY row_number"
    )
    return report, data, quarantine


@pytest.mark.parametrize("batch", [1, 3, 5])
def test_batches_equal_one_piece(tmp_path, monkeypatch, batch):
    r1, d1, q1 = _import(tmp_path, monkeypatch, 1_000_000, "whole")
    r2, d2, q2 = _import(tmp_path, monkeypatch, batch, f"batch{batch}")
    assert (r1.rows_read, r1.rows_accepted, r1.rows_quarantined, r1.reasons) == (
        r2.rows_read, r2.rows_accepted, r2.rows_quarantined, r2.reasons)
    assert d1 == d2
    assert json.dumps(q1, default=str) == json.dumps(q2, default=str)
    # by hand: 12 rows; accepted s1, s10 (s1's copy is a duplicate_row, both s8 duplicate_id)
    assert r1.rows_read == 12 and r1.rows_accepted == 2 and r1.rows_quarantined == 10
    assert r1.reasons["duplicate_id"] == 2 and r1.reasons["duplicate_row"] == 1
    assert [q["row_number"] for q in q2 if q["reason"].startswith("duplicate")] == [8, 9, 10]


# Accounts with attributes: a1 copied in batch 2 (row 4), a2 with another size in batch 3
# (row 5), a bad row in batch 3 (row 6).
ACCOUNTS = [
    "account_id,name,industry,size",
    "a1,Alpha,Retail,SMB",
    "a2,Beta,Bank,",
    "a3,Gamma,Food,ENT",
    "a1,Alpha,Retail,SMB",
    "a2,Beta,Bank,ENT",
    ",NoId,Toys,",
    "a4,Delta,,",
]


def _write_accounts(tmp_path, fmt: str):
    if fmt == "parquet":
        rows = [line.split(",") for line in ACCOUNTS[1:]]
        table = pl.DataFrame({h: [r[j] or None for r in rows] for j, h in enumerate(ACCOUNTS[0].split(","))})
        path = tmp_path / "acc.parquet"
        table.write_parquet(path)
        return path
    lines = list(ACCOUNTS)
    if fmt == "careful csv":  # a quoted field spanning two lines: read whole by the careful reader
        lines[3] = 'a3,"Gamma\nGroup",Food,ENT'
    path = tmp_path / "acc.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("fmt", ["csv", "careful csv", "parquet"])
@pytest.mark.parametrize("batch", [1, 2, 3])
def test_account_duplicates_and_attributes_across_batches(ws, tmp_path, monkeypatch, fmt, batch):
    monkeypatch.setattr(ingest, "BATCH_ROWS", batch)
    report = ws.import_file("accounts", _write_accounts(tmp_path, fmt))
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (7, 3, 4)
    assert report.reasons == {"duplicate_id": 2, "duplicate_row": 1, "missing_value": 1}
    # Row numbers are the file's: in the careful CSV, a3's record takes lines 4-5, so the
    # rows after it are one further (row N on line N + 1 counts lines, not records).
    shift = 1 if fmt == "careful csv" else 0
    assert reasons(ws, "accounts") == {
        2: ("duplicate_id", "account_id"),        # a2 twice with different sizes: neither imported
        4 + shift: ("duplicate_row", "account_id"),  # a1 copied: the first copy imported
        5 + shift: ("duplicate_id", "account_id"),
        6 + shift: ("missing_value", "account_id"),
    }
    got = ws.warehouse.query("SELECT account_id, attribute, value FROM account_attributes ORDER BY 1, 2")
    assert [tuple(r.values()) for r in got] == [
        ("a1", "industry", "Retail"), ("a1", "size", "SMB"),
        ("a3", "industry", "Food"), ("a3", "size", "ENT"),
    ]  # a4 has no attribute; the duplicated a2 none either
    assert sorted(r["account_id"] for r in ws.warehouse.query("SELECT account_id FROM accounts")) == ["a1", "a3", "a4"]
    raw = ws.warehouse.query("SELECT raw FROM quarantine WHERE reason = 'duplicate_row'")[0]["raw"]
    assert json.loads(raw) == {"account_id": "a1", "name": "Alpha", "industry": "Retail", "size": "SMB"}


def test_replace_and_upsert_with_tiny_batches(ws, write, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_ROWS", 1)
    accounts(ws, "a1")
    header = SUBS[0]
    ws.import_file("subscriptions", write("s1.csv", f"{header}\ns1,a1,pro,2024-01-01,,10,1,EUR,false\ns2,a1,pro,2024-01-01,,20,1,EUR,false\n"))
    # Upsert from batch 2: s2 updated, s3 added, s1 untouched.
    ws.import_file("subscriptions", write("s2.csv", f"{header}\ns3,a1,pro,2024-01-01,,30,1,EUR,false\ns2,a1,pro,2024-01-01,,25,1,EUR,false\n"))
    got = {r["subscription_id"]: r["amount"] for r in ws.warehouse.query("SELECT * FROM subscriptions")}
    assert got == {"s1": 10.0, "s2": 25.0, "s3": 30.0}
    report = ws.import_file(
        "subscriptions", write("s3.csv", f"{header}\ns8,zz,pro,2024-01-01,,80,1,EUR,false\ns9,a1,pro,2024-01-01,,90,1,EUR,false\n"),
        replace=True,
    )
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined, report.replaced) == (2, 1, 1, True)
    assert ws.warehouse.query("SELECT subscription_id FROM subscriptions") == [{"subscription_id": "s9"}]


def test_progress_is_reported_per_batch(ws, write, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_ROWS", 2)
    calls = []
    path = write("a.csv", "account_id,name\n" + "".join(f"a{i},A{i}\n" for i in range(5)))
    ws.import_file("accounts", path, progress=lambda done, total: calls.append((done, total)))
    # 5 rows in batches of 2: the total is known after the first pass over the file
    assert calls == [(0, 5), (2, 5), (4, 5), (5, 5), (5, 5)]


@pytest.mark.parametrize("where", ["validation", "staging"])
def test_a_failure_in_batch_two_leaves_the_workspace_unchanged(ws, write, monkeypatch, where):
    accounts(ws, "a1", "a2")
    header = SUBS[0]
    path = write("s.csv", f"{header}\ns1,a1,pro,2024-01-01,,1,1,EUR,false\ns2,zz,p,2024-01-01,,1,1,EUR,false\n")
    ws.import_file("subscriptions", path)  # s1 in, s2 quarantined (row 2, unknown account)
    before = data_fingerprint(ws)
    imports_before = ws.imports()
    monkeypatch.setattr(ingest, "BATCH_ROWS", 1)
    calls = {"n": 0}

    def fail_on_second(original):
        def wrapper(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError("disk full")
            return original(*args, **kwargs)
        return wrapper

    if where == "validation":
        monkeypatch.setattr(ingest, "validate", fail_on_second(ingest.validate))
    else:
        monkeypatch.setattr(ImportWriter, "append", fail_on_second(ImportWriter.append))
    # The same file, fixed: batch 1 (s1 updated) is staged and its quarantine replaced before batch 2 fails.
    path.write_text(f"{header}\ns1,a2,pro,2024-01-01,,9,1,EUR,false\ns2,a1,p,2024-01-01,,1,1,EUR,false\ns3,a1,p,2024-01-01,,1,1,EUR,false\n")
    with pytest.raises(OSError):
        ws.import_file("subscriptions", path, replace=True)
    assert calls["n"] == 2
    assert data_fingerprint(ws) == before  # s1 as it was, s2's quarantine still there
    assert ws.imports() == imports_before


def test_a_key_hash_collision_is_settled_on_real_values(tmp_path, monkeypatch):
    # Every row gets the same hash: all are compared, and only real duplicates are found.
    monkeypatch.setattr(ingest, "key_hash", lambda entity, t: pl.Series([0] * t.height, dtype=pl.UInt64))
    report, data, quarantine = _import(tmp_path, monkeypatch, 4, "collide")
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (12, 2, 10)
    assert report.reasons["duplicate_id"] == 2 and report.reasons["duplicate_row"] == 1
    assert [r["subscription_id"] for r in data] == ["s1", "s10"]
