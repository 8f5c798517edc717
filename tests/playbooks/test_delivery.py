"""Delivery: e-mail through a real SMTP server, webhooks to a real HTTP server (signature,
idempotency key), retries with backoff, dead letters and retry by hand, leases."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from sqlalchemy import select

from retentio.playbooks.delivery import Worker, backoff
from retentio.store.models import PlaybookAction, PlaybookAttempt, utcnow

from pb_book import AS_OF
from pb_servers import HTTPRecorder, SMTPRecorder

SURVEYS = """
name: surveyed
trigger:
  any:
    - survey: {answer: detractor}
    - survey: {answer: passive}
actions:
  - type: email
    template: thanks
"""


def test_email_through_smtp_in_the_account_language(ws):
    ws.add_template("thanks", "en", "Subject: Thanks, {{ account.name }}\n\nYour MRR is {{ figures.mrr | money }} {{ currency }}.\n")
    ws.add_template("thanks", "fr", "Subject: Merci, {{ account.name }}\n\nVotre MRR est de {{ figures.mrr | money }} {{ currency }}.\n")
    ws.add_playbook(SURVEYS)
    with SMTPRecorder() as smtp:
        ws.settings.email.smtp_host, ws.settings.email.smtp_port = "127.0.0.1", smtp.port
        ws.settings.email.sender = "cs@retentio.test"
        assert ws.playbooks_run(as_of=AS_OF)["actions_enqueued"] == 2
        out = ws.worker_once()
        assert out["delivered"] == 2 and out["failed"] == 0
        msgs = {m["to"][0]: m for m in smtp.messages}
    # A1 is French (detractor), A2 English (passive)
    assert set(msgs) == {"contact@alpha.fr", "hello@beta.example"}
    fr, en = msgs["contact@alpha.fr"], msgs["hello@beta.example"]
    assert fr["subject"] == "Merci, Alpha" and fr["language"] == "fr"
    # numbers are written the reader's way: 1 000,00 (narrow no-break space) in French
    assert fr["body"].strip() == "Votre MRR est de 1\u202f000,00 EUR."
    assert en["subject"] == "Thanks, Beta" and en["language"] == "en" and "100.00 EUR" in en["body"]
    assert fr["from"] == "cs@retentio.test"
    with ws.app_session() as s:
        keys = {a.recipient: a.idempotency_key for a in s.scalars(select(PlaybookAction))}
    assert fr["message_id"] == f"<{keys['contact@alpha.fr']}@retentio>"


def test_email_without_address_is_skipped_with_the_reason(ws):
    ws.add_template("thanks", "en", "Subject: Hi\n\nHi\n")
    ws.add_template("thanks", "fr", "Subject: Salut\n\nSalut\n")
    ws.add_playbook(SURVEYS.replace("detractor}", "detractor}\n    - survey: {answer: low_csat}"))
    ws.settings.playbooks.contact_email_attribute = "missing_attr"
    res = ws.playbooks_run(as_of=AS_OF)
    assert all(a["status"] == "skipped" and "no e-mail address" in a["why"] for r in res["runs"] for a in r["actions"])
    assert ws.playbooks_runs()[0]["status"] == "closed"  # nothing left to deliver


def _webhook_playbook(ws, url):
    ws.add_playbook(f"""
name: hook
trigger:
  survey: {{answer: detractor}}
actions:
  - type: webhook
    url: {url}
    event: nps.detractor
    body: {{score: "{{{{ trigger.score }}}}", owner: "{{{{ csm }}}}"}}
