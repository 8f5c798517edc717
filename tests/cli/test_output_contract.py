"""The output contract of every command (issue 11): --format table|json|csv with the same
content, parseable JSON and CSV, tables within 80 columns, strict names, no future periods."""

from __future__ import annotations

import csv
import io
import json
import sys

import pytest

from retentio.cli import main as cli_main
from retentio.cli.common import safe_cell

cli_main._load_commands()

AS_OF = ["--as-of", "2024-12-31"]
# (command line, the list CSV gives: expected first columns)
COMMANDS = [
    (["metrics", "-p", "2024-12"], ["period", "currency", "mrr"]),
    (["metrics", "-p", "2024-Q4", "--by", "size"], ["size", "period", "currency", "mrr"]),
    (["metrics", "-p", "2024-10..2024-12", "--series"], ["period", "currency", "mrr"]),
    (["movements", "-p", "2024-Q4"], ["month", "account_id", "account_name", "csm", "type"]),
    (["explain", "nrr", "-p", "2024-Q4"], ["metric", "period", "value", "account_id", "account_name", "csm"]),
    (["cohorts"], ["cohort", "segment", "size", "age_0"]),
    (["engagement", "usage", "-p", "2024-12"], ["date", "account_id", "account_name", "csm"]),
    (["engagement", "adoption", "-p", "2024-12"], ["feature"]),
    (["engagement", "key-time", "-p", "2024-12"], ["month", "account_id", "account_name", "csm"]),
    (["engagement", "lifecycle", "-p", "2024-12"], ["month", "new"]),
    (["engagement", "ces", "-p", "2024-12"], ["month", "account_id", "account_name", "csm", "ces"]),
    (["engagement", "ttfv", "-p", "2024"], ["cohort", "segment"]),
    (["engagement", "onboarding", "-p", "2024"], ["cohort", "segment"]),
    (["engagement", "trials", "-p", "2024", "--by", "size"], ["cohort", "segment"]),
    (["satisfaction", "nps", "-p", "2024"], ["responses", "promoters"]),
    (["satisfaction", "nps", "-p", "2024", "--by", "month"], ["month", "responses"]),
    (["satisfaction", "csat", "-p", "2024"], ["responses", "positive"]),
    (["satisfaction", "tickets", "-p", "2024-Q4"], ["topic", "opened"]),
    (["satisfaction", "sentiment", "-p", "2024-Q4"], ["account_id", "account_name", "csm"]),
    (["analyze", "nps-vs-churn"], ["group", "answers", "churned"]),
]


def run(monkeypatch, capsys, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["retentio", *argv])
    try:
        cli_main.run()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.slow
@pytest.mark.parametrize("argv,first_columns", COMMANDS, ids=[" ".join(c[0][:2]) + (" by" if "--by" in c[0] else "")
                                                               for c in COMMANDS])
