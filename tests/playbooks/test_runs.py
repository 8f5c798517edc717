"""Runs exactly once: dedupe key, open runs, caps, clearing; the dry run; the JSON shape."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from retentio.store.models import Note, PlaybookAction, PlaybookRun, Task

from pb_book import AS_OF

DETRACTOR = """
name: detractor
trigger:
  survey: {answer: detractor, within_days: 7}
actions:
  - type: task
    title: "Call {{ account.name }} (NPS {{ trigger.score }})"
    due: 24h
    priority: urgent
"""

RED = """
name: red
trigger:
  health_band: {band: red}
actions:
  - type: task
    title: "Review {{ account.name }}"
    due: 3d
  - type: task
    title: "Keep me"
    close_when_cleared: false
"""


def test_run_json_shape_and_enqueued_actions(ws):
    ws.add_playbook(DETRACTOR)
    res = ws.playbooks_run(as_of=AS_OF)
    assert {"as_of", "runs_started", "actions_enqueued", "skipped", "runs"} <= set(res)
    assert res["as_of"] == "2024-06-30" and res["runs_started"] == 1 and res["actions_enqueued"] == 1
    assert res["skipped"] == {"dedupe": 0, "cap": 0, "open_run": 0}
    (run,) = res["runs"]
    assert run["playbook"] == "detractor" and run["account_id"] == "A1" and "NPS 3" in run["trigger"]
    assert run["actions"][0]["title"] == "Call Alpha (NPS 3)"
    with ws.app_session() as s:
        (a,) = s.scalars(select(PlaybookAction)).all()
        assert a.status == "pending" and a.type == "task"


def test_repeated_runs_are_deduplicated_then_the_open_run_rule(ws):
    ws.add_playbook(DETRACTOR)
    first = ws.playbooks_run(as_of=AS_OF)
    assert first["runs_started"] == 1
    # same occurrence (response r1), run still open (its task not yet created by the worker)
    again = ws.playbooks_run(as_of=AS_OF)
    assert again["runs_started"] == 0 and again["skipped"]["dedupe"] == 1
    ws.worker_once()  # creates the task; the event run completes and closes
    third = ws.playbooks_run(as_of=date(2024, 7, 1))
    assert third["runs_started"] == 0 and third["skipped"]["dedupe"] == 1
    with ws.app_session() as s:
        assert s.scalar(select(PlaybookRun.status)) == "closed"
        assert len(s.scalars(select(Task)).all()) == 1


def test_open_run_blocks_a_new_occurrence(make_ws):
    ws = make_ws()
    ws.add_playbook(DETRACTOR)
    ws.playbooks_run(as_of=AS_OF)  # run for r1 is open (nothing delivered yet)
    # a second detractor answer from A1 on 07-02: a new occurrence, but the run of r1 is still open
    from pb_book import book_tables
    from datetime import datetime

    tables = book_tables()
    tables["surveys"].append({"response_id": "r9", "account_id": "A1", "answered_at": datetime(2024, 7, 2, 9),
                              "kind": "nps", "score": 1})
    ws2 = make_ws(url=ws.url, tables=tables)
    ws2.add_playbook(DETRACTOR)
    res = ws2.playbooks_run(as_of=date(2024, 7, 2))
    assert res["runs_started"] == 0 and res["skipped"]["open_run"] == 1
    ws2.worker_once()  # the r1 run completes
    res = ws2.playbooks_run(as_of=date(2024, 7, 2))
    assert res["runs_started"] == 1 and res["runs"][0]["occurrence"] == "response=r9"


def test_caps_per_playbook_and_per_account(ws):
    ws.add_playbook("""
name: promo
trigger:
  any:
    - survey: {answer: promoter, within_days: 30}
    - survey: {answer: passive, within_days: 30}
    - survey: {answer: detractor, within_days: 30}
caps:
  per_playbook: {runs: 2, days: 7}
actions:
  - type: add_tag
    tag: surveyed
""")
    res = ws.playbooks_run(as_of=AS_OF)  # A1, A2, A7 answered: only 2 runs in 7 days
    assert res["runs_started"] == 2 and res["skipped"]["cap"] == 1
    ws.add_playbook("""
