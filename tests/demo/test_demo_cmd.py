"""`retentio demo`: creates a workspace, refuses to overwrite data without --force, replaces
it with --force, and reports rows per entity (table / json)."""

from __future__ import annotations

import json
import sys
import tomllib

from typer.testing import CliRunner

from retentio.cli import main as cli_main
from retentio.demo import VALUE_EVENT
from retentio.model import ENTITIES
from retentio.service import Workspace

cli_main._load_commands()
app = cli_main.app
runner = CliRunner()
SMALL = ["--accounts", "30", "--months", "4", "--seed", "9", "--end", "2024-06"]


def test_demo_creates_a_workspace_and_reports_rows(tmp_path):
    ws_dir = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--workspace", str(ws_dir), *SMALL, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["start_month"] == "2024-03" and report["end_month"] == "2024-06"  # 4 months ending 2024-06
    ws = Workspace(ws_dir)
    counts = ws.counts()
    assert counts["accounts"] == 30
    assert {k: report["rows"][k] for k in ENTITIES} == counts
    assert all(counts[k] > 0 for k in ENTITIES), counts
    # The demo points the engagement settings at its own events.
    saved = tomllib.loads((ws_dir / "retentio.toml").read_text())
    assert saved["engagement"]["value_event"] == VALUE_EVENT
    assert "api" in saved["engagement"]["complex_features"]


def test_demo_table_output(tmp_path):
    result = runner.invoke(app, ["demo", "-w", str(tmp_path / "d"), *SMALL])
    assert result.exit_code == 0, result.output
    assert "subscriptions" in result.stdout and "fx-rates" in result.stdout
    assert "signups" in result.stdout


def test_demo_refuses_existing_data_without_force_then_replaces_with_force(tmp_path, monkeypatch, capsys):
    ws_dir = tmp_path / "demo"
    assert runner.invoke(app, ["demo", "-w", str(ws_dir), *SMALL]).exit_code == 0
    before = Workspace(ws_dir).counts()

    # Through the console-script entry point: one error line, one hint line, exit code 1.
    monkeypatch.setattr(sys, "argv", ["retentio", "demo", "-w", str(ws_dir), *SMALL])
    capsys.readouterr()
    try:
        cli_main.run()
        code = 0
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error:") and "already holds data" in lines[0]
    assert lines[1].startswith("hint:") and "--force" in lines[1]
    assert Workspace(ws_dir).counts() == before  # nothing changed

    # --force replaces (twice in a row: `make demo` runs it on every call); never appends.
    for _ in range(2):
        result = runner.invoke(app, ["demo", "-w", str(ws_dir), "--force", "--accounts", "20", "--months", "3",
                                     "--end", "2024-06"])
        assert result.exit_code == 0, result.output
        assert Workspace(ws_dir).counts()["accounts"] == 20


def test_demo_fills_an_empty_existing_workspace(tmp_path):
    ws_dir = tmp_path / "empty"
    Workspace.init(ws_dir)
    result = runner.invoke(app, ["demo", "-w", str(ws_dir), *SMALL])
    assert result.exit_code == 0, result.output
    assert Workspace(ws_dir).counts()["accounts"] == 30


def test_demo_bad_end_month_is_a_usage_error(tmp_path):
    from retentio.errors import UsageError

    result = runner.invoke(app, ["demo", "-w", str(tmp_path / "x"), "--end", "2024/06"])
    assert isinstance(result.exception, UsageError) and result.exception.exit_code == 2
    assert "not a month" in str(result.exception)
    assert not (tmp_path / "x").exists()  # checked before anything is created
