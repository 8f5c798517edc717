"""The public worked example: five customers over 14 months (issue 4 acceptance).

The book and its month-end table are in ``metrics_books.public_book`` (M1 = 2023-01,
M6 = 2023-06, M13 = 2024-01, M14 = 2024-02).  Every figure below is worked by hand from
that table; none was read from the code's output.
"""

from __future__ import annotations

from metrics_books import PUBLIC_MONTHS, approx, eur, public_book

from retentio.config import Settings
from retentio.metrics import metrics, metrics_series


def test_public_example_every_figure(make_engine):
    eng = make_engine(public_book())
    s = Settings()

    # ---- month 13 (2024-01) ---------------------------------------------------------
    m13 = metrics(eng, s, "2024-01")
    assert m13["period"] == "2024-01"
    assert m13["currency"] == "EUR"
    # start = end of M12: A 200 + B 200 = 400, 2 customers; end: A 250 + B 120 + D 80 + E 50.
    assert m13["mrr_start"] == eur(400)
    assert m13["customers_start"] == 2
    assert m13["mrr"] == eur(500)
    assert m13["customers"] == 4
    mv = m13["movements"]
    assert mv["new"] == eur(50)  # E: first paid month
    assert mv["reactivation"] == eur(80)  # D: customer M1-M9
    assert mv["expansion"] == eur(50)  # A 200 -> 250
    assert mv["contraction"] == eur(80)  # B 200 -> 120
    assert mv["churn"] == eur(0)
    # bridge: 400 + 50 + 80 + 50 - 80 - 0 = 500
    assert m13["mrr_start"] + mv["new"] + mv["reactivation"] + mv["expansion"] - mv["contraction"] - mv["churn"] == eur(m13["mrr"])
    assert (m13["customers_new"], m13["customers_reactivated"], m13["customers_churned"]) == (1, 1, 0)
    # quick ratio (50 + 50 + 80) / (0 + 80) = 180 / 80 = 2.25
    assert m13["quick_ratio"] == approx(2.25)
    # monthly NRR, S = {A, B}: (250 + 120) / 400 = 0.925; GRR (min(250,200) + min(120,200)) / 400 = 320/400
    assert m13["nrr"] == approx(0.925)
    assert m13["grr"] == approx(0.80)
    # trailing 12 months: start snapshot = end of M1 (2023-01): A200 B120 C100 D80 = 500, S = {A,B,C,D}
    # NRR (250 + 120 + 0 + 80) / 500 = 450/500 = 0.90 ; GRR (200 + 120 + 0 + 80) / 500 = 0.80
    assert m13["nrr_trailing_12m"] == approx(0.90)
    assert m13["grr_trailing_12m"] == approx(0.80)
    # customer churn: nobody of S lost -> 0/2 ; CRR = (4 customers - 2 not in S (D, E)) / 2 = 1
    assert m13["customer_churn_rate"] == approx(0.0)
    assert m13["crr"] == approx(1.0)
    # gross MRR churn (0 + 80) / 400 = 0.2 ; net (80 - 50 - 80) / 400 = -0.125 (negative churn)
    assert m13["gross_mrr_churn_rate"] == approx(0.2)
    assert m13["net_mrr_churn_rate"] == approx(-0.125)
    assert m13["cs_headwind"] == approx(0.2)
    assert m13["cs_tailwind"] == approx(50 / 400)
    # expansion share 50 / (50 + 50 + 80) = 5/18
    assert m13["expansion_share"] == approx(5 / 18)
    # ARPA 500 / 4 = 125; at start 400 / 2 = 200; change (125 - 200) / 200 = -0.375
    assert m13["arpa"] == eur(125)
    assert m13["arpa_change"] == approx(-0.375)
    # LTV (6 months M8..M13): churn rates M8 0/3, M9 0/3, M10 1/3 (D), M11 0/2, M12 0/2, M13 0/2
    # mean = (1/3) / 6 = 1/18 ; LTV = 125 x 18 = 2250 ; current month churn = 0 -> undefined
    assert m13["ltv_variants"]["six_month_average"] == approx(2250)
    assert m13["ltv"] == approx(2250)  # default variant
    assert m13["ltv_variants"]["current_month"] is None
    assert m13["ltv_variants"]["gross_margin"] is None  # no setting, no cost_of_revenue rows
    # renewals: A1 ends 01-15 (A2 starts 01-15), B2 ends 01-01 (B3 starts 01-01) -> 2/2
    assert m13["renewal_rate"] == approx(1.0)
    # trial ET ends 2024-01-15, E1 starts the same day -> 1/1
    assert m13["trial_conversion_rate"] == approx(1.0)
    # annualised (one month: r_month = r): gross 1 - 0.8^12, tailwind 1 - 0.875^12, churn 0
    assert m13["annualised"]["gross_mrr_churn_rate"] == approx(1 - 0.8**12)
    assert m13["annualised"]["cs_tailwind"] == approx(1 - 0.875**12)
    assert m13["annualised"]["customer_churn_rate"] == approx(0.0)
    # ARR 12 x 500
    assert m13["arr"] == eur(6000)
    # benchmarks: NRR 0.925 < 1.00 -> alarm; annual customer churn 0 < 10 % -> good;
    # annual headwind 0.93 > 0.30 -> alarm; annual tailwind 0.80 > 0.10 -> good
    b = m13["benchmarks"]
    assert b["nrr"]["status"] == "alarm"
    assert b["customer_churn_rate"]["status"] == "good"
    assert b["cs_headwind"]["status"] == "alarm"
    assert b["cs_tailwind"]["status"] == "good"
    assert b["nrr"]["reference"]

    # ---- month 6 (2023-06) ------------------------------------------------------------
    m6 = metrics(eng, s, "2023-06")
    # start 500 (4 customers), C1 cancelled 06-15: end 400, 3 customers
    assert (m6["mrr_start"], m6["mrr"]) == (eur(500), eur(400))
    assert (m6["customers_start"], m6["customers"]) == (4, 3)
    assert m6["customer_churn_rate"] == approx(1 / 4)  # logo churn 1/4
    assert m6["gross_mrr_churn_rate"] == approx(100 / 500)  # revenue churn 100/500
    assert m6["net_mrr_churn_rate"] == approx(100 / 500)
    assert m6["movements"]["churn"] == eur(100)
    assert m6["customers_churned"] == 1
    assert m6["nrr"] == approx(0.8) and m6["grr"] == approx(0.8)
    assert m6["crr"] == approx(3 / 4)  # (3 - 0) / 4
    assert m6["quick_ratio"] == approx(0.0)  # 0 / 100
    assert m6["renewal_rate"] == approx(0.0)  # C1 ends 06-15, no other C line within 30 days
    assert m6["trial_conversion_rate"] is None  # no trial ended in June

    # ---- month 14 (2024-02) ------------------------------------------------------------
    m14 = metrics(eng, s, "2024-02")
    # A 200 + B 120 + C 50 + D 80 + E 50 = 500, 5 customers: ARR 6000, ARPA 100
    assert m14["mrr"] == eur(500)
    assert m14["arr"] == eur(6000)
    assert m14["customers"] == 5
    assert m14["arpa"] == eur(100)
    assert m14["arpa_change"] == approx((100 - 125) / 125)
    assert m14["movements"]["contraction"] == eur(50)  # A 250 -> 200
    assert m14["movements"]["reactivation"] == eur(50)  # C back
    assert m14["customers_reactivated"] == 1
    # S = {A, B, D, E} (400 + ... = 500 at start? no: start MRR of S = 250+120+80+50 = 500)
    # NRR = (200 + 120 + 80 + 50) / 500 = 450/500 ; CRR = (5 - 1 (C)) / 4 = 1
    assert m14["nrr"] == approx(0.9)
    assert m14["grr"] == approx(0.9)
    assert m14["crr"] == approx(1.0)
    # trailing 12 months from end of M2 (2023-02, 500: A200 B120 C100 D80):
    # NRR (200 + 120 + 50 + 80) / 500 = 0.9 ; GRR (200 + 120 + 50 + 80) / 500 = 0.9
    assert m14["nrr_trailing_12m"] == approx(0.9)
    assert m14["grr_trailing_12m"] == approx(0.9)


