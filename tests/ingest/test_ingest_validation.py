"""Row validation of each entity: every bad row quarantined with its reason, good rows kept."""

from __future__ import annotations

from datetime import date

from ingest_helpers import accounts, reasons

SUB_HEADER = "subscription_id,account_id,plan,start_date,end_date,amount,billing_period_months,currency,is_trial\n"


def test_subscription_rules(ws, write):
    accounts(ws, "a1")
    text = SUB_HEADER + (
        "s1,a1,pro,2024-01-01,2025-01-01,1200,12,eur,false\n"   # ok; currency upper-cased
        "s2,zz,pro,2024-01-01,,10,1,EUR,false\n"               # unknown account
        "s3,a1,pro,2024-01-01,,10,1,EUROS,false\n"             # bad currency
        "s4,a1,pro,2024-01-01,,10,0,EUR,false\n"               # zero billing period
        "s5,a1,pro,2024-01-01,,10,1.5,EUR,false\n"             # not a whole number
        "s6,a1,pro,2024-01-01,,-10,1,EUR,false\n"              # negative amount
        "s7,a1,pro,2024-01-01,2024-01-01,10,1,EUR,false\n"     # end = start: end_date is exclusive
        "s8,a1,pro,2024-01-01,,10,1,EUR,perhaps\n"             # bad boolean
        "s9,a1,,2024-01-01,,10,1,EUR,false\n"                  # missing plan
        "s10,a1,free,2024-01-01,,0,1,EUR,oui\n"                # zero amount is fine (free plan), oui = true
    )
    report = ws.import_file("subscriptions", write("s.csv", text))
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (10, 2, 8)
    assert reasons(ws) == {
        2: ("unknown_account", "account_id"),
        3: ("bad_currency", "currency"),
        4: ("bad_billing_period", "billing_period_months"),
        5: ("bad_integer", "billing_period_months"),
        6: ("negative_amount", "amount"),
        7: ("end_before_start", "end_date"),
        8: ("bad_boolean", "is_trial"),
        9: ("missing_value", "plan"),
    }
    rows = {r["subscription_id"]: r for r in ws.warehouse.query("SELECT * FROM subscriptions")}
    assert rows["s1"]["currency"] == "EUR" and rows["s1"]["end_date"] == date(2025, 1, 1)
    assert rows["s10"]["is_trial"] is True and rows["s10"]["amount"] == 0.0
    detail = next(q["detail"] for q in ws.quarantine() if q["reason"] == "unknown_account")
    assert "import accounts first" in detail


def test_quarantined_row_keeps_file_value_and_raw(ws, write):
    accounts(ws, "a1")
    path = write("s.csv", SUB_HEADER + "s1,a1,pro,2024-01-01,,12;5,1,EUR,false\n")
    ws.import_file("subscriptions", path)
    q = ws.warehouse.query("SELECT * FROM quarantine")
    assert len(q) == 1
    assert q[0]["file"] == str(path.resolve()) and q[0]["row_number"] == 1
    assert (q[0]["column"], q[0]["value"], q[0]["reason"]) == ("amount", "12;5", "bad_number")
    assert '"amount": "12;5"' in q[0]["raw"] and '"subscription_id": "s1"' in q[0]["raw"]


def test_several_problems_quarantine_once_with_the_first(ws, write):
    accounts(ws, "a1")
    # Empty plan (column 3) comes before the bad amount (column 6) and the unknown account rule.
    ws.import_file("subscriptions", write("s.csv", SUB_HEADER + "s1,zz,,2024-01-01,,abc,1,EUR,false\n"))
    (q,) = ws.quarantine()
    assert q["reason"] == "missing_value" and q["column"] == "plan"
    assert "2 other problem(s): bad_number, unknown_account" in q["detail"]


def test_missing_fx_rate_then_present(ws, write):
    accounts(ws, "a1")
    text = SUB_HEADER + "s1,a1,pro,2024-03-10,,100,1,USD,false\ns2,a1,pro,2024-03-10,,100,1,EUR,false\n"
    path = write("s.csv", text)
    report = ws.import_file("subscriptions", path)
    assert report.reasons == {"missing_fx_rate": 1}
    (q,) = ws.quarantine("subscriptions")
    assert "USD" in q["detail"] and "2024-03-31" in q["detail"] and "import fx-rates first" in q["detail"]
    # A rate dated after the month's last day does not help ...
    ws.import_file("fx-rates", write("fx.csv", "date,currency,rate\n2024-04-01,USD,0.9\n"))
    assert ws.import_file("subscriptions", path).reasons == {"missing_fx_rate": 1}
    # ... a rate dated on or before 2024-03-31 does (the line starts 2024-03-10).
    ws.import_file("fx-rates", write("fx2.csv", "date,currency,rate\n2024-03-31,USD,0.92\n"))
    report = ws.import_file("subscriptions", path)
    assert (report.rows_accepted, report.rows_quarantined) == (2, 0)
    assert ws.quarantine("subscriptions") == []  # re-import clears the file's old quarantine


