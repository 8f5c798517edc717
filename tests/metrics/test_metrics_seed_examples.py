"""Every worked example of metrics.md and of the seeds, on every engine.

To keep the PySpark run short, all examples live in ONE book: each example is a set of
accounts carrying the attribute ``example``, and one call ``metrics(..., by="example")``
returns each example's figures as a group.  All paid lines start 2024-01-01 (EUR); the
checked period is February 2024 (start snapshot 2024-01-31, end snapshot 2024-02-29).

  group            accounts and lines                                            worked figure
  six600           1 line 600 EUR / 6 months                     MRR 600 / 6 = 100 (seed 001)
  two_years_12000  1 line 12 000 EUR / 24 months                 MRR 12 000 / 24 = 500 (seed 001)
  six1000          1 line 1 000 EUR / 6 months                   MRR 166.666.. -> 166.67 (cent, half up);
                                                                  ARR annualised per line before rounding:
                                                                  1 000 x 12 / 6 = 2 000 (seed 001)
  two_years_3000   1 line 3 000 EUR / 24 months                  MRR 125, ARR 1 500 (seed 001)
  quarterly90      1 line 90 EUR / 3 months + 1 trial account     MRR 30; the trial (amount 999) carries
                   (amount 999, is_trial)                         nothing and is not a customer
  mix12500         100 accounts 100 EUR / month                  100 x 100 + 50 x 600 / 12 = 10 000 + 2 500
                   + 50 accounts 600 EUR / 12 months              = 12 500 MRR, 150 customers
  arpa500          10 accounts at 500 EUR / month                ARPA 5 000 / 10 = 500 (seed 001's 500 000 /
                                                                  1 000, scaled down 100 times)
  crr              200 accounts at 10 from 2024-01-01, of which   start 200, end 197 + 5 = 202:
                   3 end 2024-02-10; 5 new from 2024-02-05        CRR (202 - 5) / 200 = 0.985 (seed 001)
  ltv10000         50 accounts at 200, one ends 2024-02-15        churn 1/50 = 2 %, ARPA 49 x 200 / 49 = 200:
                                                                  LTV current month 200 / 0.02 = 10 000
  ltv1600          20 accounts at 100, one ends 2024-02-10        churn 1/20 = 5 %, ARPA 100, margin 0.8
                                                                  (setting): 100 x 0.8 / 0.05 = 1 600 (seed 004)
  churn20          g1 10 -> 0, g2 30 -> 20, g3 60 -> 70           start 100; churn 10, contraction 10,
                   (changes on 2024-02-01 / 2024-02-10)           expansion 10: gross 20/100, net 10/100

The six-month LTV window of February 2024 is Sep 2023 .. Feb 2024; every month before
February has no customer at its start (January's start snapshot, 2023-12-31, is empty), so
the mean is February's rate alone and the six-month variant equals the current-month one.
"""

from __future__ import annotations

from datetime import date as D

from metrics_books import accounts, approx, eur, line

from retentio.config import Settings
from retentio.metrics import metrics

JAN1 = D(2024, 1, 1)


def seed_book() -> dict:
    subs: list[dict] = []
    example: dict[str, str] = {}

    def acc(aid: str, group: str):
        example[aid] = group
        return aid

    subs.append(line("s-six600", acc("six600", "six600"), JAN1, None, 600, 6))
    subs.append(line("s-2y12000", acc("two_years_12000", "two_years_12000"), JAN1, None, 12000, 24))
    subs.append(line("s-six1000", acc("six1000", "six1000"), JAN1, None, 1000, 6))
    subs.append(line("s-2y3000", acc("two_years_3000", "two_years_3000"), JAN1, None, 3000, 24))
    subs.append(line("s-q90", acc("quarterly90", "quarterly90"), JAN1, None, 90, 3))
    subs.append(line("s-q90-trial", acc("quarterly90-trial", "quarterly90"), JAN1, None, 999, 1, trial=True))
    for i in range(100):
        subs.append(line(f"s-mixm{i}", acc(f"mixm{i:03d}", "mix12500"), JAN1, None, 100, 1))
    for i in range(50):
        subs.append(line(f"s-mixy{i}", acc(f"mixy{i:03d}", "mix12500"), JAN1, None, 600, 12))
    for i in range(10):
        subs.append(line(f"s-arpa{i}", acc(f"arpa{i:02d}", "arpa500"), JAN1, None, 500, 1))
    for i in range(200):
        end = D(2024, 2, 10) if i < 3 else None
        subs.append(line(f"s-crr{i}", acc(f"crr{i:03d}", "crr"), JAN1, end, 10, 1))
    for i in range(5):
        subs.append(line(f"s-crrnew{i}", acc(f"crrnew{i}", "crr"), D(2024, 2, 5), None, 10, 1))
    for i in range(50):
        end = D(2024, 2, 15) if i == 0 else None
        subs.append(line(f"s-ltvA{i}", acc(f"ltvA{i:02d}", "ltv10000"), JAN1, end, 200, 1))
    for i in range(20):
        end = D(2024, 2, 10) if i == 0 else None
        subs.append(line(f"s-ltvB{i}", acc(f"ltvB{i:02d}", "ltv1600"), JAN1, end, 100, 1))
    acc("g1", "churn20"), acc("g2", "churn20"), acc("g3", "churn20")
    subs += [
        line("g1-1", "g1", JAN1, D(2024, 2, 10), 10),  # churn 10
        line("g2-1", "g2", JAN1, D(2024, 2, 1), 30),  # 30 -> 20: contraction 10
        line("g2-2", "g2", D(2024, 2, 1), None, 20),
        line("g3-1", "g3", JAN1, D(2024, 2, 1), 60),  # 60 -> 70: expansion 10
        line("g3-2", "g3", D(2024, 2, 1), None, 70),
    ]
    return {
        "accounts": accounts(list(example)),
        "account_attributes": [{"account_id": a, "attribute": "example", "value": g} for a, g in example.items()],
        "subscriptions": subs,
    }


