"""Lifecycle, CES, TTFV, onboarding score, trial conversion: hand-computed, on every engine."""

from datetime import date, datetime

import pytest

from retentio.config import Settings
from retentio.engagement import engagement_score, lifecycle, onboarding, time_to_first_value, trial_conversion
from retentio.engagement.lifecycle import capped_ratio, classify
from retentio.metrics.periods import parse_period


def ev(acc, user, ts, event="click", feature=None, dur=None):
    return {"account_id": acc, "user_id": user, "timestamp": ts, "event": event, "feature": feature, "duration_seconds": dur}


def sub(sid, acc, start, end=None, trial=False):
    return {"subscription_id": sid, "account_id": acc, "plan": "p", "start_date": start, "end_date": end, "amount": 100.0,
            "billing_period_months": 1, "currency": "EUR", "is_trial": trial, "quantity": None}


def test_classify_rules():
    assert classify(5, 0, False, True, 0.5) == "new"
    assert classify(5, 0, True, True, 0.5) == "resurrected"
    assert classify(4, 10, True, True, 0.5) == "at_risk"  # 4 < (1 - 0.5) x 10 = 5
    assert classify(5, 10, True, True, 0.5) == "active"  # exactly half: not more than 50 % down
    assert classify(0, 3, True, True, 0.5) == "dormant"
    assert classify(0, 0, False, True, 0.5) == "never_active"
    assert classify(0, 3, True, False, 0.5) is None  # not a customer and idle: churned, not listed
    import polars as pl

    xr = pl.DataFrame({"x": [5, 20, 0, 1, 0, 3], "ref": [10, 10, 0, 4, 0, 0]})

    def ratios(**kw):
        return xr.select(capped_ratio(pl.col("x"), pl.col("ref"), **kw).alias("p"))["p"].to_list()

    # min(x / ref, 1); ref 0: 1 when x > 0 else 0; lower is better: 1 minus that
    assert ratios() == [0.5, 1.0, 0.0, 0.25, 0.0, 1.0]
    assert ratios(higher_is_better=False) == [0.5, 0.0, 1.0, 0.75, 1.0, 0.0]


def test_lifecycle_and_ces(make_engine):
    # Customers all year 2024: A, B, C.  user-days per month: A Jan 4, Feb 1 (at risk), Mar 0 (dormant);
    # B Jan 0 (never active), Feb 2 (new); C Jan 2, Feb 0, Mar 1 (resurrected).
    usage = (
        [ev("A", u, datetime(2024, 1, d)) for u in ("a1", "a2") for d in (3, 4)]
        + [ev("A", "a1", datetime(2024, 2, 1))]
        + [ev("B", "b1", datetime(2024, 2, 2), feature="reports", dur=3600.0),
           ev("B", "b1", datetime(2024, 2, 3), feature="api", dur=0.0)]
        + [ev("C", "c1", datetime(2024, 1, 9)), ev("C", "c1", datetime(2024, 1, 10)), ev("C", "c1", datetime(2024, 3, 1))]
    )
    subs = [sub("s" + a, a, date(2023, 12, 1)) for a in ("A", "B", "C")]
    tickets = [{"ticket_id": "t1", "account_id": "A", "created_at": datetime(2024, 2, 10)}]
    eng = make_engine({"usage": usage, "subscriptions": subs, "tickets": tickets})
    s = Settings()
    out = lifecycle(eng, s, parse_period("2024-01..2024-03"))
    st = {(r["month"], r["account_id"]): r["status"] for r in out["accounts"]}
    assert st == {
        ("2024-01", "A"): "new", ("2024-01", "B"): "never_active", ("2024-01", "C"): "new",
        ("2024-02", "A"): "at_risk", ("2024-02", "B"): "new", ("2024-02", "C"): "dormant",
        ("2024-03", "A"): "dormant", ("2024-03", "B"): "dormant", ("2024-03", "C"): "resurrected",
    }
    # CES in February 2024, population A, B, C (customers).  Raw: logins (user-days) A 1, B 2, C 0;
    # adoption (features) A 0, B 2, C 0; key_time (ms, all features) A 0, B 3 600 000, C 0; tickets A 1, B 0, C 0.
    # P90 nearest rank of 3 values = 3rd smallest: logins 2, adoption 2, key_time 3 600 000, tickets 1.
    # A: logins 1/2 = .5, adoption 0, key 0, tickets 1 - 1/1 = 0 -> 100 x .35 x .5 = 17.5
    # B: 1, 1, 1, tickets 1 - 0 = 1 -> 100
    # C: 0, 0, 0, tickets 1 -> 100 x .15 = 15
    ces = {r["account_id"]: r["ces"] for r in engagement_score(eng, s, parse_period("2024-02"))["rows"]}
    assert ces == {"A": pytest.approx(17.5), "B": pytest.approx(100.0), "C": pytest.approx(15.0)}


