"""`retentio init / upgrade / status`: happy paths through Typer's CliRunner, and the error
paths through the real console script (``retentio.cli.main.run`` maps errors to one line,
a hint and an exit code; ``app`` alone inside CliRunner would let the exception through)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retentio.cli import main as cli_main
from retentio.config import SCHEMA_VERSION

cli_main._load_commands()
app = cli_main.app
runner = CliRunner()
RETENTIO = Path(sys.executable).parent / "retentio"


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    if "RETENTIO_WORKSPACE" not in (env or {}):
        full_env.pop("RETENTIO_WORKSPACE", None)
    return subprocess.run([str(RETENTIO), *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=120)


def run_in_process(monkeypatch, capsys, *args: str) -> subprocess.CompletedProcess:
    """``retentio.cli.main.run()`` as the console script calls it, without a new interpreter
    (fast); returns the same shape as ``run_cli``."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["retentio", *args])
    code = 0
    try:
        cli_main.run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["retentio", *args], code, out.out, out.err)


def assert_one_line_error(proc: subprocess.CompletedProcess, exit_code: int, message: str, hint: str) -> None:
    assert proc.returncode == exit_code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr  # exactly: error line, hint line
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert lines[1].startswith("hint: ") and hint in lines[1], lines[1]
    assert "Traceback" not in proc.stderr + proc.stdout


# -- happy paths (CliRunner) ----------------------------------------------------------------
def test_init_then_status_table_and_json(workspace_dir):
    result = runner.invoke(app, ["init", "--workspace", str(workspace_dir), "--base-currency", "usd"])
    assert result.exit_code == 0, result.output
    assert "Workspace created" in result.stdout and "base currency USD" in result.stdout
    assert f"retentio import --workspace {workspace_dir}" in result.stdout
    for name in ("retentio.toml", "analytics.duckdb", "app.sqlite"):
        assert (workspace_dir / name).is_file()
    settings = tomllib.loads((workspace_dir / "retentio.toml").read_text(encoding="utf-8"))
    assert settings["workspace"]["base_currency"] == "USD"

    result = runner.invoke(app, ["status", "--workspace", str(workspace_dir)])
    assert result.exit_code == 0, result.output
    assert "accounts" in result.stdout and "quarantined rows: 0" in result.stdout
    from retentio.store import HEAD_REVISION

    assert f"revision {HEAD_REVISION}" in result.stdout

    result = runner.invoke(app, ["status", "-w", str(workspace_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["base_currency"] == "USD" and data["engine"] == "duckdb"
    assert data["rows"]["accounts"] == 0 and data["quarantined"] == 0
    from retentio.store import HEAD_REVISION

    assert data["app_database"]["revision"] == data["app_database"]["latest"] == HEAD_REVISION
    assert data["app_database"]["users"] == 0

    result = runner.invoke(app, ["status", "-w", str(workspace_dir), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "entity,rows"
    assert "accounts,0" in result.stdout.splitlines()


def test_upgrade_fixes_an_older_workspace(workspace_dir):
    assert runner.invoke(app, ["init", "-w", str(workspace_dir)]).exit_code == 0
    cfg = workspace_dir / "retentio.toml"
    cfg.write_text(cfg.read_text().replace(f"schema_version = {SCHEMA_VERSION}", "schema_version = 0"))

    result = runner.invoke(app, ["upgrade", "--workspace", str(workspace_dir)])
    assert result.exit_code == 0, result.output
    assert f"workspace format 0 -> {SCHEMA_VERSION}" in result.stdout
    assert "up to date" in result.stdout
    assert tomllib.loads(cfg.read_text())["workspace"]["schema_version"] == SCHEMA_VERSION
    assert runner.invoke(app, ["status", "-w", str(workspace_dir)]).exit_code == 0


def test_workspace_from_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RETENTIO_WORKSPACE", str(tmp_path / "env-ws"))
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert (tmp_path / "env-ws" / "retentio.toml").is_file()
    result = runner.invoke(app, ["status", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["workspace"] == str(tmp_path / "env-ws")


def test_help_has_examples():
    for cmd in ("init", "upgrade", "status"):
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0
        assert f"Example: retentio {cmd}" in result.stdout
        assert "--workspace" in result.stdout


# -- errors through the console script (run() maps them to exit codes) ------------------------
def test_missing_workspace_exit_1_with_hint(tmp_path):
    proc = run_cli("status", "--workspace", str(tmp_path / "nope"))
    assert_one_line_error(proc, 1, "no such workspace", f"retentio init --workspace {tmp_path / 'nope'}")


def test_older_workspace_status_says_upgrade_then_upgrade_works(tmp_path, monkeypatch, capsys):
    ws = tmp_path / "old"
    assert runner.invoke(app, ["init", "-w", str(ws)]).exit_code == 0
    cfg = ws / "retentio.toml"
    cfg.write_text(cfg.read_text().replace(f"schema_version = {SCHEMA_VERSION}", "schema_version = 0"))
    proc = run_cli("status", "-w", str(ws))
    assert_one_line_error(proc, 1, "made by an older Retentio", f"run `retentio upgrade --workspace {ws}`")
    proc = run_in_process(monkeypatch, capsys, "upgrade", "-w", str(ws))
    assert proc.returncode == 0, proc.stderr
    assert "workspace format 0 -> " in proc.stdout
    assert runner.invoke(app, ["status", "-w", str(ws)]).exit_code == 0


def test_invalid_setting_exit_1_names_it(workspace_dir, monkeypatch, capsys):
    assert runner.invoke(app, ["init", "-w", str(workspace_dir)]).exit_code == 0
    cfg = workspace_dir / "retentio.toml"
    cfg.write_text(cfg.read_text().replace('ltv_variant = "six_month_average"', 'ltv_variant = "foo"'))
    proc = run_in_process(monkeypatch, capsys, "status", "-w", str(workspace_dir))
    assert_one_line_error(proc, 1, "setting metrics.ltv_variant", "docs/configuration.md")


def test_init_twice_exit_1_and_bad_option_exit_2(workspace_dir, monkeypatch, capsys):
    assert runner.invoke(app, ["init", "-w", str(workspace_dir)]).exit_code == 0
    proc = run_in_process(monkeypatch, capsys, "init", "-w", str(workspace_dir))
    assert_one_line_error(proc, 1, "a workspace already exists here", "--force")
    proc = run_cli("init", "-w", str(workspace_dir.parent / "other"), "--base-currency", "EURO")
    assert_one_line_error(proc, 2, "--base-currency 'EURO'", "--base-currency EUR")
    assert not (workspace_dir.parent / "other").exists()


def test_debug_lets_the_exception_through(tmp_path, monkeypatch):
    """With --debug, run() re-raises (Python then prints the traceback) instead of one line."""
    from retentio.errors import ConfigError

    monkeypatch.setattr(sys, "argv", ["retentio", "--debug", "status", "--workspace", str(tmp_path / "nope")])
    with pytest.raises(ConfigError, match="no such workspace"):
        cli_main.run()


def test_unknown_option_is_a_usage_error_exit_2(workspace_dir):
    proc = run_cli("status", "-w", str(workspace_dir), "--format", "xml")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
