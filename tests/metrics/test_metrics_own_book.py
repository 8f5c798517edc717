"""Our own ten-account book (``metrics_books.own_book``: the month-end table and the movements
are worked in its docstring), checked for single months, the quarter 2024-Q1, ``by=`` and
``filters=``, with costs, renewals and trials.

Worked by hand (EUR):

Customers S at each start snapshot
  Jan (S = Dec): acme bravo charlie delta foxtrot india (6), MRR 2050
  Feb (S = Jan): + echo (7), MRR 2230
  Mar (S = Feb): acme bravo delta echo foxtrot golf india (7), MRR 2476
  Q1  (S = Dec): the 6 of December, MRR 2050

NRR / GRR (endpoints only)
  Jan: S keeps 2050 at end -> 1 ; GRR 1
  Feb: S end = 2476 - 276 (golf) = 2200 -> 2200/2230 ; GRR acme min(300,100) 100 + 500 + 0 + 100
       + 180 + min(920,900) 900 + 200 = 1980 -> 1980/2230
  Mar: S end = 2398.33 - 83.33 (juliet) = 2315 -> 2315/2476 ; GRR 300 + 400 + 0 + 180 + 920 + 276 + 200
       = 2276 -> 2276/2476
  Q1 : S end acme 300 + bravo 400 + charlie 0 + delta 0 + foxtrot 950 + india 200 = 1850 -> 1850/2050 ;
       GRR 100 + 400 + 0 + 0 + 900 + 200 = 1600 -> 1600/2050
  trailing 12 m at Mar 2024: start snapshot 2023-03-31 = bravo 500 + delta 100 + india 200 = 800;
       end bravo 400 + delta 0 + india 200 = 600 -> NRR 600/800 = 0.75, GRR 0.75

Customer churn, CRR
  Feb 1/7 (charlie); Mar 1/7 (delta); Q1 2/6 (charlie, delta)
  CRR Feb (7 - 1 golf)/7 ; Mar (7 - 1 juliet)/7 ; Q1 (7 - 3 (echo golf juliet))/6 = 4/6

LTV (default: ARPA / mean of the 6 monthly churn rates ending with the last month)
  Mar (and Q1): Oct 0, Nov 0, Dec 0, Jan 0, Feb 1/7, Mar 1/7 -> mean 1/21 ; ARPA 2398.33/7 ->
       LTV = 2398.33 x 3 = 7194.99 ; current month = ARPA x 7 = 2398.33
  Feb: Sep 0, Oct 0, Nov 0, Dec 0, Jan 0, Feb 1/7 -> 1/42 ; LTV = 2476/7 x 42 = 14856
  Jan: Aug 1/5 (echo), Sep..Jan 0 -> 1/30 ; LTV = 2230/7 x 30 = 66900/7 ; current month: 0 churn -> None
  gross margin from costs (no setting): Q1 1 - (223 + 247.6 + 239.83) / (2230 + 2476 + 2398.33)
       = 1 - 710.43/7104.33 ; Mar 1 - 239.83/2398.33

Costs (EUR; the USD 1000 of Feb at 0.92 = 920)
  CAC Jan 600/0 -> None ; Feb 920/1 (golf) ; Mar 1200/1 (juliet) ; Q1 2720/2 = 1360
  LTV:CAC Q1 7194.99/1360 ; Mar 7194.99/1200
  CRC Q1 (3000 + 1500) / 9 accounts customer at Dec or any month-end of Q1 (all but hotel) = 500
       LTV:CRC = LTV / (CRC / 3 months x 21 months of lifetime) = 7194.99 / 3500
  CRC Mar 1500 / 8 (Feb customers + juliet) = 187.5 ; LTV:CRC = 7194.99 / (187.5 x 21) = 7194.99/3937.5
  renewals Q1: lines ending in Q1 = acme-1 (02-10, renewed by acme-2 the same day), bravo-1 (03-01,
       renewed 03-10), charlie-1 (02-01, not), delta-1 (03-15, not), india-1 (01-20, renewed) -> 3/5
       Jan 1/1 ; Feb 1/2 (acme yes, charlie no) ; Mar 1/2 (bravo yes, delta no)
  CS magic number Q1: renewed MRR at end = acme 300 + bravo 400 + india 200 = 900, + expansion 259,
       / (3000 + 1500) = 1159/4500 ; Mar (400 + 39)/1500 ; Feb (300 + 220)/1500 ; Jan (200 + 0)/1500
  CS ROI Q1: retained = (2050 - 0 - 0) + (2230 - 250 - 0) + (2476 - 100 - 100) = 6306; expansion 259;
       (6306 + 259 - 3000) / 3000 = 3565/3000 ; Mar (2276 + 39 - 1000)/1000 = 1.315
  trials: golf's trial ends 02-01 and golf pays from 02-15 (14 days later) -> converted; hotel's ends
       03-05, never pays -> Feb 1/1, Mar 0/1, Q1 1/2, Jan None
"""

