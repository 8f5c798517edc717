"""CSV reading: delimiters, encodings, decimal comma, dates, and each malformed input."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from ingest_helpers import accounts, reasons
from retentio.errors import DataError, UsageError

SUB_HEADER = "subscription_id,account_id,plan,start_date,end_date,amount,billing_period_months,currency,is_trial\n"


def subs(ws):
    return {r["subscription_id"]: r for r in ws.warehouse.query("SELECT * FROM subscriptions")}


# -- delimiters, encodings, decimal comma ------------------------------------------------------


@pytest.mark.parametrize("delim", [",", ";", "\t"])
def test_sniffed_delimiter(ws, write, delim):
    text = delim.join(["account_id", "name", "country"]) + "\n" + delim.join(["a1", "Alpha", "FR"]) + "\n"
    report = ws.import_file("accounts", write("acc.csv", text))
    assert (report.rows_read, report.rows_accepted) == (1, 1)
    assert ws.warehouse.query("SELECT account_id, name FROM accounts") == [{"account_id": "a1", "name": "Alpha"}]
    assert ws.warehouse.query("SELECT attribute, value FROM account_attributes") == [{"attribute": "country", "value": "FR"}]


def test_utf8_bom_is_not_part_of_the_first_header(ws, write):
    # Excel's "CSV UTF-8" starts with EF BB BF; without stripping it the first column would be
    # "\ufeffaccount_id" and the import would fail on a missing required column.
    path = write("bom.csv", b"\xef\xbb\xbfaccount_id;name\r\na1;Caf\xc3\xa9 du Port\r\n")
    report = ws.import_file("accounts", path)
    assert report.rows_accepted == 1
    assert "encoding utf-8 (with BOM)" in report.notes
    assert ws.warehouse.query("SELECT name FROM accounts") == [{"name": "Café du Port"}]


def test_latin1_file_is_read_when_utf8_fails(ws, write):
    # "é" is byte E9 in Latin-1, invalid alone in UTF-8: the reader falls back to Windows-1252,
    # which also maps 0x80 to the euro sign.
    path = write("latin1.csv", "account_id;name;note\na1;Société Générale;prix en €\n", encoding="cp1252")
    report = ws.import_file("accounts", path)
    assert report.rows_accepted == 1
    assert ws.warehouse.query("SELECT name FROM accounts") == [{"name": "Société Générale"}]
    assert ws.warehouse.query("SELECT value FROM account_attributes") == [{"value": "prix en €"}]
    assert any(n.startswith("encoding latin-1") for n in report.notes)


def test_decimal_comma_in_semicolon_file(ws, write):
    accounts(ws, "a1")
    text = (SUB_HEADER.replace(",", ";")
            + "s1;a1;pro;2024-01-01;;1 234,56;12;EUR;false\n"     # space groups thousands: 1234.56
            + "s2;a1;pro;2024-01-01;;1234,5;1;EUR;false\n"        # 1234.5
            + "s3;a1;pro;2024-01-01;;1.234,25;1;EUR;false\n"      # dot groups thousands: 1234.25
            + "s4;a1;pro;2024-01-01;;99.9;1;EUR;false\n"          # a dot alone stays a decimal point: 99.9
            + "s5;a1;pro;2024-01-01;;12,3,4;1;EUR;false\n")       # two commas: not a number
    report = ws.import_file("subscriptions", write("fr.csv", text))
    got = {k: v["amount"] for k, v in subs(ws).items()}
    assert got == {"s1": 1234.56, "s2": 1234.5, "s3": 1234.25, "s4": 99.9}
    assert reasons(ws) == {5: ("bad_number", "amount")}
    assert report.reasons == {"bad_number": 1}


def test_comma_file_reads_dot_decimals_and_refuses_decimal_comma(ws, write):
    accounts(ws, "a1")
    text = SUB_HEADER + 's1,a1,pro,2024-01-01,,"1,200.50",12,EUR,false\n' + 's2,a1,pro,2024-01-01,,"12,5",1,EUR,false\n'
    ws.import_file("subscriptions", write("en.csv", text))
    assert {k: v["amount"] for k, v in subs(ws).items()} == {"s1": 1200.5}
    assert reasons(ws) == {2: ("bad_number", "amount")}


# -- dates and the date_order setting ------------------------------------------------------------


DATES = SUB_HEADER + "s1,a1,p,2024-03-04,,1,1,EUR,no\ns2,a1,p,03/04/2024,,1,1,EUR,no\ns3,a1,p,25/12/2024,,1,1,EUR,no\n"


def test_iso_date_order_refuses_every_day_month_date(ws, write):
    accounts(ws, "a1")
    report = ws.import_file("subscriptions", write("d.csv", DATES))
    # Under "iso" even 25/12/2024 (only one valid reading) is refused: never guess.
    assert report.reasons == {"ambiguous_date": 2}
    q = {r["row_number"]: r for r in ws.quarantine()}
    assert q[2]["value"] == "03/04/2024" and "date_order" in q[2]["detail"]
    assert subs(ws)["s1"]["start_date"] == date(2024, 3, 4)


@pytest.mark.parametrize(
    "order, s2, s3_reason",
    [("dmy", date(2024, 4, 3), None), ("mdy", date(2024, 3, 4), "bad_date")],  # mdy: month 25 does not exist
)
def test_dmy_and_mdy(ws, write, order, s2, s3_reason):
    accounts(ws, "a1")
    ws.settings.workspace.date_order = order
    ws.import_file("subscriptions", write("d.csv", DATES))
    got = subs(ws)
    assert got["s2"]["start_date"] == s2
    if s3_reason:
        assert reasons(ws) == {3: (s3_reason, "start_date")}
    else:
        assert got["s3"]["start_date"] == date(2024, 12, 25)


def test_bad_dates_are_quarantined(ws, write):
    accounts(ws, "a1")
    text = SUB_HEADER + "s1,a1,p,2024-02-30,,1,1,EUR,no\ns2,a1,p,yesterday,,1,1,EUR,no\ns3,a1,p,2024-01-01,2024-13-01,1,1,EUR,no\n"
    ws.import_file("subscriptions", write("d.csv", text))
    assert reasons(ws) == {1: ("bad_date", "start_date"), 2: ("bad_date", "start_date"), 3: ("bad_date", "end_date")}


def test_datetimes_with_offsets_are_stored_in_utc(ws, write):
    accounts(ws, "a1")
    text = ("account_id,user_id,timestamp,event\n"
            "a1,u1,2024-03-05T09:12:00+01:00,login\n"   # 09:12 at UTC+1 is 08:12 UTC
            "a1,u1,2024-03-05 10:00,login\n"            # no zone: taken as UTC
            "a1,u1,2024-03-05,export\n"                 # bare date: midnight
            "a1,u1,2024-03-05T24:10:00,login\n")        # hour 24: refused
    ws.import_file("usage", write("u.csv", text))
    got = sorted(r["timestamp"] for r in ws.warehouse.query("SELECT timestamp FROM usage"))
    assert got == [datetime(2024, 3, 5, 0, 0), datetime(2024, 3, 5, 8, 12), datetime(2024, 3, 5, 10, 0)]
    assert reasons(ws) == {4: ("bad_datetime", "timestamp")}


# -- malformed files -----------------------------------------------------------------------------


def test_wrong_delimiter_is_fatal_with_a_hint(ws, write):
    before = ws.warehouse.content_fingerprint()
    with pytest.raises(DataError) as exc:
        ws.import_file("accounts", write("pipe.csv", "account_id|name\na1|Alpha\n"))
    assert "missing required column(s) for accounts: account_id, name" in exc.value.message
    assert "ONE column" in exc.value.hint and "delimiter" in exc.value.hint
    assert ws.warehouse.content_fingerprint() == before


def test_rows_with_a_different_field_count_are_quarantined(ws, write):
    # Row 2 uses ";" inside a "," file: it has 1 field instead of 2.
    ws.import_file("accounts", write("mixed.csv", "account_id,name\na1,Alpha\na2;Beta\na3,Gamma,extra\n"))
    assert ws.counts()["accounts"] == 1
    q = {r["row_number"]: r for r in ws.quarantine()}
    assert {k: v["reason"] for k, v in q.items()} == {2: "bad_row", 3: "bad_row"}
    assert "found 1 fields where the header has 2" in q[2]["detail"]


def test_missing_required_column_is_fatal(ws, write):
    with pytest.raises(DataError) as exc:
        ws.import_file("subscriptions", write("s.csv", "subscription_id,account_id\ns1,a1\n"))
    msg = exc.value.message
    assert msg.startswith(str(ws.path.parent / "s.csv")) and "plan, start_date" in msg
    assert "mapping" in exc.value.hint


def test_zero_byte_file_is_fatal(ws, write):
    with pytest.raises(DataError, match="empty"):
        ws.import_file("accounts", write("empty.csv", b""))


def test_blank_file_is_fatal(ws, write):
    with pytest.raises(DataError, match="no header"):
        ws.import_file("accounts", write("blank.csv", "\n\n  \n"))


def test_header_only_file_imports_zero_rows(ws, write):
    report = ws.import_file("accounts", write("h.csv", "account_id,name\n"))
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (0, 0, 0)
    assert ws.imports()[-1]["rows_read"] == 0


def test_missing_file_and_unknown_entity_and_kind(ws, write, tmp_path):
    with pytest.raises(DataError, match="no such file"):
        ws.import_file("accounts", tmp_path / "nope.csv")
    with pytest.raises(UsageError, match="unknown entity"):
        ws.import_file("customers", write("a.csv", "account_id,name\n"))
    with pytest.raises(UsageError, match="cannot tell"):
        ws.import_file("accounts", write("a.dat", "account_id,name\n"))
    with pytest.raises(UsageError, match="kind stripe reads a subscriptions export"):
        ws.import_file("accounts", write("a.csv", "account_id,name\n"), kind="stripe")


def test_row_numbers_point_at_csv_lines(ws, write):
    # Line 1 header, line 2 ok, line 3 blank (not a row), line 4 bad: row_number 3 = line 4 - 1.
    # A quoted field spanning two lines (lines 5-6) keeps the next record on line 7 -> row 6.
    text = 'account_id,name\na1,Alpha\n\n,NoId\na2,"Two\nlines"\n,AlsoNoId\n'
    report = ws.import_file("accounts", write("n.csv", text))
    assert report.rows_read == 4  # the blank line is not a row
    assert sorted(reasons(ws)) == [3, 6]
    assert ws.warehouse.query("SELECT name FROM accounts WHERE account_id = 'a2'") == [{"name": "Two\nlines"}]


def test_an_extra_column_named_like_a_canonical_one_is_refused(ws, write):
    # "Name" stays an extra column beside "name" (taken), and would become the attribute "name".
    path = write("a.csv", "account_id,name,Name\na1,A,B\n")
    with pytest.raises(DataError, match="same attribute 'name'.*'name' is a column of accounts"):
        ws.import_file("accounts", path)
    assert ws.warehouse.count("accounts") == 0
