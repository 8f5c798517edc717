"""Small subscription books whose figures are worked by hand (tests/metrics/*).

Every book is plain data (rows with the canonical column names of ``retentio.model``).  The
working of each figure is in the docstring of the book and, line by line, in the tests that
use it.  Conventions (metrics.md §1-2): snapshot = last day of the month; a line is active on
day d when start_date <= d < end_date; trial lines carry no MRR; line MRR = amount /
billing_period_months x FX rate, rounded to the cent.
"""

from __future__ import annotations

from datetime import date

import pytest

D = date


def approx(v):
    """Rates: exact up to float rounding (the code divides integers in Python)."""
    return pytest.approx(v, rel=1e-12, abs=1e-12)


def eur(v):
    """Amounts: exact to the cent (a float that prints as v)."""
    return pytest.approx(v, abs=1e-6)


def line(sid, acc, start, end, amount, bpm=1, cur="EUR", trial=False, plan="std"):
    return {
        "subscription_id": sid,
        "account_id": acc,
        "plan": plan,
        "start_date": start,
        "end_date": end,
        "amount": float(amount),
        "billing_period_months": bpm,
        "currency": cur,
        "is_trial": trial,
    }


def accounts(ids):
    return [{"account_id": a, "name": a.upper()} for a in ids]


def attrs(mapping: dict[str, str], attribute: str):
    return [{"account_id": a, "attribute": attribute, "value": v} for a, v in mapping.items()]


# --------------------------------------------------------------------------------------
# The public worked example: five customers over 14 months, M1 = 2023-01 ... M14 = 2024-02
# --------------------------------------------------------------------------------------
PUBLIC_MONTHS = [f"2023-{m:02d}" for m in range(1, 13)] + ["2024-01", "2024-02"]


def public_book() -> dict:
    """Five customers A-E over 14 months (M1 = 2023-01, M13 = 2024-01, M14 = 2024-02).

    Lines (EUR, monthly billing):
      A1 200 2023-01-01 -> 2024-01-15 | A2 250 2024-01-15 -> 2024-02-15 | A3 200 2024-02-15 -> ongoing
      B1 120 2023-01-01 -> 2023-09-01 | B2 200 2023-09-01 -> 2024-01-01 | B3 120 2024-01-01 -> ongoing
      C1 100 2023-01-01 -> 2023-06-15 (cancelled mid-M6)               | C2  50 2024-02-01 -> ongoing
      D1  80 2023-01-01 -> 2023-10-01 (cancelled at M10 start)         | D2  80 2024-01-05 -> ongoing
      ET trial (amount 50, no MRR) 2023-12-20 -> 2024-01-15            | E1  50 2024-01-15 -> ongoing

    Month-end MRR (snapshot on the last day):
      month    A    B    C   D   E  | total customers
      M1-M5   200  120  100  80  0  |  500   4
      M6      200  120    0  80  0  |  400   3      C1 ended 06-15
      M7-M8   200  120    0  80  0  |  400   3
      M9      200  200    0  80  0  |  480   3      B2 from 09-01
      M10-M12 200  200    0   0  0  |  400   2      D1 ended 10-01 (not active on 10-31)
      M13     250  120    0  80 50  |  500   4      A2, B3, D2, E1; E's trial carries nothing
      M14     200  120   50  80 50  |  500   5

    Movements:
      M1  new 500 (A, B, C, D)
      M6  churn 100 (C)
      M9  expansion 80 (B 120 -> 200)
      M10 churn 80 (D)
      M13 new 50 (E, never a customer), reactivation 80 (D was a customer M1-M9),
          expansion 50 (A 200 -> 250), contraction 80 (B 200 -> 120), churn 0:
          400 + 50 + 80 + 50 - 80 - 0 = 500
      M14 contraction 50 (A 250 -> 200), reactivation 50 (C): 500 - 50 + 50 = 500
    """
    lines = [
        line("A1", "A", D(2023, 1, 1), D(2024, 1, 15), 200),
        line("A2", "A", D(2024, 1, 15), D(2024, 2, 15), 250),
        line("A3", "A", D(2024, 2, 15), None, 200),
        line("B1", "B", D(2023, 1, 1), D(2023, 9, 1), 120),
        line("B2", "B", D(2023, 9, 1), D(2024, 1, 1), 200),
        line("B3", "B", D(2024, 1, 1), None, 120),
        line("C1", "C", D(2023, 1, 1), D(2023, 6, 15), 100),
        line("C2", "C", D(2024, 2, 1), None, 50),
        line("D1", "D", D(2023, 1, 1), D(2023, 10, 1), 80),
        line("D2", "D", D(2024, 1, 5), None, 80),
        line("ET", "E", D(2023, 12, 20), D(2024, 1, 15), 50, trial=True, plan="trial"),
        line("E1", "E", D(2024, 1, 15), None, 50),
    ]
    return {"accounts": accounts("ABCDE"), "subscriptions": lines}