name: promo
trigger:
  schedule: {every: day}
accounts:
  customers_only: true
caps:
  per_account: {runs: 1, days: 7}
actions:
  - type: add_tag
    tag: daily
""")
    ws.worker_once()
    d1 = ws.playbooks_run(as_of=date(2024, 7, 1))
    ws.worker_once()
    d2 = ws.playbooks_run(as_of=date(2024, 7, 2))
    # 07-01: the 8 customers (A1 A2 A3 A4 A5 A7 O1 O2); A1 and A2 already ran on 06-30, within
    # 7 days: capped (per_account 1 run in 7 days) -> 6 runs, 2 capped.  07-02: all 8 capped.
    assert d1["runs_started"] == 6 and d1["skipped"]["cap"] == 2
    assert d2["runs_started"] == 0 and d2["skipped"]["cap"] == d1["runs_started"] + 2


def test_account_cap_across_playbooks(ws):
    ws.settings.playbooks.account_cap_runs = 1
    ws.add_playbook(DETRACTOR)
    ws.add_playbook(DETRACTOR.replace("name: detractor", "name: detractor2"), "pb2.yaml")
    res = ws.playbooks_run(as_of=AS_OF)
    assert res["runs_started"] == 1 and res["skipped"]["cap"] == 1


def test_state_run_stays_open_then_clears_and_closes_its_task_with_a_note(make_ws):
    red = {"A1": ("red", 30)}
    ws = make_ws(health=red)
    ws.add_playbook(RED)
    assert ws.playbooks_run(as_of=AS_OF)["runs_started"] == 1
    ws.worker_once()
    # still red the next day: no new run (open run), tasks stay open
    assert ws.playbooks_run(as_of=date(2024, 7, 1))["skipped"]["open_run"] == 1
    ws._health["A1"] = ("green", 80)
    res = ws.playbooks_run(as_of=date(2024, 7, 2))
    assert res["runs_started"] == 0 and len(res["cleared"]) == 1
    with ws.app_session() as s:
        tasks = {t.title: t for t in s.scalars(select(Task))}
        assert tasks["Review Alpha"].status == "canceled"
        assert "trigger cleared on 2024-07-02" in tasks["Review Alpha"].closed_note
        assert tasks["Keep me"].status == "open"
        (note,) = s.scalars(select(Note)).all()
        assert note.account_id == "A1" and note.body.startswith('Task "Review Alpha" closed: Closed by playbook red')
        assert s.scalar(select(PlaybookRun.status)) == "closed"
    # red again later: a new episode, a new run
    ws._health["A1"] = ("red", 20)
    assert ws.playbooks_run(as_of=date(2024, 7, 9))["runs_started"] == 1


def test_dry_run_lists_and_writes_nothing(ws):
    ws.add_playbook(DETRACTOR)
    res = ws.playbooks_run(as_of=AS_OF, dry_run=True)
    assert res["dry_run"] is True and res["runs_started"] == 1
    assert res["runs"][0]["trigger"].startswith("NPS 3 (detractor)")
    with ws.app_session() as s:
        assert s.scalars(select(PlaybookRun)).all() == []
    assert ws.playbooks_run(as_of=AS_OF)["runs_started"] == 1  # the real run still starts


def test_disabled_playbooks_and_unavailable_health(ws):
    ws.add_playbook(DETRACTOR.replace("name: detractor", "name: detractor\nenabled: false"))
    ws.add_playbook(RED, "red.yaml")
    res = ws.playbooks_run(as_of=AS_OF)
    assert res["runs_started"] == 0
    assert res["unavailable"] == [{"playbook": "red", "reason": pytest.approx(res["unavailable"][0]["reason"])}]
    assert "health" in res["unavailable"][0]["reason"]


def test_runs_audit_trail(ws):
    ws.add_playbook(DETRACTOR)
    ws.playbooks_run(as_of=AS_OF)
    ws.worker_once()
    (run,) = ws.playbooks_runs(account="A1")
    assert run["status"] == "closed" and run["actions"][0]["status"] == "done"
    (att,) = run["actions"][0]["attempts_log"]
    assert att["outcome"] == "ok" and att["number"] == 1
    assert ws.playbooks_runs(account="A2") == []
