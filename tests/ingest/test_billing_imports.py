"""Billing exports (issue 11): coupons, statuses, canceled_at, unused columns, invoice line items.

Every expectation is worked by hand from the sample files in tests/cases/ingest/.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from ingest_helpers import CASES, reasons
from retentio.config import Settings


@pytest.fixture
def crm(ws):
    ws.import_file("accounts", CASES / "accounts.csv")
    ws.import_file("fx-rates", CASES / "fx_rates.csv")
    return ws


def subs(ws):
    return {r["subscription_id"]: r for r in ws.warehouse.query("SELECT * FROM subscriptions")}


def line(r):
    return (r["start_date"], r["end_date"], r["amount"], r["billing_period_months"], r["kind"], r["is_trial"])


def _set_unpaid(ws, value):
    path = ws.path / "retentio.toml"
    settings = Settings.load(path)
    settings.workspace.unpaid_mrr = value
    settings.save(path)
    return type(ws)(ws.path)


def test_stripe_coupons_and_statuses(crm):
    report = crm.import_file("subscriptions", CASES / "stripe_coupons.csv", kind="stripe", mapping=CASES / "stripe_coupons.yaml")
    # 9 rows; s2's 3-month coupon adds a discount line: 10 lines = 9 accepted + 1 quarantined (s8).
    assert (report.rows_read, report.lines_added, report.rows_accepted, report.rows_quarantined) == (9, 1, 9, 1)
    assert reasons(crm) == {8: ("unknown_coupon", "Coupon")}  # GHOST: terms unknown, never counted at full price
    q = crm.quarantine()[0]
    assert q["value"] == "GHOST"
    assert report.ignored_columns == ["Customer Email"]  # the only column the translation did not read
    got = subs(crm)
    # s1: 2 seats x 50.00 = 100.00, SPRING20 = 20 % forever -> 80.00 on the line itself.
    assert line(got["s1"]) == (date(2024, 1, 1), None, 80.0, 1, "recurring", False)
    # s2: 300.00; WELCOME3 = 50 % for 3 months -> a discount line of -150.00 from 2024-02-01 to 2024-05-01.
    assert line(got["s2"]) == (date(2024, 2, 1), None, 300.0, 1, "recurring", False)
    assert line(got["s2:WELCOME3"]) == (date(2024, 2, 1), date(2024, 5, 1), -150.0, 1, "discount", False)
    assert got["s2:WELCOME3"]["account_id"] == "cus_2"
    # s3: annual 100.00, TENOFF = 10.00 off each invoice forever -> 90.00.
    assert line(got["s3"]) == (date(2024, 3, 1), None, 90.0, 12, "recurring", False)
    # s4: paused -> out of MRR from its Current Period Start (2024-04-01).
    assert line(got["s4"]) == (date(2024, 1, 1), date(2024, 4, 1), 20.0, 1, "recurring", False)
    # s5, s6: past_due / unpaid count as MRR until cancelled (default unpaid_mrr = until_canceled).
    assert got["s5"]["end_date"] is None and got["s6"]["end_date"] is None
    # s7: canceled: ends on Ended At; canceled_at is the day the cancellation was recorded.
    assert (got["s7"]["end_date"], got["s7"]["canceled_at"]) == (date(2024, 4, 1), date(2024, 3, 20))
    # s9: ONCE5 applies to one invoice only: no effect on MRR.
    assert got["s9"]["amount"] == 10.0


def test_stripe_unpaid_excluded_by_setting(crm):
    ws = _set_unpaid(crm, "exclude")
    ws.import_file("subscriptions", CASES / "stripe_coupons.csv", kind="stripe", mapping=CASES / "stripe_coupons.yaml")
    got = subs(ws)
    # unpaid_mrr = exclude: out of MRR from the unpaid period's start (Current Period Start).
    assert got["s5"]["end_date"] == date(2024, 5, 15)
    assert got["s6"]["end_date"] == date(2024, 6, 10)
    assert got["s1"]["end_date"] is None  # active lines unchanged


def test_stripe_coupon_without_terms_is_quarantined_not_full_price(crm):
    report = crm.import_file("subscriptions", CASES / "stripe_coupons.csv", kind="stripe")
    # No mapping: SPRING20, WELCOME3, TENOFF, ONCE5 and GHOST are unknown -> 5 rows quarantined.
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (9, 4, 5)
    assert set(report.reasons) == {"unknown_coupon"}


def test_chargebee_coupons_and_statuses(crm):
    report = crm.import_file("subscriptions", CASES / "chargebee_coupons.csv", kind="chargebee")
    assert (report.rows_read, report.lines_added, report.rows_accepted, report.rows_quarantined) == (5, 1, 6, 0)
    assert report.ignored_columns == ["auto_collection"]
    got = subs(crm)
    # c1: 100.00 with 20 % forever (terms in the export's own columns) -> 80.00.
    assert line(got["c1"]) == (date(2024, 1, 1), None, 80.0, 1, "recurring", False)
    # c2: paused on pause_date 2024-05-01 -> out of MRR from then.
    assert got["c2"]["end_date"] == date(2024, 5, 1)
    # c3: has an unpaid invoice since 2024-06-01, default: MRR until cancelled.
    assert got["c3"]["end_date"] is None
    # c4: non renewing: ends at current_term_end; the cancellation was scheduled on 2024-07-10.
    assert (got["c4"]["end_date"], got["c4"]["canceled_at"]) == (date(2024, 8, 1), date(2024, 7, 10))
    # c5: 60.00 with 50 % for 3 months (limited_period): discount line -30.00 from 2024-03-01 to 2024-06-01.
    assert line(got["c5"]) == (date(2024, 3, 1), None, 60.0, 1, "recurring", False)
    assert line(got["c5:WELCOME3"]) == (date(2024, 3, 1), date(2024, 6, 1), -30.0, 1, "discount", False)


def test_chargebee_unpaid_excluded_by_setting(crm):
    ws = _set_unpaid(crm, "exclude")
    ws.import_file("subscriptions", CASES / "chargebee_coupons.csv", kind="chargebee")
    assert subs(ws)["c3"]["end_date"] == date(2024, 6, 1)  # due_since


def test_stripe_invoice_line_items(crm):
    report = crm.import_file("subscriptions", CASES / "stripe_invoice_lines.csv", kind="stripe-invoice-lines")
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (7, 6, 1)
    assert reasons(crm) == {7: ("unknown_account", "Customer ID")}
    # Invoice Number is an alternative to Invoice ID (not read when Invoice ID is there); tax is not revenue.
    assert report.ignored_columns == ["Invoice Number", "Tax Amount"]
    got = subs(crm)
    # A regular line: 100.00 - 20.00 discount = 80.00 for March, one month.
    assert line(got["in_1:il_1"]) == (date(2024, 3, 1), date(2024, 4, 1), 80.0, 1, "recurring", False)
    # Setup fee: one-off, dated on its day (not MRR).
    assert line(got["in_1:il_6"]) == (date(2024, 3, 1), date(2024, 3, 2), 500.0, 1, "one_off", False)
    assert line(got["in_2:il_3"]) == (date(2024, 4, 1), date(2024, 5, 1), 80.0, 1, "recurring", False)
    # Prorations over 2024-04-16..2024-05-01: 15 of the 30 days of the monthly period ending 2024-05-01.
    # Team +50.00 for 15 days = 50 x 30 / 15 = 100.00 a month over those days;
    # the credit for unused Pro -40.00 = -80.00 a month: a discount line.
    assert line(got["in_3:il_4"]) == (date(2024, 4, 16), date(2024, 5, 1), 100.0, 1, "recurring", False)
    assert line(got["in_3:il_5"]) == (date(2024, 4, 16), date(2024, 5, 1), -80.0, 1, "discount", False)
    # So on 2024-04-30 cus_2 pays 80 + 100 - 80 = 100.00 a month: the Team price.
    # Annual line: 1 200.00 over 12 months.
    assert line(got["in_4:il_7"]) == (date(2024, 3, 1), date(2025, 3, 1), 1200.0, 12, "recurring", False)


def test_chargebee_invoice_line_items(crm):
    report = crm.import_file("subscriptions", CASES / "chargebee_invoice_lines.csv", kind="chargebee-invoice-lines")
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (6, 6, 0)
    assert report.ignored_columns == ["unit_amount", "tax_amount"]
    got = subs(crm)
    # 100.00 - 10.00 discount, 2024-01-05..2024-02-05: one month of 90.00.
    assert line(got["inv_1:li_1"]) == (date(2024, 1, 5), date(2024, 2, 5), 90.0, 1, "recurring", False)
    # plan_setup and adhoc are one-off lines.
    assert line(got["inv_1:li_2"]) == (date(2024, 1, 5), date(2024, 1, 6), 250.0, 1, "one_off", False)
    assert line(got["inv_4:li_5"]) == (date(2024, 2, 10), date(2024, 2, 11), 300.0, 1, "one_off", False)
    # An addon: 3 seats x 10.00 = 30.00 a month.
    assert line(got["inv_2:li_3"]) == (date(2024, 3, 1), date(2024, 4, 1), 30.0, 1, "recurring", False)
    # 15 days (2024-04-16..05-01) of a 30-day month for 25.00: prorated -> 25 x 30 / 15 = 50.00 a month.
    assert line(got["inv_3:li_4"]) == (date(2024, 4, 16), date(2024, 5, 1), 50.0, 1, "recurring", False)
    # A year for 1 200.00 - 100.00 = 1 100.00 over 12 months.
    assert line(got["inv_5:li_6"]) == (date(2024, 1, 1), date(2025, 1, 1), 1100.0, 12, "recurring", False)


def test_discount_and_one_off_lines_in_a_plain_csv(crm, write):
    csv = write("s.csv", "subscription_id,account_id,plan,start_date,amount,billing_period_months,currency,is_trial,kind\n"
                "a,cus_2,pro,2024-01-01,100.00,1,EUR,false,\n"
                "b,cus_2,loyalty,2024-01-01,-20.00,1,EUR,false,discount\n"
                "c,cus_2,loyalty,2024-01-01,15,1,EUR,false,Discount\n"
                "d,cus_2,setup,2024-01-01,500,1,EUR,false,one-off\n"
                "e,cus_2,pro,2024-01-01,-5,1,EUR,false,recurring\n"
                "f,cus_2,pro,2024-01-01,5,1,EUR,false,monthly\n")
    report = crm.import_file("subscriptions", csv)
    assert (report.rows_accepted, report.rows_quarantined) == (4, 2)
    assert reasons(crm) == {5: ("negative_amount", "amount"), 6: ("bad_kind", "kind")}
    got = subs(crm)
    # empty kind stays empty (= recurring); a discount is stored negative whatever its sign; one-off spelt one-off.
    assert [(got[k]["kind"], got[k]["amount"]) for k in "abcd"] == [(None, 100.0), ("discount", -20.0), ("discount", -15.0), ("one_off", 500.0)]
    assert next(q for q in crm.quarantine() if q["reason"] == "negative_amount")["value"] == "-5"


def test_quarantine_shows_the_users_column_value_and_raw_row(crm, write):
    csv = write("s.csv", "Ref,Client,Offre,Début,Montant,Mois,Devise,Essai\n"
                "x1,cus_1,pro,2024-01-01,-24000.00,12,EUR,false\n")
    mapping = write("m.yaml", "rename: {Ref: subscription_id, Client: account_id, Offre: plan, Début: start_date, "
                    "Montant: amount, Mois: billing_period_months, Devise: currency, Essai: is_trial}\n")
    crm.import_file("subscriptions", csv, mapping=mapping)
    q = crm.quarantine()
    assert len(q) == 1
    # The user's header and cell, not the canonical name and a float's repr (-24000.0).
    assert (q[0]["column"], q[0]["value"], q[0]["reason"]) == ("Montant", "-24000.00", "negative_amount")
    # The row as read, keyed by the file's headers.
    assert q[0]["raw"] == {"Ref": "x1", "Client": "cus_1", "Offre": "pro", "Début": "2024-01-01", "Montant": "-24000.00",
                           "Mois": "12", "Devise": "EUR", "Essai": "false"}


def test_ignored_columns_leave_out_what_derive_used(crm, write):
    csv = write("s.csv", "subscription_id,account_id,plan,start_date,MRR,currency,is_trial,Notes\n"
                "x1,cus_2,pro,2024-01-01,100,EUR,false,hello\n")
    mapping = write("m.yaml", 'derive: {amount: "MRR * 12", billing_period_months: 12}\n')
    report = crm.import_file("subscriptions", csv, mapping=mapping)
    assert report.rows_accepted == 1
    assert report.ignored_columns == ["Notes"]  # MRR was used by derive.amount
    assert subs(crm)["x1"]["amount"] == 1200.0  # 100 x 12


def test_date_attributes_are_typed_and_bad_ones_reported(ws, write):
    csv = write("a.csv", "account_id,name,Renewal Date,Industry\n"
                "a1,A,2024-07-31,Retail\n"
                "a2,B,2023-31-07,Retail\n"
                "a3,C,2024/01/05,Logistics\n")
    report = ws.import_file("accounts", csv)
    assert report.rows_accepted == 3  # the accounts are kept ...
    # ... but 2023-31-07 (no month 31) is not a date: reported, not stored.
    assert [(p["row_number"], p["column"], p["value"], p["reason"]) for p in report.attribute_problems] == [
        (2, "Renewal Date", "2023-31-07", "bad_date")]
    assert any("not kept" in n for n in report.notes)
    got = ws.warehouse.query("SELECT account_id, value FROM account_attributes WHERE attribute = 'renewal_date' ORDER BY 1")
    # Valid dates are stored as ISO (2024/01/05 -> 2024-01-05).
    assert got == [{"account_id": "a1", "value": "2024-07-31"}, {"account_id": "a3", "value": "2024-01-05"}]


def test_quarantine_csv_and_json_carry_the_raw_row(crm, write):
    from typer.testing import CliRunner

    from retentio.cli import main as cli_main

    cli_main._load_commands()
    app = cli_main.app

    crm.import_file("subscriptions", CASES / "stripe_coupons.csv", kind="stripe", mapping=CASES / "stripe_coupons.yaml")
    runner = CliRunner()
    res = runner.invoke(app, ["quarantine", "--workspace", str(crm.path), "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert rows[0]["raw"]["Coupon"] == "GHOST" and rows[0]["raw"]["id"] == "s8"
    res = runner.invoke(app, ["quarantine", "--workspace", str(crm.path), "--format", "csv"])
    assert res.exit_code == 0, res.output
    import csv as _csv
    import io

    got = list(_csv.DictReader(io.StringIO(res.stdout)))
    assert json.loads(got[0]["raw"])["Customer ID"] == "cus_3"


def test_stripe_paused_after_a_trial_and_paused_at(crm, write):
    header = "id,Customer ID,Plan,Amount,Currency,Interval,Status,Start Date (UTC),Trial Start (UTC),Trial End (UTC),Paused At\n"
    csv = write("p.csv", header
                # Stripe pauses a subscription whose trial ended without a payment method: it never paid.
                + "p1,cus_2,pro,50.00,eur,month,paused,2024-03-01 00:00,2024-03-01 00:00,2024-03-15 00:00,\n"
                # A paused subscription with the day of the pause: a paid line up to that day.
                + "p2,cus_3,pro,50.00,eur,month,paused,2024-01-01 00:00,,,2024-05-10 00:00\n")
    report = crm.import_file("subscriptions", csv, kind="stripe")
    assert (report.rows_accepted, report.rows_quarantined) == (2, 0)
    got = subs(crm)
    assert line(got["p1"]) == (date(2024, 3, 1), date(2024, 3, 15), 50.0, 1, "recurring", True)
    assert line(got["p2"]) == (date(2024, 1, 1), date(2024, 5, 10), 50.0, 1, "recurring", False)
