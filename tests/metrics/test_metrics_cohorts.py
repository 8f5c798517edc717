"""The cohort triangle of a small book, worked by hand.

Lines (EUR, monthly; segment attribute ``seg``):
  k1 (a) 100 2024-01-10 -> 2024-08-01
  k2 (b) 200 2024-01-20 -> 2024-03-01, then 300 2024-03-01 -> 2024-08-01
  k3 (a) 100 2024-01-05 -> 2024-02-15
  k4 (a)  50 2024-02-03 -> 2024-05-01
  k5 (b) 150 2024-02-10 -> 2024-04-01
  k6 (b) 400 2024-03-15 -> 2024-08-01
  k7 (a) trial only 2024-02-01 -> 2024-03-01: never paid, in no cohort

Month-end MRR:      Jan  Feb  Mar  Apr  May  Jun  Jul  (Aug: nothing)
  k1                100  100  100  100  100  100  100
  k2                200  200  300  300  300  300  300
  k3                100    0
  k4                      50   50   50    0
  k5                     150  150    0
  k6                          400  400  400  400  400

Cohort (first paid month) and age k = months since it:
  2024-01 (k1 k2 k3) MRR 400 300 400 400 400 400 400 ; logos 3 2 2 2 2 2 2
          ARPA 400/3 150 200 200 200 200 200 ; relative MRR 1 .75 1 1 1 1 1 ; logos 1 2/3 2/3 ...
  2024-02 (k4 k5)    MRR 200 200 50 0 0 0 ; logos 2 2 1 0 0 0 ; ARPA 100 100 50 ; rel MRR 1 1 .25 0 0 0
  2024-03 (k6)       MRR 400 400 400 400 400 ; logos 1 1 1 1 1 ; ARPA 400 ...
Quarter grain: one cohort 2024-Q1 (k1..k6, size 6); age 0 = end of Q1: k1 100 + k2 300 + k4 50
  + k5 150 + k6 400 = 1000, 5 logos, ARPA 200; age 1 = end of Q2 (06-30): k1 + k2 + k6 = 800,
  3 logos, ARPA 800/3; relative MRR 1, 0.8 ; logos 1, 0.6.
Segment seg (month grain, absolute MRR):
  (2024-01, a) k1 k3: 200 100 100 100 100 100 100 ; (2024-01, b) k2: 200 200 300 300 300 300 300
  (2024-02, a) k4: 50 50 50 0 0 0 ; (2024-02, b) k5: 150 150 0 0 0 0 ; (2024-03, b) k6: 400 x 5

The triangle may extend past July (ages after the last data month); only the ages worked above
are compared (a prefix of each row's values).
"""

from __future__ import annotations

from datetime import date as D

from metrics_books import accounts, approx, line

from retentio.config import Settings
from retentio.metrics import cohorts


def cohort_book() -> dict:
    subs = [
        line("k1-1", "k1", D(2024, 1, 10), D(2024, 8, 1), 100),
        line("k2-1", "k2", D(2024, 1, 20), D(2024, 3, 1), 200),
        line("k2-2", "k2", D(2024, 3, 1), D(2024, 8, 1), 300),
        line("k3-1", "k3", D(2024, 1, 5), D(2024, 2, 15), 100),
        line("k4-1", "k4", D(2024, 2, 3), D(2024, 5, 1), 50),
        line("k5-1", "k5", D(2024, 2, 10), D(2024, 4, 1), 150),
        line("k6-1", "k6", D(2024, 3, 15), D(2024, 8, 1), 400),
        line("k7-t", "k7", D(2024, 2, 1), D(2024, 3, 1), 0, trial=True),
    ]
    seg = {"k1": "a", "k2": "b", "k3": "a", "k4": "a", "k5": "b", "k6": "b", "k7": "a"}
    return {
        "accounts": accounts(list(seg)),
        "account_attributes": [{"account_id": a, "attribute": "seg", "value": v} for a, v in seg.items()],
        "subscriptions": subs,
    }


def rows_by_key(out):
    return {(r["cohort"], r["segment"]): r for r in out["rows"]}


def check(row, expected):
    got = row["values"][: len(expected)]
    assert len(got) == len(expected), (row, expected)
    for g, e in zip(got, expected):
        assert g == approx(e), (row["cohort"], got, expected)