def test_duplicate_ids(ws, write):
    accounts(ws, "a1")
    text = SUB_HEADER + (
        "s1,a1,pro,2024-01-01,,10,1,EUR,false\n"
        "s1,a1,pro,2024-01-01,,10,1,EUR,false\n"   # exact copy: first kept, copy quarantined
        "s2,a1,pro,2024-01-01,,10,1,EUR,false\n"
        "s2,a1,pro,2024-01-01,,20,1,EUR,false\n"   # same id, other amount: both quarantined
        "s3,a1,pro,2024-01-01,,10,1,EUR,false\n"
        "s3,a1,pro,2024-01-01,,-1,1,EUR,false\n"   # bad row does not make s3 a duplicate
    )
    ws.import_file("subscriptions", write("s.csv", text))
    assert reasons(ws) == {
        2: ("duplicate_row", "subscription_id"),
        3: ("duplicate_id", "subscription_id"),
        4: ("duplicate_id", "subscription_id"),
        6: ("negative_amount", "amount"),
    }
    assert sorted(r["subscription_id"] for r in ws.warehouse.query("SELECT subscription_id FROM subscriptions")) == ["s1", "s3"]


def test_usage_key_is_the_whole_event(ws, write):
    accounts(ws, "a1")
    text = ("account_id,user_id,timestamp,event,feature,duration_seconds\n"
            "a1,u1,2024-03-05T09:00:00,login,,\n"
            "a1,u1,2024-03-05T09:00:00,login,,\n"           # same event twice: one kept
            "a1,u1,2024-03-05T09:00:00,report,export,30\n"
            "a1,u2,2024-03-05T09:00:00,report,export,-5\n")  # negative duration
    report = ws.import_file("usage", write("u.csv", text))
    assert report.rows_accepted == 2
    assert reasons(ws) == {2: ("duplicate_row", "account_id, user_id, timestamp, event, feature"),
                           4: ("negative_value", "duration_seconds")}


def test_survey_scores(ws, write):
    accounts(ws, "a1")
    text = ("response_id,account_id,answered_at,kind,score,scale,comment\n"
            "r1,a1,2024-03-05,nps,10,,Top\n"      # NPS 0-10
            "r2,a1,2024-03-05,NPS,0,,\n"          # kind any case
            "r3,a1,2024-03-05,nps,11,,\n"         # out of range
            "r4,a1,2024-03-05,csat,5,,\n"         # CSAT 1-5 by default
            "r5,a1,2024-03-05,csat,0,,\n"         # 0 is out of 1-5
            "r6,a1,2024-03-05,csat,0,10,\n"       # ... but fine on a 0-10 scale
            "r7,a1,2024-03-05,csat,4,7,\n"        # scale must be 5 or 10
            "r8,a1,2024-03-05,ces,4,,\n"          # unknown kind
            "r9,a1,2024-03-05,nps,8.5,,\n")       # not a whole number
    report = ws.import_file("surveys", write("s.csv", text))
    assert report.rows_accepted == 4
    assert reasons(ws) == {3: ("score_out_of_range", "score"), 5: ("score_out_of_range", "score"),
                           7: ("bad_scale", "scale"), 8: ("bad_survey_kind", "kind"), 9: ("bad_integer", "score")}
    assert [r["kind"] for r in ws.warehouse.query("SELECT kind FROM surveys WHERE response_id='r2'")] == ["nps"]


def test_costs(ws, write):
    ws.import_file("fx-rates", write("fx.csv", "date,currency,rate\n2024-01-01,USD,0.9\n"))
    text = ("period,category,amount,currency\n"
            "2024-03,cs_team,42000,EUR\n"
            "03/2024,Support Team,1000,EUR\n"     # MM/YYYY and a spaced, capitalised category are normalised
            "2024-13,cs_team,1,EUR\n"            # no month 13
            "2024-04,marketing,1,EUR\n"          # unknown category
            "2024-05,other,-1,EUR\n"             # negative cost
            "2023-12,other,5,USD\n"              # USD rate starts 2024-01-01: missing for 2023-12
            "2024-01,other,5,USD\n")
    report = ws.import_file("costs", write("c.csv", text))
    assert report.rows_accepted == 3
    assert reasons(ws, "costs") == {3: ("bad_period", "period"), 4: ("bad_category", "category"),
                                    5: ("negative_amount", "amount"), 6: ("missing_fx_rate", "currency")}
    got = sorted((r["period"], r["category"]) for r in ws.warehouse.query("SELECT period, category FROM costs"))
    assert got == [("2024-01", "other"), ("2024-03", "cs_team"), ("2024-03", "support_team")]


def test_fx_rates(ws, write):
    text = "date,currency,rate\n2024-01-01,USD,0.92\n2024-01-01,GBP,0\n2024-01-01,EUR,1\n2024-01-01,EUR,1.1\n2024-01-01,ZZZ,1\n"
    ws.import_file("fx_rates", write("fx.csv", text))  # alias of fx-rates
    assert reasons(ws) == {2: ("bad_rate", "rate"), 4: ("bad_rate", "rate"), 5: ("bad_currency", "currency")}


def test_tickets(ws, write):
    accounts(ws, "a1")
    text = ("ticket_id,account_id,created_at,resolved_at,status,subject\n"
            "T1,a1,2024-03-05T09:00:00,2024-03-05T10:00:00,resolved,API 500\n"
            "T2,a1,2024-03-05T09:00:00,,open,\n"
            "T3,a1,2024-03-05T09:00:00,2024-03-04T09:00:00,resolved,\n")
    report = ws.import_file("tickets", write("t.csv", text))
    assert report.rows_accepted == 2
    assert reasons(ws) == {3: ("resolved_before_created", "resolved_at")}


def test_unknown_columns_are_ignored_and_reported(ws, write):
    accounts(ws, "a1")
    report = ws.import_file("fx-rates", write("fx.csv", "Date,Currency,Rate,Source\n2024-01-01,USD,0.92,ECB\n"))
    # Headers match canonical columns case-insensitively; Source is not in the model.
    assert report.rows_accepted == 1 and report.ignored_columns == ["Source"]
