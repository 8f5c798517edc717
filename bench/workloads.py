"""The workloads of the benchmark, each run as a whole process (start-up included).

``python -m bench.workloads NAME PARAMS_JSON OUT_JSON`` runs one workload and writes its
result (figures for the cross-checks, internal timings).  The parent (bench.run) measures
the process's wall time and peak RSS with ``os.wait4``.

Adding a capability to the benchmark (health scores, the web app, ...) = one function
decorated with ``@workload(...)``: it receives the params dict and returns a JSON-able dict.
Module-level imports are standard library only, so that the floor's process pays nothing
for Retentio's imports.

Figures are compared in integer cents.  ``waterfall`` maps "YYYY-MM" to
[start, new, reactivation, expansion, contraction, churn, end] (cents).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

WATERFALL_KEYS = ("start", "new", "reactivation", "expansion", "contraction", "churn", "end")


@dataclass(frozen=True)
class Workload:
    name: str
    fn: Callable[[dict], dict]
    description: str
    # "retentio" workloads run once per engine; others once (their engine is fixed).
    per_engine: bool = False
    # Largest number of accounts it is run at (None: all sizes) - e.g. a slow baseline.
    max_accounts: int | None = None
    group: str = "metrics"
    tags: tuple[str, ...] = field(default=())
    # Engines it runs on when per_engine (None: every engine asked for).
    engines: tuple[str, ...] | None = None
    # Whether the workspace's figure cache (retentio.answers) may answer: off (the process
    # runs with RETENTIO_NO_CACHE=1) for every workload that measures a computation.
    figure_cache: bool = False
    # Start-up workloads: one discarded run first (it fills the figure cache), then the runs measured.
    warm_up: bool = False


REGISTRY: dict[str, Workload] = {}


def workload(name: str, description: str, **kw) -> Callable[[Callable[[dict], dict]], Callable[[dict], dict]]:
    def deco(fn: Callable[[dict], dict]) -> Callable[[dict], dict]:
        REGISTRY[name] = Workload(name, fn, description, **kw)
        return fn

    return deco


# -- helpers ------------------------------------------------------------------------------
def month_index(label: str) -> int:
    y, m = map(int, label.split("-"))
    return y * 12 + m - 1


def month_label(m: int) -> str:
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


def month_end(m: int) -> date:
    y, mo = divmod(m + 1, 12)
    return date(y, mo + 1, 1) - timedelta(days=1)


def cents(x) -> int:
    return int(round(float(x) * 100))


def months_of(p: dict) -> list[int]:
    a, b = p["period"].split("..")
    return list(range(month_index(a), month_index(b) + 1))


def _ws_db(p: dict) -> str:
    return p["workspace"] + "/analytics.duckdb"


# -- Retentio ---------------------------------------------------------------------------
@workload("retentio", "Retentio: metrics_series over the range (metrics.md §1-6, every month) + cohort triangle",
          per_engine=True)
def retentio_kpis(p: dict) -> dict:
    t0 = time.perf_counter()
    from retentio.service import Workspace

    ws = Workspace(p["workspace"])
    eng = p.get("engine", "duckdb")
    ws.engine(eng)  # Spark: the session starts here
    t1 = time.perf_counter()
    series = ws.metrics_series(p["period"], engine=eng)
    t2 = time.perf_counter()
    coh = ws.cohorts(engine=eng, through=p["period"].split("..")[1])
    t3 = time.perf_counter()
    waterfall, kpis, fx = {}, {}, {}
    for r in series:
        mv = r["movements"]
        waterfall[r["period"]] = [cents(r["mrr_start"])] + [cents(mv[k]) for k in WATERFALL_KEYS[1:6]] + [cents(r["mrr"])]
        fx[r["period"]] = cents(mv.get("fx", 0))
        kpis[r["period"]] = {
            "customers": r["customers"], "customers_start": r["customers_start"], "customers_new": r["customers_new"],
            "customers_churned": r["customers_churned"], "customers_reactivated": r["customers_reactivated"],
            "nrr": r["nrr"], "grr": r["grr"], "customer_churn_rate": r["customer_churn_rate"],
        }
    out = {
        "waterfall": waterfall, "fx": fx, "kpis": kpis, "cohort_rows": len(coh["rows"]),
        "cohort_sizes": {row["cohort"]: row["size"] for row in coh["rows"]},
        "timings": {"startup": t1 - t0, "series": t2 - t1, "cohorts": t3 - t2},
    }
    if eng == "spark":
        out["jvm_peak_rss_mb"] = _jvm_peak_rss_mb()
    return out


def _jvm_peak_rss_mb() -> float | None:
    """Peak RSS of the Spark JVM: a child of this process that it does not wait for, so the
    process's own peak RSS (what the runner measures) leaves it out."""
    from pyspark import SparkContext

    proc = getattr(SparkContext._gateway, "proc", None)
    if proc is None:
        return None
    try:
        for line in open(f"/proc/{proc.pid}/status"):
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


