"""Invariants: read = accepted + quarantined; fatal or failed imports change nothing;
re-imports are idempotent; --replace replaces; a 50 000-row file imports in seconds."""

from __future__ import annotations

import random
from datetime import date

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_helpers import accounts, data_fingerprint
from retentio.errors import DataError
from retentio.model import ENTITIES
from retentio.warehouse import Warehouse

SUB_HEADER = "subscription_id,account_id,plan,start_date,end_date,amount,billing_period_months,currency,is_trial"

GOOD = "{id},a1,pro,2024-01-01,,100,1,EUR,false"
# One template per kind of bad row; {id} keeps ids distinct unless the row is a duplicate.
BAD = [
    "{id},zz,pro,2024-01-01,,100,1,EUR,false",         # unknown account
    "{id},a1,pro,2024-02-30,,100,1,EUR,false",         # bad date
    "{id},a1,pro,01/02/2024,,100,1,EUR,false",         # ambiguous date
    "{id},a1,pro,2024-01-01,,abc,1,EUR,false",         # bad number
    "{id},a1,pro,2024-01-01,,100,0,EUR,false",         # zero billing period
    "{id},a1,pro,2024-01-01,,100,1,XYZ,false",         # bad currency
    "{id},a1,pro,2024-01-01,,100,1,USD,false",         # missing FX rate
    "{id},a1,pro,2024-01-01,,-5,1,EUR,false",          # negative amount
    "{id},a1,pro,2024-01-01,2023-01-01,100,1,EUR,false",  # end before start
    "{id},a1,,2024-01-01,,100,1,EUR,false",            # missing plan
    "{id},a1,pro,2024-01-01,,100,1,EUR,false,extra",   # extra field
    "{id};a1;pro",                                     # wrong delimiter on this line
    "dup,a1,pro,2024-01-01,,100,1,EUR,false",          # duplicates of one another (exact copies)
    "dup2,a1,pro,2024-01-01,,{n},1,EUR,false",         # same id, different amounts
]


def _file(rows: list[tuple[bool, int]]) -> str:
    lines = [SUB_HEADER]
    for i, (good, k) in enumerate(rows):
        tpl = GOOD if good else BAD[k % len(BAD)]
        lines.append(tpl.format(id=f"s{i}", n=i + 1))
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.booleans(), st.integers(0, 100)), max_size=40))
def test_read_equals_accepted_plus_quarantined(ws, write, rows):
    if not ws.warehouse.query("SELECT 1 FROM accounts WHERE account_id = ?", ["a1"]):
        accounts(ws, "a1")
    path = write("s.csv", _file(rows))
    report = ws.import_file("subscriptions", path, replace=True)
    assert report.rows_read == len(rows)
    assert report.rows_read == report.rows_accepted + report.rows_quarantined
    assert sum(report.reasons.values()) == report.rows_quarantined
    # Every good row is accepted (their ids are unique), and what the tables hold agrees.
    assert report.rows_accepted >= sum(1 for good, _ in rows if good)
    assert ws.warehouse.count("subscriptions") == report.rows_accepted
    q = ws.warehouse.query("SELECT count(*) AS n FROM quarantine WHERE file = ?", [str(path.resolve())])
    assert q[0]["n"] == report.rows_quarantined


FATAL = [
    ("empty.csv", b"", None),
    ("nohead.csv", b"\n \n", None),
    ("missing_col.csv", b"subscription_id,account_id\ns1,a1\n", None),
    ("pipe.csv", b"subscription_id|account_id\ns1|a1\n", None),
    ("ok.csv", (SUB_HEADER + "\ns1,a1,pro,2024-01-01,,1,1,EUR,false\n").encode(), "derive: {amount: 'os.system(1)'}\n"),
]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(FATAL), replace=st.booleans())
def test_fatal_import_leaves_workspace_unchanged(ws, write, case, replace):
    if ws.warehouse.count("subscriptions") == 0:
        accounts(ws, "a1")
        ws.import_file("subscriptions", write("base.csv", SUB_HEADER + "\nb1,a1,pro,2024-01-01,,1,1,EUR,false\nb2,zz,p,2024-01-01,,1,1,EUR,false\n"))
    name, content, mapping = case
    before = ws.warehouse.content_fingerprint()
    with pytest.raises(DataError):
        ws.import_file("subscriptions", write(name, content), replace=replace,
                       mapping=write("m.yaml", mapping) if mapping else None)
    assert ws.warehouse.content_fingerprint() == before


def test_failure_inside_the_write_is_rolled_back(ws, write, monkeypatch):
    accounts(ws, "a1", "a2")
    ws.import_file("subscriptions", write("s.csv", SUB_HEADER + "\ns1,a1,pro,2024-01-01,,1,1,EUR,false\n"))
    before = ws.warehouse.content_fingerprint()
    original = Warehouse._apply

    def apply_then_crash(con, *args, **kwargs):
        original(con, *args, **kwargs)  # rows deleted and inserted inside the transaction ...
        raise OSError("disk full")       # ... then the write fails

    monkeypatch.setattr(Warehouse, "_apply", staticmethod(apply_then_crash))
    path = write("s2.csv", SUB_HEADER + "\ns1,a2,pro,2024-01-01,,9,1,EUR,false\ns2,zz,p,2024-01-01,,1,1,EUR,false\n")
    with pytest.raises(OSError):
        ws.import_file("subscriptions", path, replace=True)
    assert ws.warehouse.content_fingerprint() == before