def test_every_command_in_every_format(demo_workspace, monkeypatch, capsys, argv, first_columns):
    base = [*argv, "-w", str(demo_workspace), *AS_OF]
    code, out, err = run(monkeypatch, capsys, *base, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data

    code, out, err = run(monkeypatch, capsys, *base, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    header = out.splitlines()[0].split(",")
    assert header[: len(first_columns)] == first_columns
    if "--by" in argv and argv[0] == "metrics":
        assert rows[-1]["size"] == "total" and len(rows) >= 3  # one row per group, then the total
    if argv[0] == "metrics" and "--by" not in argv and "--series" not in argv:
        assert len(rows) == 1  # a period is one row
    if "--series" in argv:
        assert [r["period"] for r in rows] == ["2024-10", "2024-11", "2024-12"]

    code, out, err = run(monkeypatch, capsys, *base, "--format", "table")
    assert code == 0, err
    assert out.strip()
    too_wide = [line for line in out.splitlines() if len(line) > 80]
    assert not too_wide, too_wide[:3]
    assert "…" not in out  # nothing cut


@pytest.mark.slow
def test_rates_are_fractions_in_json_and_percent_in_tables(demo_workspace, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "metrics", "-p", "2024-Q4", "-w", str(demo_workspace), *AS_OF, "-f", "json")
    data = json.loads(out)
    assert 0.5 < data["nrr"] < 2 and 0 <= data["customer_churn_rate"] < 1
    # money: 2 decimals; rates: 4 significant digits
    assert round(data["mrr"], 2) == data["mrr"] and len(repr(data["customer_churn_rate"]).split(".")[1]) <= 6
    code, out, _ = run(monkeypatch, capsys, "engagement", "adoption", "-p", "2024-12", "-w", str(demo_workspace),
                       *AS_OF, "-f", "json")
    assert all(f["account_share"] is None or 0 <= f["account_share"] <= 1 for f in json.loads(out)["features"])
    code, out, _ = run(monkeypatch, capsys, "metrics", "-p", "2024-Q4", "-w", str(demo_workspace), *AS_OF)
    assert " %" in out and "Net revenue retention" in out


@pytest.mark.slow
def test_strict_names(demo_workspace, monkeypatch, capsys):
    w = ["-w", str(demo_workspace), *AS_OF]
    code, _, err = run(monkeypatch, capsys, "metrics", "-p", "2024-12", "--by", "industri", *w)
    assert code == 2 and "--by 'industri'" in err and "'industry'" in err and "known attributes" in err
    code, _, err = run(monkeypatch, capsys, "cohorts", "--segment", "nosuchattr", *w)
    assert code == 2 and "nosuchattr" in err
    code, _, err = run(monkeypatch, capsys, "metrics", "-p", "2024-12", "--filter", "industr=retail", *w)
    assert code == 2
    code, _, err = run(monkeypatch, capsys, "metrics", "-p", "2024-12", "--filter", "industry=Retail", *w)
    assert code == 1 and "'retail'" in err  # the stored value differs by case
    code, _, err = run(monkeypatch, capsys, "engagement", "ces", "-p", "2024-12", "--sort", "nosuchcolumn", *w)
    assert code == 2
    code, _, err = run(monkeypatch, capsys, "explain", "nrr", "-p", "2024-12", "--top", "-3", *w)
    assert code == 2


def test_strict_names_in_the_python_api(demo_workspace):
    from retentio.errors import DataError, UsageError
    from retentio.service import Workspace

    ws = Workspace(demo_workspace)
    with pytest.raises(UsageError, match="industry"):
        ws.metrics("2024-12", by="industri", as_of="2024-12-31")
    with pytest.raises(DataError, match="'retail'"):
        ws.metrics("2024-12", filters={"industry": "Retail"}, as_of="2024-12-31")
    with pytest.raises(UsageError):
        ws.engagement("adoption", period="2024-12", by="industry", as_of="2024-12-31")


def test_future_periods_are_refused(demo_workspace, monkeypatch, capsys):
    w = ["-w", str(demo_workspace)]
    code, _, err = run(monkeypatch, capsys, "metrics", "-p", "2025-03", *w, *AS_OF)
    assert code == 1 and "latest complete month is 2024-12" in err
    code, _, err = run(monkeypatch, capsys, "engagement", "usage", "-p", "2025", *w, *AS_OF)
    assert code == 1
    # the month of as_of is allowed, labelled to date
    code, out, err = run(monkeypatch, capsys, "metrics", "-p", "2024-12", *w, "--as-of", "2024-12-15")
    assert code == 0, err
    assert "to date" in out


def test_relative_periods(demo_workspace, monkeypatch, capsys):
    w = ["-w", str(demo_workspace), "--as-of", "2024-12-31", "-f", "json"]
    for period, label in (("last", "2024-12"), ("last-quarter", "2024-Q4"), ("last-year", "2024"),
                          ("ytd", "2024-01..2024-12")):
        code, out, err = run(monkeypatch, capsys, "metrics", "-p", period, *w)
        assert code == 0, err
        assert json.loads(out)["period"] == label


def test_version(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "--version")
    assert code == 0 and out.startswith("retentio ")


def test_csv_cells_are_safe_in_a_spreadsheet():
    # OWASP CSV injection: text starting with = + - @ tab CR gets a leading quote; numbers untouched
    assert [safe_cell(v) for v in ("=SUM(A1)", "+1", "-x", "@cmd", "\tx", "\rx", "acme")] == [
        "'=SUM(A1)", "'+1", "'-x", "'@cmd", "'\tx", "'\rx", "acme"]
    assert safe_cell(-12.5) == -12.5 and safe_cell(-3) == -3


def test_a_result_that_states_its_unit_is_rounded_by_it():
    """Cohort cells have no figure key of their own: the result states their unit (ratio,
    money, count) and JSON rounds each row's values by it, as CSV does."""
    from retentio.output import dumps

    tri = {"measure": "mrr", "values": "relative", "unit": "ratio",
           "rows": [{"cohort": "2024-01", "size": 3, "values": [1.0, 0.9960490781735896, 1.2382581539029673, None]}]}
    assert json.loads(dumps(tri))["rows"][0]["values"] == [1.0, 0.996, 1.2383, None]
    money = {**tri, "values": "absolute", "unit": "money", "rows": [{"cohort": "2024-01", "values": [1672.8949, 0.125]}]}
    assert json.loads(dumps(money))["rows"][0]["values"] == [1672.89, 0.12]


def test_cohort_csv_cells_are_rounded_like_the_json(demo_workspace, monkeypatch, capsys):
    base = ["cohorts", "-w", str(demo_workspace), *AS_OF]
    _, out, _ = run(monkeypatch, capsys, *base, "--format", "json")
    data = json.loads(out)
    assert data["unit"] == "ratio"
    _, out, _ = run(monkeypatch, capsys, *base, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    first = data["rows"][0]
    assert [float(rows[0][f"age_{k}"]) for k in range(len(first["values"]))] == first["values"]
    # 4 significant digits: no cell carries more than 4 decimals (values around 1)
    assert all(len(v.split(".")[1]) <= 4 for r in rows for k, v in r.items() if k.startswith("age_") and "." in v)


def test_the_base_row_of_engagement_usage_is_named_in_the_table(demo_workspace, monkeypatch, capsys):
    base = ["engagement", "usage", "-p", "2024-12", "-w", str(demo_workspace), *AS_OF]
    _, out, _ = run(monkeypatch, capsys, *base)
    assert "(all accounts)" in out  # the table names the whole base's row
    _, out, _ = run(monkeypatch, capsys, *base, "--format", "json")
    rows = json.loads(out)["rows"]
    assert rows[0]["account_id"] is None and rows[0]["account_name"] is None  # JSON keeps null


def test_a_list_is_written_element_by_element_with_the_same_bytes(capsys):
    """print_json writes a list of objects one element at a time (the health scores of a large
    book): byte for byte what one dumps of the whole list gives - nesting, rounding by unit,
    dates, non-ASCII text, a newline and quotes inside strings, empty containers."""
    from datetime import date

    from retentio.cli.common import print_json
    from retentio.output import dumps

    data = [
        {"account_id": "a\n\"1\"", "account_name": "Société Générale — Ünïcode ✓", "day": date(2024, 2, 29),
         "score": 71.35122248262742, "mrr": 1234.5678, "nrr": 1.0123456, "missing": [], "groups": {},
         "nested": {"list": [1, 2.5, None, {"x": [True, False]}], "empty": []}},
        {"account_id": "b", "score": None, "trend_1m": -0.1, "missing": ["nps", "csm_pulse"],
         "groups": {"Support": {"score": 63.0, "weight": 0.2}}},
    ]
    print_json(data)
    assert capsys.readouterr().out == dumps(data) + "\n"
    for other in ([], [1, 2], {"a": [{"b": 1}]}):  # not a list of objects: one dumps, as before
        print_json(other)
        assert capsys.readouterr().out == dumps(other) + "\n"