@workload("app", "Retentio web app and REST API (bench/app_bench.py): p95 over 200 requests of the overview, "
          "GET /api/v1/metrics?period=last, the portfolio's first page and an account 360; 20 clients for 30 s",
          group="app")
def retentio_app(p: dict) -> dict:
    import tempfile
    from pathlib import Path

    from bench import app_bench

    out = Path(tempfile.mkdtemp(prefix="retentio-app-bench-")) / "results-app.json"
    code = app_bench.main(["--workspace", p["workspace"], "--out", str(out)])
    result = next(iter(json.loads(out.read_text()).values()))
    result["exit_code"] = code
    return result


@workload("engagement", "Retentio engagement (metrics.md §9): DAU/WAU/MAU at every month end of the last 12 months, "
          "feature adoption, key-feature time, lifecycle, engagement score of the last month", per_engine=True,
          group="engagement", engines=("duckdb", "polars"))
def retentio_engagement(p: dict) -> dict:
    t0 = time.perf_counter()
    from retentio.service import Workspace

    eng = p.get("engine", "duckdb")
    ws = Workspace(p["workspace"], engine=eng)  # Workspace.engagement uses the workspace's engine
    ws.engine(eng)
    last = p["period"].split("..")[1]
    year = f"{month_label(month_index(last) - 11)}..{last}"
    out: dict = {"timings": {"startup": time.perf_counter() - t0}, "results": {}}
    for metric, period in (("usage", year), ("adoption", last), ("key-time", last), ("lifecycle", last), ("ces", last)):
        t = time.perf_counter()
        try:
            r = ws.engagement(metric, period=period, per_account=False)
            out["results"][metric] = "ok"
            if metric == "usage":
                out["mau_last"] = r["rows"][-1].get("mau") if r.get("rows") else None
        except Exception as exc:  # a capability still being written must not stop the benchmark
            out["results"][metric] = f"error: {type(exc).__name__}: {exc}"[:300]
        out["timings"][metric] = time.perf_counter() - t
    return out


# -- engagement §9 against its floor (issue 12) --------------------------------------------
# The floor: ONE hand-written DuckDB query over the raw events giving DAU / WAU / MAU (trailing
# windows) at the 12 last month ends and the feature adoption counts of the last month.
ENGAGEMENT_FLOOR_SQL = """
WITH pts AS (
    SELECT last_day(make_date(CAST(m // 12 AS INTEGER), CAST(m % 12 + 1 AS INTEGER), 1)) AS p
    FROM range({first}, {last} + 1) t(m)
),
win AS (
    SELECT p, 'dau' AS w, p AS lo FROM pts
    UNION ALL SELECT p, 'wau', p - 6 FROM pts
    UNION ALL SELECT p, 'mau', p - 29 FROM pts
),
ud AS (
    SELECT DISTINCT account_id, user_id, CAST(timestamp AS DATE) AS d FROM usage
    WHERE timestamp >= CAST((SELECT min(lo) FROM win) AS TIMESTAMP)
      AND timestamp < CAST((SELECT max(p) FROM pts) AS TIMESTAMP) + INTERVAL 1 DAY
),
active AS (
    SELECT strftime(win.p, '%Y-%m') AS k, win.w AS w, count(DISTINCT (ud.account_id, ud.user_id)) AS n,
           0 AS users, 0 AS events, 0 AS ms
    FROM ud JOIN win ON ud.d BETWEEN win.lo AND win.p GROUP BY ALL
),
adoption AS (
    SELECT feature AS k, 'adoption' AS w, count(DISTINCT account_id) AS n,
           count(DISTINCT (account_id, user_id)) AS users, count(*) AS events,
           sum(CAST(floor(coalesce(duration_seconds, 0) * 1000) AS BIGINT)) AS ms
    FROM usage
    WHERE timestamp >= CAST((SELECT date_trunc('month', max(p)) FROM pts) AS TIMESTAMP)
      AND timestamp < CAST((SELECT max(p) FROM pts) AS TIMESTAMP) + INTERVAL 1 DAY
      AND feature IS NOT NULL
    GROUP BY ALL
)
SELECT * FROM active UNION ALL SELECT * FROM adoption
"""