def test_public_example_longer_periods(make_engine):
    eng = make_engine(public_book())
    s = Settings()

    # ---- 2023-Q4: start = end of Sep (A200 B200 D80 = 480, 3 customers), end Dec 400 ----
    q4 = metrics(eng, s, "2023-Q4")
    assert (q4["mrr_start"], q4["mrr"], q4["customers_start"], q4["customers"]) == (eur(480), eur(400), 3, 2)
    assert q4["movements"]["churn"] == eur(80)
    assert q4["customer_churn_rate"] == approx(1 / 3)
    assert q4["nrr"] == approx(400 / 480)
    # annualised over 3 months: r_month = 1 - (2/3)^(1/3); compound 1 - (2/3)^4 = 65/81
    assert q4["annualised"]["customer_churn_rate"] == approx(65 / 81)

    # ---- 2023: start snapshot 2022-12-31 has no customer: every rate is undefined ----
    y = metrics(eng, s, "2023")
    assert y["mrr_start"] == eur(0) and y["customers_start"] == 0
    assert y["mrr"] == eur(400) and y["customers"] == 2
    # new 500 (M1), expansion 80 (M9), churn 100 (M6) + 80 (M10) = 180: 0 + 500 + 80 - 180 = 400
    assert y["movements"] == {"new": eur(500), "expansion": eur(80), "contraction": eur(0),
                              "churn": eur(180), "reactivation": eur(0),
                              "fx": eur(0)}  # EUR only: no currency effect
    assert (y["customers_new"], y["customers_churned"], y["customers_reactivated"]) == (4, 2, 0)
    for k in ("customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "nrr", "grr", "crr",
              "arpa_change", "cs_headwind", "cs_tailwind"):
        assert y[k] is None, k
    # quick ratio (500 + 80) / 180
    assert y["quick_ratio"] == approx(580 / 180)

    # ---- the whole range M1..M14 ----
    r = metrics(eng, s, "2023-01..2024-02")
    # new 500 + 50 (E) = 550; reactivation 80 (D) + 50 (C) = 130; expansion 80 + 50 = 130;
    # contraction 80 + 50 = 130; churn 180: 0 + 550 + 130 + 130 - 130 - 180 = 500
    assert r["movements"] == {"new": eur(550), "expansion": eur(130), "contraction": eur(130),
                              "churn": eur(180), "reactivation": eur(130),
                              "fx": eur(0)}  # EUR only: no currency effect
    assert (r["customers_new"], r["customers_reactivated"], r["customers_churned"]) == (5, 2, 2)
    assert r["mrr"] == eur(500)

    # ---- the monthly series: one dict per month, bridge balancing each month ----
    series = metrics_series(eng, s, "2023-01..2024-02")
    assert [x["period"] for x in series] == PUBLIC_MONTHS
    expected_mrr = [500] * 5 + [400] * 3 + [480] + [400] * 3 + [500, 500]
    assert [x["mrr"] for x in series] == [eur(v) for v in expected_mrr]
    assert [x["customers"] for x in series] == [4] * 5 + [3] * 3 + [3] + [2] * 3 + [4, 5]
    for x in series:
        mv = x["movements"]
        assert x["mrr_start"] + mv["new"] + mv["reactivation"] + mv["expansion"] - mv["contraction"] - mv["churn"] == eur(x["mrr"])
    assert series[12]["quick_ratio"] == approx(2.25)
    assert series[5]["customer_churn_rate"] == approx(0.25)
