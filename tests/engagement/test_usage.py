"""DAU / WAU / MAU, stickiness, seats, adoption, key-feature time: hand-computed, all engines."""

from datetime import date, datetime

import pytest

from retentio.config import Settings
from retentio.engagement import active_users, feature_adoption, key_feature_time
from retentio.engagement.usage import window_days
from retentio.metrics.periods import parse_period


def ev(acc, user, ts, event="click", feature=None, dur=None):
    return {"account_id": acc, "user_id": user, "timestamp": ts, "event": event, "feature": feature, "duration_seconds": dur}


def sub(sid, acc, start, end=None, qty=None, trial=False):
    return {"subscription_id": sid, "account_id": acc, "plan": "p", "start_date": start, "end_date": end, "amount": 100.0,
            "billing_period_months": 1, "currency": "EUR", "is_trial": trial, "quantity": qty}


# Seed 001's 2 500 WAU / 5 000 MAU = 50 %, scaled down to 5 / 10 in account A.
USAGE = (
    [ev("A", f"u{i}", datetime(2024, 3, 10, 9)) for i in range(1, 11)]  # 10 users in the 30-day window
    + [ev("A", f"u{i}", datetime(2024, 3, 28, 9)) for i in range(1, 6)]  # 5 of them in the last 7 days
    + [ev("A", f"u{i}", datetime(2024, 3, 31, 8)) for i in (1, 2)]  # 2 on the day itself
    + [ev("A", "u1", datetime(2024, 3, 31, 9))]  # a second event the same day: still one active user
    + [ev("A", "u11", datetime(2024, 3, 1, 12))]  # 1 March: outside the trailing 30 days (2 Mar..31 Mar)
    + [ev("B", "b1", datetime(2024, 3, 31, 23, 59, 59))]  # last second of the day is still 31 March (UTC)
)
SUBS = [sub("s1", "A", date(2024, 1, 1), None, 20.0), sub("s2", "A", date(2024, 1, 1), date(2024, 3, 31), 5.0),
        sub("s3", "B", date(2024, 1, 1), None, None)]


def test_window_days_trailing_and_calendar():
    p = date(2024, 3, 31)  # a Sunday
    assert window_days(p, "wau", "trailing")[0] == date(2024, 3, 25)
    assert window_days(p, "mau", "trailing")[0] == date(2024, 3, 2) and len(window_days(p, "mau", "trailing")) == 30
    assert window_days(date(2024, 3, 27), "wau", "calendar") == [date(2024, 3, 25 + i) for i in range(7)]
    assert len(window_days(date(2024, 2, 10), "mau", "calendar")) == 29  # leap February


def test_dau_wau_mau_stickiness_and_seats(make_engine):
    eng = make_engine({"usage": USAGE, "subscriptions": SUBS})
    rows = active_users(eng, Settings(), [date(2024, 3, 31)])
    by = {r["account_id"]: r for r in rows}
    a = by["A"]
    # A: DAU 2 (u1, u2), WAU 5 (u1..u5), MAU 10 (u1..u10; u11 on 1 March is 30 days + 1 before)
    assert (a["dau"], a["wau"], a["mau"]) == (2, 5, 10)
    assert a["stickiness_wau_mau"] == 0.5  # 5 / 10
    assert a["stickiness_dau_mau"] == 0.2  # 2 / 10
    # seats: s1 (20) is active; s2 ended on 31 March (exclusive end) so it is not.
    assert a["seats"] == 20.0 and a["mau_per_seat"] == 0.5
    b = by["B"]
    assert (b["dau"], b["wau"], b["mau"], b["seats"]) == (1, 1, 1, None)  # B's line has no quantity
    tot = by[None]
    # overall: DAU 2 + 1 = 3, WAU 5 + 1 = 6, MAU 10 + 1 = 11; WAU/MAU = 6/11
    assert (tot["dau"], tot["wau"], tot["mau"]) == (3, 6, 11)
    assert tot["stickiness_wau_mau"] == pytest.approx(6 / 11)
    # the base alone (per_account=False: summed in the engine) is the same row; its seats are
    # A's 20 (B has none), MAU per seat 11 / 20
    base = active_users(eng, Settings(), [date(2024, 3, 31)], per_account=False)
    assert base == [tot] and tot["seats"] == 20.0 and tot["mau_per_seat"] == pytest.approx(11 / 20)
    # a point with no activity and no seat: zeros, seats unknown
    empty = active_users(eng, Settings(), [date(2023, 6, 30)], per_account=False)[0]
    assert (empty["dau"], empty["wau"], empty["mau"], empty["seats"]) == (0, 0, 0, None)


def test_calendar_windows(make_engine):
    eng = make_engine({"usage": USAGE, "subscriptions": SUBS})
    s = Settings()
    s.engagement.active_window = "calendar"
    a = {r["account_id"]: r for r in active_users(eng, s, [date(2024, 3, 31)], per_account=True)}["A"]
    # calendar month of 31 March = all of March: u1..u11 = 11; calendar week Mon 25..Sun 31 March: 5
    assert (a["dau"], a["wau"], a["mau"]) == (2, 5, 11)


def test_feature_adoption_and_key_time(make_engine):
    usage = [
        ev("A", "a1", datetime(2024, 5, 2), "use", "reports", 60.0),
        ev("A", "a2", datetime(2024, 5, 3), "use", "reports", 30.5),
        ev("A", "a2", datetime(2024, 5, 3), "use", "api", 1.25),
        ev("B", "b1", datetime(2024, 5, 20), "login", None, None),
        ev("C", "c1", datetime(2024, 5, 21), "use", "reports", 10.0),
        ev("C", "c1", datetime(2024, 6, 1), "use", "api", 99.0),  # June: outside the period
    ]
    eng = make_engine({"usage": usage})
    s = Settings()
    s.engagement.complex_features = ["api"]
    s.engagement.key_features = ["reports"]
    out = feature_adoption(eng, s, parse_period("2024-05"))
    # active in May: accounts A, B, C (3); users a1, a2, b1, c1 (4)
    assert (out["accounts_active"], out["users_active"]) == (3, 4)
    f = {r["feature"]: r for r in out["features"]}
    # reports: accounts A, C = 2/3; users a1, a2, c1 = 3/4; 60 + 30.5 + 10 = 100.5 s
    assert f["reports"]["accounts_using"] == 2 and f["reports"]["account_share"] == pytest.approx(2 / 3)
    assert f["reports"]["users_using"] == 3 and f["reports"]["user_share"] == 0.75
    assert f["reports"]["hours"] == pytest.approx(100.5 / 3600) and f["reports"]["key"]
    # api: account A only (C's June use is outside May) = 1/3, complex
    assert f["api"]["accounts_using"] == 1 and f["api"]["complex"] and f["api"]["users_using"] == 1
    kt = key_feature_time(eng, s, parse_period("2024-05"))
    rows = {r["account_id"]: r for r in kt["rows"]}
    # A: 60 + 30.5 s on reports (api is not key) with 2 active users -> 45.25 s per user
    assert rows["A"]["hours"] == pytest.approx(90.5 / 3600)
    assert rows["A"]["hours_per_active_user"] == pytest.approx(45.25 / 3600)
    assert set(rows) == {"A", "C"}
