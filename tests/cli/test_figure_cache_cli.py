"""retentio metrics from the figure cache: the same bytes as a fresh computation, in every
format, and a warm run that imports none of the data libraries."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retentio import answers
from retentio.cli import main as cli_main
from retentio.service import Workspace

cli_main._load_commands()
runner = CliRunner()
LAST = ("--period", "last", "--as-of", "2024-12-31")
HEAVY = ("duckdb", "pyarrow", "numpy", "polars", "narwhals", "pandas")


@pytest.fixture
def ws_path(demo_workspace, tmp_path) -> Path:
    path = tmp_path / "ws"
    shutil.copytree(demo_workspace, path, ignore=shutil.ignore_patterns(".cache"))
    return path


def invoke(*args: str) -> str:
    r = runner.invoke(cli_main.app, list(args))
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
@pytest.mark.parametrize("extra", [(), ("--by", "industry"), ("--filter", "touch=high"),
                                   ("--series", "--period", "2024-07..2024-12")],
                         ids=["period", "by", "filter", "series"])
def test_cold_and_warm_outputs_are_the_same_bytes(ws_path, fmt, extra, monkeypatch):
    args = ["metrics", "-w", str(ws_path), *LAST, *extra, "--format", fmt]
    monkeypatch.setenv("RETENTIO_NO_CACHE", "1")
    fresh = invoke(*args)
    monkeypatch.delenv("RETENTIO_NO_CACHE")
    cold = invoke(*args)  # computed and stored
    assert any(p for p in (ws_path / answers.CACHE_DIR).glob("*.json") if not p.name.startswith("settings-"))

    def boom(self, *a, **k):
        raise AssertionError("computed instead of read from the figure cache")

    monkeypatch.setattr(Workspace, "engine", boom)
    warm = invoke(*args)
    assert fresh == cold == warm


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
@pytest.mark.parametrize("args", [("cohorts", "--measure", "mrr", "--as-of", "2024-12-31"),
                                  ("engagement", "usage", "--period", "last", "--as-of", "2024-12-31")],
                         ids=["cohorts", "engagement-usage"])
def test_cohorts_and_engagement_usage_cold_and_warm_are_the_same_bytes(ws_path, fmt, args, monkeypatch):
    argv = [*args, "-w", str(ws_path), "--format", fmt]
    monkeypatch.setenv("RETENTIO_NO_CACHE", "1")
    fresh = invoke(*argv)
    monkeypatch.delenv("RETENTIO_NO_CACHE")
    cold = invoke(*argv)

    def boom(self, *a, **k):
        raise AssertionError("computed instead of read from the figure cache")

    monkeypatch.setattr(Workspace, "engine", boom)
    assert fresh == cold == invoke(*argv)


def test_a_warm_metrics_process_imports_no_data_library(ws_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    env.pop("RETENTIO_NO_CACHE", None)
    argv = ["metrics", "--workspace", str(ws_path), *LAST]
    script = (
        "import sys\n"
        f"sys.argv = ['retentio', *{argv!r}]\n"
        "from retentio.cli.main import run\n"
        "try:\n    run()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    cold = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert cold.returncode == 0, cold.stderr
    # the first run computes, on DuckDB, with its small results read as Python rows: no
    # Polars, Arrow or NumPy (about 0.1 s of a cold process's 0.6)
    assert "HEAVY ['duckdb', 'narwhals']" in cold.stderr, cold.stderr
    warm = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert warm.returncode == 0, warm.stderr
    assert "HEAVY []" in warm.stderr, warm.stderr
    assert warm.stdout == cold.stdout and "Retentio — 2024-12" in warm.stdout