from __future__ import annotations

from metrics_books import approx, eur, own_book

from retentio.config import Settings
from retentio.metrics import metrics

BRIDGE_KEYS = ("new", "expansion", "contraction", "churn", "reactivation", "fx")

# Currency effect (metrics.md §3, amended; issue 11): foxtrot's and golf's USD lines do not
# change, only the USD rate does (0.90 -> 0.92 -> 0.95), so their moves are no longer
# expansion but the signed fx movement:
#   Feb fx = foxtrot 1000 x (0.92 - 0.90) = 20           (expansion 220 -> 200, acme only)
#   Mar fx = foxtrot 1000 x (0.95 - 0.92) = 30 + golf 300 x (0.95 - 0.92) = 9 -> 39
#                                                         (expansion 39 -> 0)
#   Q1  fx = 20 + 39 = 59                                 (expansion 259 -> 200)
# The bridge is start + new + reactivation + expansion - contraction - churn + fx = end.


def mv(new=0, expansion=0, contraction=0, churn=0, reactivation=0, fx=0):
    return {"new": eur(new), "expansion": eur(expansion), "contraction": eur(contraction), "churn": eur(churn),
            "reactivation": eur(reactivation), "fx": eur(fx)}


def test_own_book_months(make_engine):
    eng = make_engine(own_book())
    s = Settings()

    jan = metrics(eng, s, "2024-01")
    assert (jan["mrr_start"], jan["mrr"], jan["customers_start"], jan["customers"]) == (eur(2050), eur(2230), 6, 7)
    assert jan["movements"] == mv(reactivation=180)
    assert (jan["customers_new"], jan["customers_reactivated"], jan["customers_churned"]) == (0, 1, 0)
    assert jan["customer_churn_rate"] == approx(0.0)
    assert jan["gross_mrr_churn_rate"] == approx(0.0)
    assert jan["net_mrr_churn_rate"] == approx(-180 / 2050)
    assert jan["nrr"] == approx(1.0) and jan["grr"] == approx(1.0)
    assert jan["crr"] == approx(1.0)  # (7 - 1 echo) / 6
    assert jan["quick_ratio"] is None  # 180 / 0
    assert jan["expansion_share"] == approx(0.0)  # 0 / 180
    assert jan["arpa"] == eur(2230 / 7)
    assert jan["arpa_change"] == approx((2230 / 7) / (2050 / 6) - 1)
    assert jan["ltv_variants"]["six_month_average"] == approx(2230 / 7 * 30)
    assert jan["ltv_variants"]["current_month"] is None
    assert jan["cac"] is None and jan["ltv_cac"] is None  # no new customer
    assert jan["renewal_rate"] == approx(1.0)
    assert jan["trial_conversion_rate"] is None
    assert jan["cs_magic_number"] == approx(200 / 1500)
    assert jan["cs_roi"] == approx((2050 + 0 - 1000) / 1000)

    feb = metrics(eng, s, "2024-02")
    assert (feb["mrr_start"], feb["mrr"], feb["customers_start"], feb["customers"]) == (eur(2230), eur(2476), 7, 7)
    assert feb["movements"] == mv(new=276, expansion=200, churn=250, fx=20)
    assert (feb["customers_new"], feb["customers_reactivated"], feb["customers_churned"]) == (1, 0, 1)
    assert feb["customer_churn_rate"] == approx(1 / 7)
    assert feb["gross_mrr_churn_rate"] == approx(250 / 2230)
    assert feb["net_mrr_churn_rate"] == approx(50 / 2230)  # (250 - 200) / 2230
    assert feb["nrr"] == approx(2200 / 2230)
    assert feb["grr"] == approx(1980 / 2230)
    assert feb["crr"] == approx(6 / 7)
    assert feb["quick_ratio"] == approx(476 / 250)  # (276 + 200) / 250
    assert feb["expansion_share"] == approx(200 / 476)
    assert feb["ltv"] == approx(14856)
    assert feb["ltv_variants"]["current_month"] == approx(2476)
    assert feb["cac"] == eur(920)  # 1000 USD x 0.92
    assert feb["ltv_cac"] == approx(14856 / 920)
    assert feb["renewal_rate"] == approx(0.5)
    assert feb["trial_conversion_rate"] == approx(1.0)
    assert feb["cs_magic_number"] == approx(500 / 1500)  # (renewed acme 300 + expansion 200) / 1500
    assert feb["cs_headwind"] == approx(250 / 2230)
    assert feb["cs_tailwind"] == approx(200 / 2230)
    # NRR at constant currency: S's end at Jan's rates = 2200 - foxtrot's fx 20 = 2180;
    # GRR: foxtrot min(900, 900) is unchanged -> 1980
    assert feb["nrr_constant_currency"] == approx(2180 / 2230)
    assert feb["grr_constant_currency"] == approx(1980 / 2230)
    # annualised one-month rates: compound 1 - (1 - r)^12
    assert feb["annualised"]["gross_mrr_churn_rate"] == approx(1 - (1 - 250 / 2230) ** 12)
    assert feb["annualised"]["net_mrr_churn_rate"] == approx(1 - (1 - 50 / 2230) ** 12)

    mar = metrics(eng, s, "2024-03")
    assert (mar["mrr_start"], mar["mrr"], mar["customers_start"], mar["customers"]) == (eur(2476), eur(2398.33), 7, 7)
    # ARR is annualised per line before rounding: acme 3 600 + bravo 4 800 + echo 2 160
    # + foxtrot 1 000 x 12 x 0.95 = 11 400 + golf 7 200 x 12 / 24 x 0.95 = 3 420 + india 2 400
    # + juliet 50 x 12 + 100 x 12 / 3 = 1 000  ->  28 780 (12 x 2 398.33 = 28 779.96 would carry
    # juliet's quarterly line rounded to 33.33)
    assert mar["arr"] == eur(28780)
    assert mar["movements"] == mv(new=83.33, contraction=100, churn=100, fx=39)
    assert (mar["customers_new"], mar["customers_reactivated"], mar["customers_churned"]) == (1, 0, 1)
    assert mar["customer_churn_rate"] == approx(1 / 7)
    assert mar["gross_mrr_churn_rate"] == approx(200 / 2476)
    assert mar["net_mrr_churn_rate"] == approx(200 / 2476)  # (100 + 100 - 0 - 0)
    assert mar["nrr"] == approx(2315 / 2476)
    assert mar["grr"] == approx(2276 / 2476)
    # constant currency: foxtrot 1000 x 0.92 = 920 and golf 300 x 0.92 = 276 at Feb's rates:
    # 2315 - 39 = 2276 ; GRR 300 + 400 + 0 + 180 + 920 + 276 + 200 = 2276
    assert mar["nrr_constant_currency"] == approx(2276 / 2476)
    assert mar["grr_constant_currency"] == approx(2276 / 2476)
    assert mar["nrr_trailing_12m"] == approx(0.75)
    assert mar["grr_trailing_12m"] == approx(0.75)
    assert mar["crr"] == approx(6 / 7)
    assert mar["quick_ratio"] == approx(83.33 / 200)
    assert mar["ltv"] == approx(7194.99)
    assert mar["ltv_variants"]["current_month"] == approx(2398.33)
    assert mar["ltv_variants"]["gross_margin"] == approx(7194.99 * (1 - 239.83 / 2398.33))
    assert mar["cac"] == eur(1200)
    assert mar["ltv_cac"] == approx(7194.99 / 1200)
    assert mar["crc"] == eur(187.5)
    assert mar["ltv_crc"] == approx(7194.99 / 3937.5)
    assert mar["cs_magic_number"] == approx(400 / 1500)  # renewed bravo 400 + expansion 0
    assert mar["cs_roi"] == approx(1.276)  # (2276 + 0 - 1000) / 1000
    assert mar["renewal_rate"] == approx(0.5)
    assert mar["trial_conversion_rate"] == approx(0.0)
    # benchmarks: LTV:CAC 6.0 >= 5 -> watch ; LTV:CRC 1.83 <= 2 -> alarm ; magic 0.29 < 1 -> alarm
    assert mar["benchmarks"]["ltv_cac"]["status"] == "watch"
    assert mar["benchmarks"]["ltv_crc"]["status"] == "alarm"
    assert mar["benchmarks"]["cs_magic_number"]["status"] == "alarm"


