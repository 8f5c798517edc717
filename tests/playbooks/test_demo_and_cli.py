"""The shipped playbooks on the demo workspace, through the CLI; the run on PostgreSQL."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from typer.testing import CliRunner

from retentio.cli import main as cli_main
from retentio.cli.main import app

from pb_book import AS_OF

cli_main._load_commands()
runner = CliRunner()


@pytest.fixture(scope="module")
def demo_copy(demo_workspace, tmp_path_factory):
    """A private copy of the shared demo workspace (300 accounts, 2023-01 .. 2024-12)."""
    dest = tmp_path_factory.mktemp("pbdemo") / "ws"
    shutil.copytree(demo_workspace, dest)
    return dest


@pytest.mark.slow
def test_shipped_playbooks_fire_on_the_demo_and_the_dry_run_says_why(demo_copy):
    w = str(demo_copy)
    r = runner.invoke(app, ["playbooks", "run", "-w", w, "--as-of", "2024-12-31", "--dry-run", "--format", "json"])
    assert r.exit_code == 0, r.output
    dry = json.loads(r.output)
    assert dry["dry_run"] is True and dry["unavailable"] == []
    fired = {x["playbook"] for x in dry["runs"]}
    # the health bands come from the health capability; surveys, usage and lines from the book
    assert {"csm-intervention", "automated-tips", "product-unused"} <= fired, fired
    assert dry["actions_enqueued"] == sum(len(x["actions"]) for x in dry["runs"]) > 0
    assert all(x["trigger"] for x in dry["runs"])  # every run says why
    # the real run starts exactly what the dry run listed; a second run starts nothing
    r = runner.invoke(app, ["playbooks", "run", "-w", w, "--as-of", "2024-12-31", "--format", "json"])
    real = json.loads(r.output)
    assert real["runs_started"] == dry["runs_started"] and real["actions_enqueued"] == dry["actions_enqueued"]
    again = json.loads(runner.invoke(app, ["playbooks", "run", "-w", w, "--as-of", "2024-12-31", "--format", "json"]).output)
    assert again["runs_started"] == 0
    assert again["skipped"]["dedupe"] + again["skipped"]["open_run"] == real["runs_started"]
    # e-mails "to: contact" have a recipient: the demo accounts' contact_email (example.com)
    contact_mails = [a for x in dry["runs"] for a in x["actions"] if a["type"] == "email" and a.get("to", "").endswith("@example.com")]
    assert contact_mails and all(a.get("status") != "skipped" for a in contact_mails)
    # the worker delivers the local actions; the demo has no SMTP server ([email] smtp_host
    # unset), so the e-mails fail and wait for a retry (none is dead after one pass)
    out = json.loads(runner.invoke(app, ["worker", "-w", w, "--once", "--format", "json"]).output)
    assert set(out) >= {"delivered", "failed", "retrying", "dead"} and out["delivered"] > 0 and out["dead"] == 0
    assert out["retrying"] > 0
    runs = json.loads(runner.invoke(app, ["playbooks", "runs", "-w", w, "--format", "json"]).output)
    acc = runs[0]["account_id"]
    mine = json.loads(runner.invoke(app, ["playbooks", "runs", "-w", w, "--account", acc, "--format", "json"]).output)
    assert mine and {x["account_id"] for x in mine} == {acc}


def test_list_validate_and_errors(demo_copy, tmp_path, capsys, monkeypatch):
    w = str(demo_copy)
    r = runner.invoke(app, ["playbooks", "list", "-w", w, "--format", "json"])
    assert r.exit_code == 0 and len(json.loads(r.output)) == 11
    r = runner.invoke(app, ["playbooks", "validate", "-w", w])
    assert r.exit_code == 0 and "11 playbooks valid" in r.output
    # a broken file in the workspace: one line naming the file and key, exit 1
    pdir = demo_copy / "playbooks"
    pdir.mkdir(exist_ok=True)
    (pdir / "bad.yaml").write_text("name: bad\ntrigger: {survey: {answer: angry}}\nactions: [{type: add_tag, tag: t}]\n")
    try:
        monkeypatch.setattr(sys, "argv", ["retentio", "playbooks", "validate", "-w", w])
        with pytest.raises(SystemExit) as exc:
            cli_main.run()
        assert exc.value.code == 1
        err = capsys.readouterr().err
        assert "bad.yaml" in err and "trigger.survey.answer" in err and "hint:" in err
    finally:
        shutil.rmtree(pdir)


def test_init_copies_the_defaults(demo_copy, tmp_path):
    dest = tmp_path / "ws"
    shutil.copytree(demo_copy, dest)
    r = runner.invoke(app, ["playbooks", "init", "-w", str(dest), "--format", "json"])
    assert r.exit_code == 0 and len(json.loads(r.output)["playbooks"]) == 11
    assert (dest / "playbooks" / "templates" / "yellow_tips.fr.txt").is_file()
    r = runner.invoke(app, ["playbooks", "validate", "-w", str(dest), "--format", "json"])
    assert json.loads(r.output)["source"] == "workspace"


@pytest.mark.postgres
def test_runs_and_delivery_on_postgresql(make_ws, pg_url):
    ws = make_ws(url=pg_url)
    ws.add_playbook("name: det\ntrigger:\n  survey: {answer: detractor}\nactions:\n"
                    "  - type: task\n    title: 'Call {{ account.name }}'\n  - type: add_tag\n    tag: at-risk\n")
    assert ws.playbooks_run(as_of=AS_OF)["runs_started"] == 1
    assert ws.playbooks_run(as_of=AS_OF)["skipped"]["dedupe"] == 1
    assert ws.worker_once()["delivered"] == 2
    (run,) = ws.playbooks_runs()
    assert run["status"] == "closed" and [a["status"] for a in run["actions"]] == ["done", "done"]


def test_playbooks_run_after_an_import_when_the_setting_says_so(tmp_path):
    from retentio.service import Workspace

    ws = Workspace.init(tmp_path / "ws")
    ws.settings.playbooks.run_after_import = True
    (ws.path / "playbooks").mkdir()
    (ws.path / "playbooks" / "tag.yaml").write_text(
        "name: tag\ntrigger:\n  schedule: {every: day}\naccounts:\n  customers_only: false\n"
        "actions:\n  - type: add_tag\n    tag: imported\n")
    f = tmp_path / "accounts.csv"
    f.write_text("account_id,name\nA1,Alpha\nA2,Beta\n")
    report = ws.import_file("accounts", f)
    # schedule `day` fires every day: one run per account, one action each
    assert "playbooks: 2 runs started, 2 actions enqueued (playbooks.run_after_import)" in report.notes
    ws.settings.playbooks.run_after_import = False
    report = ws.import_file("accounts", f, replace=True)
    assert not any(n.startswith("playbooks:") for n in report.notes)


@pytest.mark.slow
def test_run_summary_on_the_demo(demo_copy):
    r = runner.invoke(app, ["playbooks", "run", "-w", str(demo_copy), "--as-of", "2024-12-31", "--dry-run", "--summary"])
    assert r.exit_code == 0
    assert "runs would start" in r.output and "actions would be enqueued" in r.output and "playbook" in r.output
