"""Smoke test of the benchmark harness (issue 6): ``python -m bench.run --quick`` on a tiny
book produces results.json with the expected structure, and every implementation gives the
same figures.  No timing assertion: timings depend on the machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # runs the quick benchmark end to end (make test; make check leaves it out)
def test_quick_bench_produces_results_and_equal_figures(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--sizes", "150", "--months", "12", "--engines", "duckdb,polars",
         "--workloads", "retentio,floor,floor-waterfall,pandas,saas-metrics,incremental,floor-engagement,engagement-core", "--data", str(tmp_path / "data"),
         "--out", str(out), "--fresh"],
        cwd=ROOT, capture_output=True, text=True, timeout=170,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["machine"]["nproc"] >= 1
    size = results["sizes"]["150"]
    assert size["book"]["rows"]["accounts"] == 150
    runs = size["runs"]
    for key in ("retentio[duckdb]", "retentio[polars]", "floor", "floor-waterfall", "pandas", "saas-metrics", "incremental",
                "floor-engagement", "engagement-core[duckdb]", "engagement-core[polars]"):
        assert runs[key]["ok"], (key, runs[key].get("error"))
        assert runs[key]["wall_s"] > 0 and runs[key]["peak_rss_mb"] > 0
    # Retentio on DuckDB is the reference; every other implementation equals it month by month.
    checks = size["checks"]
    assert checks["reference"] == "retentio[duckdb]"
    for key in ("retentio[polars]", "floor", "floor-waterfall", "pandas", "saas-metrics",
                "engagement-core[duckdb] = floor-engagement", "engagement-core[polars] = floor-engagement"):
        assert checks[key]["equal"], (key, checks[key]["differences"])
    # engagement is compared on something: active users at the 12 month ends, features used
    eng = checks["engagement-core[duckdb] = floor-engagement"]
    assert eng["compared"] > 36 and eng["active_users"] > 0  # 12 month ends x DAU/WAU/MAU + features
    # The bridge is not trivially empty: the tiny book has customers and movements.
    start, new, react, exp, contr, churn, end = next(iter(runs["retentio[duckdb]"]["summary"]["waterfall_last_month"].values()))
    # metrics.md §3 (amended): the bridge includes Retentio's signed currency effect fx
    fx = next(iter(runs["retentio[duckdb]"]["summary"]["fx_last_month"].values()))
    assert end > 0 and start + new + react + exp - contr - churn + fx == end
    inc = runs["incremental"]["summary"]["incremental"]
    assert inc["mode"] == "incremental" and inc["equal_to_full_recompute"]
    assert set(size["ratios"]) >= {"retentio/floor", "retentio/floor-waterfall", "pandas/retentio", "saas-metrics/retentio"}
    assert (tmp_path / "results.svg").read_text().startswith("<svg")
