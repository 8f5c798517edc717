"""What playbooks did, in the application: the account 360's runs and timeline, the worklist's
playbook tasks, and one owner table shared with the playbooks (account_assignments).

The rows are written the way retentio.playbooks writes them (a run, its actions in the
outbox, the task a ``task`` action made, an ``assign_csm`` assignment); the expected events
are derived by hand from those rows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from apphelpers import PASSWORD

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)


def _iso(t: datetime) -> str:
    return t.isoformat()


@pytest.fixture(scope="module")
def seeded(app, client, tokens):
    """One run of ``csm-intervention`` on an account the CSM user owns (by the csm attribute):
    its task action done (and the open task it made, owner = the attribute, a name), its
    e-mail dead after retries, its webhook still pending; a closed ``nps-detractor`` run
    whose e-mail was skipped."""
    from retentio.store import PlaybookAction, PlaybookRun, Task

    me = client.get("/api/v1/me", headers=tokens["csm"]).json()
    items = client.get("/api/v1/accounts?limit=1000", headers=tokens["viewer"]).json()["items"]
    own = next(i["account_id"] for i in items if i["csm"] == me["name"])
    other = next(i["account_id"] for i in items if i["csm"] != me["name"])
    ws = app.state.ws  # the served workspace
    with ws.app_session() as s:
        run = PlaybookRun(playbook="csm-intervention", account_id=own, trigger="health band red", occurrence="2026-11-01",
                          dedupe_key=f"csm-intervention|{own}|2026-11-01", as_of=date(2026, 11, 1), status="open", level=True,
                          reason="band red since 2026-10-31", context={}, created_at=T0)
        s.add(run)
        s.flush()
        task = Task(account_id=own, title="Call the sponsor", status="open", priority="high", owner=me["name"],
                    due_at=T0 + timedelta(days=1), source="playbook", playbook_run_id=run.id,
                    created_by="playbook:csm-intervention", created_at=T0 + timedelta(hours=1))
        s.add(task)
        s.flush()
        s.add_all([
            PlaybookAction(run_id=run.id, position=0, type="task", params={"title": "Call the sponsor"},
                           idempotency_key=f"k{run.id}-0", status="done", due_at=T0, created_at=T0,
                           updated_at=T0 + timedelta(hours=1), done_at=T0 + timedelta(hours=1), result={"task_id": task.id}),
            PlaybookAction(run_id=run.id, position=1, type="email", params={"subject": "How can we help?"},
                           recipient="ops@client.example.com", idempotency_key=f"k{run.id}-1", status="dead", attempts=5,
                           due_at=T0, created_at=T0, updated_at=T0 + timedelta(hours=3), done_at=T0 + timedelta(hours=3),
                           last_error="SMTP 550 mailbox unavailable"),
            PlaybookAction(run_id=run.id, position=2, type="webhook", params={}, idempotency_key=f"k{run.id}-2",
                           status="pending", due_at=T0 + timedelta(days=2), created_at=T0, updated_at=T0),
        ])
        old = PlaybookRun(playbook="nps-detractor", account_id=own, trigger="nps answer <= 6", occurrence="r-1",
                          dedupe_key=f"nps-detractor|{own}|r-1", as_of=date(2026, 10, 1), status="closed", level=False,
                          reason="NPS 3", context={}, created_at=T0 - timedelta(days=30),
                          closed_at=T0 - timedelta(days=30), closed_reason="completed: every action finished")
        s.add(old)
        s.flush()
        s.add(PlaybookAction(run_id=old.id, position=0, type="email", params={"subject": "Sorry"}, idempotency_key=f"k{old.id}-0",
                             status="skipped", due_at=old.created_at, created_at=old.created_at, updated_at=old.created_at,
                             done_at=old.created_at, last_error="no e-mail address for 'contact'"))
        ids = {"run": run.id, "old": old.id, "task": task.id}
    return {"own": own, "other": other, "me": me, **ids}


def test_account_360_lists_the_runs_and_their_actions(client, tokens, seeded):
    a = client.get(f"/api/v1/accounts/{seeded['own']}", headers=tokens["viewer"]).json()
    runs = a["playbook_runs"]
    assert [(r["playbook"], r["status"]) for r in runs] == [("csm-intervention", "open"), ("nps-detractor", "closed")]
    assert [(x["type"], x["status"], x["title"]) for x in runs[0]["actions"]] == [
        ("task", "done", "Call the sponsor"), ("email", "dead", "How can we help?"), ("webhook", "pending", None)]
    assert runs[0]["actions"][1]["error"] == "SMTP 550 mailbox unavailable"
    # the task the run made is among the account's tasks, with the playbook's name
    t = next(t for t in a["tasks"] if t["id"] == seeded["task"])
    assert (t["source"], t["playbook"]) == ("playbook", "csm-intervention")
    # another account has none
    assert client.get(f"/api/v1/accounts/{seeded['other']}", headers=tokens["viewer"]).json()["playbook_runs"] == []


def test_the_timeline_shows_runs_started_actions_planned_done_failed(client, tokens, seeded):
    a = client.get(f"/api/v1/accounts/{seeded['own']}", headers=tokens["viewer"]).json()
    pb = [e for e in a["timeline"] if e["kind"] in ("playbook", "playbook_action")]
    got = {(e["playbook"], e["event"], e.get("action"), e["at"]) for e in pb}
    h = timedelta(hours=1)
    month_before = T0 - timedelta(days=30)
    assert got == {
        ("csm-intervention", "run_started", None, _iso(T0)),
        ("csm-intervention", "planned", "task", _iso(T0)),
        ("csm-intervention", "planned", "email", _iso(T0)),
        ("csm-intervention", "planned", "webhook", _iso(T0)),
        ("csm-intervention", "done", "task", _iso(T0 + h)),
        ("csm-intervention", "failed", "email", _iso(T0 + 3 * h)),  # dead: failed for good
        # the pending webhook has no end yet
        ("nps-detractor", "run_started", None, _iso(month_before)),
        ("nps-detractor", "planned", "email", _iso(month_before)),
        ("nps-detractor", "skipped", "email", _iso(month_before)),
        ("nps-detractor", "run_closed", None, _iso(month_before)),
    }
    failed = next(e for e in pb if e["event"] == "failed")
    assert failed["text"] == "csm-intervention: email How can we help? to ops@client.example.com failed: SMTP 550 mailbox unavailable"
    started = next(e for e in pb if e["event"] == "run_started" and e["playbook"] == "csm-intervention")
    assert started["text"] == "csm-intervention started: band red since 2026-10-31"
    # newest first, the playbook events among the others
    ats = [e["at"] for e in a["timeline"]]
    assert ats == sorted(ats, reverse=True)


def _web(app, email):
    c = TestClient(app, base_url="http://testserver")
    c.get("/login")
    r = c.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": c.cookies.get("retentio_csrf"), "next": "/"},
               follow_redirects=False)
    assert r.status_code == 303
    return c


def test_the_360_page_shows_the_playbook_events(app, seeded):
    with _web(app, "viewer@example.com") as c:
        html = c.get(f"/accounts/{seeded['own']}").text
        assert "csm-intervention" in html and "SMTP 550 mailbox unavailable" in html
        assert 'class="pb-failed"' in html and 'class="pb-run_started"' in html
    with _web(app, "admin@example.com") as c:
        c.post("/language", data={"language": "fr", "csrf_token": c.cookies.get("retentio_csrf"), "next": "/"})
        html = c.get(f"/accounts/{seeded['own']}").text
        assert "action de playbook" in html and "échouée" in html
        c.post("/language", data={"language": "en", "csrf_token": c.cookies.get("retentio_csrf"), "next": "/"})


def test_the_worklist_shows_the_open_playbook_task_to_its_owner(client, tokens, app, seeded):
    # the task's owner is the account's csm attribute (a name), as a playbook's task for
    # "the account's CSM" gets it: the CSM user of that name sees it like their own tasks
    w = client.get("/api/v1/worklist", headers=tokens["csm"]).json()
    t = next(t for t in w["tasks"] if t["id"] == seeded["task"])
    assert (t["title"], t["playbook"], t["status"]) == ("Call the sponsor", "csm-intervention", "open")
    with _web(app, "csm@example.com") as c:
        html = c.get("/worklist").text
        assert "Call the sponsor" in html and "csm-intervention" in html
    # managers see every open task too
    assert seeded["task"] in [t["id"] for t in client.get("/api/v1/worklist", headers=tokens["manager"]).json()["tasks"]]
    # done: off the worklist
    r = client.patch(f"/api/v1/tasks/{seeded['task']}", json={"status": "done"}, headers=tokens["csm"])
    assert r.status_code == 200
    assert seeded["task"] not in [t["id"] for t in client.get("/api/v1/worklist", headers=tokens["csm"]).json()["tasks"]]


def test_a_playbook_assignment_is_the_owner_in_the_application(client, tokens, app, seeded):
    """assign_csm by a playbook and the 360's CSM selector write the same row."""
    from retentio.store import AccountAssignment, utcnow

    other, me = seeded["other"], seeded["me"]
    assert client.get(f"/api/v1/accounts/{other}", headers=tokens["viewer"]).json()["csm"] != me["email"]
    with app.state.ws.app_session() as s:  # what the worker does for an assign_csm action (another process, no cache message)
        s.add(AccountAssignment(account_id=other, csm=me["email"], team="emea", run_id=seeded["run"], updated_at=utcnow()))
    assert client.get(f"/api/v1/accounts/{other}", headers=tokens["viewer"]).json()["csm"] == me["email"]
    mine = client.get("/api/v1/accounts", params={"csm": me["email"], "limit": 1000}, headers=tokens["viewer"]).json()
    assert other in [i["account_id"] for i in mine["items"]]  # the cached portfolio saw the change
    assert client.post("/api/v1/tasks", json={"account_id": other, "title": "welcome"}, headers=tokens["csm"]).status_code == 201
    # a manager hands it back: the same row, now a user's assignment
    r = client.put(f"/api/v1/accounts/{other}/csm", json={"csm": "someone@example.com"}, headers=tokens["manager"])
    assert r.json()["csm"] == "someone@example.com"
    with app.state.ws.app_session() as s:
        a = s.get(AccountAssignment, other)
        assert (a.csm, a.team, a.assigned_by, a.run_id) == ("someone@example.com", None, "manager@example.com", seeded["run"])
