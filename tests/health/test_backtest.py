"""Backtest: a book whose answer is known by construction, no future leak, shuffled labels,
and the pinned JSON shapes of the CLI."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from retentio.health.evaluate import auc, report
from retentio.model import ENTITIES
from retentio.service import Workspace
from tests.conftest import canonical_arrow


def make_ws(path, tables: dict, cards: dict[str, dict]) -> Workspace:
    ws = Workspace.init(path)
    for e in ENTITIES.values():
        rows = tables.get(e.table, [])
        attrs = None
        if e.name == "accounts":
            attrs = canonical_arrow("account_attributes", tables.get("account_attributes", []))
        ws.warehouse.write_import(e, canonical_arrow(e.table, rows), [], file=f"test:{e.name}", kind="test",
                                  rows_read=len(rows), replace=True, attributes=attrs)
    (path / "health").mkdir()
    for name, doc in cards.items():
        (path / "health" / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    ws._invalidate()
    return Workspace(path)


def line(acc, start, end=None, bpm=1, amount=100.0):
    return {"subscription_id": f"s_{acc}", "account_id": acc, "plan": "pro", "start_date": start, "end_date": end,
            "amount": amount, "billing_period_months": bpm, "currency": "EUR", "is_trial": False}


TICKET_CARD = {"name": "tickets", "default": True, "groups": [{"name": "Support", "weight": 1, "measures": [
    {"name": "tickets_30d", "feature": "tickets_30d", "direction": "down", "thresholds": [[0, 100]], "below": 0}]}]}


@pytest.fixture(scope="module")
def known_ws(tmp_path_factory):
    """20 healthy accounts A (no tickets, never churn) and 20 accounts B that open one ticket
    in each of the three months before their line ends on 2023-09-01."""
    accounts = [f"A{i:02d}" for i in range(20)] + [f"B{i:02d}" for i in range(20)]
    subs = [line(a, date(2023, 1, 1), None if a[0] == "A" else date(2023, 9, 1)) for a in accounts]
    tickets = [{"ticket_id": f"t{a}{m}", "account_id": a, "created_at": datetime(2023, m, 15, 10)}
               for a in accounts if a[0] == "B" for m in (6, 7, 8)]
    path = tmp_path_factory.mktemp("known") / "ws"
    ws = make_ws(path, {"accounts": [{"account_id": a, "name": a} for a in accounts], "subscriptions": subs,
                        "tickets": tickets}, {"tickets": TICKET_CARD})
    yield ws
    ws.close()


@pytest.fixture
def known(known_ws):
    """The module's workspace, its engines closed after the test (the CLI tests open the same
    file from another Workspace, which writes the score history)."""
    yield known_ws
    known_ws.close()


def test_backtest_known_by_construction(known):
    res = known.health_backtest(as_of="2024-06-30", horizon=3)
    # Judged month ends: 2023-01 .. 2024-03 (2024-03 + 3 months = 2024-06, the last complete month).
    # A: 20 x 15 months = 300; B: 20 x 8 months (Jan..Aug 2023) = 160; 460 account-months.
    # B churns within 3 months at the ends of Jun, Jul, Aug (not a customer on 2023-09-30): 60 churned.
    assert res["account_months"] == 460 and res["churned"] == 60
    # The 60 churn rows have 1 ticket in 30 days -> score 0 (red); all others 100 (green): AUC 1.
    assert res["auc"] == 1.0 and res["auc_ci"] == [1.0, 1.0]
    assert res["bands"]["red"] == {"account_months": 60, "churned": 60, "churn_rate": 1.0}
    assert res["bands"]["green"] == {"account_months": 400, "churned": 0, "churn_rate": 0.0}
    assert res["lift_red_vs_green"] is None  # green never churns: undefined, not infinite
    assert res["precision_red"] == 1.0 and res["recall_red"] == 1.0
    # Left out: customers at the ends of 2024-04, 05, 06 (horizon past as_of): 20 A x 3 = 60.
    assert res["left_out"] == {"horizon_past_as_of": 60, "not_scored": 0}
    assert set(res["per_scorecard"]) == {"tickets"}


LEAK_CARD = {"name": "leak", "default": True, "groups": [{"name": "g", "weight": 1, "measures": [
    # 100 points from 100 days before the renewal: every row of this book has >= 163 days unless
    # the unannounced end date (2023-08-10) leaked (then 71 days at the end of May -> 0)
    {"name": "renewal", "feature": "days_to_renewal", "thresholds": [[0, 0], [100, 100]]},
    {"name": "tickets", "feature": "tickets_30d", "direction": "down", "thresholds": [[0, 100]], "below": 0},
    {"name": "users", "feature": "active_users_30d", "linear": [0, 2]}]}]}


def test_no_future_leak(tmp_path):
    """Churners differ from the others only after their churn date (an end date never
    announced, tickets and usage after the end): every score is equal, AUC exactly 0.5."""
    accounts = [f"A{i:02d}" for i in range(10)] + [f"C{i:02d}" for i in range(10)]
    subs = [line(a, date(2023, 1, 10), None if a[0] == "A" else date(2023, 8, 10), bpm=12, amount=1200.0)
            for a in accounts]
    after = [{"ticket_id": f"t{a}", "account_id": a, "created_at": datetime(2023, 8, 20)} for a in accounts if a[0] == "C"]
    usage = [{"account_id": a, "user_id": "u", "timestamp": datetime(2023, 8, 25), "event": "login"}
             for a in accounts if a[0] == "C"]
    ws = make_ws(tmp_path / "ws", {"accounts": [{"account_id": a, "name": a} for a in accounts], "subscriptions": subs,
                                   "tickets": after, "usage": usage}, {"leak": LEAK_CARD})
    res = ws.health_backtest(as_of="2023-10-31", horizon=3)  # judged month ends: Jan .. Jul 2023
    assert res["account_months"] == 20 * 7
    assert res["churned"] == 10 * 3  # C churns (not a customer on 2023-08-31) within 3 months of May, Jun, Jul
    assert res["auc"] == 0.5


def test_shuffled_labels_give_auc_near_half():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 100, 4000)
    churned = scores < 30  # perfectly ordered: AUC 1
    assert auc(scores, churned) == 1.0
    shuffled = rng.permutation(churned)
    a = auc(scores, shuffled)
    # sd of the AUC under no signal with 1200 / 2800 cases is about 0.01: 0.5 +- 0.04
    assert abs(a - 0.5) < 0.04
    r = report(list(scores), ["red"] * 4000, list(shuffled), n_boot=200, seed=1)
    assert r["auc_ci"][0] < 0.5 < r["auc_ci"][1]


def test_auc_ties_count_half():
    # churner scores 10; non-churners 10 and 20: P(churner lower) = (0.5 + 1) / 2 = 0.75
    assert auc(np.array([10, 10, 20]), np.array([True, False, False])) == 0.75


def _cli(*args):
    from retentio.cli.main import _load_commands, app

    _load_commands()
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_cli_pinned_shapes(known_ws):
    ws = str(known_ws.path)
    rows = _cli("health", "score", "--workspace", ws, "--as-of", "2023-07-31", "--format", "json")
    assert len(rows) == 40
    assert set(rows[0]) >= {"account_id", "account_name", "scorecard", "score", "band", "trend_1m", "missing", "groups"}
    red = _cli("health", "score", "--workspace", ws, "--as-of", "2023-07-31", "--band", "red", "--format", "json")
    assert {r["account_id"][0] for r in red} == {"B"} and len(red) == 20
    bt = _cli("health", "backtest", "--workspace", ws, "--as-of", "2024-06-30", "--horizon", "3", "--format", "json")
    assert set(bt) >= {"scorecard", "horizon_months", "account_months", "churned", "auc", "auc_ci", "bands",
                       "lift_red_vs_green", "calibration", "left_out"}
    assert set(bt["bands"]) == {"red", "yellow", "green", "thriving"}
    assert set(bt["bands"]["red"]) == {"account_months", "churned", "churn_rate"}
    ex = _cli("health", "explain", "B00", "--workspace", ws, "--as-of", "2023-07-31", "--format", "json")
    assert ex["scorecard"] == "tickets" and ex["band"] == "red" and ex["measures"][0]["raw"] == 1
    assert ex["next_band"]["measure"] == "tickets_30d" and ex["next_band"]["to"] == 0
    hist = _cli("health", "history", "B00", "--workspace", ws, "--as-of", "2023-08-31", "--format", "json")
    assert [t["to"] for t in hist["transitions"]] == ["red"] and hist["transitions"][0]["day"] == "2023-06-30"


def test_cli_fit_shape_and_write(known_ws):
    ws = str(known_ws.path)
    res = _cli("health", "fit", "--workspace", ws, "--as-of", "2024-06-30", "--write", "fitted", "--format", "json")
    assert set(res) >= {"weights", "configured", "fitted"} and "auc" in res["configured"] and "auc" in res["fitted"]
    # one measure: it carries the whole weight; trained on 2023-01..2023-09 (9 of 15 month ends)
    assert res["weights"] == {"tickets_30d": pytest.approx(100.0)} and res["train_months"] == ["2023-01", "2023-09"]
    written = known_ws.path / "health" / "fitted.yaml"
    assert res["written"] == str(written)
    doc = yaml.safe_load(written.read_text())
    assert doc["name"] == "fitted" and doc["groups"][0]["measures"][0]["weight"] == 100.0
    written.unlink()


def test_cli_pulse_and_import(known_ws, tmp_path):
    ws = str(known_ws.path)
    p = _cli("health", "pulse", "A00", "--workspace", ws, "--score", "2", "--comment", "champion left",
             "--as-of", "2024-01-10", "--format", "json")
    assert p["score"] == 2 and p["comment"] == "champion left"
    f = tmp_path / "pulse.csv"
    f.write_text("account_id,score,colour,comment,author,rated_at\nA01,,red,late payer,ann,2024-01-05\nA02,5,,,bob,2024-01-06\n")
    out = _cli("import", "csm-pulse", str(f), "--workspace", ws, "--format", "json")
    assert out["imported"] == 2


@pytest.mark.slow
def test_fit_on_demo(demo_workspace, tmp_path):
    res = Workspace(demo_workspace).health_fit(as_of="2024-12-31", horizon=3)
    assert set(res) >= {"weights", "configured", "fitted"}
    assert abs(sum(res["weights"].values()) - 100) < 1e-6
    assert 0 <= res["configured"]["auc"] <= 1 and 0 <= res["fitted"]["auc"] <= 1


def test_demo_canceled_at():
    """The demo records a cancellation for churned lines only, between their start and end,
    deterministically (its own random stream; the book before and after this column was
    added was compared value by value when it was introduced: identical)."""
    import pyarrow as pa

    from retentio.demo.generator import build_tables

    t1, _a1, _ = build_tables(accounts=150, months=12, seed=3, end_month="2024-06", usage=False)
    t2, _a2, _ = build_tables(accounts=150, months=12, seed=3, end_month="2024-06", usage=False)
    s = t1["subscriptions"].to_pydict()
    canceled = [(c, st, e) for c, st, e in zip(s["canceled_at"], s["start_date"], s["end_date"]) if c is not None]
    assert canceled and all(e is not None and st <= c <= e for c, st, e in canceled)
    assert s["canceled_at"].count(None) > len(canceled)  # renewals and open lines carry none
    for name in t1:
        assert t1[name].drop_columns(["canceled_at"] if name == "subscriptions" else []).equals(
            t2[name].drop_columns(["canceled_at"] if name == "subscriptions" else []))
    assert t1["subscriptions"].column("canceled_at").type == pa.date32()


def test_refresh_is_incremental_and_reports_transitions(tmp_path):
    accounts = ["A00", "B00", "B01"]
    subs = [line(a, date(2023, 1, 1), None if a[0] == "A" else date(2023, 9, 1)) for a in accounts]
    tickets = [{"ticket_id": f"t{a}{m}", "account_id": a, "created_at": datetime(2023, m, 15, 10)}
               for a in accounts if a[0] == "B" for m in (6, 7, 8)]
    ws = make_ws(tmp_path / "ws", {"accounts": [{"account_id": a, "name": a} for a in accounts], "subscriptions": subs,
                                   "tickets": tickets}, {"tickets": TICKET_CARD})
    r1 = ws.health_refresh(as_of="2023-05-31")
    assert r1["days_computed"] == 5 and r1["rows"] == 15 and r1["transitions"] == []  # Jan..May, 3 accounts
    r2 = ws.health_refresh(as_of="2023-08-31")
    # May (the last stored month end, recomputed), Jun, Jul, Aug
    assert r2["days_computed"] == 4
    assert [(t["account_id"], t["day"], t["from"], t["to"]) for t in r2["transitions"]] == [
        ("B00", date(2023, 6, 30), "green", "red"), ("B01", date(2023, 6, 30), "green", "red")]
    assert ws.health_refresh(as_of="2023-08-31", full=True)["days_computed"] == 8
    assert len(ws.warehouse.read_health_scores()) == 24  # 8 month ends x 3 accounts, no duplicate


def test_outcome_churn_or_contraction(tmp_path):
    # A contracts from 200 to 100 on 2023-05-01 (a second line of 100 ends); B stays at 100.
    subs = [line("A", date(2023, 1, 1)), dict(line("A", date(2023, 1, 1), date(2023, 5, 1)), subscription_id="s_A2"),
            line("B", date(2023, 1, 1))]
    card = {"name": "flat", "default": True, "groups": [{"name": "g", "measures": [
        {"name": "tenure", "feature": "tenure_months", "linear": [0, 1000]}]}]}
    ws = make_ws(tmp_path / "ws", {"accounts": [{"account_id": a, "name": a} for a in "AB"], "subscriptions": subs},
                 {"flat": card})
    churn = ws.health_backtest(as_of="2023-07-31", horizon=3)
    both = ws.health_backtest(as_of="2023-07-31", horizon=3, outcome="churn_or_contraction")
    # judged month ends Jan..Apr (Apr + 3 = Jul): 8 account-months; nobody churns; A's MRR at the
    # end of May (100) is below Feb, Mar and Apr (200): 3 contraction outcomes (Jan: Feb..Apr all 200).
    assert churn["account_months"] == both["account_months"] == 8
    assert churn["churned"] == 0 and both["churned"] == 3


def test_errors_name_the_problem(known):
    from retentio.errors import DataError, NotFound, UsageError

    with pytest.raises(NotFound, match="account 'nope' not found"):
        known.health_pulse("nope", score=3)
    with pytest.raises(DataError, match="score 9 is outside 1-5"):
        known.health_pulse("A00", score=9)
    with pytest.raises(UsageError, match="band 'purple'"):
        known.health_scores(as_of="2023-07-31", band="purple")
    with pytest.raises(NotFound, match="no scorecard named 'x'"):
        known.health_scores(as_of="2023-07-31", scorecard="x")
    with pytest.raises(UsageError, match="outcome"):
        known.health_backtest(as_of="2024-06-30", outcome="upsell")


def test_pulse_counts_in_the_score_until_it_expires(tmp_path):
    card = {"name": "pulse", "default": True, "groups": [{"name": "g", "measures": [
        {"name": "tenure", "feature": "tenure_months", "linear": [0, 1000]},
        {"name": "pulse", "feature": "csm_pulse"}]}]}
    ws = make_ws(tmp_path / "ws", {"accounts": [{"account_id": "A", "name": "A"}],
                                   "subscriptions": [line("A", date(2023, 1, 1))]}, {"pulse": card})
    ws.health_pulse("A", score=5, comment="great", author="ann", rated_at="2023-03-01")
    # On 2023-03-31 the pulse (5 -> 100 on linear [1, 5]) counts; tenure 89 days -> 2.92 months
    # -> 0.29 points of 100: score (0.29 + 100) / 2.  On 2023-05-30 (90 days later) it has expired:
    # one measure of two with data < min_measures 2: not scored.
    s1 = ws.health_scores(as_of="2023-03-31")[0]
    assert s1["score"] == pytest.approx((100 * (89 / 30.4375) / 1000 + 100) / 2) and s1["missing"] == []
    s2 = ws.health_scores(as_of="2023-05-30")[0]
    assert s2["score"] is None and s2["band"] is None and s2["missing"] == ["pulse"]
    assert ws.health_scores(as_of="2023-05-29")[0]["missing"] == []  # 89 days: still counts


def test_subscriptions_only_uses_the_commercial_card(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    for e in ENTITIES.values():
        rows = {"accounts": [{"account_id": "A", "name": "A"}],
                "subscriptions": [line("A", date(2023, 1, 1), bpm=12, amount=1200.0)]}.get(e.table, [])
        ws.warehouse.write_import(e, canonical_arrow(e.table, rows), [], file="t", kind="test", rows_read=len(rows),
                                  replace=True, attributes=canonical_arrow("account_attributes", []) if e.name == "accounts" else None)
    ws = Workspace(tmp_path / "ws")
    assert ws.health_cards()["source"] == "shipped"
    [s] = ws.health_scores(as_of="2023-06-30")
    # commercial: revenue trend (MRR change 3m = 0 -> 75; 1m = 0 -> 80) 40; commitment (12 months
    # -> 80; tenure 180 days = 5.91 months of 24 -> 24.6) 40; renewal (days to 2024-01-01: 185 of
    # 120 -> 100) 20.  Groups: (75 + 80) / 2 = 77.5; (80 + 24.64) / 2 = 52.32; 100.
    # 0.4 x 77.5 + 0.4 x 52.32 + 0.2 x 100 = 31 + 20.93 + 20 = 71.93 -> 72: green
    tenure = 100 * (180 / 30.4375) / 24
    expected = 0.4 * 77.5 + 0.4 * (80 + tenure) / 2 + 0.2 * 100
    assert s["scorecard"] == "commercial" and s["score"] == pytest.approx(expected)
    assert s["band"] == "green" and s["missing"] == []


def test_peer_percentiles_through_the_service(tmp_path):
    """A peer_percentile card ranks each account among accounts of the same plan on the day
    (the scoring keeps only the peer value of each row, not the row)."""
    card = {"name": "peers", "default": True, "model": "peer_percentile", "peer_attribute": "plan",
            "groups": [{"name": "Support", "weight": 1, "measures": [
                {"name": "tickets_30d", "feature": "tickets_30d", "direction": "down", "thresholds": [[0, 100]],
                 "below": 0}]}]}
    accounts = ["A1", "A2", "A3", "B1"]
    subs = [{**line(a, date(2023, 1, 1)), "plan": "pro" if a[0] == "A" else "basic"} for a in accounts]
    n_tickets = {"A1": 0, "A2": 1, "A3": 2, "B1": 5}
    tickets = [{"ticket_id": f"t{a}{k}", "account_id": a, "created_at": datetime(2023, 6, 20, 10)}
               for a, n in n_tickets.items() for k in range(n)]
    ws = make_ws(tmp_path / "ws", {"accounts": [{"account_id": a, "name": a} for a in accounts], "subscriptions": subs,
                                   "tickets": tickets}, {"peers": card})
    scores = ws.health_scores(as_of="2023-06-30")
    got = {r["account_id"]: r["score"] for r in scores}
    # weighted: A1 (no ticket) 100, A2 0, A3 0; among the three "pro" accounts A1 is above both
    # (100), A2 and A3 tie below it (0 lower + half of 1 tie, over 2 peers = 25); B1 alone = 50
    assert got == {"A1": 100.0, "A2": 25.0, "A3": 25.0, "B1": 50.0}
    # a month and three months before, no ticket yet: the three "pro" accounts tie (half of 2
    # ties over 2 peers = 50), B1 alone 50; the trends are the percentiles' changes
    trends = {r["account_id"]: (r["trend_1m"], r["trend_3m"]) for r in scores}
    assert trends == {"A1": (50.0, 50.0), "A2": (-25.0, -25.0), "A3": (-25.0, -25.0), "B1": (0.0, 0.0)}
    ws.close()