def test_own_book_quarter(make_engine):
    eng = make_engine(own_book())
    s = Settings()
    q = metrics(eng, s, "2024-Q1")
    assert q["period"] == "2024-Q1"
    assert (q["mrr_start"], q["mrr"], q["customers_start"], q["customers"]) == (eur(2050), eur(2398.33), 6, 7)
    assert q["movements"] == mv(new=359.33, expansion=200, contraction=100, churn=350, reactivation=180, fx=59)
    m = q["movements"]
    assert q["mrr_start"] + m["new"] + m["reactivation"] + m["expansion"] - m["contraction"] - m["churn"] + m["fx"] \
        == eur(q["mrr"])
    assert (q["customers_new"], q["customers_churned"], q["customers_reactivated"]) == (2, 2, 1)
    assert q["customer_churn_rate"] == approx(1 / 3)
    assert q["gross_mrr_churn_rate"] == approx(450 / 2050)
    assert q["net_mrr_churn_rate"] == approx(70 / 2050)  # (350 + 100 - 200 - 180)
    assert q["nrr"] == approx(1850 / 2050)
    assert q["grr"] == approx(1600 / 2050)
    # constant currency over the quarter (endpoints Dec and Mar): foxtrot at Dec's 0.90 = 900:
    # NRR (300 + 400 + 0 + 0 + 900 + 200) / 2050 = 1800/2050; GRR 100 + 400 + 900 + 200 = 1600
    assert q["nrr_constant_currency"] == approx(1800 / 2050)
    assert q["grr_constant_currency"] == approx(1600 / 2050)
    assert q["crr"] == approx(4 / 6)
    assert q["quick_ratio"] == approx(739.33 / 450)  # 359.33 + 200 + 180
    assert q["expansion_share"] == approx(200 / 739.33)
    assert q["arpa"] == eur(2398.33 / 7)
    assert q["arpa_change"] == approx((2398.33 / 7) / (2050 / 6) - 1)
    assert q["cs_headwind"] == approx(450 / 2050)
    assert q["cs_tailwind"] == approx(200 / 2050)
    # annualised over n = 3: 1 - (1 - r_month)^12 = 1 - (1 - r)^4
    a = q["annualised"]
    assert a["customer_churn_rate"] == approx(65 / 81)  # 1 - (2/3)^4
    assert a["gross_mrr_churn_rate"] == approx(1 - (1600 / 2050) ** 4)
    assert a["net_mrr_churn_rate"] == approx(1 - (1980 / 2050) ** 4)  # 1 - 70/2050 = 1980/2050
    assert a["cs_headwind"] == approx(1 - (1600 / 2050) ** 4)
    assert a["cs_tailwind"] == approx(1 - (1850 / 2050) ** 4)  # 1 - 200/2050
    # value and costs
    assert q["ltv"] == approx(7194.99)
    assert q["ltv_variants"]["gross_margin"] == approx(7194.99 * (1 - 710.43 / 7104.33))
    assert q["cac"] == eur(1360)
    assert q["ltv_cac"] == approx(7194.99 / 1360)
    assert q["crc"] == eur(500)
    assert q["ltv_crc"] == approx(7194.99 / 3500)
    assert q["cs_magic_number"] == approx(1100 / 4500)  # (900 + 200) / 4500
    assert q["cs_roi"] == approx(3506 / 3000)  # (6306 + 200 - 3000) / 3000
    assert q["renewal_rate"] == approx(3 / 5)
    assert q["trial_conversion_rate"] == approx(1 / 2)
    # benchmarks: annual churn 0.80 > 20 % alarm; NRR 0.90 < 1 alarm; LTV:CAC 5.29 >= 5 watch;
    # LTV:CRC 2.06 > 2 good; magic 0.24 < 1 alarm; headwind 0.63 > 0.30 alarm; tailwind 0.34 > 0.10 good
    b = q["benchmarks"]
    assert {k: b[k]["status"] for k in ("customer_churn_rate", "nrr", "ltv_cac", "ltv_crc", "cs_magic_number",
                                        "cs_headwind", "cs_tailwind")} == {
        "customer_churn_rate": "alarm", "nrr": "alarm", "ltv_cac": "watch", "ltv_crc": "good",
        "cs_magic_number": "alarm", "cs_headwind": "alarm", "cs_tailwind": "good"}


