"""Every list takes --limit (then an "N more" line; 0: all) and --sort, in table, json and csv
(issue 11): health score and predict score as movements does, except that their JSON is pinned
as a plain list of every account (issues 13 and 14), so JSON and CSV are cut only when --limit
is given; the table shows 20 rows by default.  Errors of
limit and sort name the parameter; only the command line speaks of --limit / --sort."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest

from retentio.cli import main as cli_main
from retentio.errors import UsageError
from retentio.output import limited
from test_output_contract import run  # the command line run in this process

AS_OF = ["--as-of", "2024-12-31"]




def _check_list(monkeypatch, capsys, argv: list[str], key: str, descending: bool) -> None:
    """The list of ``argv`` (its JSON is pinned as a plain list, one object per account): every
    account in JSON and CSV by default, 20 rows in the table by default, --limit 5 in each
    format, --sort by ``key`` both ways; tables within 80 columns."""
    code, out, err = run(monkeypatch, capsys, *argv, "-f", "json")
    assert code == 0, err
    every = json.loads(out)
    assert isinstance(every, list)
    n = len(every)
    assert n > 25
    values = [r[key] for r in every if r[key] is not None]
    assert values == sorted(values, reverse=descending)  # the default order
    code, out, _ = run(monkeypatch, capsys, *argv, "--limit", "0", "-f", "json")
    assert json.loads(out) == every
    code, out, _ = run(monkeypatch, capsys, *argv, "-f", "csv")
    assert len(list(csv.DictReader(io.StringIO(out)))) == n

    code, out, _ = run(monkeypatch, capsys, *argv, "--limit", "5", f"--sort=-{key}", "-f", "json")
    top = json.loads(out)
    assert [r["account_id"] for r in top] == [
        r["account_id"] for r in sorted((r for r in every if r[key] is not None), key=lambda r: r[key],
                                        reverse=True)][:5]
    code, out, _ = run(monkeypatch, capsys, *argv, "--limit", "5", "--sort", key, "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 5 and "account_name" in rows[0]
    assert [float(r[key]) for r in rows] == sorted(values)[:5]

    code, out, err = run(monkeypatch, capsys, *argv)
    assert code == 0, err
    assert f"{n - 20} more accounts (--limit 0 shows all)" in out
    code, out, err = run(monkeypatch, capsys, *argv, "--limit", "5")
    assert code == 0, err
    assert f"{n - 5} more accounts (--limit 0 shows all)" in out
    assert not [line for line in out.splitlines() if len(line) > 80]
    assert "…" not in out

    code, _, err = run(monkeypatch, capsys, *argv, "--sort", "nosuchcolumn")
    assert code == 2 and "--sort 'nosuchcolumn': no such column" in err
    code, _, err = run(monkeypatch, capsys, *argv, "--limit", "-1")
    assert code == 2 and "--limit -1" in err


@pytest.mark.slow
def test_health_score_takes_limit_and_sort(demo_workspace, monkeypatch, capsys):
    argv = ["health", "score", "-w", str(demo_workspace), *AS_OF]
    _check_list(monkeypatch, capsys, argv, "score", descending=False)  # lowest score first
    # the summary counts every account, whatever the limit
    code, out, _ = run(monkeypatch, capsys, *argv, "--summary", "--limit", "1", "-f", "json")
    summary = json.loads(out)
    code, out, _ = run(monkeypatch, capsys, *argv, "-f", "json")
    assert sum(summary.values()) == len(json.loads(out))


@pytest.mark.slow
def test_predict_score_takes_limit_and_sort(demo_workspace, tmp_path, monkeypatch, capsys):
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace, ws)  # scoring trains and stores a model: not in the shared workspace
    _check_list(monkeypatch, capsys, ["predict", "score", "-w", str(ws), *AS_OF], "risk", descending=True)


def test_limit_and_sort_errors_name_the_parameter_not_a_flag():
    rows = [{"a": 2, "b": [1]}, {"a": 1, "b": [2]}]
    assert limited(rows, 1, "a") == [{"a": 1, "b": [2]}]
    assert limited(rows, 0, "-a") == rows
    for limit, sort, parameter in ((-1, None, "limit"), (0, "c", "sort"), (0, "b", "sort")):
        with pytest.raises(UsageError) as e:
            limited(rows, limit, sort)
        assert e.value.details["parameter"] == parameter
        assert "--" not in e.value.message and "--" not in (e.value.hint or "")


def test_the_command_line_names_the_flags():
    assert cli_main._flagged("limit -1: must be 0 (all) or more") == "--limit -1: must be 0 (all) or more"
    assert cli_main._flagged("e.g. limit=20") == "e.g. --limit 20"
    assert cli_main._flagged("sort 'x': no such column") == "--sort 'x': no such column"
    # a boolean parameter is its flag; a kind is --as
    assert cli_main._flagged("pass force=True to overwrite it") == "pass --force to overwrite it"
    assert cli_main._flagged("say it with kind=csv or kind=stripe") == "say it with --as csv or --as stripe"
    assert (cli_main._flagged("action_id=ID for one, or all_dead=True for every dead-letter action")
            == "--action ID for one, or --all-dead for every dead-letter action")


def test_errors_below_the_command_line_name_no_flag():
    """Errors speak of parameters (issue 10): no hint or message of the library names a flag
    of the command line (a command to run, like `retentio upgrade --workspace W`, is a remedy
    and may)."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "retentio"
    offenders = []
    for f in src.rglob("*.py"):
        if "cli" in f.relative_to(src).parts:
            continue
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            for hint in re.findall(r'hint=f?"([^"]*)"', line):
                flags = re.findall(r"(?<![\w`])--[a-z][a-z-]+", re.sub(r"`retentio [^`]*`", "", hint))
                if flags:
                    offenders.append(f"{f.relative_to(src)}:{n}: {flags}")
    assert offenders == []
