"""Daily usage rollups (issue 12): engagement from the rollups = engagement from the raw events,
and the warehouse keeps the rollups exact through incremental imports, re-imports and --replace."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

import narwhals as nw
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from retentio.config import Settings
from retentio.engagement import active_users, feature_adoption
from retentio.usage_rollups import DAILY, DAILY_ACTIVE, daily_active, daily_rollup
from retentio.engagement.usage import window_days
from retentio.metrics.periods import parse_period
from retentio.service import Workspace

START = datetime(2024, 2, 20)
POINTS = [date(2024, 2, 29), date(2024, 3, 31)]

event = st.fixed_dictionaries({
    "account_id": st.sampled_from(["A", "B", "C"]),
    "user_id": st.sampled_from(["u1", "u2", "u3"]),
    "timestamp": st.integers(0, 45 * 24 * 60 - 1).map(lambda m: START + timedelta(minutes=m)),
    "event": st.sampled_from(["click", "login"]),
    "feature": st.sampled_from([None, "reports", "export"]),
    "duration_seconds": st.one_of(st.none(), st.floats(0, 5000, allow_nan=False).map(lambda x: round(x, 3))),
})


def oracle_active(events, points, mode="trailing"):
    """DAU/WAU/MAU per point, overall, by hand: distinct (account, user) with an event in the window."""
    out = {}
    for p in points:
        out[p] = {}
        for k in ("dau", "wau", "mau"):
            days = set(window_days(p, k, mode))
            out[p][k] = len({(e["account_id"], e["user_id"]) for e in events if e["timestamp"].date() in days})
    return out


def oracle_adoption(events, first, last):
    ev = [e for e in events if first <= e["timestamp"].date() <= last]
    acc, usr, n, ms = defaultdict(set), defaultdict(set), defaultdict(int), defaultdict(int)
    for e in ev:
        f = e["feature"]
        if f is None:
            continue
        acc[f].add(e["account_id"])
        usr[f].add((e["account_id"], e["user_id"]))
        n[f] += 1
        ms[f] += int((e["duration_seconds"] or 0.0) * 1000 // 1)
    return {f: (len(acc[f]), len(usr[f]), n[f], ms[f] / 3_600_000) for f in acc}


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event, max_size=60))
def test_rollup_results_equal_raw_event_results(make_engine, events):
    eng = make_engine({"usage": events})
    s = Settings()
    for mode in ("trailing", "calendar"):
        s.engagement.active_window = mode
        rows = [r for r in active_users(eng, s, POINTS, per_account=False)]
        want = oracle_active(events, POINTS, mode)
        assert {r["date"]: {k: r[k] for k in ("dau", "wau", "mau")} for r in rows} == want
    got = feature_adoption(eng, s, parse_period("2024-03"))
    want = oracle_adoption(events, date(2024, 3, 1), date(2024, 3, 31))
    assert {f["feature"]: (f["accounts_using"], f["users_using"], f["events"], f["hours"])
            for f in got["features"] if f["accounts_using"]} == want


def _rollups(ws: Workspace) -> tuple[list, list]:
    q = ws.warehouse.query
    return (q(f"SELECT * FROM {DAILY} ORDER BY ALL"), q(f"SELECT * FROM {DAILY_ACTIVE} ORDER BY ALL"))


def _recomputed(ws: Workspace) -> tuple[list, list]:
    """The rollups computed from scratch from the usage table (the definition, on Polars)."""
    usage = pl.from_arrow(ws.warehouse.arrow("usage"))
    daily = daily_rollup(nw.from_native(usage.lazy()))
    active = daily_active(daily)
    d = daily.collect().to_native().sort(pl.all())
    a = active.collect().to_native().sort(pl.all())
    return (d.select("account_id", "user_id", "day", "feature", "events", "duration_ms").to_dicts(),
            a.select("account_id", "day", "users").to_dicts())


def _csv(path, rows):
    path.write_text("account_id,user_id,timestamp,event,feature,duration_seconds\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def test_incremental_rollups_stay_exact(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    (tmp_path / "a.csv").write_text("account_id,name\nA,A\nB,B\n")
    ws.import_file("accounts", tmp_path / "a.csv")
    assert _rollups(ws) == ([], [])
    day1 = _csv(tmp_path / "d1.csv", [("A", "u1", "2024-03-01T09:00:00", "click", "reports", "10.5"),
                                       ("A", "u1", "2024-03-01T10:00:00", "click", "reports", "1.25"),
                                       ("A", "u2", "2024-03-01T11:00:00", "login", "", ""),
                                       ("B", "b1", "2024-03-02T08:00:00", "click", "export", "3")])
    ws.import_file("usage", day1)
    daily, active = _rollups(ws)
    # A/u1/2024-03-01/reports: 2 events, floor(10500) + floor(1250) = 11 750 ms
    assert {"account_id": "A", "user_id": "u1", "day": date(2024, 3, 1), "feature": "reports", "events": 2,
            "duration_ms": 11750} in daily
    # A had 2 distinct users on 1 March; B 1 on 2 March.
    assert active == [{"account_id": "A", "day": date(2024, 3, 1), "users": 2},
                      {"account_id": "B", "day": date(2024, 3, 2), "users": 1}]
    assert (daily, active) == _recomputed(ws)
    # A second file touching 2 March again and 3 March: only those days are recomputed.
    day2 = _csv(tmp_path / "d2.csv", [("B", "b2", "2024-03-02T09:00:00", "click", "export", "1"),
                                       ("A", "u1", "2024-03-03T09:00:00", "click", "", "")])
    ws.import_file("usage", day2)
    daily, active = _rollups(ws)
    assert {"account_id": "B", "day": date(2024, 3, 2), "users": 2} in active  # b1 (first file) + b2
    assert (daily, active) == _recomputed(ws)
    # Re-importing the first file with a changed duration upserts the events: still exact.
    day1b = _csv(tmp_path / "d1.csv", [("A", "u1", "2024-03-01T09:00:00", "click", "reports", "20"),
                                        ("A", "u1", "2024-03-01T10:00:00", "click", "reports", "1.25"),
                                        ("A", "u2", "2024-03-01T11:00:00", "login", "", ""),
                                        ("B", "b1", "2024-03-02T08:00:00", "click", "export", "3")])
    ws.import_file("usage", day1b)
    daily, active = _rollups(ws)
    assert next(r for r in daily if r["feature"] == "reports")["duration_ms"] == 21250  # 20 000 + 1 250
    assert (daily, active) == _recomputed(ws)
    # --replace: the whole usage table is the new file, the rollups follow.
    ws.import_file("usage", day2, replace=True)
    assert _rollups(ws) == _recomputed(ws)
    assert sorted(r["day"] for r in _rollups(ws)[1]) == [date(2024, 3, 2), date(2024, 3, 3)]


def test_workspace_engine_reads_the_stored_rollups(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    (tmp_path / "a.csv").write_text("account_id,name\nA,A\n")
    ws.import_file("accounts", tmp_path / "a.csv")
    ws.import_file("usage", _csv(tmp_path / "u.csv", [("A", "u1", "2024-03-31T09:00:00", "click", "reports", "1"),
                                                       ("A", "u2", "2024-03-10T09:00:00", "click", "", "")]))
    # The stored table is what the engine reads: blank it and the figures follow it.
    with ws.warehouse.connect() as con:
        con.execute(f"DELETE FROM {DAILY} WHERE user_id = 'u2'")
    ws.close()
    rows = active_users(ws.engine("duckdb"), Settings(), [date(2024, 3, 31)], per_account=False)
    assert (rows[0]["dau"], rows[0]["mau"]) == (1, 1)  # u2 only in the raw events now, not in the rollup


def test_upgrade_builds_missing_rollups(tmp_path):
    from retentio import workspace as layout

    ws = Workspace.init(tmp_path / "ws")
    (tmp_path / "a.csv").write_text("account_id,name\nA,A\n")
    ws.import_file("accounts", tmp_path / "a.csv")
    ws.import_file("usage", _csv(tmp_path / "u.csv", [("A", "u1", "2024-03-31T09:00:00", "click", "reports", "1")]))
    with ws.warehouse.connect() as con:  # a workspace of format 2 made before the rollups
        con.execute(f"DROP TABLE {DAILY}")
        con.execute(f"DROP TABLE {DAILY_ACTIVE}")
    ws.close()
    # Until upgraded, engagement derives the rollups from the raw events ...
    rows = active_users(Workspace(tmp_path / "ws").engine("duckdb"), Settings(), [date(2024, 3, 31)], per_account=False)
    assert rows[0]["dau"] == 1
    # ... and `retentio upgrade` builds them.
    layout.upgrade(tmp_path / "ws")
    ws = Workspace(tmp_path / "ws")
    assert _rollups(ws) == _recomputed(ws)
    assert _rollups(ws)[1] == [{"account_id": "A", "day": date(2024, 3, 31), "users": 1}]


def test_day_ranges_hold_at_most_the_limit():
    from retentio.usage_rollups import day_ranges

    counts = [(1, 4), (2, 3), (3, 5), (4, 12), (5, 1), (6, 2)]
    # 4 + 3 <= 8; 5 alone (3 + 5... starts a new range after 7); 12 > 8 alone; 1 + 2
    assert day_ranges(counts, limit=8) == [[1, 2], [3], [4], [5, 6]]
    assert day_ranges([], limit=8) == []


def test_rollups_in_many_passes_equal_the_definition(tmp_path, monkeypatch):
    """A book too large for one statement is rolled up a range of days at a time
    (EVENTS_PER_PASS): full rebuild and an import touching some days stay exact."""
    from retentio import usage_rollups

    Workspace.demo(tmp_path / "ws", accounts=40, months=3, seed=2, end_month="2024-03", events_per_user_month=6)
    ws = Workspace(tmp_path / "ws")
    monkeypatch.setattr(usage_rollups, "EVENTS_PER_PASS", 25)  # dozens of passes
    with ws.warehouse.connect() as con:
        done = usage_rollups.refresh(con)
    assert done["passes"] > 10 and done["events"] == ws.warehouse.count("usage")
    assert _same(_rollups(ws), _recomputed(ws))
    day = _csv(tmp_path / "d.csv", [("acc_00001", "x1", "2024-02-10T09:00:00", "click", "reports", "2"),
                                     ("acc_00002", "x2", "2024-03-05T09:00:00", "login", "", "")])
    ws.import_file("usage", day)
    assert _same(_rollups(ws), _recomputed(ws))


def _same(a: tuple[list, list], b: tuple[list, list]) -> bool:
    """Equal as collections of rows (DuckDB and Polars order null features differently)."""
    return all(sorted(map(repr, x)) == sorted(map(repr, y)) for x, y in zip(a, b)) and all(a) and all(b)
