"""movements() and explain() on the small books (public example and own book).

Public example, month 13 (2024-01), worked in metrics_books.public_book:
  A expansion 200 -> 250 (A1 200 -> 0, A2 0 -> 250) ; B contraction 200 -> 120 (B2 200 -> 0,
  B3 0 -> 120) ; D reactivation 0 -> 80 (D2) ; E new 0 -> 50 (E1; the trial carries nothing).
Whole range M1..M14: 13 events: M1 new A B C D, M6 churn C, M9 expansion B, M10 churn D,
  M13 the four above, M14 contraction A, reactivation C.
"""

from __future__ import annotations

from collections import defaultdict

from metrics_books import approx, eur, own_book, public_book

from retentio.config import Settings
from retentio.metrics import explain, metrics, movements


def lines_of(m):
    return {l["subscription_id"]: (l["mrr_start"], l["mrr_end"]) for l in m["lines"]
            if l["mrr_start"] or l["mrr_end"]}


def test_movements_public_example(make_engine):
    eng = make_engine(public_book())
    s = Settings()
    m13 = movements(eng, s, "2024-01")
    assert [(m["account_id"], m["month"], m["type"]) for m in m13] == [
        ("A", "2024-01", "expansion"), ("B", "2024-01", "contraction"),
        ("D", "2024-01", "reactivation"), ("E", "2024-01", "new")]
    by = {m["account_id"]: m for m in m13}
    assert (by["A"]["mrr_start"], by["A"]["mrr_end"], by["A"]["amount"]) == (eur(200), eur(250), eur(50))
    assert lines_of(by["A"]) == {"A1": (eur(200), eur(0)), "A2": (eur(0), eur(250))}
    assert (by["B"]["mrr_start"], by["B"]["mrr_end"], by["B"]["amount"]) == (eur(200), eur(120), eur(80))
    assert lines_of(by["B"]) == {"B2": (eur(200), eur(0)), "B3": (eur(0), eur(120))}
    assert by["D"]["amount"] == eur(80) and lines_of(by["D"]) == {"D2": (eur(0), eur(80))}
    assert by["E"]["amount"] == eur(50) and lines_of(by["E"]) == {"E1": (eur(0), eur(50))}
    assert all(l["currency"] == "EUR" and l["plan"] for m in m13 for l in m["lines"])
    for m in m13:  # the lines explain the account's two snapshots
        assert sum(l["mrr_start"] for l in m["lines"]) == eur(m["mrr_start"])
        assert sum(l["mrr_end"] for l in m["lines"]) == eur(m["mrr_end"])

    churn = movements(eng, s, "2023-01..2024-02", type="churn")
    assert [(m["account_id"], m["month"], m["amount"]) for m in churn] == [("C", "2023-06", eur(100)),
                                                                          ("D", "2023-10", eur(80))]

    allm = movements(eng, s, "2023-01..2024-02")
    assert len(allm) == 13
    assert [m["month"] for m in allm] == sorted(m["month"] for m in allm)
    sums = defaultdict(float)
    for m in allm:
        sums[m["type"]] += m["amount"]
    # = the bridge of the range (test_metrics_public_example): 550, 130, 130, 180, 130
    assert dict(sums) == {"new": eur(550), "expansion": eur(130), "contraction": eur(130), "churn": eur(180),
                          "reactivation": eur(130)}


def test_movements_sum_to_the_bridge_own_book(make_engine):
    """Q1 2024 of the own book: Jan echo; Feb acme, charlie, foxtrot, golf; Mar bravo, delta,
    foxtrot, golf, juliet = 10 events summing to new 359.33, expansion 200, contraction 100,
    churn 350, reactivation 180, fx 59 (the quarter's bridge).  Currency effect (metrics.md §3):
    foxtrot's Feb and Mar moves and golf's Mar move are rate moves on unchanged USD lines, so
    they are fx entries (20, 30, 9: 59) instead of expansion (the 259 before = 200 + 59)."""
    eng = make_engine(own_book())
    s = Settings()
    mv = movements(eng, s, "2024-Q1")
    assert [(m["month"], m["account_id"]) for m in mv] == [
        ("2024-01", "echo"), ("2024-02", "acme"), ("2024-02", "charlie"), ("2024-02", "foxtrot"),
        ("2024-02", "golf"), ("2024-03", "bravo"), ("2024-03", "delta"), ("2024-03", "foxtrot"),
        ("2024-03", "golf"), ("2024-03", "juliet")]
    sums = defaultdict(float)
    for m in mv:
        sums[m["type"]] += m["amount"]
    assert dict(sums) == {"new": eur(359.33), "expansion": eur(200), "contraction": eur(100), "churn": eur(350),
                          "reactivation": eur(180), "fx": eur(59)}
    fox = [m for m in mv if m["account_id"] == "foxtrot"]
    # 1000 USD at 0.90 / 0.92 / 0.95: FX-only moves, one USD line: fx 20 then 30
    assert [(m["mrr_start"], m["mrr_end"]) for m in fox] == [(eur(900), eur(920)), (eur(920), eur(950))]
    assert [(m["type"], m["amount"]) for m in fox] == [("fx", eur(20)), ("fx", eur(30))]
    assert fox[0]["lines"][0]["currency"] == "USD"
    juliet = next(m for m in mv if m["account_id"] == "juliet")
    assert lines_of(juliet) == {"juliet-1": (eur(0), eur(50)), "juliet-2": (eur(0), eur(33.33))}


def _ratio_of_inputs(value, inputs):
    nums = [v for v in inputs.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return any(b and abs(a / b - value) < 1e-12 for a in nums for b in nums)


def test_explain_public_example(make_engine):
    eng = make_engine(public_book())
    s = Settings()
    # NRR of M13: (250 + 120) / 400; the inputs hold 370 and 400; A and B contribute
    e = explain(eng, s, "nrr", "2024-01")
    assert (e["metric"], e["period"]) == ("nrr", "2024-01")
    assert e["value"] == approx(0.925)
    assert e["formula"]
    vals = list(e["inputs"].values())
    assert eur(370) in vals and eur(400) in vals
    assert _ratio_of_inputs(e["value"], e["inputs"])
    assert {"A", "B"} <= {a["account_id"] for a in e["accounts"]}

    # logo churn of M6: 1 / 4, C is the account lost
    e = explain(eng, s, "customer_churn_rate", "2023-06")
    assert e["value"] == approx(0.25)
    assert _ratio_of_inputs(0.25, e["inputs"])
    assert "C" in {a["account_id"] for a in e["accounts"]}

    # gross MRR churn of M6: 100 / 500
    e = explain(eng, s, "gross_mrr_churn_rate", "2023-06")
    assert e["value"] == approx(0.2)
    vals = list(e["inputs"].values())
    assert eur(100) in vals and eur(500) in vals

    # quick ratio of M13: (50 + 50 + 80) / (0 + 80); the value equals metrics()
    e = explain(eng, s, "quick_ratio", "2024-01")
    assert e["value"] == approx(2.25)
    assert e["value"] == metrics(eng, s, "2024-01")["quick_ratio"]
    assert eur(80) in list(e["inputs"].values())
