"""One test per setting of metrics.md's open choices, on the own book (``metrics_books.own_book``).

The default figures are worked (and checked) in test_metrics_own_book.py; each test here
changes one setting and checks the figure it moves, worked by hand below.
"""

from __future__ import annotations

from datetime import date as D

import pytest
from metrics_books import accounts, approx, eur, line, own_book

from retentio.config import Settings, TouchTiers
from retentio.errors import DataError
from retentio.metrics import metrics


def test_ltv_variant(make_engine):
    """March 2024: ARPA 2398.33/7, churn of March 1/7 -> current month LTV = 2398.33 (default
    six-month 7194.99).  gross_margin variant with margin 0.5: 7194.99 x 0.5 = 3597.495."""
    eng = make_engine(own_book())
    s = Settings()
    s.metrics.ltv_variant = "current_month"
    assert metrics(eng, s, "2024-03")["ltv"] == approx(2398.33)
    s.metrics.ltv_variant = "gross_margin"
    s.metrics.gross_margin = 0.5
    assert metrics(eng, s, "2024-03")["ltv"] == approx(3597.495)


def test_ltv_churn_window_months(make_engine):
    """March 2024 with a 3-month window: Jan 0, Feb 1/7, Mar 1/7 -> mean 2/21;
    LTV = 2398.33/7 x 21/2 = 3597.495 (default 6 months: 7194.99)."""
    eng = make_engine(own_book())
    s = Settings()
    s.metrics.ltv_churn_window_months = 3
    out = metrics(eng, s, "2024-03")
    assert out["ltv_variants"]["six_month_average"] == approx(3597.495)
    assert out["ltv"] == approx(3597.495)


def test_annualisation_linear(make_engine):
    """Q1 2024, customer churn 1/3 over 3 months: r_month = 1 - (2/3)^(1/3), linear = 12 r_month
    (compound would be 65/81).  Gross MRR churn 450/2050: 12 (1 - (1600/2050)^(1/3))."""
    eng = make_engine(own_book())
    s = Settings()
    s.metrics.annualisation = "linear"
    a = metrics(eng, s, "2024-Q1")["annualised"]
    assert a["customer_churn_rate"] == approx(12 * (1 - (2 / 3) ** (1 / 3)))
    assert a["gross_mrr_churn_rate"] == approx(12 * (1 - (1600 / 2050) ** (1 / 3)))


def test_renewal_window_days(make_engine):
    """bravo's annual line ends 2024-03-01 and its renewal starts 2024-03-10 (9 days later).
    With a 5-day window bravo is not renewed: March 0/2 (bravo, delta), Q1 2/5 (acme, india
    renewed the same day).  CS magic number Q1: renewed MRR acme 300 + india 200 = 500,
    (500 + 200) / 4500 (expansion at constant currency: 200, acme; foxtrot's and golf's 59 of
    rate moves are the fx movement, metrics.md §3)."""
    eng = make_engine(own_book())
    s = Settings()
    s.metrics.renewal_window_days = 5
    q = metrics(eng, s, "2024-Q1")
    assert q["renewal_rate"] == approx(2 / 5)
    assert q["cs_magic_number"] == approx(700 / 4500)


def test_touch_tiers(make_engine):
    """March 2024 with high >= 900, low >= 250 (end MRR, else start MRR):
    high = foxtrot 950; low = acme 300 + bravo 400 + golf 285 = 985; tech = echo 180 + india 200
    + juliet 83.33 = 463.33 (+ delta, 100 at start, churned)."""
    eng = make_engine(own_book())
    s = Settings()
    s.metrics.touch_tiers = TouchTiers(high=900, low=250)
    g = metrics(eng, s, "2024-03", by="touch")["groups"]
    assert g["high"]["mrr"] == eur(950) and g["high"]["customers"] == 1
    assert g["low"]["mrr"] == eur(985) and g["low"]["customers"] == 3
    assert g["tech"]["mrr"] == eur(463.33)
    assert g["tech"]["movements"]["churn"] == eur(100)