# --------------------------------------------------------------------------------------
# Our own book: 10 accounts, EUR + USD, Q1 2024 (start snapshot 2023-12-31)
# --------------------------------------------------------------------------------------
OWN_FX = [
    {"date": D(2023, 1, 1), "currency": "USD", "rate": 0.90},
    {"date": D(2024, 2, 1), "currency": "USD", "rate": 0.92},
    {"date": D(2024, 3, 15), "currency": "USD", "rate": 0.95},
]

OWN_REGION = {
    "acme": "eu", "bravo": "eu", "charlie": "eu", "delta": "eu", "echo": "eu", "hotel": "eu",
    "india": "eu", "foxtrot": "us", "golf": "us",
    # juliet has no region: it goes to the "(none)" group
}

OWN_COSTS = [
    # period, category, amount, currency
    ("2024-01", "cs_team", 1000, "EUR"), ("2024-01", "support_team", 500, "EUR"),
    ("2024-01", "sales_marketing", 600, "EUR"), ("2024-01", "cost_of_revenue", 223, "EUR"),
    ("2024-02", "cs_team", 1000, "EUR"), ("2024-02", "support_team", 500, "EUR"),
    ("2024-02", "sales_marketing", 1000, "USD"),  # x 0.92 (rate on 2024-02-29) = 920 EUR
    ("2024-02", "cost_of_revenue", 247.6, "EUR"),
    ("2024-03", "cs_team", 1000, "EUR"), ("2024-03", "support_team", 500, "EUR"),
    ("2024-03", "sales_marketing", 1200, "EUR"), ("2024-03", "cost_of_revenue", 239.83, "EUR"),
    ("2024-03", "other", 5000, "EUR"),  # ignored by every metric
]


