"""The change-point computation (metrics/changes.py) = the expansion oracle (metrics/oracle.py).

Property test (hypothesis): on random books with several currencies and rate moves, trials,
reactivations, lines starting and ending on the same day, lines active only between two
month-ends (never at a snapshot), discounts and one-off lines, under both FX rules and with
or without a reactivation window, every figure of a monthly series and of a quarter, every
movement and every cohort cell are equal (==, integer cents) between the change table and
the expansion of lines x months - on DuckDB, Polars and Spark.  On Spark every query is a
JVM job costing about a second whatever the data, so instead of one run per random book it
runs the check once on one book made of twelve random books side by side (their accounts
renamed apart: C is per account, so each keeps its own history) and the deterministic
``rich_book``, under a rule and window drawn at random.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from retentio.config import Settings
from retentio.metrics import metrics_series, movements, oracle
from retentio.metrics.cohorts import cohorts
from retentio.metrics.drilldown import movement_entries
from retentio.metrics.kpis import Book, compute
from retentio.metrics.periods import Period, parse_period
from test_metrics_properties import engine

PERIOD = "2023-01..2024-10"
FX = [  # USD moves every few months; GBP moves twice inside one month (the month's last rate counts)
    {"date": date(2022, 12, 1), "currency": "USD", "rate": 0.9},
    {"date": date(2023, 3, 5), "currency": "USD", "rate": 0.93},
    {"date": date(2023, 6, 10), "currency": "USD", "rate": 0.91},
    {"date": date(2023, 9, 30), "currency": "USD", "rate": 0.95},
    {"date": date(2024, 1, 1), "currency": "USD", "rate": 0.91},
    {"date": date(2024, 5, 31), "currency": "USD", "rate": 0.97},
    {"date": date(2022, 12, 1), "currency": "GBP", "rate": 1.15},
    {"date": date(2023, 8, 2), "currency": "GBP", "rate": 1.2},
    {"date": date(2023, 8, 20), "currency": "GBP", "rate": 1.17},
    {"date": date(2024, 2, 29), "currency": "GBP", "rate": 1.19},
]


@st.composite
def books(draw):
    n_accounts = draw(st.integers(1, 6))
    subs = []
    for a in range(n_accounts):
        for k in range(draw(st.integers(1, 4))):
            start = date(2023, 1, 1) + timedelta(days=draw(st.integers(0, 600)))
            shape = draw(st.sampled_from(["open", "days", "same_day", "within_month", "days"]))
            if shape == "open":
                end = None
            elif shape == "same_day":
                end = start
            elif shape == "within_month":  # e.g. the 5th to the 20th: never active at a month-end
                start = start.replace(day=min(start.day, 20))
                end = start + timedelta(days=draw(st.integers(1, 7)))
            else:
                end = start + timedelta(days=draw(st.integers(1, 400)))
            kind = draw(st.sampled_from([None, None, None, "recurring", "usage", "discount", "one_off"]))
            amount = draw(st.integers(1, 300_000)) / 100
            if kind == "discount" and draw(st.booleans()):
                amount = -amount  # a discount may be written with either sign
            subs.append({
                "subscription_id": f"s{a}-{k}",
                "account_id": f"a{a}",
                "plan": draw(st.sampled_from(["basic", "pro"])),
                "start_date": start,
                "end_date": end,
                "amount": amount,
                "billing_period_months": draw(st.sampled_from([1, 1, 3, 12, 24])),
                "currency": draw(st.sampled_from(["EUR", "EUR", "USD", "GBP"])),
                "is_trial": draw(st.booleans()) and draw(st.booleans()),
                "kind": kind,
            })
    return {
        "accounts": [{"account_id": f"a{a}", "name": f"A{a}"} for a in range(n_accounts)],
        "subscriptions": subs,
        "fx_rates": FX,
    }


def rich_book() -> dict:
    """One deterministic book with every case ``books()`` draws at random, inside the Spark
    test's period (2023-06..2024-03) and before it: lines in USD and GBP across the rate
    moves of FX (GBP twice inside 2023-08), a trial then its paid line and a trial that never
    converts, an account that churns and comes back (reactivation), a line starting and
    ending on the same day, lines active only between two month-ends, discounts with either
    sign, one-off and usage lines, an explicit recurring kind, billing every 1, 3, 12 and 24
    months, expansions and contractions, a line ending on a month's last day."""
    def sub(sid, acc, start, end, amount, bpm=1, cur="EUR", trial=False, kind=None, plan="basic"):
        return {"subscription_id": sid, "account_id": acc, "plan": plan, "start_date": start, "end_date": end,
                "amount": amount, "billing_period_months": bpm, "currency": cur, "is_trial": trial, "kind": kind}

    d = date
    subs = [
        # a0: expansion (USD line), contraction when it ends, an annual GBP line across 2024-02-29
        sub("s0-0", "a0", d(2023, 1, 10), None, 100.0),
        sub("s0-1", "a0", d(2023, 7, 3), d(2024, 1, 15), 250.0, cur="USD", plan="pro"),
        sub("s0-2", "a0", d(2023, 9, 1), None, 1200.0, bpm=12, cur="GBP", kind="recurring"),
        # a1: quarterly line, churned in 2023-08, back in 2023-11 (reactivation) in USD
        sub("s1-0", "a1", d(2023, 2, 1), d(2023, 8, 1), 300.0, bpm=3),
        sub("s1-1", "a1", d(2023, 11, 15), None, 90.0, cur="USD"),
        # a2: a trial then its paid line; a same-day line; discounts written with either sign
        sub("s2-0", "a2", d(2023, 5, 1), d(2023, 6, 1), 50.0, trial=True),
        sub("s2-1", "a2", d(2023, 6, 1), None, 50.0, plan="pro"),
        sub("s2-2", "a2", d(2023, 10, 10), d(2023, 10, 10), 75.0),
        sub("s2-3", "a2", d(2023, 6, 1), d(2024, 6, 1), -10.0, kind="discount"),
        sub("s2-4", "a2", d(2023, 12, 1), None, 5.0, kind="discount"),
        # a3: active only between month-ends (5th-20th), a one-off, a GBP usage line from the
        # month of the two GBP moves, ending on 2023-12-31 (churned at that month's snapshot)
        sub("s3-0", "a3", d(2023, 8, 5), d(2023, 8, 20), 400.0),
        sub("s3-1", "a3", d(2023, 9, 12), None, 999.0, kind="one_off"),
        sub("s3-2", "a3", d(2023, 8, 1), d(2023, 12, 31), 30.0, cur="GBP", kind="usage"),
        # a4: a 24-month USD line (the 2023-06-10 and 2023-09-30 moves), a contraction inside it
        sub("s4-0", "a4", d(2023, 3, 20), None, 4800.0, bpm=24, cur="USD"),
        sub("s4-1", "a4", d(2023, 3, 20), d(2023, 10, 1), 60.0, cur="USD"),
        # a5: a trial that never converts, then (later) a within-month paid line and a new
        # paid account in the last month of the period
        sub("s5-0", "a5", d(2023, 7, 1), d(2023, 7, 31), 20.0, trial=True),
        sub("s5-1", "a5", d(2024, 1, 5), d(2024, 1, 9), 20.0),
        sub("s5-2", "a5", d(2024, 3, 1), None, 45.0, bpm=3, cur="GBP"),
    ]
    return {
        "accounts": [{"account_id": f"a{a}", "name": f"A{a}"} for a in range(6)],
        "subscriptions": subs,
        "fx_rates": FX,
    }