def test_ttfv_onboarding_trials(make_engine):
    subs = [
        sub("t1", "A", date(2024, 1, 1), date(2024, 1, 15), trial=True), sub("p1", "A", date(2024, 1, 10)),
        sub("p2", "B", date(2024, 1, 20)),
        sub("p3", "C", date(2024, 2, 1)),
        sub("t2", "D", date(2024, 1, 5), date(2024, 1, 19), trial=True),
        sub("p4", "D", date(2024, 3, 1)),  # 19 Jan + 30 days = 18 Feb < 1 March: not converted
    ]
    usage = [
        ev("A", "a", datetime(2024, 1, 5), "report_shared"),  # before the first paid day (10 Jan): TTFV 0
        ev("A", "a", datetime(2024, 1, 12), "invite_user"),
        ev("A", "a", datetime(2024, 5, 1), "connect_api"),  # after the 90-day window: completed, not on time
        ev("B", "b", datetime(2024, 1, 30, 23), "report_shared"),  # 10 days after 20 Jan
        ev("B", "b", datetime(2024, 2, 9), "report_shared"),
        ev("B", "b", datetime(2024, 1, 21), "invite_user"), ev("B", "b", datetime(2024, 1, 22), "connect_api"),
        # C never shares a report and completes nothing
    ]
    attrs = [{"account_id": a, "attribute": "tier", "value": v} for a, v in (("A", "smb"), ("B", "smb"), ("C", "ent"))]
    eng = make_engine({"subscriptions": subs, "usage": usage, "account_attributes": attrs})
    s = Settings()
    s.engagement.value_event = "report_shared"
    s.engagement.onboarding_milestones = ["invite_user", "connect_api"]
    t = time_to_first_value(eng, s, parse_period("2024"), by="tier")
    # paid accounts A, B, C, D; with the event A (0 days) and B (10 days): mean 5, median 5; C and D without
    assert t["overall"] == {"accounts": 4, "with_event": 2, "without_event": 2, "mean_days": 5.0, "median_days": 5.0}
    g = {(r["cohort"], r["segment"]): r for r in t["groups"]}
    assert g[("2024-01", "smb")]["mean_days"] == 5.0 and g[("2024-02", "ent")]["without_event"] == 1
    assert g[("2024-03", "(none)")]["accounts"] == 1  # D has no tier attribute
    o = onboarding(eng, s, parse_period("2024"))
    acc = {r["account_id"]: r for r in o["accounts"]}
    # A: 2 of 2 completed, 1 on time (connect_api on 1 May > 10 Jan + 90 days = 9 April); B 2/2 on time; C, D 0
    assert (acc["A"]["completed"], acc["A"]["on_time"]) == (2, 1) and acc["B"]["on_time_share"] == 1.0
    # overall: completed 2 + 2 + 0 + 0 = 4 of 4 x 2 = 8 -> 50 %; on time 3 of 8 = 37.5 %
    assert o["overall"]["onboarding_score"] == 0.5 and o["overall"]["on_time_share"] == 0.375
    tr = trial_conversion(eng, s, parse_period("2024"))
    # trials: A (paid line starts 10 Jan, inside its trial) converted; D not (paid 1 March after 18 Feb)
    assert tr["overall"] == {"trials": 2, "converted": 1, "conversion_rate": 0.5, "left_out": 0}


def test_ces_of_an_account_without_usage_names_the_missing_components(make_engine):
    # A uses the product in January 2024; D is a customer with one ticket and no usage event ever.
    # D's logins, adoption and key_time are missing (no data), not 0: its CES is undefined, where
    # scoring them as 0 would give 100 x 0.15 x (1 - min(1 / 1, 1)) = 0 ... or 15 without a ticket.
    usage = [ev("A", "a1", datetime(2024, 1, 3), feature="reports", dur=60.0)]
    subs = [sub("sA", "A", date(2023, 12, 1)), sub("sD", "D", date(2023, 12, 1))]
    tickets = [{"ticket_id": "t1", "account_id": "D", "created_at": datetime(2024, 1, 10)}]
    eng = make_engine({"usage": usage, "subscriptions": subs, "tickets": tickets})
    rows = {r["account_id"]: r for r in engagement_score(eng, Settings(), parse_period("2024-01"))["rows"]}
    assert rows["D"]["ces"] is None and rows["D"]["missing_components"] == ["logins", "adoption", "key_time"]
    assert rows["A"]["missing_components"] == [] and rows["A"]["ces"] is not None


def test_ces_of_a_month_does_not_look_ahead(make_engine):
    # D is a customer from December 2023 and first uses the product on 5 February 2024. In
    # January it has no usage data at all: its January CES is undefined, whether January is
    # asked alone or as part of January-February (a health score stored for 31 January must
    # not know what D did in February). A uses the product in both months.
    usage = [ev("A", "a1", datetime(2024, 1, 3), feature="reports", dur=60.0),
             ev("A", "a1", datetime(2024, 2, 3), feature="reports", dur=60.0),
             ev("D", "d1", datetime(2024, 2, 5), feature="reports", dur=30.0)]
    subs = [sub("sA", "A", date(2023, 12, 1)), sub("sD", "D", date(2023, 12, 1))]
    eng = make_engine({"usage": usage, "subscriptions": subs})
    both = {(r["month"], r["account_id"]): r for r in engagement_score(eng, Settings(), parse_period("2024-01..2024-02"))["rows"]}
    alone = {(r["month"], r["account_id"]): r for r in engagement_score(eng, Settings(), parse_period("2024-01"))["rows"]}
    assert both[("2024-01", "D")]["ces"] is None
    assert both[("2024-01", "D")]["missing_components"] == ["logins", "adoption", "key_time"]
    assert {k: v for k, v in both.items() if k[0] == "2024-01"} == alone
    # February: D has used the product; each of A and D has 1 user-day, 1 feature and no
    # ticket, key time 60 s and 30 s (reference 60 s): A 100 x (.35 + .25 + .25 + .15) = 100,
    # D 100 x (.35 + .25 + .25 x 0.5 + .15) = 87.5
    assert both[("2024-02", "A")]["ces"] == pytest.approx(100.0)
    assert both[("2024-02", "D")]["ces"] == pytest.approx(87.5)
