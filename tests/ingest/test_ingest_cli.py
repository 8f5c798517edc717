"""`retentio import` and `retentio quarantine`: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from ingest_helpers import CASES
from retentio.cli import main as cli_main

cli_main._load_commands()
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(cli_main.app, list(args))


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The real console entry (``retentio``), which turns errors into one line + exit code."""
    monkeypatch.setattr(sys, "argv", ["retentio", *args])
    with pytest.raises(SystemExit) as exc:
        cli_main.run()
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_import_table_report_exit_0_with_quarantined_rows(ws):
    w = str(ws.path)
    assert invoke("import", "--workspace", w, "accounts", str(CASES / "accounts.csv")).exit_code == 0
    res = invoke("import", "--workspace", w, "subscriptions", str(CASES / "stripe_subscriptions.csv"), "--as", "stripe")
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())  # Rich wraps lines at the terminal width
    assert "rows read" in out and "quarantined" in out and "unsupported_interval" in out
    assert "the import itself succeeded" in out and "retentio quarantine" in out


def test_import_json_report_equals_to_dict(ws):
    res = invoke("import", "-w", str(ws.path), "accounts", str(CASES / "accounts.csv"), "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert (data["entity"], data["rows_read"], data["rows_accepted"], data["rows_quarantined"]) == ("accounts", 3, 3, 0)
    assert data["attributes"] == ["industry", "country", "plan_tier"]
    assert set(data) >= {"entity", "file", "kind", "rows_read", "rows_accepted", "rows_quarantined", "reasons", "import_id", "replaced"}


def test_quarantine_listing_formats(ws, tmp_path):
    w = str(ws.path)
    bad = tmp_path / "a.csv"
    bad.write_text("account_id,name\n,NoId\na2,B\n,Again\n")
    invoke("import", "-w", w, "accounts", str(bad))
    res = invoke("quarantine", "-w", w, "accounts", "--format", "json")
    assert res.exit_code == 0
    rows = json.loads(res.output)
    assert [(r["row_number"], r["reason"], r["column"]) for r in rows] == [(1, "missing_value", "account_id"), (3, "missing_value", "account_id")]
    res = invoke("quarantine", "-w", w, "--format", "csv", "--limit", "1")
    lines = res.output.strip().splitlines()
    # The last column is the row as read (JSON), as docs/import-guide.md describes.
    assert lines[0] == "entity,file,row_number,column,value,reason,detail,raw" and len(lines) == 2
    res = invoke("quarantine", "-w", w, "accounts")
    assert res.exit_code == 0 and "a.csv" in res.output and "2 row(s)" in res.output


def test_fatal_error_is_one_line_and_exit_1(ws, tmp_path, monkeypatch, capsys):
    f = tmp_path / "s.csv"
    f.write_text("subscription_id,account_id\ns1,a1\n")
    code, out, err = run_cli(monkeypatch, capsys, "import", "--workspace", str(ws.path), "subscriptions", str(f))
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ") and str(f) in lines[0] and "missing required column" in lines[0]
    assert lines[1].startswith("hint: ") and len(lines) == 2
    assert "Traceback" not in err


def test_unknown_entity_exit_2(ws, monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, "import", "-w", str(ws.path), "customers", str(CASES / "accounts.csv"))
    assert code == 2 and "unknown entity 'customers'" in err and "hint: choose one of: accounts" in err


def test_bad_option_value_exit_2(ws):
    res = invoke("import", "-w", str(ws.path), "accounts", str(CASES / "accounts.csv"), "--as", "json")
    assert res.exit_code == 2


def test_help_has_examples():
    for cmd in ("import", "quarantine"):
        res = invoke(cmd, "--help")
        assert res.exit_code == 0 and "Example" in res.output and f"retentio {cmd} --workspace acme" in res.output