def _settings(fx_rule: str, window: int) -> Settings:
    s = Settings()
    s.metrics.fx_rule = fx_rule
    s.metrics.reactivation_window_months = window
    return s


def _oracle_movements(eng, s: Settings, period: str) -> list[dict]:
    p = parse_period(period)
    book = Book.load(eng, s, p.last)
    rows = oracle.movement_rows(eng, s, p.first, p.last)
    from retentio.metrics.movements import MOVEMENT_TYPES

    return movement_entries(book, p, rows, MOVEMENT_TYPES)


def _cells(eng, s: Settings, through: str) -> dict:
    """{(cohort month index, age): (mrr cents, logos)} of the monthly cohort triangle."""
    out = {}
    logos = cohorts(eng, s, measure="logos", values="absolute", through=through)["rows"]
    for row in cohorts(eng, s, measure="mrr", values="absolute", through=through)["rows"]:
        y, m = map(int, row["cohort"].split("-"))
        c = y * 12 + m - 1
        lg = next(r for r in logos if r["cohort"] == row["cohort"])["values"]
        for age, v in enumerate(row["values"]):
            if v or lg[age]:
                out[(c, age)] = (round(v * 100), lg[age])
    return out


QUERIES = ["2023-Q4", "2024-Q2", "2023-06..2024-05"]