def test_every_worked_example_of_the_seeds(make_engine):
    eng = make_engine(seed_book())
    s = Settings()
    s.metrics.gross_margin = 0.8  # seed 004's margin, used by the ltv1600 group
    out = metrics(eng, s, "2024-02", by="example")
    assert out["period"] == "2024-02" and out["by"] == "example"
    g = out["groups"]
    assert set(g) == {"six600", "two_years_12000", "six1000", "two_years_3000", "quarterly90", "mix12500",
                      "arpa500", "crr", "ltv10000", "ltv1600", "churn20"}

    # normalisation (seed 001): 600 / 6 = 100 ; 12 000 / 24 = 500
    assert g["six600"]["mrr"] == eur(100)
    assert g["two_years_12000"]["mrr"] == eur(500)
    # 1 000 / 6 = 166.666... rounded per line to 166.67; ARR is annualised per line before
    # rounding: 1 000 x 12 / 6 = 2 000 exactly, as seed 001 says
    assert g["six1000"]["mrr"] == eur(166.67)
    assert g["six1000"]["arr"] == eur(2000)
    # 3 000 / 24 = 125 ; ARR 1 500
    assert g["two_years_3000"]["mrr"] == eur(125)
    assert g["two_years_3000"]["arr"] == eur(1500)
    # 90 / 3 = 30 ; the trial account (999) is neither MRR nor a customer
    assert g["quarterly90"]["mrr"] == eur(30)
    assert g["quarterly90"]["customers"] == 1
    # 100 x 100 + 50 x (600 / 12) = 12 500
    assert g["mix12500"]["mrr"] == eur(12500)
    assert g["mix12500"]["customers"] == 150
    assert g["mix12500"]["arr"] == eur(150000)
    # ARPA 5 000 / 10 = 500
    assert g["arpa500"]["mrr"] == eur(5000)
    assert g["arpa500"]["arpa"] == eur(500)

    # CRR: (202 - 5) / 200 = 0.985 ; customer churn 3/200 ; 5 new
    c = g["crr"]
    assert (c["customers_start"], c["customers"], c["customers_new"], c["customers_churned"]) == (200, 202, 5, 3)
    assert c["crr"] == approx(197 / 200)
    assert c["crr"] == approx(0.985)
    assert c["customer_churn_rate"] == approx(3 / 200)

    # LTV 10 000: ARPA (49 x 200) / 49 = 200, churn 1/50 -> 200 x 50
    l1 = g["ltv10000"]
    assert l1["arpa"] == eur(200)
    assert l1["customer_churn_rate"] == approx(0.02)
    assert l1["ltv_variants"]["current_month"] == approx(10000)
    assert l1["ltv_variants"]["six_month_average"] == approx(10000)  # only February has customers at its start
    # LTV 1 600: ARPA 100, churn 1/20, margin 0.8 -> 100 / 0.05 x 0.8
    l2 = g["ltv1600"]
    assert l2["arpa"] == eur(100)
    assert l2["customer_churn_rate"] == approx(0.05)
    assert l2["ltv_variants"]["current_month"] == approx(2000)
    assert l2["ltv_variants"]["gross_margin"] == approx(1600)

    # gross MRR churn (10 + 10) / 100 = 20 %, net (10 + 10 - 10) / 100 = 10 %
    ch = g["churn20"]
    assert ch["mrr_start"] == eur(100) and ch["mrr"] == eur(90)
    assert ch["movements"] == {"new": eur(0), "expansion": eur(10), "contraction": eur(10), "churn": eur(10),
                               "reactivation": eur(0),
                               "fx": eur(0)}  # EUR only: no currency effect
    assert ch["gross_mrr_churn_rate"] == approx(0.20)
    assert ch["net_mrr_churn_rate"] == approx(0.10)


def test_seed_book_totals_and_filter(make_engine):
    eng = make_engine(seed_book())
    s = Settings()
    tot = metrics(eng, s, "2024-02")
    # 100 + 500 + 166.67 + 125 + 30 + 12 500 + 5 000 + 2 020 (202 x 10) + 9 800 (49 x 200)
    # + 1 900 (19 x 100) + 90 = 32 231.67 ; customers 1+1+1+1+1+150+10+202+49+19+2 = 437
    assert tot["mrr"] == eur(32231.67)
    assert tot["customers"] == 437
    crr = metrics(eng, s, "2024-02", filters={"example": "crr"})
    assert crr["crr"] == approx(0.985)
    assert crr["mrr"] == eur(2020)
