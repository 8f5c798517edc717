"""Parquet, Excel, Stripe and Chargebee exports, and mapping files."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from ingest_helpers import CASES, reasons
from retentio.errors import DataError


@pytest.fixture
def crm(ws):
    """Accounts cus_1..cus_3 and USD rates (the sample exports bill cus_1 in USD)."""
    ws.import_file("accounts", CASES / "accounts.csv")
    ws.import_file("fx-rates", CASES / "fx_rates.csv")
    return ws


def subs(ws):
    return {r["subscription_id"]: r for r in ws.warehouse.query("SELECT * FROM subscriptions")}


def test_accounts_sample_keeps_attributes(crm):
    got = crm.warehouse.query("SELECT account_id, attribute, value FROM account_attributes ORDER BY 1, 2")
    # "Plan Tier" becomes plan_tier; Beta's empty plan tier is not stored.
    assert got == [
        {"account_id": "cus_1", "attribute": "country", "value": "FR"},
        {"account_id": "cus_1", "attribute": "industry", "value": "Logistics"},
        {"account_id": "cus_1", "attribute": "plan_tier", "value": "enterprise"},
        {"account_id": "cus_2", "attribute": "country", "value": "US"},
        {"account_id": "cus_2", "attribute": "industry", "value": "Software"},
        {"account_id": "cus_3", "attribute": "country", "value": "DE"},
        {"account_id": "cus_3", "attribute": "industry", "value": "Design"},
        {"account_id": "cus_3", "attribute": "plan_tier", "value": "smb"},
    ]


def test_stripe_export(crm):
    report = crm.import_file("subscriptions", CASES / "stripe_subscriptions.csv", kind="stripe")
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (9, 6, 3)
    assert reasons(crm) == {
        6: ("unsupported_interval", "Interval"),   # weekly plan
        7: ("inactive_status", "Status"),          # incomplete_expired: never paid
        8: ("unknown_account", "Customer ID"),     # cus_9 not imported (the export's column name)
    }
    got = subs(crm)
    a = got["sub_A"]  # 3 seats x 49.00 USD monthly = 147.00 per period
    assert (a["account_id"], a["plan"], a["amount"], a["quantity"], a["billing_period_months"], a["currency"]) == (
        "cus_1", "pro-monthly", 147.0, 3.0, 1, "USD")
    assert (a["start_date"], a["end_date"], a["is_trial"]) == (date(2024, 1, 10), None, False)
    b = got["sub_B"]  # annual, canceled: ends on Ended At (not on the cancellation request date)
    assert (b["billing_period_months"], b["start_date"], b["end_date"]) == (12, date(2023, 3, 1), date(2024, 3, 1))
    c = got["sub_C"]  # trialing: a trial line from Trial Start to Trial End
    assert (c["is_trial"], c["start_date"], c["end_date"]) == (True, date(2024, 5, 1), date(2024, 5, 15))
    d = got["sub_D"]  # trial ended, now active: paid from Trial End on
    assert (d["is_trial"], d["start_date"], d["end_date"]) == (False, date(2024, 2, 15), None)
    e = got["sub_E"]  # every 3 months; cancel at period end -> ends at Current Period End
    assert (e["billing_period_months"], e["amount"], e["end_date"]) == (3, 300.0, date(2024, 7, 1))
    i = got["sub_I"]  # canceled on day 9 of a 14-day trial: a trial that did not convert
    assert (i["is_trial"], i["start_date"], i["end_date"]) == (True, date(2024, 4, 1), date(2024, 4, 10))


def test_stripe_export_with_missing_column_is_fatal(ws, write):
    with pytest.raises(DataError) as exc:
        ws.import_file("subscriptions", write("s.csv", "id,Customer ID,Plan\nsub_1,cus_1,pro\n"), kind="stripe")
    assert "not a Stripe subscriptions export" in exc.value.message and "amount" in exc.value.message


def test_chargebee_export(crm):
    report = crm.import_file("subscriptions", CASES / "chargebee_subscriptions.csv", kind="chargebee")
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (6, 5, 1)
    assert reasons(crm) == {5: ("unsupported_status", "status")}
    got = subs(crm)
    assert (got["cb_1"]["amount"], got["cb_1"]["currency"], got["cb_1"]["quantity"]) == (100.0, "USD", 2.0)
    # No plan_amount: unit price 1200 x quantity 1; yearly -> 12 months; cancelled_at is the end.
    assert (got["cb_2"]["amount"], got["cb_2"]["billing_period_months"], got["cb_2"]["end_date"]) == (1200.0, 12, date(2024, 2, 1))
    # Every 6 months, non renewing: ends at current_term_end.
    assert (got["cb_3"]["billing_period_months"], got["cb_3"]["end_date"]) == (6, date(2024, 7, 1))
    assert (got["cb_4"]["is_trial"], got["cb_4"]["start_date"], got["cb_4"]["end_date"]) == (True, date(2024, 6, 1), date(2024, 6, 15))
    # 4 x 10.00 = 40.00 from activation (the end of the trial).
    assert (got["cb_6"]["amount"], got["cb_6"]["start_date"]) == (40.0, date(2024, 3, 15))


def test_chargebee_prefixed_headers(crm, write):
    # Exports that prefix columns ("subscriptions.id") or use bulk names (subscription[id]) read the same.
    lines = (CASES / "chargebee_subscriptions.csv").read_text().splitlines()
    header = ",".join("subscription[id]" if h == "id" else f"subscriptions.{h}" for h in lines[0].split(","))
    path = write("cb.csv", "\n".join([header] + lines[1:]) + "\n")
    report = crm.import_file("subscriptions", path, kind="chargebee")
    assert (report.rows_accepted, report.rows_quarantined) == (5, 1)


def test_parquet(crm, tmp_path):
    table = pa.table({
        "subscription_id": ["p1", "p2", "p3"],
        "account_id": ["cus_1", "cus_2", "cus_3"],
        "plan": ["pro", "pro", "pro"],
        "start_date": pa.array([date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)], pa.date32()),
        "end_date": pa.array([None, date(2024, 1, 1), None], pa.date32()),  # p2 ends before it starts
        "amount": [100.0, 200.0, 300.0],
        "billing_period_months": pa.array([1, 1, 12], pa.int32()),
        "currency": ["EUR", "EUR", "EUR"],
        "is_trial": [False, False, True],
    })
    path = tmp_path / "subs.parquet"
    pq.write_table(table, path)
    report = crm.import_file("subscriptions", path)
    assert (report.kind, report.rows_accepted) == ("parquet", 2)
    assert reasons(crm) == {2: ("end_before_start", "end_date")}
    got = subs(crm)
    assert (got["p3"]["billing_period_months"], got["p3"]["is_trial"], got["p3"]["amount"]) == (12, True, 300.0)


def test_parquet_timestamps_with_zone(crm, tmp_path):
    ts = pa.array([datetime(2024, 3, 5, 9, 0)], pa.timestamp("us", tz="Europe/Paris"))
    path = tmp_path / "u.parquet"
    pq.write_table(pa.table({"account_id": ["cus_1"], "user_id": ["u"], "timestamp": ts, "event": ["login"]}), path)
    crm.import_file("usage", path)
    # Arrow stores 09:00 UTC; the zone is dropped after conversion to UTC: 09:00.
    assert crm.warehouse.query("SELECT timestamp FROM usage") == [{"timestamp": datetime(2024, 3, 5, 9, 0)}]


def test_damaged_parquet_is_fatal(ws, write):
    with pytest.raises(DataError, match="not a readable Parquet file"):
        ws.import_file("accounts", write("x.parquet", b"PAR1 garbage"))


def test_xlsx(crm, tmp_path):
    wb = Workbook()
    sh = wb.active
    sh.title = "Abonnements"
    sh.append(["subscription_id", "account_id", "plan", "start_date", "end_date", "amount",
               "billing_period_months", "currency", "is_trial"])
    sh.append(["x1", "cus_1", "pro", datetime(2024, 1, 15), None, 1200, 12, "EUR", False])
    sh.append([None] * 9)  # fully empty row: not a row
    sh.append(["x2", "cus_2", "pro", "2024-02-01", None, 99.5, 1, "EUR", "non"])
    sh.append(["x3", "cus_3", "pro", "pas une date", None, 10, 1, "EUR", False])
    path = tmp_path / "subs.xlsx"
    wb.save(path)
    report = crm.import_file("subscriptions", path)
    assert (report.kind, report.rows_read, report.rows_accepted) == ("xlsx", 3, 2)
    # Sheet row 5 is data row 4 (the header is sheet row 1; sheet row 3 is empty).
    assert reasons(crm) == {4: ("bad_date", "start_date")}
    got = subs(crm)
    assert (got["x1"]["start_date"], got["x1"]["amount"], got["x1"]["billing_period_months"]) == (date(2024, 1, 15), 1200.0, 12)
    assert got["x2"]["amount"] == 99.5 and got["x2"]["is_trial"] is False


def test_mapping_file_sample(crm):
    # abonnements_fr.yaml: renames French headers, amount = monthly price x 12, constant EUR,
    # is_trial from Statut, dates day first.
    report = crm.import_file("subscriptions", CASES / "abonnements_fr.csv", mapping=CASES / "abonnements_fr.yaml")
    assert (report.rows_read, report.rows_accepted) == (4, 2)
    got = subs(crm)
    # "1 000,50" x 12 = 12 006.00; "99,5" x 12 = 1 194.00
    assert (got["A-1"]["amount"], got["A-1"]["start_date"], got["A-1"]["is_trial"]) == (12006.0, date(2024, 1, 15), False)
    assert (got["A-2"]["amount"], got["A-2"]["end_date"], got["A-2"]["is_trial"]) == (1194.0, date(2025, 2, 1), True)
    assert got["A-1"]["currency"] == "EUR" and got["A-1"]["billing_period_months"] == 12
    # Columns are named as in the file (Début, renamed to start_date by the mapping).
    assert reasons(crm) == {3: ("bad_date", "Début"), 4: ("bad_number", "Prix mensuel")}
    # Prix mensuel and Statut are used by derive (amount, is_trial); Commentaire is dropped: none ignored.
    assert report.ignored_columns == []


def test_mapping_value_map_and_date_format(crm, write):
    csv = write("s.csv", "ref,client,freq,start,price\nm1,cus_1,monthly,2024.01.15,10\nm2,cus_2,yearly,2024.02.01,120\nm3,cus_3,weekly,2024.03.01,1\n")
    mapping = write("m.yaml", """