@workload("floor-engagement", "FLOOR of engagement §9: one hand-written DuckDB query over the raw events, DAU/WAU/MAU at "
          "the 12 last month ends and the last month's feature adoption counts", group="engagement")
def floor_engagement(p: dict) -> dict:
    ms = months_of(p)
    rows = _book_query({**p, "period": f"{month_label(ms[-12])}..{month_label(ms[-1])}"}, ENGAGEMENT_FLOOR_SQL)
    active = {f"{k} {w}": int(n) for k, w, n, *_ in rows if w != "adoption"}
    adoption = {k: [int(n), int(u), int(e), int(m)] for k, w, n, u, e, m in rows if w == "adoption"}
    return {"active": active, "adoption": adoption}


@workload("engagement-core", "Retentio engagement §9 as the floor gives it: `engagement usage` over the 12 last months "
          "(DAU/WAU/MAU at each month end) and `engagement adoption` of the last month, from the daily rollups",
          per_engine=True, group="engagement", engines=("duckdb", "polars"))
def engagement_core(p: dict) -> dict:
    from retentio.service import Workspace

    eng = p.get("engine", "duckdb")
    ws = Workspace(p["workspace"], engine=eng)
    last = p["period"].split("..")[1]
    year = f"{month_label(month_index(last) - 11)}..{last}"
    t = time.perf_counter()
    usage = ws.engagement("usage", period=year, per_account=False)
    t_usage = time.perf_counter() - t
    adoption = ws.engagement("adoption", period=last, per_account=False)
    active = {}
    for r in usage["rows"]:
        if r.get("account_id") is None:
            for w in ("dau", "wau", "mau"):
                active[f"{str(r['date'])[:7]} {w}"] = int(r[w])
    feats = {f["feature"]: [int(f["accounts_using"]), int(f["users_using"]), int(f["events"]), round(f["hours"] * 3_600_000)]
             for f in adoption["features"] if f["accounts_using"]}
    return {"active": active, "adoption": feats, "timings": {"usage": t_usage, "adoption": time.perf_counter() - t - t_usage}}


@workload("rollups", "Rollup maintenance: the daily usage rollups rebuilt from all events (what `retentio upgrade` "
          "does once), and recomputed for the days of the last week (what an import of that week pays); rolled back",
          group="engagement")
def rollups_cost(p: dict) -> dict:
    import duckdb

    from retentio import usage_rollups as rollups

    con = duckdb.connect(_ws_db(p))
    out: dict = {}
    try:
        con.execute("SET enable_progress_bar = false")
        # as an import or `retentio upgrade` runs it
        from retentio.warehouse import IMPORT_MEMORY_LIMIT

        con.execute(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")
        events = int(con.execute("SELECT count(*) FROM usage").fetchone()[0])
        con.execute("BEGIN TRANSACTION")
        t = time.perf_counter()
        rollups.refresh(con)
        full = time.perf_counter() - t
        con.execute("ROLLBACK")
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TEMP TABLE _week AS SELECT DISTINCT CAST(timestamp AS DATE) AS day FROM usage "
                    "WHERE timestamp >= (SELECT max(timestamp) FROM usage) - INTERVAL 7 DAY")
        week = int(con.execute("SELECT count(*) FROM usage WHERE CAST(timestamp AS DATE) IN (SELECT day FROM _week)").fetchone()[0])
        t = time.perf_counter()
        rollups.refresh(con, "_week")
        inc = time.perf_counter() - t
        con.execute("ROLLBACK")
        out = {"events": events, "full_s": full, "full_s_per_million": full / events * 1e6 if events else None,
               "week_events": week, "week_s": inc, "week_s_per_million": inc / week * 1e6 if week else None}
    finally:
        con.close()
    return out


