"""account_features: hand-computed values on a small book, and no leakage of later rows."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from retentio.config import Settings
from retentio.engine import open_engine
from retentio.features import FEATURES, account_features
from retentio.features.compute import add_months, next_renewal
from retentio.model import ACCOUNT_ATTRIBUTES_TABLE, ENTITIES
from tests.conftest import canonical_arrow, engine_over

ENGINES = ["duckdb", "polars"]
# Spark proves parity on this book (marked: skipped with the one reason without Java or PySpark).
ALL_ENGINES = ["duckdb", "polars", pytest.param("spark", marks=pytest.mark.spark)]


def make(engine_name: str, tables: dict):
    return engine_over(engine_name, tables)


def sub(sid, acc, start, end=None, amount=100.0, bpm=1, qty=None, canceled=None, plan="pro", trial=False):
    return {"subscription_id": sid, "account_id": acc, "plan": plan, "start_date": start, "end_date": end,
            "amount": amount, "billing_period_months": bpm, "currency": "EUR", "is_trial": trial,
            "quantity": qty, "canceled_at": canceled}


BOOK = {
    "accounts": [{"account_id": "A", "name": "A"}, {"account_id": "B", "name": "B"}],
    "account_attributes": [{"account_id": "A", "attribute": "segment", "value": "smb"},
                           {"account_id": "A", "attribute": "churn_reason", "value": "budget"}],
    "subscriptions": [
        sub("s1", "A", date(2024, 1, 15), None, 1200.0, 12, 10.0),
        sub("s2", "A", date(2024, 3, 1), date(2024, 6, 1), 50.0, 1, None, canceled=date(2024, 5, 10), plan="addon"),
        sub("s3", "B", date(2024, 2, 10), date(2024, 5, 1), 100.0, 1, 3.0),
    ],
    "usage": [
        {"account_id": "A", "user_id": "u1", "timestamp": datetime(2024, 2, 15, 9), "event": "login"},
        {"account_id": "A", "user_id": "u1", "timestamp": datetime(2024, 3, 30, 9), "event": "feature_used",
         "feature": "reports", "duration_seconds": 3600.0},
        {"account_id": "A", "user_id": "u2", "timestamp": datetime(2024, 3, 31, 9), "event": "login"},
    ],
    "tickets": [
        {"ticket_id": "t1", "account_id": "A", "created_at": datetime(2024, 3, 20, 10), "resolved_at": datetime(2024, 3, 21, 12)},
        {"ticket_id": "t2", "account_id": "A", "created_at": datetime(2024, 4, 25, 10), "resolved_at": datetime(2024, 5, 20, 12)},
    ],
    "surveys": [
        {"response_id": "r1", "account_id": "A", "answered_at": datetime(2024, 3, 10), "kind": "nps", "score": 9, "scale": 10},
        {"response_id": "r2", "account_id": "A", "answered_at": datetime(2024, 4, 20), "kind": "nps", "score": 5, "scale": 10,
         "comment": "terrible, awful support"},
        {"response_id": "r3", "account_id": "A", "answered_at": datetime(2024, 4, 1), "kind": "csat", "score": 4, "scale": 5},
        {"response_id": "r4", "account_id": "A", "answered_at": datetime(2024, 4, 2), "kind": "csat", "score": 2, "scale": 5},
    ],
}
DAYS = [date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 15)]


def row(frame: pl.DataFrame, acc: str, day: date) -> dict:
    r = frame.filter((pl.col("account_id") == acc) & (pl.col("day") == day))
    assert r.height == 1, (acc, day, r)
    return r.row(0, named=True)


def test_calendar_helpers():
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)  # clamped to the leap February
    assert add_months(date(2024, 3, 31), -6) == date(2023, 9, 30)
    # annual line from 2024-01-15: renewals 2025-01-15, 2026-01-15 ...
    assert next_renewal(date(2024, 1, 15), 12, date(2024, 3, 31)) == date(2025, 1, 15)
    assert next_renewal(date(2024, 1, 15), 12, date(2025, 1, 15)) == date(2026, 1, 15)  # strictly after
    assert next_renewal(date(2024, 2, 10), 1, date(2024, 4, 30)) == date(2024, 5, 10)


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
def test_hand_computed(engine_name):
    f = account_features(make(engine_name, BOOK), Settings(), DAYS)
    assert {f.name for f in FEATURES} <= set(f.columns)
    # Rows: A on the three days; B on 03-31 and 04-30 only (its line ends 05-01).
    assert sorted((r["account_id"], r["day"]) for r in f.select("account_id", "day").to_dicts()) == [
        ("A", DAYS[0]), ("A", DAYS[1]), ("A", DAYS[2]), ("B", DAYS[0]), ("B", DAYS[1])]
    a = row(f, "A", date(2024, 3, 31))
    # MRR 1200/12 + 50/1 = 150; on 02-29 it was 100: change (150 - 100) / 100 = 0.5; no MRR on 2023-12-31.
    assert a["mrr"] == 150.0 and a["mrr_change_1m"] == 0.5 and a["mrr_change_3m"] is None
    assert a["tenure_months"] == pytest.approx(76 / 30.4375)  # 2024-01-15 -> 03-31 = 76 days
    assert a["plan"] == "pro" and a["billing_period_months"] == 12
    assert a["days_to_renewal"] == 290  # 2024-03-31 -> 2025-01-15 = 275 + 15 days
    assert a["seats"] == 10 and a["touch"] == "tech" and a["cancellation_recorded"] == 0
    # Usage window 03-02..03-31: u1 (03-30), u2 (03-31) -> 2 active, 2 events; before (01-31..03-01): 1 event.
    assert a["active_users_30d"] == 2 and a["events_30d"] == 2 and a["usage_trend"] == 1.0
    assert a["stickiness"] == 0.5  # DAU on 03-31 = 1 (u2) / MAU 2
    assert a["active_users_vs_seats"] == 0.2  # 2 / 10 seats
    assert a["features_used_30d"] == 1 and a["key_feature_hours_30d"] == pytest.approx(1.0)  # reports, 3600 s
    assert a["days_since_last_activity"] == 0
    assert a["tickets_open"] == 0 and a["tickets_30d"] == 1 and a["resolution_hours_90d"] == 26.0
    assert a["nps_last"] == 9 and a["nps_class"] == "promoter" and a["csat_90d"] is None
    assert a["segment"] == "smb" and "churn_reason" not in f.columns  # not a static attribute
    a = row(f, "A", date(2024, 4, 30))
    assert a["active_users_30d"] == 0 and a["usage_trend"] == -1.0 and a["days_since_last_activity"] == 30
    # t2 (04-25, resolved 05-20) is open on 04-30; 30 days: t2; 90 days: t1, t2; resolved by then: t1 (26 h).
    assert a["tickets_open"] == 1 and a["tickets_30d"] == 1 and a["tickets_90d"] == 2
    assert a["resolution_hours_90d"] == 26.0
    assert a["nps_last"] == 5 and a["nps_class"] == "detractor" and a["csat_90d"] == 0.5  # 1 positive of 2
    assert a["sentiment_90d"] < 0 and a["texts_90d"] == 1
    assert row(f, "A", date(2024, 5, 15))["cancellation_recorded"] == 1  # s2 canceled 05-10
    b = row(f, "B", date(2024, 4, 30))
    # B's end (05-01) was never announced: the next renewal is derived, 2024-05-10, 10 days.
    assert b["days_to_renewal"] == 10 and b["mrr"] == 100.0


def truncate(tables: dict[str, pa.Table], d: date) -> dict[str, pa.Table]:
    """The book as it was known at the end of day d: rows dated after d deleted, end dates
    not yet announced (no cancellation recorded by d) unknown, later resolutions unknown."""
    out = dict(tables)
    s = pl.from_arrow(tables["subscriptions"])
    s = s.filter(pl.col("start_date") <= d).with_columns(
        pl.when(pl.col("canceled_at") <= d).then(pl.col("canceled_at")).otherwise(None).alias("canceled_at"))
    s = s.with_columns(pl.when((pl.col("end_date") <= d) | pl.col("canceled_at").is_not_null())
                       .then(pl.col("end_date")).otherwise(None).alias("end_date"))
    out["subscriptions"] = s.to_arrow().cast(tables["subscriptions"].schema)
    end = datetime(d.year, d.month, d.day, 23, 59, 59, 999999)
    for t, col in (("usage", "timestamp"), ("tickets", "created_at"), ("surveys", "answered_at")):
        f = pl.from_arrow(tables[t]).filter(pl.col(col) <= end)
        if t == "tickets":
            f = f.with_columns(pl.when(pl.col("resolved_at") <= end).then(pl.col("resolved_at")).otherwise(None)
                               .alias("resolved_at"))
        out[t] = f.to_arrow().cast(tables[t].schema)
    return out


@pytest.mark.parametrize("engine_name", ENGINES)
def test_no_leakage_small_book(engine_name):
    tables = {t: (canonical_arrow(t, BOOK.get(t, []))) for t in [e.table for e in ENTITIES.values()] + [ACCOUNT_ATTRIBUTES_TABLE]}
    full = account_features(make(engine_name, tables), Settings(), DAYS)
    for d in DAYS:
        cut = account_features(make(engine_name, truncate(tables, d)), Settings(), [d])
        assert_frame_equal(full.filter(pl.col("day") == d), cut, rel_tol=1e-12)


@pytest.mark.slow
def test_no_leakage_demo_book(demo_workspace):
    from retentio.clock import month_end
    from retentio.service import Workspace

    ws = Workspace(demo_workspace)
    tables = {t: ws.warehouse.arrow(t) for t in [e.table for e in ENTITIES.values()] + [ACCOUNT_ATTRIBUTES_TABLE]}
    days = [month_end(2024, 3), date(2024, 8, 17)]
    full = account_features(make("polars", tables), ws.settings, days)
    assert full.height > 100
    for d in days:
        cut = account_features(make("polars", truncate(tables, d)), ws.settings, [d])
        assert_frame_equal(full.filter(pl.col("day") == d), cut, rel_tol=1e-12)


def test_duckdb_and_polars_agree():
    a = account_features(make("duckdb", BOOK), Settings(), DAYS)
    b = account_features(make("polars", BOOK), Settings(), DAYS)
    assert_frame_equal(a, b, rel_tol=1e-12)


@pytest.mark.parametrize("engine_name", ["duckdb", "polars"])
def test_a_missing_rate_names_the_currency_the_first_day_and_the_line(engine_name):
    # A USD line from 2024-01-01, the first USD rate dated 2024-06-01. Features on 2024-03-31
    # read the line on the day, its lags (2024-02-29, 2023-12-31, 2023-09-30) and the end of
    # the last complete month (2024-02-29): it is active on 2024-02-29 and 2024-03-31, and the
    # earliest of those has no rate on or before it. No silent 1.0.
    from retentio.errors import DataError

    eng = engine_over(engine_name, {
        "accounts": [{"account_id": "a0", "name": "A0"}],
        "subscriptions": [{"subscription_id": "s0", "account_id": "a0", "plan": "p", "start_date": date(2024, 1, 1),
                           "end_date": None, "amount": 100.0, "billing_period_months": 1, "currency": "USD",
                           "is_trial": False}],
        "fx_rates": [{"date": date(2024, 6, 1), "currency": "USD", "rate": 0.9}],
    })
    with pytest.raises(DataError, match=r"no FX rate for USD on or before 2024-02-29 \(subscription s0\)"):
        account_features(eng, Settings(), [date(2024, 3, 31)])


@pytest.mark.parametrize("engine_name", ["duckdb", "polars"])
def test_old_tickets_count_while_open_and_not_once_resolved(engine_name):
    """The features read only the tickets a day can count (created in the 90 days before the
    first day or later, or still open on the first day): by hand, on 2024-06-30 and 2024-09-30,
    - t_old (2023-01-10, never resolved) is open on both days;
    - t_closed (2023-02-10, resolved 2023-03-01) counts on neither;
    - t_mid (2023-05-05, resolved 2024-08-15) is open on 06-30, not on 09-30;
    - t_new (2024-06-20, resolved 2024-06-21) is in the 30 and 90 days of 06-30 (26 h), in
      neither window of 09-30 (102 days before)."""
    book = {
        "accounts": [{"account_id": "A", "name": "A"}],
        "subscriptions": [sub("s1", "A", date(2022, 1, 1))],
        "tickets": [
            {"ticket_id": "t_old", "account_id": "A", "created_at": datetime(2023, 1, 10, 9), "resolved_at": None},
            {"ticket_id": "t_closed", "account_id": "A", "created_at": datetime(2023, 2, 10, 9),
             "resolved_at": datetime(2023, 3, 1, 9)},
            {"ticket_id": "t_mid", "account_id": "A", "created_at": datetime(2023, 5, 5, 9),
             "resolved_at": datetime(2024, 8, 15, 9)},
            {"ticket_id": "t_new", "account_id": "A", "created_at": datetime(2024, 6, 20, 10),
             "resolved_at": datetime(2024, 6, 21, 12)},
        ],
    }
    f = account_features(make(engine_name, book), Settings(), [date(2024, 6, 30), date(2024, 9, 30)])
    june, sept = row(f, "A", date(2024, 6, 30)), row(f, "A", date(2024, 9, 30))
    assert (june["tickets_open"], june["tickets_30d"], june["tickets_90d"]) == (2, 1, 1)
    assert june["resolution_hours_90d"] == 26.0
    assert (sept["tickets_open"], sept["tickets_30d"], sept["tickets_90d"]) == (1, 0, 0)
    assert sept["resolution_hours_90d"] is None