def expected(o, s: Settings, period: str = PERIOD) -> dict:
    """What the expansion path (the oracle) gives for the figures ``check_equal`` compares.
    The oracle is engine-independent arithmetic, so it is computed once a book, on Polars
    (on books this small DuckDB costs ~5x Polars: it binds each of the ~200 relation steps),
    and every engine is checked against it."""
    q = [parse_period(x) for x in QUERIES]
    through = parse_period(period.split("..")[1]).last
    return {"series": oracle.metrics_series(o, s, period), "compute": oracle.compute(o, s, q),
            "movements": _oracle_movements(o, s, period), "cells": oracle.cohort_cells(o, s, through)}


def check_equal(eng, s: Settings, want: dict, period: str = PERIOD) -> None:
    series = metrics_series(eng, s, period)
    assert series == want["series"]
    q = [parse_period(x) for x in QUERIES]
    assert compute(eng, s, q) == want["compute"]
    assert movements(eng, s, period) == want["movements"]
    assert _cells(eng, s, period.split("..")[1]) == want["cells"]
    # lag endpoints by running sums over C and C shifted (used beyond OVERLAP_MAX_ENDS end
    # months) = by overlaps of rows (used below) = the expansion
    from retentio.metrics import kpis

    saved, kpis.OVERLAP_MAX_ENDS = kpis.OVERLAP_MAX_ENDS, 0
    try:
        assert compute(eng, s, q) == want["compute"]
        assert metrics_series(eng, s, period) == series
    finally:
        kpis.OVERLAP_MAX_ENDS = saved
    # the bridge balances every month, fx included (metrics.md §3)
    for x in series:
        m = x["movements"]
        assert round(x["mrr_start"] + m["new"] + m["reactivation"] + m["expansion"] - m["contraction"] - m["churn"]
                     + m["fx"], 2) == round(x["mrr"], 2)


@pytest.mark.slow
@example(book=rich_book(), fx_rule="snapshot", window=0)
@example(book=rich_book(), fx_rule="line_start", window=3)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books(), fx_rule=st.sampled_from(["snapshot", "snapshot", "line_start"]), window=st.sampled_from([0, 0, 3]))
def test_change_points_equal_the_expansion(book, fx_rule, window):
    # each book on DuckDB and on Polars, against one oracle (``expected``)
    s = _settings(fx_rule, window)
    polars = engine("polars", book)
    want = expected(polars, s)
    check_equal(polars, s, want)
    duck = engine("duckdb", book)
    check_equal(duck, s, want)
    duck.close()
    polars.close()


@pytest.mark.parametrize("fx_rule", ["snapshot", "line_start"])
def test_grouped_figures_equal_the_expansion(fx_rule):
    # by group: the totals, the lag endpoints (overlaps of rows per group), the renewals and
    # the trials of each plan and each cohort, for a quarter and for a month, on the book
    # that has every case (the random books would double the property test's time), on
    # DuckDB and Polars against one oracle (``expected`` says why Polars)
    polars, duck = engine("polars", rich_book()), engine("duckdb", rich_book())
    s = _settings(fx_rule, 3)
    for p in ("2023-Q4", "2024-02"):
        for by in ("plan", "cohort"):
            want = oracle.compute(polars, s, [parse_period(p)], by=by)
            assert len(want[0]["groups"]) >= 2  # more than one group compared
            for eng in (polars, duck):
                assert compute(eng, s, [parse_period(p)], by=by) == want
    duck.close()
    polars.close()


def side_by_side(parts: list[dict]) -> dict:
    """One book holding every book of ``parts``, accounts and lines renamed apart (book i's
    ``a0`` becomes ``b{i}.a0``); the rates are the shared FX table."""
    out: dict[str, list] = {"accounts": [], "subscriptions": [], "fx_rates": FX}
    for i, part in enumerate(parts):
        out["accounts"] += [{**a, "account_id": f"b{i}.{a['account_id']}"} for a in part["accounts"]]
        out["subscriptions"] += [{**x, "account_id": f"b{i}.{x['account_id']}",
                                  "subscription_id": f"b{i}.{x['subscription_id']}"} for x in part["subscriptions"]]
    return out


