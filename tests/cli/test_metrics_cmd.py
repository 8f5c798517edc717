"""retentio metrics / movements / explain / cohorts from the command line."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from retentio.cli import main as cli_main

cli_main._load_commands()
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(cli_main.app, list(args))


def test_metrics_json_has_every_documented_key(demo_workspace):
    r = invoke("metrics", "--workspace", str(demo_workspace), "--period", "2024-06", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    keys = (
        "period currency mrr arr customers arpa arpa_change mrr_start customers_start movements customers_new "
        "customers_churned customers_reactivated customer_churn_rate gross_mrr_churn_rate net_mrr_churn_rate nrr grr "
        "crr quick_ratio ltv ltv_variants cac ltv_cac crc ltv_crc cs_magic_number cs_headwind cs_tailwind cs_roi "
        "renewal_rate trial_conversion_rate expansion_share benchmarks"
    ).split()
    assert not [k for k in keys if k not in data]
    # metrics.md §3 (amended): the bridge has a signed currency-effect movement, fx
    assert set(data["movements"]) == {"new", "expansion", "contraction", "churn", "reactivation", "fx"}
    assert data["period"] == "2024-06" and data["currency"] == "EUR"
    # ARR is annualised per line before cent rounding: 12 x MRR up to half a cent per line
    assert data["arr"] == pytest.approx(12 * data["mrr"], abs=0.06 * data["customers"] * 3)
    for status in data["benchmarks"].values():
        assert status["status"] in ("good", "watch", "alarm") and status["reference"]


def test_metrics_csv_series_is_one_row_per_month(demo_workspace):
    r = invoke("metrics", "-w", str(demo_workspace), "--period", "2024-01..2024-06", "--series", "--format", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert [row["period"] for row in rows] == [f"2024-0{m}" for m in range(1, 7)]
    assert "movements.churn" in rows[0] and "nrr" in rows[0]


def test_metrics_by_and_filter(demo_workspace):
    r = invoke("metrics", "-w", str(demo_workspace), "-p", "2024-Q2", "--by", "industry", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["by"] == "industry" and data["groups"]
    one = next(iter(data["groups"]))
    r2 = invoke("metrics", "-w", str(demo_workspace), "-p", "2024-Q2", "--filter", f"industry={one}", "--format", "json")
    assert r2.exit_code == 0, r2.output
    assert json.loads(r2.output)["mrr"] == pytest.approx(data["groups"][one]["mrr"])


def test_metrics_table_shows_benchmark_status(demo_workspace):
    r = invoke("metrics", "-w", str(demo_workspace), "-p", "2024-06")
    assert r.exit_code == 0, r.output
    assert "Net revenue retention" in r.output and any(s in r.output for s in ("good", "watch", "alarm"))


def test_movements_explain_cohorts(demo_workspace):
    r = invoke("movements", "-w", str(demo_workspace), "-p", "2024-06", "--type", "churn", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)["rows"]
    assert all(m["type"] == "churn" and m["mrr_end"] == 0 for m in rows)
    r = invoke("movements", "-w", str(demo_workspace), "-p", "2024-06", "--format", "csv")
    assert r.exit_code == 0 and r.output.startswith("month,account_id,account_name,csm,type")
    r = invoke("explain", "nrr", "-w", str(demo_workspace), "-p", "2024-06")
    assert r.exit_code == 0, r.output
    assert "formula" in r.output and "recomputed from the inputs" in r.output
    r = invoke("cohorts", "-w", str(demo_workspace), "--through", "2024-12", "--format", "csv")
    assert r.exit_code == 0, r.output
    header = r.output.splitlines()[0].split(",")
    assert header[:4] == ["cohort", "segment", "size", "age_0"]
    r = invoke("cohorts", "-w", str(demo_workspace), "--through", "2024-12", "--grain", "quarter", "--segment", "size")
    assert r.exit_code == 0, r.output


def test_user_errors_are_one_line_with_exit_codes(demo_workspace, capsys, monkeypatch):
    import sys

    for argv, code in (
        (["metrics", "-w", str(demo_workspace), "-p", "2024-13"], 2),
        (["explain", "magic", "-w", str(demo_workspace), "-p", "2024-06"], 2),
        (["metrics", "-w", str(demo_workspace) + "-missing", "-p", "2024-06"], 1),
    ):
        monkeypatch.setattr(sys, "argv", ["retentio", *argv])
        with pytest.raises(SystemExit) as exc:
            cli_main.run()
        assert exc.value.code == code, argv
        err = capsys.readouterr().err
        assert "error:" in err and "hint:" in err and "Traceback" not in err