""")


def test_webhook_body_signature_and_idempotency_key(ws, monkeypatch):
    monkeypatch.setenv("RT_HOOK_SECRET", "s3cret")
    ws.settings.webhooks.secret_env = "RT_HOOK_SECRET"
    with HTTPRecorder() as http:
        _webhook_playbook(ws, http.url)
        ws.playbooks_run(as_of=AS_OF)
        assert ws.worker_once()["delivered"] == 1
        (req,) = http.requests
    body = req["json"]
    assert body["event"] == "nps.detractor" and body["account_id"] == "A1" and body["account_name"] == "Alpha"
    assert body["score"] == "3" and body["owner"] == "ana@cs.test" and body["as_of"] == "2024-06-30"
    ts = req["headers"]["x-retentio-timestamp"]
    expected = "sha256=" + hmac.new(b"s3cret", ts.encode() + b"." + req["body"], hashlib.sha256).hexdigest()
    assert req["headers"]["x-retentio-signature"] == expected
    with ws.app_session() as s:
        a = s.scalars(select(PlaybookAction)).one()
    assert req["headers"]["idempotency-key"] == a.idempotency_key and len(a.idempotency_key) == 40


def test_retries_with_backoff_against_a_server_failing_twice(ws):
    ws.settings.playbooks.backoff_seconds = 10
    with HTTPRecorder(fail_first=2) as http:
        _webhook_playbook(ws, http.url)
        ws.playbooks_run(as_of=AS_OF)
        now = [utcnow()]
        w = Worker(ws.app_session, ws.settings, playbooks=lambda: [], template_dirs=[], clock=lambda: now[0])
        assert w.run_once() == {"delivered": 0, "failed": 1, "retrying": 1, "dead": 0, "skipped": 0}
        with ws.app_session() as s:
            a = s.scalars(select(PlaybookAction)).one()
            # attempt 1 failed: retry due 10 s x 2^0 later
            assert a.status == "retrying" and a.due_at == now[0] + timedelta(seconds=10)
        assert w.run_once()["delivered"] == 0  # not due yet: nothing tried
        now[0] += timedelta(seconds=10)
        assert w.run_once()["retrying"] == 1  # attempt 2 fails: next in 10 x 2^1 = 20 s
        now[0] += timedelta(seconds=20)
        assert w.run_once()["delivered"] == 1  # attempt 3 succeeds
        assert len(http.requests) == 3 and len(set(http.keys())) == 1  # one key for the three tries
    with ws.app_session() as s:
        outcomes = [t.outcome for t in s.scalars(select(PlaybookAttempt).order_by(PlaybookAttempt.number))]
    assert outcomes == ["error", "error", "ok"]
    assert backoff(ws.settings, 20) == timedelta(seconds=ws.settings.playbooks.backoff_max_seconds)


def test_dead_letter_after_n_attempts_and_retry_by_hand(ws):
    ws.settings.playbooks.max_attempts = 2
    with HTTPRecorder(fail_first=2) as http:
        _webhook_playbook(ws, http.url)
        ws.playbooks_run(as_of=AS_OF)
        assert ws.worker_once()["retrying"] == 1  # backoff 0 in these tests: due again at once
        assert ws.worker_once()["dead"] == 1
        (run,) = ws.playbooks_runs()
        assert run["actions"][0]["status"] == "dead" and "HTTP 500" in run["actions"][0]["last_error"]
        assert run["status"] == "closed"
        res = ws.playbooks_retry(all_dead=True)
        assert res["retried"] == 1
        assert ws.worker_once()["delivered"] == 1
        (run,) = ws.playbooks_runs()
        assert [t["number"] for t in run["actions"][0]["attempts_log"]] == [1, 2, 3]
        assert len(http.requests) == 3


def test_two_workers_never_take_the_same_row(ws):
    ws.add_playbook("""
name: tag
trigger:
  schedule: {every: day}
actions:
  - type: add_tag
    tag: seen
""")
    ws.playbooks_run(as_of=AS_OF)
    now = utcnow()
    w1 = Worker(ws.app_session, ws.settings, playbooks=lambda: [], template_dirs=[], name="w1", clock=lambda: now)
    w2 = Worker(ws.app_session, ws.settings, playbooks=lambda: [], template_dirs=[], name="w2", clock=lambda: now)
    with ws.app_session() as s:
        ids = [a.id for a in s.scalars(select(PlaybookAction))]
    assert w1.claim(ids[0], now) is True
    assert w2.claim(ids[0], now) is False  # leased by w1
    # once w1's lease expired, w2 takes it over and w1's late outcome is ignored
    later = now + timedelta(seconds=ws.settings.playbooks.lease_seconds + 1)
    assert w2.claim(ids[0], later) is True
    assert w1._finish(ids[0], ok=True) == "lost"
    with ws.app_session() as s:
        atts = s.scalars(select(PlaybookAttempt).where(PlaybookAttempt.action_id == ids[0])).all()
    assert [(a.worker, a.outcome) for a in atts] == [("w1", "interrupted"), ("w2", "running")]