# -- the floor ---------------------------------------------------------------------------
FLOOR_SQL = """
WITH months AS (
    SELECT m, last_day(make_date(CAST(m // 12 AS INTEGER), CAST(m % 12 + 1 AS INTEGER), 1)) AS snap
    FROM range({first}, {last} + 1) t(m)
),
rates AS (   -- the rate in force at each snapshot (latest dated on or before it)
    SELECT f.currency, mo.m, arg_max(f.rate, f.date) AS rate
    FROM fx_rates f JOIN months mo ON f.date <= mo.snap
    GROUP BY ALL
)
SELECT mo.m, sum(CAST(floor(s.amount / s.billing_period_months
                             * CASE WHEN s.currency = '{base}' THEN 1.0 ELSE r.rate END * 100 + 0.5) AS BIGINT)) AS mrr
FROM subscriptions s
JOIN months mo ON s.start_date <= mo.snap AND (s.end_date IS NULL OR s.end_date > mo.snap)
LEFT JOIN rates r ON r.currency = s.currency AND r.m = mo.m
WHERE NOT s.is_trial
GROUP BY mo.m ORDER BY mo.m
"""


@workload("floor", "FLOOR: one hand-written DuckDB query expanding subscription lines to months and summing MRR "
          "(FX at the snapshot, integer cents)")
def floor(p: dict) -> dict:
    return {"mrr": {month_label(int(m)): int(v) for m, v in _book_query(p, FLOOR_SQL)}}


def _book_query(p: dict, sql: str) -> list[tuple]:
    """Rows of a hand-written query over the book's months (read-only, the workload's own DuckDB)."""
    import duckdb

    ms = months_of(p)
    con = duckdb.connect(_ws_db(p), read_only=True)
    try:
        return con.execute(sql.format(first=ms[0], last=ms[-1], base=p.get("base", "EUR"))).fetchall()
    finally:
        con.close()


# The least work for the MRR waterfall alone (metrics.md §3), by hand: the account-month
# snapshot (the floor's expansion grouped by account), compared with itself a month earlier,
# each account's first paid month for new vs reactivation, summed per month.  Not a target
# of the issue: it tells how much of Retentio's distance to the floor is the waterfall's own
# cost (grouping millions of account-months and joining them) rather than Retentio's.
WATERFALL_SQL = """
WITH months AS (
    SELECT m, last_day(make_date(CAST(m // 12 AS INTEGER), CAST(m % 12 + 1 AS INTEGER), 1)) AS snap
    FROM range((SELECT least({first} - 1, min(year(start_date) * 12 + month(start_date) - 1))
                FROM subscriptions WHERE NOT is_trial), {last} + 1) t(m)
),
rates AS (
    SELECT f.currency, mo.m, arg_max(f.rate, f.date) AS rate
    FROM fx_rates f JOIN months mo ON f.date <= mo.snap
    GROUP BY ALL
),
a AS (   -- from the first month of the history, for the first paid month of each account
    SELECT s.account_id, mo.m, sum(CAST(floor(s.amount / s.billing_period_months
                 * CASE WHEN s.currency = '{base}' THEN 1.0 ELSE r.rate END * 100 + 0.5) AS BIGINT)) AS mrr
    FROM subscriptions s
    JOIN months mo ON s.start_date <= mo.snap AND (s.end_date IS NULL OR s.end_date > mo.snap)
    LEFT JOIN rates r ON r.currency = s.currency AND r.m = mo.m
    WHERE NOT s.is_trial
    GROUP BY ALL HAVING mrr > 0
),
firsts AS (SELECT account_id, min(m) AS f FROM a GROUP BY ALL),
mv AS (
    SELECT coalesce(e.account_id, p.account_id) AS account_id, coalesce(e.m, p.m + 1) AS m,
           coalesce(p.mrr, 0) AS s, coalesce(e.mrr, 0) AS e
    FROM (SELECT * FROM a WHERE m >= {first}) e
    FULL OUTER JOIN (SELECT * FROM a WHERE m < {last}) p ON e.account_id = p.account_id AND e.m = p.m + 1
)
SELECT mv.m, sum(s), sum(e) FILTER (WHERE s = 0 AND f >= m),
       sum(e) FILTER (WHERE s = 0 AND f < m), sum(e - s) FILTER (WHERE s > 0 AND e > s),
       sum(s - e) FILTER (WHERE e > 0 AND e < s), sum(s) FILTER (WHERE e = 0), sum(e)
FROM mv JOIN firsts USING (account_id)
GROUP BY mv.m ORDER BY mv.m
"""