def test_cohort_triangles(make_engine):
    eng = make_engine(cohort_book())
    s = Settings()

    out = cohorts(eng, s, grain="month", measure="mrr", values="absolute")
    assert (out["grain"], out["measure"], out["values"]) == ("month", "mrr", "absolute")
    r = rows_by_key(out)
    assert set(r) == {("2024-01", None), ("2024-02", None), ("2024-03", None)}
    assert [r[(c, None)]["size"] for c in ("2024-01", "2024-02", "2024-03")] == [3, 2, 1]
    check(r[("2024-01", None)], [400, 300, 400, 400, 400, 400, 400])
    check(r[("2024-02", None)], [200, 200, 50, 0, 0, 0])
    check(r[("2024-03", None)], [400, 400, 400, 400, 400])

    r = rows_by_key(cohorts(eng, s, grain="month", measure="mrr", values="relative"))
    check(r[("2024-01", None)], [1, 0.75, 1, 1, 1, 1, 1])
    check(r[("2024-02", None)], [1, 1, 0.25, 0, 0, 0])
    check(r[("2024-03", None)], [1, 1, 1, 1, 1])

    r = rows_by_key(cohorts(eng, s, grain="month", measure="logos", values="absolute"))
    check(r[("2024-01", None)], [3, 2, 2, 2, 2, 2, 2])
    check(r[("2024-02", None)], [2, 2, 1, 0, 0, 0])
    r = rows_by_key(cohorts(eng, s, grain="month", measure="logos", values="relative"))
    check(r[("2024-01", None)], [1, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3])
    check(r[("2024-02", None)], [1, 1, 0.5, 0, 0, 0])

    r = rows_by_key(cohorts(eng, s, grain="month", measure="arpa", values="absolute"))
    check(r[("2024-01", None)], [400 / 3, 150, 200, 200, 200, 200, 200])
    check(r[("2024-02", None)], [100, 100, 50])
    check(r[("2024-03", None)], [400, 400, 400, 400, 400])
    r = rows_by_key(cohorts(eng, s, grain="month", measure="arpa", values="relative"))
    check(r[("2024-01", None)], [1, 150 / (400 / 3), 1.5, 1.5])  # 150 / 133.33 = 1.125

    q = cohorts(eng, s, grain="quarter", measure="mrr", values="absolute")
    assert q["grain"] == "quarter"
    r = rows_by_key(q)
    assert set(r) == {("2024-Q1", None)}
    assert r[("2024-Q1", None)]["size"] == 6
    check(r[("2024-Q1", None)], [1000, 800])
    check(rows_by_key(cohorts(eng, s, grain="quarter", measure="mrr", values="relative"))[("2024-Q1", None)], [1, 0.8])
    check(rows_by_key(cohorts(eng, s, grain="quarter", measure="logos", values="relative"))[("2024-Q1", None)], [1, 0.6])
    check(rows_by_key(cohorts(eng, s, grain="quarter", measure="arpa", values="absolute"))[("2024-Q1", None)], [200, 800 / 3])

    seg = cohorts(eng, s, grain="month", measure="mrr", values="absolute", segment="seg")
    r = rows_by_key(seg)
    assert set(r) == {("2024-01", "a"), ("2024-01", "b"), ("2024-02", "a"), ("2024-02", "b"), ("2024-03", "b")}
    assert r[("2024-01", "a")]["size"] == 2
    check(r[("2024-01", "a")], [200, 100, 100, 100, 100, 100, 100])
    check(r[("2024-01", "b")], [200, 200, 300, 300, 300, 300, 300])
    check(r[("2024-02", "a")], [50, 50, 50, 0, 0, 0])
    check(r[("2024-02", "b")], [150, 150, 0, 0, 0, 0])
    check(r[("2024-03", "b")], [400, 400, 400, 400, 400])
    rel = rows_by_key(cohorts(eng, s, grain="month", measure="mrr", values="relative", segment="seg"))
    check(rel[("2024-01", "a")], [1, 0.5, 0.5, 0.5])
    check(rel[("2024-01", "b")], [1, 1, 1.5, 1.5])
