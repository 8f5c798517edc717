"""Currency effect (metrics.md §3) and line kinds (metrics.md §2), worked by hand, on every
engine of the hand-computed tests (DuckDB and Polars: ``make_engine``; Spark parity is in
tests/parity).

Book ``fx_book`` (base EUR; USD rate 0.90 from 2023-12-01, 0.95 from 2024-02-10; so the
snapshot rates are Dec 0.90, Jan 0.90, Feb 0.95, Mar 0.95):

  u  1000 USD monthly from 2023-12-01, ongoing              -> unchanged line, the rate moves
  v  1000 USD monthly from 2023-12-01, ongoing
     + 200 USD monthly from 2024-02-15, ongoing             -> an upsell and a rate move
  w  500 USD monthly from 2023-12-01, ongoing
     + 500 USD monthly 2023-12-01 -> 2024-02-20             -> a downsell and a rate move

Month-end MRR (EUR):           Dec/Jan        Feb/Mar
  u                            900            950
  v                            900            1200 x 0.95 = 1140
  w                            900            500 x 0.95 = 475
  total                        2700           2565

February, at constant currency (the lines active at both snapshots at January's 0.90; a line
present only at the end keeps its end value):
  u  e* = 1000 x 0.90 = 900                         expansion 0,   contraction 0,  fx 950 - 900 = +50
  v  e* = 1000 x 0.90 + 200 x 0.95 = 900 + 190 = 1090   expansion 1090 - 900 = 190, fx 1140 - 1090 = +50
  w  e* = 500 x 0.90 = 450                          contraction 900 - 450 = 450,     fx 475 - 450 = +25
  bridge: 2700 + 190 - 450 + 125 = 2565
  NRR    = 2565 / 2700            NRR at constant currency = (900 + 1090 + 450) / 2700 = 2440 / 2700
  GRR    = (900 + 900 + 475) / 2700 = 2275 / 2700
  GRR cc = (min(900, 900) + min(900, 1090) + min(900, 450)) / 2700 = 2250 / 2700
January and March: nothing moves.  Q1 2024 (endpoints Dec and Mar) compares the same two
snapshots as February: the same NRR/GRR, constant-currency ones included.
"""

from __future__ import annotations

from collections import defaultdict

from metrics_books import D, accounts, approx, eur, line

from retentio.config import Settings
from retentio.metrics import explain, metrics, movements

FX = [{"date": D(2023, 12, 1), "currency": "USD", "rate": 0.90},
      {"date": D(2024, 2, 10), "currency": "USD", "rate": 0.95}]


def fx_book() -> dict:
    return {
        "accounts": accounts(["u", "v", "w"]),
        "subscriptions": [
            line("u-1", "u", D(2023, 12, 1), None, 1000, cur="USD"),
            line("v-1", "v", D(2023, 12, 1), None, 1000, cur="USD"),
            line("v-2", "v", D(2024, 2, 15), None, 200, cur="USD"),
            line("w-1", "w", D(2023, 12, 1), None, 500, cur="USD"),
            line("w-2", "w", D(2023, 12, 1), D(2024, 2, 20), 500, cur="USD"),
        ],
        "fx_rates": FX,
    }


def test_rate_move_alone_is_fx_not_expansion(make_engine):
    """Account u alone: its USD line is unchanged, the rate moves 0.90 -> 0.95 in February:
    expansion 0, contraction 0, fx = 950 - 900 = 50; 900 + 50 = 950; NRR 950/900 but
    NRR at constant currency 900/900 = 1; GRR = GRR cc = 1."""
    book = fx_book()
    book["accounts"] = accounts(["u"])
    book["subscriptions"] = [r for r in book["subscriptions"] if r["account_id"] == "u"]
    feb = metrics(make_engine(book), Settings(), "2024-02")
    assert (feb["mrr_start"], feb["mrr"]) == (eur(900), eur(950))
    m = feb["movements"]
    assert (m["expansion"], m["contraction"], m["fx"]) == (eur(0), eur(0), eur(50))
    assert feb["mrr_start"] + m["new"] + m["reactivation"] + m["expansion"] - m["contraction"] - m["churn"] \
        + m["fx"] == eur(feb["mrr"])
    assert feb["nrr"] == approx(950 / 900)
    assert feb["nrr_constant_currency"] == approx(1.0)
    assert feb["grr"] == approx(1.0) and feb["grr_constant_currency"] == approx(1.0)
    # nothing here is customer behaviour: the rates built from movements see nothing
    assert feb["cs_tailwind"] == approx(0.0) and feb["quick_ratio"] is None