@workload("floor-waterfall", "the least work for the MRR waterfall alone: one hand-written DuckDB query (account-"
          "month snapshot, compared with the month before, first paid month), not a target")
def floor_waterfall(p: dict) -> dict:
    return {"waterfall": {month_label(int(r[0])): [int(v or 0) for v in r[1:]] for r in _book_query(p, WATERFALL_SQL)}}


# -- naive pandas ------------------------------------------------------------------------
@workload("pandas", "naive pandas: the same KPIs as an analyst writes them (a loop over months on DataFrames)",
          max_accounts=None)
def naive_pandas(p: dict) -> dict:
    import duckdb
    import numpy as np
    import pandas as pd

    base = p.get("base", "EUR")
    con = duckdb.connect(_ws_db(p), read_only=True)
    subs = con.execute("SELECT * FROM subscriptions").df()
    fx = con.execute("SELECT * FROM fx_rates").df()
    con.close()
    paid = subs[~subs["is_trial"]]
    waterfall, kpis = {}, {}
    prev = pd.Series(dtype="int64")
    ever: set = set()
    first_month: dict = {}
    cohort_cells: dict = {}
    for m in months_of(p):
        snap = pd.Timestamp(month_end(m))
        act = paid[(paid["start_date"] <= snap) & (paid["end_date"].isna() | (paid["end_date"] > snap))]
        rates = fx[fx["date"] <= snap].sort_values("date").groupby("currency")["rate"].last()
        rate = act["currency"].map(rates)
        rate[act["currency"] == base] = 1.0
        if rate.isna().any():
            raise ValueError(f"missing FX rate at {snap.date()}")
        line_cents = np.floor(act["amount"] / act["billing_period_months"] * rate * 100 + 0.5).astype("int64")
        cur = line_cents.groupby(act["account_id"]).sum()
        cur = cur[cur > 0]
        both = pd.concat([prev.rename("s"), cur.rename("e")], axis=1).fillna(0).astype("int64")
        s, e = both["s"], both["e"]
        seen = both.index.isin(list(ever))
        is_new = (s == 0) & (e > 0) & ~seen
        is_react = (s == 0) & (e > 0) & seen
        is_exp = (s > 0) & (e > s)
        is_con = (e > 0) & (e < s)
        is_churn = (s > 0) & (e == 0)
        row = [int(s.sum()), int(e[is_new].sum()), int(e[is_react].sum()), int((e - s)[is_exp].sum()),
               int((s - e)[is_con].sum()), int(s[is_churn].sum()), int(e.sum())]
        label = month_label(m)
        waterfall[label] = row
        in_s = s > 0
        s_mrr = int(s[in_s].sum())
        n_s = int(in_s.sum())
        kpis[label] = {
            "customers": int((e > 0).sum()), "customers_start": n_s, "customers_new": int(is_new.sum()),
            "customers_churned": int(is_churn.sum()), "customers_reactivated": int(is_react.sum()),
            "nrr": None if s_mrr == 0 else int(e[in_s].sum()) / s_mrr,
            "grr": None if s_mrr == 0 else int(np.minimum(s, e)[in_s].sum()) / s_mrr,
            "customer_churn_rate": None if n_s == 0 else int((in_s & (e == 0)).sum()) / n_s,
        }
        # cohorts: first paid month of each account, MRR and logos by (cohort, age)
        for acc in cur.index[~cur.index.isin(list(first_month))]:
            first_month[acc] = m
        coh = cur.index.map(first_month)
        grouped = cur.groupby(coh).agg(["sum", "count"])
        for c, (mrr_sum, logos) in grouped.iterrows():
            cohort_cells[(int(c), m - int(c))] = (int(mrr_sum), int(logos))
        ever.update(cur.index)
        prev = cur
    sizes: dict = {}
    for c in first_month.values():
        sizes[month_label(c)] = sizes.get(month_label(c), 0) + 1
    return {"waterfall": waterfall, "kpis": kpis, "cohort_sizes": sizes}