def _one_subscription() -> pa.Table:
    row = {"subscription_id": "s1", "account_id": "a1", "plan": "pro", "start_date": date(2024, 1, 1), "end_date": None,
           "amount": 1.0, "billing_period_months": 1, "currency": "EUR", "is_trial": False, "quantity": None}
    return pa.Table.from_pylist([row], schema=ENTITIES["subscriptions"].arrow_schema)


def test_a_writer_left_without_finish_writes_nothing(ws):
    before = ws.warehouse.content_fingerprint()
    with ws.warehouse.import_writer(ENTITIES["subscriptions"], file="f.csv", kind="csv") as writer:
        writer.append(_one_subscription(), [{"row_number": 2, "reason": "missing_value", "raw": {}}])
    assert ws.warehouse.content_fingerprint() == before


def test_the_write_refuses_rows_that_do_not_add_up(ws):
    before = ws.warehouse.content_fingerprint()
    # 1 accepted + 0 quarantined, but 2 rows read: a row would be lost
    with pytest.raises(DataError, match="2 rows read but 1 accepted \\+ 0 quarantined"):
        ws.warehouse.write_import(ENTITIES["subscriptions"], _one_subscription(), [], file="f.csv", kind="csv", rows_read=2)
    assert ws.warehouse.content_fingerprint() == before


def test_reimport_is_idempotent(ws, write):
    accounts(ws, "a1")
    acc = write("acc.csv", "account_id,name,industry\na1,Alpha,Retail\na2,Beta,\n")
    subs = write("s.csv", SUB_HEADER + "\ns1,a1,pro,2024-01-01,,1,1,EUR,false\ns2,zz,p,2024-01-01,,1,1,EUR,false\n")
    ws.import_file("accounts", acc)
    ws.import_file("subscriptions", subs)
    first = data_fingerprint(ws)
    ws.import_file("accounts", acc)
    ws.import_file("subscriptions", subs)
    assert data_fingerprint(ws) == first
    assert ws.warehouse.count("subscriptions") == 1 and len(ws.quarantine()) == 1


def test_upsert_by_key_and_replace(ws, write):
    accounts(ws, "a1")
    ws.import_file("subscriptions", write("s1.csv", SUB_HEADER + "\ns1,a1,pro,2024-01-01,,10,1,EUR,false\ns2,a1,pro,2024-01-01,,20,1,EUR,false\n"))
    # Upsert: s2 updated, s3 added, s1 untouched.
    ws.import_file("subscriptions", write("s2.csv", SUB_HEADER + "\ns2,a1,pro,2024-01-01,,25,1,EUR,false\ns3,a1,pro,2024-01-01,,30,1,EUR,false\n"))
    got = {r["subscription_id"]: r["amount"] for r in ws.warehouse.query("SELECT * FROM subscriptions")}
    assert got == {"s1": 10.0, "s2": 25.0, "s3": 30.0}
    # Replace: only the new file's rows remain.
    report = ws.import_file("subscriptions", write("s3.csv", SUB_HEADER + "\ns9,a1,pro,2024-01-01,,90,1,EUR,false\n"), replace=True)
    assert report.replaced is True
    assert ws.warehouse.query("SELECT subscription_id FROM subscriptions") == [{"subscription_id": "s9"}]


def test_account_attributes_follow_upserts(ws, write):
    ws.import_file("accounts", write("a.csv", "account_id,name,industry,size\na1,A,Retail,SMB\na2,B,Bank,\n"))
    ws.import_file("accounts", write("b.csv", "account_id,name,industry\na1,A,Food\n"))
    got = ws.warehouse.query("SELECT account_id, attribute, value FROM account_attributes ORDER BY 1, 2")
    # a1's attributes are those of its latest row (size is gone); a2 untouched.
    assert got == [{"account_id": "a1", "attribute": "industry", "value": "Food"},
                   {"account_id": "a2", "attribute": "industry", "value": "Bank"}]


def test_fifty_thousand_rows_counted_and_quarantined(ws, write):
    accounts(ws, *[f"a{i}" for i in range(100)])
    ws.import_file("fx-rates", write("fx.csv", "date,currency,rate\n2020-01-01,USD,0.9\n"))
    rnd = random.Random(7)
    lines = [SUB_HEADER]
    bad = 0
    for i in range(50_000):
        cur = "USD" if i % 3 == 0 else "EUR"
        if i % 1000 == 999:  # every 1000th row is bad: 50 bad rows
            lines.append(f"s{i},a{i % 100},pro,2024-13-01,,{rnd.randint(1, 9999)}.5,12,{cur},false")
            bad += 1
        else:
            lines.append(f"s{i},a{i % 100},pro,2023-{1 + i % 12:02d}-{1 + i % 28:02d},,{rnd.randint(1, 9999)}.5,12,{cur},false")
    path = write("big.csv", "\n".join(lines) + "\n")
    calls = []
    report = ws.import_file("subscriptions", path, progress=lambda done, total: calls.append((done, total)))
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (50_000, 50_000 - bad, bad)
    assert report.reasons == {"bad_date": 50}
    # progress is reported before the first batch, after each batch and at the end
    assert calls[0] == (0, 50_000) and calls[-1] == (50_000, 50_000) and len(calls) >= 3