@pytest.mark.spark
# one example, not shrunk: each Spark run costs about a minute; a failure prints the book
@settings(max_examples=1, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(randoms=st.lists(books(), min_size=12, max_size=12),
       fx_rule=st.sampled_from(["snapshot", "line_start"]), window=st.sampled_from([0, 3]))
def test_change_points_equal_the_expansion_spark(randoms, fx_rule, window):
    book = side_by_side([rich_book(), *randoms])
    eng, polars = engine("spark", book), engine("polars", book)
    s = _settings(fx_rule, window)
    want = expected(polars, s)  # the expansion itself is slow in a JVM
    # the book holds what it is meant to hold: every movement in the period (the currency
    # effect only under the snapshot rule: line_start fixes each line's rate)
    moved = {k for x in want["series"] for k, v in x["movements"].items() if v}
    kinds = {"new", "reactivation", "expansion", "contraction", "churn"} | ({"fx"} if fx_rule == "snapshot" else set())
    assert moved >= kinds
    check_equal(eng, s, want)
    polars.close()


def test_books_side_by_side_keep_each_book_apart():
    # Hand-checked: two one-line books become one book of two accounts whose series is the
    # sum of theirs (100 EUR from 2023-02, 50 EUR from 2023-03).
    one = {"accounts": [{"account_id": "a0", "name": "A0"}], "fx_rates": FX, "subscriptions": [
        {"subscription_id": "s0-0", "account_id": "a0", "plan": "basic", "start_date": date(2023, 2, 1),
         "end_date": None, "amount": 100.0, "billing_period_months": 1, "currency": "EUR", "is_trial": False,
         "kind": None}]}
    two = {**one, "subscriptions": [{**one["subscriptions"][0], "amount": 50.0, "start_date": date(2023, 3, 1)}]}
    both = side_by_side([one, two])
    assert [a["account_id"] for a in both["accounts"]] == ["b0.a0", "b1.a0"]
    eng = engine("duckdb", both)
    series = metrics_series(eng, Settings(), "2023-02..2023-03")
    assert [(x["mrr"], x["customers"]) for x in series] == [(100.0, 1), (150.0, 2)]
    eng.close()


def test_a_period_of_one_month_matches_a_series(tmp_path):
    """Smoke: one Period.month bucket = the same month of a series (no hypothesis)."""
    from metrics_books import own_book

    eng = engine("duckdb", own_book())
    s = Settings()
    assert compute(eng, s, [Period.month(2024 * 12 + 1)])[0] == metrics_series(eng, s, "2024-02")[0]


@pytest.mark.parametrize("name", ["duckdb", "polars"])
def test_lag_overlaps_worked_example(name):
    # docs/architecture.md, "lag endpoints": months as indexes y*12 + m - 1.  Account A:
    # 100 over 2023-06..2024-04, 150 over 2024-05..2025-01, churned from 2025-02.  Account B:
    # 200 over 2023-01..2024-02 only (churned before the end months: never a pair).  Account C:
    # 80 from 2024-02 on (a customer at both snapshots of 2025-02 and 2025-03, not of 2025-01).
    from retentio.metrics.changes import lag_overlaps
    from retentio.metrics.mrr import OPEN_END

    def mi(y, m):
        return y * 12 + m - 1

    rows = [("A", mi(2023, 6), mi(2024, 5), 100), ("A", mi(2024, 5), mi(2025, 2), 150),
            ("A", mi(2025, 2), OPEN_END, 0), ("B", mi(2023, 1), mi(2024, 3), 200), ("B", mi(2024, 3), OPEN_END, 0),
            ("C", mi(2024, 2), OPEN_END, 80)]
    eng = engine(name, {})
    C = eng.from_columns({"account_id": [r[0] for r in rows], "month": [r[1] for r in rows],
                          "next_month": [r[2] for r in rows], "e": [r[3] for r in rows]},
                         {"account_id": "string", "month": "int", "next_month": "int", "e": "int"})
    got = sorted((int(r["lo"]), int(r["hi"]), int(r["s_retained"]), int(r["s_end_mrr"]), int(r["s_kept_mrr"]))
                 for r in eng.rows(lag_overlaps(C, 12, mi(2025, 1), mi(2025, 3), [])))
    # A: (s 100, e 150) over [2025-01, 2025-02); C: (s 80, e 80) over [2025-02, 2025-04) (2025-03 + 1)
    assert got == [(mi(2025, 1), mi(2025, 2), 1, 150, 100), (mi(2025, 2), mi(2025, 4), 1, 80, 80)]