def test_line_change_and_rate_move_in_the_same_month(make_engine):
    eng = make_engine(fx_book())
    s = Settings()
    feb = metrics(eng, s, "2024-02")
    assert (feb["mrr_start"], feb["mrr"]) == (eur(2700), eur(2565))
    assert feb["movements"] == {"new": eur(0), "expansion": eur(190), "contraction": eur(450), "churn": eur(0),
                                "reactivation": eur(0), "fx": eur(125)}
    assert feb["nrr"] == approx(2565 / 2700)
    assert feb["nrr_constant_currency"] == approx(2440 / 2700)
    assert feb["grr"] == approx(2275 / 2700)
    assert feb["grr_constant_currency"] == approx(2250 / 2700)
    # gross MRR churn and quick ratio use the constant-currency movements: 450 / 2700, 190 / 450
    assert feb["gross_mrr_churn_rate"] == approx(450 / 2700)
    assert feb["quick_ratio"] == approx(190 / 450)

    # the account movements: one entry per movement, fx entries signed
    mv = movements(eng, s, "2024-02")
    assert sorted((m["account_id"], m["type"], m["amount"]) for m in mv) == [
        ("u", "fx", eur(50)), ("v", "expansion", eur(190)), ("v", "fx", eur(50)),
        ("w", "contraction", eur(450)), ("w", "fx", eur(25))]
    v_exp = next(m for m in mv if m["account_id"] == "v" and m["type"] == "expansion")
    assert (v_exp["mrr_start"], v_exp["mrr_end"], v_exp["mrr_end_constant_currency"]) == (eur(900), eur(1140), eur(1090))
    fx_only = movements(eng, s, "2024-02", type="fx")
    assert [(m["account_id"], m["amount"]) for m in fx_only] == [("u", eur(50)), ("v", eur(50)), ("w", eur(25))]
    sums = defaultdict(float)
    for m in movements(eng, s, "2024-Q1"):
        sums[m["type"]] += m["amount"]
    assert dict(sums) == {"expansion": eur(190), "contraction": eur(450), "fx": eur(125)}

    # explain: fx and the constant-currency NRR with their inputs
    e = explain(eng, s, "fx_mrr", "2024-02")
    assert e["value"] == eur(125)
    assert {a["account_id"] for a in e["accounts"]} == {"u", "v", "w"}
    e = explain(eng, s, "nrr_constant_currency", "2024-02")
    assert e["value"] == approx(2440 / 2700)
    assert e["recomputed_from_inputs"] == approx(2440 / 2700)
    assert eur(2440) in list(e["inputs"].values())


def test_constant_currency_nrr_grr_over_a_quarter(make_engine):
    """Q1 2024 compares Dec (0.90) and Mar (0.95): the same accounts and values as February."""
    q = metrics(make_engine(fx_book()), Settings(), "2024-Q1")
    assert (q["mrr_start"], q["mrr"]) == (eur(2700), eur(2565))
    assert q["movements"]["fx"] == eur(125)
    assert q["nrr"] == approx(2565 / 2700)
    assert q["nrr_constant_currency"] == approx(2440 / 2700)
    assert q["grr"] == approx(2275 / 2700)
    assert q["grr_constant_currency"] == approx(2250 / 2700)


def test_line_start_rule_has_no_currency_effect(make_engine):
    """fx_rule = line_start: u, v-1, w-1, w-2 keep 0.90 (their start date), v-2 0.95 (2024-02-15):
    Feb u 900, v 900 + 190 = 1090, w 450: expansion 190, contraction 450, fx 0; NRR = NRR cc."""
    s = Settings()
    s.metrics.fx_rule = "line_start"
    feb = metrics(make_engine(fx_book()), s, "2024-02")
    assert feb["mrr"] == eur(2440)
    assert (feb["movements"]["expansion"], feb["movements"]["contraction"], feb["movements"]["fx"]) == \
        (eur(190), eur(450), eur(0))
    assert feb["nrr"] == approx(2440 / 2700) and feb["nrr_constant_currency"] == approx(2440 / 2700)


def kinds_book() -> dict:
    """EUR only.
    k: recurring 100 monthly from 2024-01-01; a one-off setup fee of 500 dated 2024-01-15;
       a discount of 20 a month from 2024-02-01 (written as -20)     -> Jan 100, Feb 80
    z: recurring 50 monthly from 2024-01-01; a discount of 80 a month from 2024-02-01
       (written as +80: the kind makes it a discount)                 -> Jan 50, Feb max(0, 50 - 80) = 0
    Jan: new 150 (k 100 + z 50: the one-off is not MRR), one-off revenue 500, MRR 150, 2 customers.
    Feb: contraction 20 (k 100 -> 80), churn 50 (z floors at 0: not a customer):
         150 - 20 - 50 = 80, 1 customer; ARR = 80 x 12 = 960; one-off revenue 0.
    """
    def kind(row, k):
        return dict(row, kind=k)

    return {
        "accounts": accounts(["k", "z"]),
        "subscriptions": [
            line("k-1", "k", D(2024, 1, 1), None, 100),
            kind(line("k-setup", "k", D(2024, 1, 15), D(2024, 1, 16), 500), "one_off"),
            kind(line("k-disc", "k", D(2024, 2, 1), None, -20), "discount"),
            kind(line("z-1", "z", D(2024, 1, 1), None, 50), "usage"),
            kind(line("z-disc", "z", D(2024, 2, 1), None, 80), "discount"),
        ],
    }


def test_one_off_is_reported_not_mrr_and_discounts_lower_mrr(make_engine):
    eng = make_engine(kinds_book())
    s = Settings()
    jan = metrics(eng, s, "2024-01")
    assert (jan["mrr"], jan["customers"]) == (eur(150), 2)
    assert jan["movements"]["new"] == eur(150)
    assert jan["one_off_revenue"] == eur(500)
    feb = metrics(eng, s, "2024-02")
    assert (feb["mrr_start"], feb["mrr"], feb["customers"]) == (eur(150), eur(80), 1)
    assert feb["movements"]["contraction"] == eur(20)
    assert feb["movements"]["churn"] == eur(50)
    assert feb["customers_churned"] == 1
    assert feb["arr"] == eur(960)
    assert feb["one_off_revenue"] == eur(0)
    q = metrics(eng, s, "2024-01..2024-02")
    assert q["one_off_revenue"] == eur(500)