def own_book() -> dict:
    """Ten accounts covering every kind of movement (the working of tests/metrics/test_metrics_own_book.py).

    FX (EUR per USD): 0.90 from 2023-01-01, 0.92 from 2024-02-01, 0.95 from 2024-03-15, so the
    snapshot rates are Dec 0.90, Jan 0.90, Feb (29th) 0.92, Mar 0.95.

    Lines:
      acme    (eu)  monthly 100 2023-06-01 -> 2024-02-10, then 300 2024-02-10 -> ongoing   (mid-month upgrade)
      bravo   (eu)  annual 6000/12 = 500 2023-03-01 -> 2024-03-01, renewed 9 days later
                    as annual 4800/12 = 400 2024-03-10 -> 2025-03-10                     (downgrade at renewal)
      charlie (eu)  monthly 250 2023-09-01 -> 2024-02-01                                  (churn in Feb)
      delta   (eu)  annual 1200/12 = 100 2023-03-15 -> 2024-03-15, not renewed            (churn in Mar)
      echo    (eu)  monthly 150 2023-05-01 -> 2023-08-01; back at 180 2024-01-20 -> ongoing (reactivation in Jan)
      foxtrot (us)  monthly 1000 USD 2023-11-01 -> ongoing: 900 / 900 / 920 / 950 EUR     (FX expansion)
      golf    (us)  trial 2024-01-20 -> 2024-02-01 (amount 0), then a 2-year contract 7200 USD / 24 months
                    = 300 USD MRR 2024-02-15 -> 2026-02-15: Feb 300 x 0.92 = 276, Mar 300 x 0.95 = 285
                    (multi-year; converting trial: paid start 14 days after trial end)
      hotel   (eu)  trial 2024-02-05 -> 2024-03-05, never pays                             (trial not converting)
      india   (eu)  annual 2400/12 = 200 2023-01-20 -> 2024-01-20, renewed same day 2024-01-20 -> 2025-01-20
      juliet  (--)  monthly 50 + quarterly 100/3 = 33.33 (rounded per line), both from 2024-03-12 -> 83.33

    Month-end MRR (EUR):
      account   Dec23   Jan24   Feb24   Mar24
      acme       100     100     300     300
      bravo      500     500     500     400
      charlie    250     250       0       0
      delta      100     100     100       0
      echo         0     180     180     180
      foxtrot    900     900     920     950
      golf         0       0     276     285
      hotel        0       0       0       0
      india      200     200     200     200
      juliet       0       0       0   83.33
      total     2050    2230    2476 2398.33
      customers    6       7       7       7

    Movements:
      Jan  reactivation 180 (echo)                                  2050 + 180 = 2230
      Feb  new 276 (golf), expansion 200 (acme) + 20 (foxtrot FX) = 220, churn 250 (charlie)
                                                                    2230 + 276 + 220 - 250 = 2476
      Mar  new 83.33 (juliet), expansion 30 (foxtrot) + 9 (golf) = 39, contraction 100 (bravo),
           churn 100 (delta)                                        2476 + 83.33 + 39 - 100 - 100 = 2398.33
      Q1   new 359.33, expansion 259, contraction 100, churn 350, reactivation 180
                                                                    2050 + 359.33 + 180 + 259 - 100 - 350 = 2398.33

    Earlier month-end customers (for the 6-month LTV window): Jul23 acme, bravo, delta, echo,
    india (5); Aug23 acme, bravo, delta, india (4: echo ended 08-01); Sep23 and Oct23 + charlie (5);
    Nov23 + foxtrot (6).  Monthly customer churn rates: Aug 1/5, Sep 0/4, Oct 0/5, Nov 0/5,
    Dec 0/6, Jan 0/6, Feb 1/7 (charlie), Mar 1/7 (delta).

    Costs: see OWN_COSTS (cs_team 1000, support_team 500 every month; sales_marketing 600 EUR,
    1000 USD = 920 EUR, 1200 EUR; cost_of_revenue 223, 247.6, 239.83; an "other" 5000 ignored).
    """
    L = [
        line("acme-1", "acme", D(2023, 6, 1), D(2024, 2, 10), 100, plan="starter"),
        line("acme-2", "acme", D(2024, 2, 10), None, 300, plan="pro"),
        line("bravo-1", "bravo", D(2023, 3, 1), D(2024, 3, 1), 6000, 12, plan="pro-annual"),
        line("bravo-2", "bravo", D(2024, 3, 10), D(2025, 3, 10), 4800, 12, plan="starter-annual"),
        line("charlie-1", "charlie", D(2023, 9, 1), D(2024, 2, 1), 250, plan="pro"),
        line("delta-1", "delta", D(2023, 3, 15), D(2024, 3, 15), 1200, 12, plan="starter-annual"),
        line("echo-1", "echo", D(2023, 5, 1), D(2023, 8, 1), 150, plan="starter"),
        line("echo-2", "echo", D(2024, 1, 20), None, 180, plan="starter"),
        line("foxtrot-1", "foxtrot", D(2023, 11, 1), None, 1000, cur="USD", plan="enterprise"),
        line("golf-t", "golf", D(2024, 1, 20), D(2024, 2, 1), 0, trial=True, plan="trial"),
        line("golf-1", "golf", D(2024, 2, 15), D(2026, 2, 15), 7200, 24, cur="USD", plan="pro-2y"),
        line("hotel-t", "hotel", D(2024, 2, 5), D(2024, 3, 5), 0, trial=True, plan="trial"),
        line("india-1", "india", D(2023, 1, 20), D(2024, 1, 20), 2400, 12, plan="pro-annual"),
        line("india-2", "india", D(2024, 1, 20), D(2025, 1, 20), 2400, 12, plan="pro-annual"),
        line("juliet-1", "juliet", D(2024, 3, 12), None, 50, plan="starter"),
        line("juliet-2", "juliet", D(2024, 3, 12), None, 100, 3, plan="addon-quarterly"),
    ]
    ids = ["acme", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    costs = [{"period": p, "category": c, "amount": float(a), "currency": cur} for p, c, a, cur in OWN_COSTS]
    return {
        "accounts": accounts(ids),
        "account_attributes": attrs(OWN_REGION, "region"),
        "subscriptions": L,
        "costs": costs,
        "fx_rates": list(OWN_FX),
    }