# -- saas-metrics -------------------------------------------------------------------------
ACCOUNT_MONTH_SQL = FLOOR_SQL.replace("SELECT mo.m, sum(", "SELECT s.account_id, mo.m, sum(").replace(
    "GROUP BY mo.m ORDER BY mo.m", "GROUP BY s.account_id, mo.m HAVING sum(CAST(floor(s.amount / s.billing_period_months "
    "* CASE WHEN s.currency = '{base}' THEN 1.0 ELSE r.rate END * 100 + 0.5) AS BIGINT)) > 0"
)


@workload("saas-metrics", "saas-metrics 0.1.0 analyze() fed the account-month MRR of the book (computed in the same "
          "process with one DuckDB query)")
def saas(p: dict) -> dict:
    import duckdb
    import saas_metrics as sm

    t0 = time.perf_counter()
    ms = months_of(p)
    con = duckdb.connect(_ws_db(p), read_only=True)
    sql = ACCOUNT_MONTH_SQL.format(first=ms[0], last=ms[-1], base=p.get("base", "EUR"))
    df = con.execute(
        f"SELECT account_id AS customer_id, strftime(last_day(make_date(CAST(m // 12 AS INTEGER), "
        f"CAST(m % 12 + 1 AS INTEGER), 1)), '%Y-%m-%d') AS period, mrr / 100.0 AS revenue FROM ({sql})"
    ).df()
    con.close()
    t1 = time.perf_counter()
    rep = sm.analyze(df, grain="month", allow_warnings=True, today=month_end(ms[-1]))
    t2 = time.perf_counter()
    if not rep.ok:
        raise RuntimeError("saas-metrics refused the input: " + "; ".join(c.detail for c in rep.blocking))
    w = rep.waterfall
    waterfall, kpis = {}, {}
    for r in w.itertuples(index=False):
        label = str(r.period_end)[:7]
        waterfall[label] = [cents(r.beginning), cents(r.new_logo), cents(r.reactivation), cents(r.expansion),
                            cents(r.contraction), cents(r.churn), cents(r.ending)]
        kpis[label] = {"customers": int(r.active_logos), "customers_new": int(r.new_logos),
                       "customers_churned": int(r.churned_logos), "customers_reactivated": int(r.reactivated_logos)}
    return {"waterfall": waterfall, "kpis": kpis, "input_rows": len(df),
            "timings": {"input": t1 - t0, "analyze": t2 - t1},
            "checks": [f"{c.level}: {c.name}: {c.detail}" for c in rep.checks if c.level != "info"]}


# -- incremental refresh ------------------------------------------------------------------
@workload("incremental", "incremental refresh: one more day (new customers, cancellations, upgrades, a day of usage "
          "events) imported into a copy of the book (the subscriptions import keeps the stored change table), then "
          "the figures of the months it changed", max_accounts=100_000, group="refresh")