def test_own_book_by_region_and_filters(make_engine):
    """Q1 by region.

    eu  = acme bravo charlie delta echo hotel india: Dec 100+500+250+100+200 = 1150 (5 customers);
          Mar 300+400+180+200 = 1080 (4); reactivation 180 (echo), expansion 200 (acme),
          contraction 100 (bravo), churn 250 + 100 = 350: 1150 + 180 + 200 - 100 - 350 = 1080;
          churn 2/5; NRR (300+400+0+0+200)/1150 = 900/1150; GRR (100+400+0+0+200)/1150 = 700/1150
    us  = foxtrot golf: Dec 900 (1); Mar 950 + 285 = 1235 (2); new 276 (golf),
          fx 20 + 30 (foxtrot) + 9 (golf) = 59 (was expansion before the currency effect):
          900 + 276 + 59 = 1235; churn 0/1; NRR 950/900; GRR 1
    (none) = juliet: start 0 (rates undefined), end 83.33, new 83.33
    filters region=us, March: start 920 + 276 = 1196, end 1235, fx 39 (expansion 0), NRR 1235/1196
    """
    eng = make_engine(own_book())
    s = Settings()
    out = metrics(eng, s, "2024-Q1", by="region")
    assert out["by"] == "region" and out["period"] == "2024-Q1"
    g = out["groups"]
    assert set(g) == {"eu", "us", "(none)"}
    eu, us, none = g["eu"], g["us"], g["(none)"]
    assert (eu["mrr_start"], eu["mrr"], eu["customers_start"], eu["customers"]) == (eur(1150), eur(1080), 5, 4)
    assert eu["movements"] == mv(reactivation=180, expansion=200, contraction=100, churn=350)
    assert eu["customer_churn_rate"] == approx(2 / 5)
    assert eu["nrr"] == approx(900 / 1150)
    assert eu["grr"] == approx(700 / 1150)
    assert (us["mrr_start"], us["mrr"], us["customers_start"], us["customers"]) == (eur(900), eur(1235), 1, 2)
    assert us["movements"] == mv(new=276, fx=59)
    assert us["customer_churn_rate"] == approx(0.0)
    assert us["nrr"] == approx(950 / 900)
    assert us["grr"] == approx(1.0)
    assert none["mrr"] == eur(83.33) and none["customers"] == 1
    assert none["movements"] == mv(new=83.33)
    assert none["nrr"] is None and none["customer_churn_rate"] is None
    # the groups add up to the whole book
    assert sum(x["mrr"] for x in g.values()) == eur(2398.33)

    f = metrics(eng, s, "2024-03", filters={"region": "us"})
    assert (f["mrr_start"], f["mrr"], f["customers"]) == (eur(1196), eur(1235), 2)
    assert f["movements"] == mv(fx=39)
    assert f["nrr"] == approx(1235 / 1196)