rename: {ref: subscription_id, client: account_id, start: start_date, price: amount}
derive:
  plan: {value: basic}
  billing_period_months: {from: freq, map: {Monthly: 1, yearly: 12}}
  currency: {value: EUR}
  is_trial: false
dates: {start_date: "%Y.%m.%d"}
""")
    crm.import_file("subscriptions", csv, mapping=mapping)
    got = subs(crm)
    assert (got["m1"]["billing_period_months"], got["m1"]["start_date"]) == (1, date(2024, 1, 15))
    assert got["m2"]["billing_period_months"] == 12
    assert reasons(crm) == {3: ("unmapped_value", "freq")}


def test_mapping_division_by_zero(crm, write):
    csv = write("s.csv", "subscription_id,account_id,plan,start_date,total,months,currency,is_trial\n"
                         "d1,cus_1,p,2024-01-01,1200,12,EUR,false\nd2,cus_1,p,2024-01-01,1200,0,EUR,false\n")
    mapping = write("m.yaml", 'derive:\n  amount: "total / months * 12"\n  billing_period_months: 12\n')
    crm.import_file("subscriptions", csv, mapping=mapping)
    assert subs(crm)["d1"]["amount"] == 1200.0  # 1200 / 12 * 12
    assert reasons(crm) == {2: ("bad_derived", "total")}


@pytest.mark.parametrize(
    "text, message",
    [
        ('derive:\n  amount: "__import__(\'os\').system(\'x\')"\n', "only numbers, column names"),
        ('derive:\n  amount: "price ** 2"\n', "operator Pow"),
        ("rename: [a, b]\n", "rename"),
        ("renamee: {a: b}\n", "renamee"),
        ("derive: {is_trial: {from: status}}\n", "derive.is_trial"),
        ("rename: {a: b\n", "not valid YAML"),
        ("date_order: ymd\n", "date_order"),
    ],
)
def test_bad_mapping_files_are_fatal(ws, write, text, message):
    csv = write("a.csv", "account_id,name\na1,A\n")
    mapping = write("bad.yaml", text)
    before = ws.warehouse.content_fingerprint()
    with pytest.raises(DataError) as exc:
        ws.import_file("accounts", csv, mapping=mapping)
    assert exc.value.message.startswith(str(mapping)) and message in exc.value.message
    assert ws.warehouse.content_fingerprint() == before


def test_mapping_naming_a_column_not_in_the_file_is_fatal(ws, write):
    csv = write("a.csv", "id,name\na1,A\n")
    with pytest.raises(DataError, match="rename: column 'Client' is not in"):
        ws.import_file("accounts", csv, mapping=write("m.yaml", "rename: {Client: account_id}\n"))
    with pytest.raises(DataError, match="uses column 'price'"):
        ws.import_file("accounts", csv, mapping=write("m2.yaml", "rename: {id: account_id}\nderive: {score: 'price * 2'}\n"))