def incremental(p: dict) -> dict:
    import csv
    import random
    import shutil
    from pathlib import Path

    from retentio.service import Workspace

    scratch = Path(p["scratch"])
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(p["workspace"], scratch / "ws")
    ws = Workspace(scratch / "ws")
    through = p["period"].split("..")[1]
    day = month_end(month_index(through))  # the book's last day, lived again with more events
    t = time.perf_counter()
    ws.refresh(figures=False, full=True)  # what the first import of the book paid to build the change table
    initial = time.perf_counter() - t

    rng = random.Random(11)
    open_lines = ws.warehouse.query(
        "SELECT subscription_id, account_id, plan, start_date, amount, billing_period_months, currency FROM subscriptions "
        "WHERE NOT is_trial AND end_date IS NULL AND start_date < ? ORDER BY subscription_id", [day])
    picked = rng.sample(open_lines, min(50, len(open_lines)))
    subs, accounts, usage = [], [], []
    for i, r in enumerate(picked):
        subs.append({**r, "start_date": r["start_date"].isoformat(), "end_date": day.isoformat(), "is_trial": "false"})
        if i >= 30:  # 20 upgrades: the old line ends, a dearer one starts the same day
            subs.append({**r, "subscription_id": r["subscription_id"] + "_up", "start_date": day.isoformat(),
                         "end_date": "", "amount": round(r["amount"] * 1.2, 2), "is_trial": "false"})
    for i in range(20):  # 20 new customers
        acc = f"bench_new_{i}"
        accounts.append({"account_id": acc, "name": f"New {i}"})
        subs.append({"subscription_id": f"{acc}_1", "account_id": acc, "plan": "starter-monthly",
                     "start_date": day.isoformat(), "end_date": "", "amount": 99.0, "billing_period_months": 1,
                     "currency": "EUR", "is_trial": "false"})
    n_events = int(p.get("events_per_day", 20_000))
    customers = list({r["account_id"] for r in open_lines})
    for i in range(n_events):
        acc = customers[rng.randrange(len(customers))]
        usage.append({"account_id": acc, "user_id": f"{acc}_u{rng.randrange(5)}",
                      "timestamp": f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{i % 60:02d}",
                      "event": "feature_used", "feature": "reports", "duration_seconds": rng.randrange(10, 900)})

    def write(name, rows):
        path = scratch / f"{name}.csv"
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        return path

    t = time.perf_counter()
    ws.import_file("accounts", write("accounts", accounts))
    rep = ws.import_file("subscriptions", write("subscriptions", subs)).change_table
    ws.import_file("usage", write("usage", usage))
    imported = time.perf_counter() - t
    # the figures of the months the day changed, read from the stored change table ...
    period = f"{rep['from_month']}..{through}"
    t, c = time.perf_counter(), time.process_time()
    figures = ws.metrics_series(period)
    figures_s, figures_cpu_s = time.perf_counter() - t, time.process_time() - c
    # ... and computed again from every line (Polars reads no stored table)
    t = time.perf_counter()
    full = ws.metrics_series(period, engine="polars")
    full_s = time.perf_counter() - t
    out = {"incremental": {
        "initial_build_s": initial, "import_day_s": imported,
        "refresh_s": rep["seconds"]["total"] + figures_s, "change_table_s": rep["seconds"]["total"],
        "figures_s": figures_s, "figures_cpu_s": figures_cpu_s, "full_series_same_months_s": full_s,
        "mode": rep["mode"], "from_month": rep["from_month"], "through": through,
        "accounts_recomputed": rep["accounts_recomputed"], "rows_written": rep["rows_written"],
        "refresh_parts_s": rep["seconds"], "months_refreshed": len(figures),
        "equal_to_full_recompute": figures == full,
        "lines_changed": len(subs), "events_imported": n_events,
    }}
    ws.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return out


# -- import throughput --------------------------------------------------------------------
# Run at every size: plain CSV and Parquet are imported in batches, so an import's memory
# is bounded by the batch size (~1.1-1.4 GB at 21 M usage rows), not by the file.  The
# workspace's disk needs ~125 bytes a row of temporary space while a large import runs.
@workload("import", "CLI import throughput: `retentio import` of accounts, subscriptions, usage and FX rates into a "
          "fresh workspace, each a separate process", group="import")