def test_own_book_by_derived_touch_and_plan(make_engine):
    """March 2024, derived attributes (end snapshot MRR, else start snapshot MRR).

    touch (defaults high >= 2000, low >= 300): low = acme 300, bravo 400, foxtrot 950 -> 1650;
    tech = echo 180, golf 285, india 200, juliet 83.33 -> 748.33 at end (+ delta 100 at start,
    churned; charlie and hotel 0).  Nobody is high.
    plan (largest-MRR line at the end snapshot, else start): pro = acme-2 300; starter-annual =
    bravo-2 400 (end) and delta-1 (start 100, churned); enterprise = foxtrot 950; pro-2y = golf 285;
    starter = echo 180 and juliet (50 > 33.33) 83.33 -> 263.33; pro-annual = india 200.
    """
    eng = make_engine(own_book())
    s = Settings()
    t = metrics(eng, s, "2024-03", by="touch")["groups"]
    assert t["low"]["mrr"] == eur(1650) and t["low"]["customers"] == 3
    assert t["tech"]["mrr"] == eur(748.33) and t["tech"]["customers"] == 4
    assert t["tech"]["movements"]["churn"] == eur(100)  # delta
    assert "high" not in t or t["high"]["mrr"] == eur(0)
    p = metrics(eng, s, "2024-03", by="plan")["groups"]
    assert p["pro"]["mrr"] == eur(300)
    assert p["starter-annual"]["mrr"] == eur(400)
    assert p["starter-annual"]["movements"] == mv(contraction=100, churn=100)  # bravo 500->400, delta 100->0
    assert p["enterprise"]["mrr"] == eur(950)
    assert p["starter"]["mrr"] == eur(263.33)
    assert p["starter"]["customers"] == 2
    assert p["pro-annual"]["mrr"] == eur(200)