def test_reactivation_window_months(make_engine):
    """echo was a customer at the May, Jun, Jul 2023 snapshots and comes back in January 2024
    after 5 month-ends without MRR (Aug..Dec).  Window 3: more than 3 months away -> new 180;
    window 12: reactivation 180 (default 0 = unlimited: reactivation)."""
    eng = make_engine(own_book())
    s = Settings()
    s.metrics.reactivation_window_months = 3
    jan = metrics(eng, s, "2024-01")
    assert jan["movements"]["new"] == eur(180) and jan["movements"]["reactivation"] == eur(0)
    assert (jan["customers_new"], jan["customers_reactivated"]) == (1, 0)
    s.metrics.reactivation_window_months = 12
    jan = metrics(eng, s, "2024-01")
    assert jan["movements"]["new"] == eur(0) and jan["movements"]["reactivation"] == eur(180)


def test_fx_rule_line_start(make_engine):
    """Each USD line keeps the rate in force on its start date: foxtrot (2023-11-01) 0.90 -> 900
    every month; golf (2024-02-15) 0.92 -> 276 in Feb and Mar.  Q1: end = 300 + 400 + 180 + 900
    + 276 + 200 + 83.33 = 2339.33; expansion = acme 200 only; new 276 + 83.33 = 359.33;
    NRR = (300 + 400 + 0 + 0 + 900 + 200) / 2050 = 1800/2050."""
    eng = make_engine(own_book())
    s = Settings()
    s.metrics.fx_rule = "line_start"
    q = metrics(eng, s, "2024-Q1")
    assert q["mrr"] == eur(2339.33)
    assert q["movements"]["expansion"] == eur(200)
    assert q["movements"]["new"] == eur(359.33)
    assert q["nrr"] == approx(1800 / 2050)


def test_trial_conversion_window_days(make_engine):
    """golf's trial ends 2024-02-01 and golf pays from 2024-02-15 (14 days later): with a 10-day
    window it does not convert: Q1 0/2 (golf, hotel); default 30 days: 1/2."""
    eng = make_engine(own_book())
    s = Settings()
    s.metrics.trial_conversion_window_days = 10
    assert metrics(eng, s, "2024-Q1")["trial_conversion_rate"] == approx(0.0)


def test_gross_margin_setting(make_engine):
    """The setting overrides the margin derived from costs: Q1 six-month LTV 7194.99 x 0.8 = 5755.992
    (from costs it would be 7194.99 x (1 - 710.43/7104.33))."""
    eng = make_engine(own_book())
    s = Settings()
    s.metrics.gross_margin = 0.8
    assert metrics(eng, s, "2024-Q1")["ltv_variants"]["gross_margin"] == approx(5755.992)


def test_cs_attribution(make_engine):
    """CS ROI Q1 with half the retained + expansion MRR credited to CS:
    (0.5 x (6306 + 200) - 3000) / 3000 = 253/3000 (default 1.0: 3506/3000; expansion at
    constant currency is acme's 200, the 59 of rate moves are fx, metrics.md §3)."""
    eng = make_engine(own_book())
    s = Settings()
    s.metrics.cs_attribution = 0.5
    assert metrics(eng, s, "2024-Q1")["cs_roi"] == approx(253 / 3000)


def test_missing_fx_rate_is_a_data_error(make_engine):
    """A USD line active on 2024-01-31 with the first USD rate dated 2024-02-01: no rate in force
    on the January snapshot -> DataError naming USD and the day."""
    eng = make_engine({
        "accounts": accounts(["x"]),
        "subscriptions": [line("x-1", "x", D(2024, 1, 10), None, 100, cur="USD")],
        "fx_rates": [{"date": D(2024, 2, 1), "currency": "USD", "rate": 0.9}],
    })
    with pytest.raises(DataError) as err:
        metrics(eng, Settings(), "2024-01")
    assert "USD" in str(err.value)
    assert "2024-01-31" in str(err.value)
    assert err.value.hint