def import_cli(p: dict) -> dict:
    """Runs the CLI as child processes and times each (this process only orchestrates)."""
    import os
    import shutil
    import subprocess

    files, target = p["files"], p["target"]
    exe = os.path.join(os.path.dirname(sys.executable), "retentio")
    # Each import runs under the bare launcher, which reports the import's own wall time and
    # peak RSS (bench/launch.py says why a plain child would not).
    launcher = [sys.executable, "-S", os.path.join(os.path.dirname(os.path.abspath(__file__)), "launch.py")]
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([exe, "init", "--workspace", target], check=True, capture_output=True)
    out = {}
    for entity, table in (("accounts", "accounts"), ("fx-rates", "fx_rates"), ("subscriptions", "subscriptions"),
                          ("usage", "usage")):
        path = files[table]
        stat_file = f"{target}.{entity}.stat"
        proc = subprocess.Popen([*launcher, stat_file, exe, "import", entity, path, "--workspace", target,
                                 "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = proc.communicate()
        with open(stat_file) as f:
            stat = json.load(f)
        os.unlink(stat_file)
        if stat["exit"] != 0:
            raise RuntimeError(f"import {entity} failed: {stderr.decode()[-500:]}")
        report = json.loads(stdout)
        rows, wall = int(report.get("rows_read", 0)), stat["wall_s"]
        out[entity] = {"rows": rows, "seconds": wall, "rows_per_s": rows / wall if wall else None,
                       "peak_rss_mb": round(stat["maxrss_kb"] / 1024, 1),
                       "accepted": report.get("rows_accepted"), "quarantined": report.get("rows_quarantined")}
    shutil.rmtree(target, ignore_errors=True)
    return {"entities": out}


# -- text sentiment throughput (issue 15) --------------------------------------------------
# The book is not used: the texts are the project's support sentences (FR and EN, 40-110
# characters) numbered so that no two are equal, scored in one process on one core.
@workload("sentiment", "text sentiment throughput: 50 000 support-like FR/EN texts scored by the trained model "
          "(language detected) and by the lexicon scorer", max_accounts=10_000, group="satisfaction")
def sentiment_throughput(p: dict) -> dict:
    t0 = time.perf_counter()
    from retentio.satisfaction import sentiment as S
    from retentio.satisfaction import sentiment_model
    from retentio.satisfaction.sentiment_eval import load_support

    base = [t for t, _, _ in load_support()]
    n = int(p.get("texts", 50_000))
    texts = [f"{base[i % len(base)]} (#{i})" for i in range(n)]
    sentiment_model.load()
    S.lexicon("en"), S.lexicon("fr")
    out: dict = {"timings": {"startup": time.perf_counter() - t0}, "results": {"texts": n}}
    for model in ("trained", "lexicon"):
        t, c = time.perf_counter(), time.process_time()
        scored = S.score_texts(texts, model=model)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        out["timings"][model] = dt
        out["results"][f"{model}_texts_per_s"] = round(n / dt)
        # CPU time of this process: the rate on one core when other processes share the machine
        out["results"][f"{model}_texts_per_cpu_s"] = round(n / dc)
        out["results"][f"{model}_positive_share"] = round(sum(s.label == "positive" for s in scored) / n, 4)
    out["texts_per_s"] = {m: out["results"][f"{m}_texts_per_s"] for m in ("trained", "lexicon")}
    return out
# -- start-up (issue 11: `retentio --help` < 0.3 s, `retentio metrics --period last` < 0.6 s) ------
def _cli(argv: list[str]) -> int:
    """Run the console script in this process (its imports are what is measured), output discarded."""
    import contextlib
    import io

    sys.argv = ["retentio", *argv]
    from retentio.cli.main import run

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            run()
        except SystemExit as exc:
            return int(exc.code or 0)
    return 0


@workload("startup-help", "start-up: the whole `retentio --help` process (imports, command registration)",
          group="startup", max_accounts=10_000)
def startup_help(p: dict) -> dict:
    return {"exit": _cli(["--help"])}


def _metrics_argv(p: dict) -> list[str]:
    last = p["period"].split("..")[1]
    return ["metrics", "--workspace", p["workspace"], "--period", "last", "--as-of", _month_end(last)]


def _month_end(label: str) -> str:
    import calendar

    y, m = map(int, label.split("-"))
    return f"{label}-{calendar.monthrange(y, m)[1]:02d}"


@workload("startup-metrics", "start-up: the whole `retentio metrics --period last` process (table output), "
          "warm: its answer in the workspace's figure cache (a discarded run first)", group="startup",
          max_accounts=10_000, figure_cache=True, warm_up=True)
def startup_metrics(p: dict) -> dict:
    return {"exit": _cli(_metrics_argv(p))}


@workload("startup-metrics-cold", "start-up: the whole `retentio metrics --period last` process (table output), "
          "cold: the figure cache emptied first, as an import does", group="startup", max_accounts=10_000,
          figure_cache=True)
def startup_metrics_cold(p: dict) -> dict:
    import shutil
    from pathlib import Path

    shutil.rmtree(Path(p["workspace"]) / ".cache" / "figures", ignore_errors=True)
    return {"exit": _cli(_metrics_argv(p))}


def main(argv: list[str]) -> int:
    name, params, out = argv[0], json.loads(argv[1]), argv[2]
    t = time.perf_counter()
    result = REGISTRY[name].fn(params)
    result["inner_seconds"] = time.perf_counter() - t
    with open(out, "w") as f:
        json.dump(result, f, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

