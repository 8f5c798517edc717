"""Each local action on the hand-built book, executed by the worker."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from retentio.store.models import AccountAssignment, AccountTag, PlaybookRun, Task

from pb_book import AS_OF
from pb_servers import HTTPRecorder

NEW = "name: onboard\ntrigger:\n  new_customer: {within_days: 7}\nactions:\n"  # A2 (first paid 06-27)
DETRACTOR = "name: det\ntrigger:\n  survey: {answer: detractor}\nactions:\n"  # A1 (csm ana@cs.test)


def test_task_for_the_owner_due_in_24_hours(ws):
    ws.add_playbook(DETRACTOR + """  - type: task
    title: "Call {{ account.name }}"
    description: "{{ trigger.reason }}"
    due: 24h
    priority: urgent
    owner: csm
""")
    ws.playbooks_run(as_of=AS_OF)
    assert ws.worker_once()["delivered"] == 1
    with ws.app_session() as s:
        t = s.scalars(select(Task)).one()
        run = s.scalars(select(PlaybookRun)).one()
    assert (t.account_id, t.title, t.owner, t.priority, t.source) == ("A1", "Call Alpha", "ana@cs.test", "urgent", "playbook")
    assert t.description.startswith("NPS 3 (detractor) on 2024-06-28")
    assert t.playbook_run_id == run.id and t.due_at - t.created_at == timedelta(hours=24)


def test_assign_csm_round_robin_in_a_team_and_touch_tier_by_mrr(make_ws):
    from pb_book import book_tables
    from datetime import date
    tables = book_tables()
    # with A2, three new customers in the last 7 days (first paid 06-25, 06-26, 06-27), none with a csm
    for i, day in enumerate((25, 26), start=1):
        acc = f"N{i}"
        tables["accounts"].append({"account_id": acc, "name": f"New {i}"})
        tables["subscriptions"].append({"subscription_id": f"n{i}", "account_id": acc, "plan": "pro",
                                        "start_date": date(2024, 6, day), "amount": 2500.0 * i,
                                        "billing_period_months": 1, "currency": "EUR", "is_trial": False})
    ws = make_ws(tables=tables)
    ws.settings.playbooks.csm_teams = {"smb": ["ana@cs.test", "bo@cs.test"]}
    ws.add_playbook(NEW + "  - type: set_touch_tier\n  - type: assign_csm\n    team: smb\n")
    res = ws.playbooks_run(as_of=AS_OF)
    assert sorted(r["account_id"] for r in res["runs"]) == ["A2", "N1", "N2"]
    ws.worker_once()
    with ws.app_session() as s:
        got = {a.account_id: (a.csm, a.touch_tier) for a in s.scalars(select(AccountAssignment))}
    # runs are delivered in order A2, N1, N2: the k-th assignment goes to member k mod 2.
    # Tiers (high >= 2000, low >= 300): A2 100 -> tech, N1 2500 -> high, N2 5000 -> high.
    assert got == {"A2": ("ana@cs.test", "tech"), "N1": ("bo@cs.test", "high"), "N2": ("ana@cs.test", "high")}


def test_assign_csm_keeps_an_existing_csm_and_by_rule(ws):
    ws.add_playbook(DETRACTOR + """  - type: assign_csm
  - type: assign_csm
    rule: by_attribute
    attribute: language
    map: {fr: "fr-team@cs.test"}
    only_if_unassigned: false
""")
    ws.playbooks_run(as_of=AS_OF)
    out = ws.worker_once()
    assert out["skipped"] == 1 and out["delivered"] == 1  # A1 already has ana@cs.test; then by rule
    (run,) = ws.playbooks_runs()
    assert "already assigned to 'ana@cs.test'" in run["actions"][0]["last_error"]
    with ws.app_session() as s:
        assert s.get(AccountAssignment, "A1").csm == "fr-team@cs.test"


def test_add_and_remove_tag(ws):
    ws.add_playbook(DETRACTOR + "  - type: add_tag\n    tag: at-risk\n  - type: remove_tag\n    tag: promoter\n")
    with ws.app_session() as s:
        s.add(AccountTag(account_id="A1", tag="promoter"))
    ws.playbooks_run(as_of=AS_OF)
    assert ws.worker_once()["delivered"] == 2
    assert [t["tag"] for t in ws.account_tags("A1")] == ["at-risk"]


def test_tag_filters_of_the_accounts_section(ws):
    with ws.app_session() as s:
        s.add(AccountTag(account_id="A1", tag="do-not-contact"))
    ws.add_playbook(DETRACTOR.replace("actions:", "accounts:\n  exclude_tags: [do-not-contact]\nactions:")
                    + "  - type: add_tag\n    tag: x\n")
    assert ws.playbooks_run(as_of=AS_OF)["runs_started"] == 0


def test_notify_in_app_and_posted_to_the_default_url(ws):
    with HTTPRecorder() as http:
        ws.settings.webhooks.default_url = http.url
        ws.add_playbook(DETRACTOR + '  - type: notify\n    to: csm\n    title: "Detractor: {{ account.name }}"\n')
        res = ws.playbooks_run(as_of=AS_OF)
        assert [a["type"] for a in res["runs"][0]["actions"]] == ["notify", "webhook"]
        assert ws.worker_once()["delivered"] == 2
        (req,) = http.requests
    (n,) = ws.notifications("ana@cs.test")
    assert n["title"] == "Detractor: Alpha" and n["account_id"] == "A1"
    assert req["json"]["event"] == "notification" and req["json"]["title"] == "Detractor: Alpha"


def test_start_another_playbook_once(ws):
    ws.add_playbook(DETRACTOR + "  - type: start_playbook\n    playbook: follow-up\n")
    ws.add_playbook("name: follow-up\nenabled: false\ntrigger:\n  schedule: {every: day}\nactions:\n"
                    "  - type: task\n    title: 'Follow up {{ account.name }}'\n", "follow.yaml")
    ws.playbooks_run(as_of=AS_OF)
    assert ws.worker_once()["delivered"] == 2  # the start, then the child's task
    runs = ws.playbooks_runs()
    child = next(r for r in runs if r["playbook"] == "follow-up")
    parent = next(r for r in runs if r["playbook"] == "det")
    assert child["parent_run_id"] == parent["id"] and child["occurrence"] == f"run:{parent['id']}"
    assert child["status"] == "closed" and parent["status"] == "closed"
    with ws.app_session() as s:
        assert [t.title for t in s.scalars(select(Task))] == ["Follow up Alpha"]


def test_actions_run_in_order_and_wait_for_their_delay(ws):
    ws.add_playbook(DETRACTOR + "  - type: add_tag\n    tag: first\n  - type: add_tag\n    tag: later\n    delay: 2d\n")
    ws.playbooks_run(as_of=AS_OF)
    assert ws.worker_once()["delivered"] == 1
    assert [t["tag"] for t in ws.account_tags("A1")] == ["first"]
    (run,) = ws.playbooks_runs()
    assert run["status"] == "open" and run["actions"][1]["status"] == "pending"
    d = run["actions"][1]["due_at"] - run["actions"][0]["due_at"]
    assert d == timedelta(days=2)

