"""Prediction: no leakage, reproducibility, a planted signal found, a shuffled label not,
the pinned JSON shapes of the CLI, the Telco floor, and the hand-checkable pieces
(lift, reliability table, monthly hazard, drivers' phrases, lifetimes).

The synthetic books are small (160 accounts, 24 months, one monthly line each) and built
in memory on DuckDB; the CLI shapes run on one small demo workspace.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from retentio.config import Settings
from retentio.engine import open_engine
from retentio.model import ACCOUNT_ATTRIBUTES_TABLE, ENTITIES
from retentio.predict import churn
from retentio.predict.drivers import drivers, phrase

from tests.conftest import canonical_arrow

START = (2022, 1)
MONTHS = 24
AS_OF = date(2023, 12, 31)
TELCO = Path(__file__).resolve().parents[1] / "data" / "telco" / "Telco-Customer-Churn.csv"


def _month(i: int) -> tuple[int, int]:
    y, m = divmod(START[0] * 12 + START[1] - 1 + i, 12)
    return y, m + 1


def make_book(mode: str, *, n: int = 160, seed: int = 3) -> dict[str, list[dict]]:
    """One monthly line of 100 EUR per account (5 seats, 5 users active on 5 days a month).
    About a third of the accounts churn: their line ends on the 10th of a month (no
    canceled_at). ``mode``:
    - "planted": churners have 1 active user instead of 5 in the 3 months before churning;
    - "after": churners look exactly like the others until their end date, and differ only
      after it (heavy usage and 3 tickets a month for 3 months after leaving);
    - "plain": no difference at all."""
    rng = random.Random(seed)
    accounts, subs, usage, tickets = [], [], [], []
    for i in range(n):
        a = f"a{i:03d}"
        accounts.append({"account_id": a, "name": f"Account {i}"})
        s0 = rng.randrange(0, 4)
        cm = rng.randrange(8, MONTHS) if rng.random() < 0.35 else None
        y0, m0 = _month(s0)
        end = date(*_month(cm), 10) if cm is not None else None
        subs.append({"subscription_id": f"s{i:03d}", "account_id": a, "plan": "pro-monthly", "start_date": date(y0, m0, 1),
                     "end_date": end, "amount": 100.0, "billing_period_months": 1, "currency": "EUR",
                     "is_trial": False, "quantity": 5.0})
        last_active = (cm - 1) if cm is not None else MONTHS - 1
        for k in range(s0, last_active + 1):
            users = 1 if (mode == "planted" and cm is not None and k >= cm - 3) else 5
            y, m = _month(k)
            for u in range(users):
                for d in (3, 9, 15, 21, 27):
                    usage.append({"account_id": a, "user_id": f"{a}_u{u}", "timestamp": datetime(y, m, d, 10),
                                  "event": "login"})
        if mode == "after" and cm is not None:
            for k in range(cm, min(cm + 3, MONTHS)):
                y, m = _month(k)
                for u in range(12):
                    for d in range(12, 28):
                        usage.append({"account_id": a, "user_id": f"{a}_x{u}", "timestamp": datetime(y, m, d, 11),
                                      "event": "login"})
                for t in range(3):
                    tickets.append({"ticket_id": f"T{i}_{k}_{t}", "account_id": a, "created_at": datetime(y, m, 14 + t, 9),
                                    "topic": "integration"})
    return {"accounts": accounts, "subscriptions": subs, "usage": usage, "tickets": tickets}


def engine_for(tables: dict[str, list[dict]]):
    arrow = {}
    for t in [e.table for e in ENTITIES.values()] + [ACCOUNT_ATTRIBUTES_TABLE]:
        arrow[t] = canonical_arrow(t, tables.get(t, []))
    return open_engine("duckdb", lambda name: arrow[name])


def settings() -> Settings:
    s = Settings()
    s.predict.test_months = 6
    return s


@pytest.fixture(scope="module")
def planted():
    eng = engine_for(make_book("planted"))
    yield churn.build_dataset(eng, settings(), AS_OF, 3)
    eng.close()


@pytest.fixture(scope="module")
def after():
    eng = engine_for(make_book("after"))
    yield churn.build_dataset(eng, settings(), AS_OF, 3)
    eng.close()


# -- labels and split ---------------------------------------------------------------------------
def test_labels_and_time_split(planted):
    # Book months 2022-01 .. 2023-12 (L = 2023-12); features from 2022-04 (3 months of history);
    # labelled month ends end 3 months before L: 2023-09.  Test = the last 6 labelled: 2023-04 ..
    # 2023-09; training ends horizon = 3 months before the test starts: 2023-01; its last 3
    # months calibrate (2022-11 .. 2023-01) and the fit uses 2022-04 .. 2022-10.
    split = churn.time_split(planted, settings(), with_test=True)
    label = lambda i: f"{i // 12}-{i % 12 + 1:02d}"  # noqa: E731
    assert [label(m) for m in split.test] == ["2023-04", "2023-09"]
    assert [label(m) for m in split.calibration] == ["2022-11", "2023-01"]
    assert [label(m) for m in split.fit] == ["2022-04", "2022-10"]
    # every training label is known at the first test month end: the last training month end
    # (2023-01) looks at churn in 2023-02..2023-04, all observed by 2023-04-30
    assert split.calibration[1] + 3 == split.test[0]
    # account a line ending on the 10th of month c is a customer at the end of c-1 and churns in c:
    # its month ends c-3, c-2, c-1 are labelled 1, c-4 is 0, and it has no row at c.
    book = make_book("planted")
    month = lambda d: d.year * 12 + d.month - 1  # noqa: E731
    sub = next(s for s in book["subscriptions"] if s["end_date"] is not None
               and planted.first + 4 <= month(s["end_date"]) <= planted.labelled_last + 1)
    c = month(sub["end_date"])
    rows = planted.frame.filter(pl.col("account_id") == sub["account_id"]).select("month", "label")
    got = dict(zip(rows["month"].to_list(), rows["label"].to_list()))
    assert [got[c - 4], got[c - 3], got[c - 2], got[c - 1]] == [0, 1, 1, 1]
    assert c not in got


# -- no leakage ---------------------------------------------------------------------------------
def _truncate(book: dict[str, list[dict]], day: date) -> dict[str, list[dict]]:
    """The book as it was known at the end of ``day``: nothing dated later, end dates not yet reached forgotten."""
    subs = []
    for s in book["subscriptions"]:
        if s["start_date"] > day:
            continue
        s = dict(s)
        if s["end_date"] is not None and s["end_date"] > day:
            s["end_date"] = None
        subs.append(s)
    return {"accounts": book["accounts"], "subscriptions": subs,
            "usage": [u for u in book["usage"] if u["timestamp"].date() <= day],
            "tickets": [t for t in book["tickets"] if t["created_at"].date() <= day]}


def test_features_of_a_month_end_read_nothing_after_it():
    from retentio.predict.features import account_features

    book = make_book("after")
    day = date(2023, 3, 31)
    full, cut = engine_for(book), engine_for(_truncate(book, day))
    try:
        a = account_features(full, settings(), [day])
        b = account_features(cut, settings(), [day])
    finally:
        full.close()
        cut.close()
    assert a.height > 100
    assert a.sort("account_id").equals(b.sort("account_id"))


def test_churners_differing_only_after_churn_give_auc_near_half(after):
    # churners have an end date (no canceled_at) and heavy usage and tickets after it; none of
    # that is known at a month end before the churn, so the model can only guess
    res = churn.evaluate(after, settings())
    assert res["test_churned"] >= 20
    assert 0.35 <= res["model"]["auc"] <= 0.65
    assert 0.35 <= res["baseline"]["auc"] <= 0.65


# -- signal, shuffled label, reproducibility ------------------------------------------------------
def test_planted_signal_is_found(planted):
    res = churn.evaluate(planted, settings())
    assert res["test_churned"] >= 20
    assert res["model"]["auc"] >= 0.9
    assert res["baseline"]["auc"] >= 0.9
    assert res["model"]["lift_top_decile"] >= 3


def test_shuffled_label_gives_auc_near_half(planted):
    rng = np.random.default_rng(0)
    lab = planted.frame["label"].to_list()
    known = [i for i, v in enumerate(lab) if v is not None]
    perm = rng.permutation(len(known))
    shuffled = list(lab)
    for i, j in zip(known, perm):
        shuffled[i] = lab[known[j]]
    ds = churn.Dataset(planted.frame.with_columns(pl.Series("label", shuffled, dtype=pl.Int8)), planted.first,
                       planted.last, planted.horizon)
    res = churn.evaluate(ds, settings())
    assert 0.35 <= res["model"]["auc"] <= 0.65


def test_same_seed_same_model_and_numbers(planted, tmp_path):
    from retentio.predict import store

    a = churn.evaluate(planted, settings())
    b = churn.evaluate(planted, settings())
    assert a == b
    split = churn.time_split(planted, settings(), with_test=False)
    f1 = churn.fit_models(planted.frame, split, settings())
    f2 = churn.fit_models(planted.frame, split, settings())
    d1 = store.save_model(tmp_path / "one", "m", f1.booster, {"calibration": f1.calibrator.to_dict()})
    d2 = store.save_model(tmp_path / "two", "m", f2.booster, {"calibration": f2.calibrator.to_dict()})
    assert (d1 / "model.txt").read_bytes() == (d2 / "model.txt").read_bytes()
    assert (d1 / "metadata.json").read_bytes() == (d2 / "metadata.json").read_bytes()


# -- hand-checked pieces ------------------------------------------------------------------------
def test_lift_at_top_decile_by_hand():
    # 20 rows, 4 churners (rate 0.2); the top decile is the 2 riskiest rows, one of them a
    # churner: rate 0.5; lift = 0.5 / 0.2 = 2.5
    y = np.array([1, 0] + [1, 1, 1] + [0] * 15)
    p = np.array([0.9, 0.8] + [0.5, 0.4, 0.3] + [0.1] * 15)
    assert churn.lift_top_decile(y, p) == pytest.approx(2.5)


def test_reliability_table_by_hand():
    # 4 rows in 2 bins, lowest risk first: (0.1, 0.2) with 0 churners -> predicted 0.15,
    # observed 0; (0.6, 0.8) with one churner -> predicted 0.7, observed 0.5
    t = churn.reliability_table(np.array([0, 0, 1, 0]), np.array([0.1, 0.2, 0.8, 0.6]), bins=2)
    assert [(r["rows"], r["predicted"], r["observed"]) for r in t] == [
        (2, pytest.approx(0.15), 0.0), (2, pytest.approx(0.7), 0.5)]


def test_platt_calibration_maps_scores_to_probabilities():
    # scores -2 and 2 with churn rates 10 % and 90 %: the fitted sigmoid is close to them
    s = np.array([-2.0] * 10 + [2.0] * 10)
    y = np.array([1] + [0] * 9 + [1] * 9 + [0])
    cal = churn.Calibrator.fit("platt", s, y)
    assert cal(np.array([-2.0, 2.0])) == pytest.approx([0.1, 0.9], abs=1e-3)
    iso = churn.Calibrator.fit("isotonic", s, y)
    assert iso(np.array([-2.0, 2.0])) == pytest.approx([0.1, 0.9])


def test_drivers_are_ranked_and_phrased():
    # contributions +0.8 (usage trend), -0.3 (NPS), +0.005 (ignored: below 0.01), bias last
    d = drivers(np.array([0.8, -0.3, 0.005, -2.0]), [-0.45, 9.0, 3.0], ["active_users_change_60d", "nps_last", "tickets_30d"], 3)
    assert [(x["feature"], x["effect"]) for x in d] == [("active_users_change_60d", 0.8), ("nps_last", -0.3)]
    assert d[0]["text"] == "active users down 45 % in 60 days"
    assert d[1]["text"] == "last NPS answer 9 (promoter)"
    assert phrase("tickets_30d", 3) == "3 tickets in 30 days"
    assert phrase("size", "SMB") == "size: SMB"
    assert phrase("days_since_last_activity", None) == "no recorded activity"


def test_monthly_hazard_from_a_horizon_risk():
    # a 3-month risk of 27.1 % is a monthly hazard of 1 - (1 - 0.271)^(1/3) = 1 - 0.9 = 10 %
    r, h = 0.271, 3
    assert 1 - (1 - r) ** (1 / h) == pytest.approx(0.1, abs=1e-3)


def test_lifetimes_by_hand():
    from retentio.predict.survival import lifetimes

    # a: customer Jan..Mar 2022 (line ends 2022-04-10): churns in April, lifetime 4 - 1 = 3 months
    # b: customer from Feb 2022, still a customer at L = 2022-06: censored at 6 - 2 + 1 = 5 months
    book = {"accounts": [{"account_id": "a", "name": "A"}, {"account_id": "b", "name": "B"}],
            "subscriptions": [
                {"subscription_id": "sa", "account_id": "a", "plan": "p", "start_date": date(2022, 1, 1),
                 "end_date": date(2022, 4, 10), "amount": 10.0, "billing_period_months": 1, "currency": "EUR", "is_trial": False},
                {"subscription_id": "sb", "account_id": "b", "plan": "p", "start_date": date(2022, 2, 1),
                 "end_date": None, "amount": 20.0, "billing_period_months": 1, "currency": "EUR", "is_trial": False}]}
    eng = engine_for(book)
    try:
        df = lifetimes(eng, Settings(), 2022 * 12 + 5, None)
    finally:
        eng.close()
    got = {r["account_id"]: (r["months"], r["churned"], r["mrr_last"]) for r in df.iter_rows(named=True)}
    assert got == {"a": (3.0, True, None), "b": (5.0, False, 20.0)}


# -- Telco benchmark ------------------------------------------------------------------------------
def test_telco_mapping():
    from retentio.predict.telco import load

    frame, y = load(TELCO)
    # SOURCE.md: 7 043 customers, 1 869 churned; the 11 blank TotalCharges (tenure 0) read as 0
    assert frame.height == 7043 and int(y.sum()) == 1869
    assert frame.filter(pl.col("tenure_months") == 0)["total_charges"].to_list() == [0.0] * 11


@pytest.mark.slow  # five LightGBM and five logistic fits on 7 043 rows
def test_telco_auc_floor():
    from retentio.predict.telco import benchmark

    res = benchmark(TELCO, folds=5, seed=42)
    # Floor 0.84: the low end of the 0.84-0.86 published for well-tuned models on this set; the
    # measured mean is about 0.848 with a fold std of about 0.01 (docs/prediction.md)
    assert res["auc_mean"] >= 0.84
    assert res["baseline_auc_mean"] >= 0.83
    assert set(res) >= {"dataset", "rows", "folds", "auc_mean", "auc_std", "model", "baseline_auc_mean"}


# -- CLI shapes on a small demo workspace ------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_ws(demo_workspace, tmp_path_factory):
    """A copy of the run's demo workspace (the same 300 accounts, 24 months, seed 7, ending
    2024-12; tests/conftest.py): the CLI writes models and risks into it."""
    import shutil

    path = tmp_path_factory.mktemp("predict-demo") / "ws"
    shutil.copytree(demo_workspace, path)
    return path


def _cli(*args: str):
    from typer.testing import CliRunner

    from retentio.cli.main import _load_commands, app

    _load_commands()
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.mark.slow
def test_cli_pinned_json_shapes(demo_ws):
    ws = str(demo_ws)
    ev = json.loads(_cli("predict", "evaluate", "--workspace", ws, "--horizon", "3", "--as-of", "2024-12-31", "--format", "json"))
    assert set(ev) >= {"horizon_months", "train_months", "test_months", "model", "baseline", "test_account_months",
                       "test_churned", "calibration"}
    assert set(ev["model"]) >= {"auc", "pr_auc", "brier", "lift_top_decile"}
    assert set(ev["baseline"]) >= {"auc", "pr_auc", "brier", "lift_top_decile"}
    assert len(ev["train_months"]) == 2 and len(ev["test_months"]) == 2 and ev["horizon_months"] == 3

    sc = json.loads(_cli("predict", "score", "--workspace", ws, "--as-of", "2024-12-31", "--format", "json"))
    assert sc and all(set(r) == {"account_id", "account_name", "risk", "drivers"} for r in sc)
    assert all(0 <= r["risk"] <= 1 for r in sc)
    assert [r["risk"] for r in sc] == sorted((r["risk"] for r in sc), reverse=True)
    assert all(set(d) == {"feature", "value", "effect", "text"} for r in sc for d in r["drivers"])
    assert (demo_ws / "models" / "churn-2024-12-31" / "model.txt").exists()
    meta = json.loads((demo_ws / "models" / "churn-2024-12-31" / "metadata.json").read_text())
    assert set(meta) >= {"training_window", "features", "evaluation", "calibration"}

    from retentio.service import Workspace

    stored = Workspace(demo_ws).churn_risk(as_of="2024-12-31")
    assert len(stored) == len(sc) and stored[0]["risk"] == pytest.approx(sc[0]["risk"], abs=5e-5)  # JSON: 4 significant digits

    ex = json.loads(_cli("predict", "explain", sc[0]["account_id"], "--workspace", ws, "--as-of", "2024-12-31", "--format", "json"))
    assert ex["account_id"] == sc[0]["account_id"] and ex["risk"] == pytest.approx(sc[0]["risk"]) and ex["rank"] == 1

    fm = json.loads(_cli("forecast", "mrr", "--workspace", ws, "--months", "12", "--as-of", "2024-12-31", "--format", "json"))
    assert len(fm["months"]) == 12 and fm["months"][0]["month"] == "2025-01"
    assert all(r["low"] <= r["median"] <= r["high"] for r in fm["months"])
    csv = _cli("forecast", "mrr", "--workspace", ws, "--months", "12", "--as-of", "2024-12-31", "--format", "csv")
    assert csv.splitlines()[0].startswith("month,expected,median,low,high") and len(csv.splitlines()) == 13
    # the simulation is seeded: the same forecast twice
    assert json.loads(_cli("forecast", "mrr", "--workspace", ws, "--as-of", "2024-12-31", "--format", "json")) == fm

    lt = json.loads(_cli("predict", "ltv", "--workspace", ws, "--as-of", "2024-12-31", "--by", "size", "--accounts",
                         "--format", "json"))
    assert len(lt["accounts"]) == len(sc)  # one row per customer at 2024-12-31, as scored
    assert all(0 <= a["remaining_lifetime_months"] <= lt["lifetime_cap_months"] for a in lt["accounts"])
    assert {g["segment"] for g in lt["segments"]} >= {"micro", "SMB"}
    for g in lt["segments"]:
        assert set(g) >= {"km_survival", "expected_lifetime_months", "survival_ltv", "arpa_churn_ltv", "remaining_ltv"}
        assert 0 < g["expected_lifetime_months"] <= lt["lifetime_cap_months"]

    rn = json.loads(_cli("forecast", "renewals", "--workspace", ws, "--days", "90", "--as-of", "2024-12-31", "--format", "json"))
    assert set(rn) >= {"count", "mrr", "mrr_at_risk", "renewals"}
    # forecasts re-scored the same month end: its stored risks were replaced, not appended
    assert len(Workspace(demo_ws).churn_risk(as_of="2024-12-31")) == len(sc)
    assert all("2025-01-01" <= r["renewal_date"] <= "2025-03-31" for r in rn["renewals"])

    bm = json.loads(_cli("predict", "benchmark", "telco", "--data", str(TELCO), "--folds", "2", "--seed", "1", "--format", "json"))
    assert set(bm) >= {"dataset", "rows", "folds", "auc_mean", "auc_std", "model", "baseline_auc_mean"}
    assert bm["dataset"] == "telco" and bm["rows"] == 7043 and bm["folds"] == 2


# -- errors ----------------------------------------------------------------------------------------
def test_errors_name_the_parameter_and_say_what_to_do(tmp_path):
    from retentio.errors import DataError, UsageError
    from retentio.service import Workspace

    ws = Workspace.init(tmp_path / "ws")
    with pytest.raises(UsageError, match="horizon 13") as e:
        ws.predict_evaluate(horizon=13)
    assert "1 to 12" in e.value.hint
    with pytest.raises(DataError, match="no paid subscription line") as e:
        ws.predict_evaluate(as_of="2024-12-31")
    assert "import subscriptions" in e.value.hint
    # 8 months of history cannot hold 3 history, fit, 3 calibration, 3 gap and 6 test months
    book = make_book("plain")
    short = _truncate(book, date(2022, 8, 31))
    eng = engine_for(short)
    try:
        ds = churn.build_dataset(eng, settings(), date(2022, 8, 31), 3)
        with pytest.raises(DataError, match="not enough history to train") as e:
            churn.time_split(ds, settings(), with_test=True)
    finally:
        eng.close()
    assert "predict.test_months" in e.value.hint


def test_forecast_simulation_by_hand():
    from retentio.predict.forecast import simulate

    # account 1: 100 forever; account 2: 50 until its recorded end (gone from month 2). No churn,
    # no movement, no new business: MRR is 150, 100, 100 in months 1..3 on every path.
    sched = np.array([[100.0, 100, 100, 100], [50, 50, 0, 0]])
    ex, new = simulate(sched, np.zeros(2), 0.0, 0.0, np.array([10.0]), 0.0, n=50, seed=1)
    assert (ex == np.array([150.0, 100, 100])).all() and (new == 0).all()
    # net rate 1 % a month: 100 x 1.01^2 = 102.01 in month 2
    ex, _ = simulate(sched[:1], np.zeros(1), 0.01, 0.0, np.array([10.0]), 0.0, n=10, seed=1)
    assert ex[:, 1] == pytest.approx(102.01)
    # monthly hazard 10 %: expected MRR in month 3 = 100 x 0.9^3 = 72.9 (s.e. of the mean over
    # 20 000 paths: 100 x sqrt(0.729 x 0.271 / 20000) = 0.31)
    ex, _ = simulate(sched[:1], np.array([0.1]), 0.0, 0.0, np.array([10.0]), 0.0, n=20000, seed=1)
    assert ex[:, 2].mean() == pytest.approx(72.9, abs=1.5)
    # 2 new accounts a month of 10 each, none leaving: month 3 holds 3 x 2 x 10 = 60 on average
    # (s.e.: 10 x sqrt(3 x 2 / 20000) = 0.17)
    _, new = simulate(np.zeros((0, 4)), np.zeros(0), 0.0, 2.0, np.array([10.0]), 0.0, n=20000, seed=1)
    assert new[:, 2].mean() == pytest.approx(60.0, abs=1.0)
    # same seed, same paths
    a, b = (simulate(sched, np.array([0.1, 0.2]), 0.01, 2.0, np.array([5.0, 15.0]), 0.05, n=100, seed=7) for _ in range(2))
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()


def test_expected_remaining_lifetime_by_hand():
    import pandas as pd

    from retentio.predict.survival import expected_remaining

    class Exponential:  # S(t) = exp(-t / 10): mean lifetime 10 months, memoryless
        def predict_survival_function(self, X, times):
            return pd.DataFrame({i: np.exp(-np.asarray(times) / 10) for i in range(len(X))}, index=times)

    # E[min(T, 120) - a | T > a] = 10 (1 - exp(-(120 - a) / 10)) = 10.000 for a = 0 and a = 24
    # (memoryless), and 10 (1 - exp(-1)) = 6.321 for a = 110 (the 120-month cap binds)
    got = expected_remaining(Exponential(), pd.DataFrame({"x": [0, 0, 0]}), [0, 24, 110], 120)
    assert got == pytest.approx([10.0, 10.0, 6.321], abs=0.02)
