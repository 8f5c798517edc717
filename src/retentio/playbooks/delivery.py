"""The outbox worker: claim due actions with a lease, deliver them, record every attempt,
retry with exponential backoff, give up into the dead-letter list.

Protocol of one action (each step is its own committed transaction):

1. **claim**: ``UPDATE playbook_actions SET status='running', lease_owner=me,
   lease_until=now+lease, attempts=attempts+1 WHERE id=? AND (due and pending/retrying, or
   running with an expired lease)``; only the worker whose UPDATE changed the row goes on,
   so two workers never take the same row.  An attempt row (outcome ``running``) is
   written in the same transaction: the state *before* the send.
2. **deliver**: local actions (task, tag, ...) are executed in the transaction that marks
   them ``done``, so they happen exactly once.  E-mails and webhooks are sent, then
3. **record**: ``done`` + attempt ``ok`` (the state *after* the send), or ``retrying``
   with ``due_at = now + backoff_seconds x 2^(attempt-1)`` (at most backoff_max_seconds),
   or ``dead`` after ``max_attempts``.

A worker killed between 1 and 3 leaves the row ``running`` with a lease: once the lease
expires another worker takes it over (the old attempt becomes ``interrupted``) and sends
again **with the same idempotency key** (``Idempotency-Key`` header of webhooks,
``Message-ID`` of e-mails), so a receiver drops the repeat; nothing is lost.  The only
window where the receiver sees the same delivery twice is a kill after the receiver
accepted it and before step 3 committed, and the repeat carries the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update

from retentio.config import Settings
from retentio.errors import ConfigError
from retentio.playbooks import actions as A
from retentio.playbooks.evaluate import maybe_complete
from retentio.store.models import PlaybookAction, PlaybookAttempt, PlaybookRun, utcnow

SIGNATURE_HEADER = "X-Retentio-Signature"
TIMESTAMP_HEADER = "X-Retentio-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def backoff(settings: Settings, attempt: int) -> timedelta:
    st = settings.playbooks
    return timedelta(seconds=min(st.backoff_seconds * 2 ** (attempt - 1), st.backoff_max_seconds))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``timestamp + "." + body`` with the shared secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# -- senders -------------------------------------------------------------------------------------
def send_email(settings: Settings, action: PlaybookAction) -> dict[str, Any]:
    import smtplib
    from email.message import EmailMessage
    from email.utils import formatdate

    st, p = settings.email, action.params
    if not st.smtp_host or not st.sender:
        raise ConfigError("email.smtp_host and email.sender must be set to send e-mails",
                          hint="set [email] smtp_host, smtp_port and sender in retentio.toml")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = st.sender, action.recipient, p["subject"]
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{action.idempotency_key}@retentio>"
    msg["X-Retentio-Idempotency-Key"] = action.idempotency_key
    msg.set_content(p["body"])
    msg["Content-Language"] = p["language"]  # after set_content, which resets the Content-* headers
    with smtplib.SMTP(st.smtp_host, st.smtp_port, timeout=settings.playbooks.send_timeout_seconds) as smtp:
        if st.starttls:
            smtp.starttls()
        if st.username:
            pw = os.environ.get(st.password_env, "") if st.password_env else ""
            if st.password_env and not pw:
                raise ConfigError(f"email.password_env: the environment variable {st.password_env} is not set",
                                  hint=f"export {st.password_env}=... before starting the worker")
            smtp.login(st.username, pw)
        refused = smtp.send_message(msg)
    if refused:
        raise RuntimeError(f"recipient refused: {refused}")
    return {"message_id": msg["Message-ID"]}


def send_webhook(settings: Settings, action: PlaybookAction, now: datetime) -> dict[str, Any]:
    import urllib.error
    import urllib.request

    body = json.dumps(action.params["body"], ensure_ascii=False, sort_keys=True, default=str).encode()
    ts = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: ts, IDEMPOTENCY_HEADER: action.idempotency_key,
               "User-Agent": "retentio-playbooks"}
    env = settings.webhooks.secret_env
    if env:
        secret = os.environ.get(env)
        if not secret:
            raise ConfigError(f"webhooks.secret_env: the environment variable {env} is not set",
                              hint=f"export {env}=... (the shared secret of the receiver) before starting the worker")
        headers[SIGNATURE_HEADER] = sign(secret, ts, body)
    req = urllib.request.Request(action.params["url"], data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=settings.playbooks.send_timeout_seconds) as resp:
            return {"status": resp.status}
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code} from {action.params['url']}") from None


# -- the worker ----------------------------------------------------------------------------------
class Worker:
    def __init__(self, session_factory: Callable, settings: Settings, *, playbooks: Callable[[], list],
                 template_dirs: list[Path], name: str | None = None,
                 clock: Callable[[], datetime] = utcnow, senders: dict[str, Callable] | None = None):
        self.session = session_factory
        self.settings = settings
        self.playbooks = playbooks
        self.template_dirs = template_dirs
        self.name = name or worker_id()
        self.clock = clock
        self.senders = senders or {"email": lambda a, now: send_email(self.settings, a),
                                   "webhook": lambda a, now: send_webhook(self.settings, a, now)}

    # candidates: due, not blocked by an unfinished earlier action of the same run
    def _due(self, now: datetime, limit: int) -> list[int]:
        with self.session() as s:
            rows = s.execute(select(PlaybookAction.id, PlaybookAction.run_id, PlaybookAction.position).where(or_(
                PlaybookAction.status.in_(("pending", "retrying")) & (PlaybookAction.due_at <= now),
                (PlaybookAction.status == "running") & (PlaybookAction.lease_until < now),
            )).order_by(PlaybookAction.due_at, PlaybookAction.run_id, PlaybookAction.position, PlaybookAction.id).limit(limit)).all()
            out = []
            for aid, run_id, pos in rows:
                earlier = s.scalar(select(PlaybookAction.id).where(
                    PlaybookAction.run_id == run_id, PlaybookAction.position < pos,
                    PlaybookAction.status.in_(("pending", "running", "retrying"))).limit(1))
                if earlier is None:
                    out.append(aid)
            return out

    def claim(self, action_id: int, now: datetime) -> bool:
        lease = now + timedelta(seconds=self.settings.playbooks.lease_seconds)
        with self.session() as s:
            res = s.execute(update(PlaybookAction).where(PlaybookAction.id == action_id, or_(
                PlaybookAction.status.in_(("pending", "retrying")) & (PlaybookAction.due_at <= now),
                (PlaybookAction.status == "running") & (PlaybookAction.lease_until < now),
            )).values(status="running", lease_owner=self.name, lease_until=lease,
                      attempts=PlaybookAction.attempts + 1, updated_at=now).execution_options(synchronize_session=False))
            if res.rowcount != 1:
                return False
            for old in s.scalars(select(PlaybookAttempt).where(PlaybookAttempt.action_id == action_id,
                                                               PlaybookAttempt.outcome == "running")):
                old.outcome, old.finished_at = "interrupted", now
                old.error = "the worker stopped before recording the outcome (lease expired); retried with the same idempotency key"
            number = len(s.scalars(select(PlaybookAttempt.id).where(PlaybookAttempt.action_id == action_id)).all()) + 1
            s.add(PlaybookAttempt(action_id=action_id, number=number, worker=self.name, started_at=now, outcome="running"))
        return True

    def _finish(self, action_id: int, *, ok: bool, result: dict | None = None, error: str | None = None,
                skipped: str | None = None) -> str:
        now = self.clock()
        with self.session() as s:
            self._lock(s, action_id, now)
            a = s.get(PlaybookAction, action_id)
            if a.lease_owner != self.name or a.status != "running":
                return "lost"  # another worker took it over (our lease expired): its outcome counts
            att = s.scalars(select(PlaybookAttempt).where(PlaybookAttempt.action_id == action_id,
                                                          PlaybookAttempt.outcome == "running")).first()
            status = self._record(s, a, att, now, ok=ok, result=result, error=error, skipped=skipped)
        return status

    @staticmethod
    def _lock(s, action_id: int, now: datetime) -> None:
        """Write first: the transaction takes the write lock at once (SQLite waits for it up to
        its busy timeout) rather than failing to upgrade a read lock; on PostgreSQL it locks
        the row, so a worker taking the row over waits for this outcome."""
        s.execute(update(PlaybookAction).where(PlaybookAction.id == action_id).values(updated_at=now)
                  .execution_options(synchronize_session=False))

    def _record(self, s, a: PlaybookAction, att, now, *, ok, result=None, error=None, skipped=None) -> str:
        if att is not None:
            att.finished_at, att.outcome, att.error = now, "ok" if ok else "error", error
        if ok:
            a.status = "skipped" if skipped else "done"
            a.result, a.last_error, a.done_at = result or {}, skipped, now
        elif a.attempts >= self.settings.playbooks.max_attempts:
            a.status, a.last_error, a.done_at = "dead", error, now
        else:
            a.status, a.last_error = "retrying", error
            a.due_at = now + backoff(self.settings, a.attempts)
        a.lease_owner, a.lease_until, a.updated_at = None, None, now
        run = s.get(PlaybookRun, a.run_id)
        s.flush()
        maybe_complete(s, run, now=now)
        return a.status

    def process(self, action_id: int) -> str | None:
        """Claim and deliver one action; its new status, or None when another worker has it."""
        now = self.clock()
        if not self.claim(action_id, now):
            return None
        with self.session() as s:
            a = s.get(PlaybookAction, action_id)
            typ = a.type
        if typ in A.LOCAL:
            return self._local(action_id)
        try:
            with self.session() as s:
                a = s.get(PlaybookAction, action_id)
                s.expunge(a)
            result = self.senders[typ](a, self.clock())
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the attempt
            return self._finish(action_id, ok=False, error=f"{type(exc).__name__}: {exc}"[:4000])
        return self._finish(action_id, ok=True, result=result)

    def _local(self, action_id: int) -> str:
        now = self.clock()
        try:
            with self.session() as s:
                self._lock(s, action_id, now)
                a = s.get(PlaybookAction, action_id)
                if a.lease_owner != self.name or a.status != "running":
                    return "lost"
                run = s.get(PlaybookRun, a.run_id)
                att = s.scalars(select(PlaybookAttempt).where(PlaybookAttempt.action_id == action_id,
                                                              PlaybookAttempt.outcome == "running")).first()
                try:
                    result = A.execute_local(s, a, run, self.settings, now=now, playbooks=self.playbooks,
                                             template_dirs=self.template_dirs)
                    return self._record(s, a, att, now, ok=True, result=result)
                except A.Skip as skip:
                    return self._record(s, a, att, now, ok=True, skipped=str(skip))
        except Exception as exc:  # noqa: BLE001 - the transaction rolled back; record the failure
            return self._finish(action_id, ok=False, error=f"{type(exc).__name__}: {exc}"[:4000])

    def run_once(self, limit: int = 1000) -> dict[str, int]:
        """Deliver what is due now (one pass) and count the outcomes."""
        counts = {"delivered": 0, "failed": 0, "retrying": 0, "dead": 0, "skipped": 0}
        seen: set[int] = set()
        while True:
            ids = [i for i in self._due(self.clock(), limit) if i not in seen]
            if not ids:
                break
            for aid in ids:
                seen.add(aid)
                st = self.process(aid)
                if st == "done":
                    counts["delivered"] += 1
                elif st == "skipped":
                    counts["skipped"] += 1
                elif st in ("retrying", "dead"):
                    counts["failed"] += 1
                    counts[st] += 1
        return counts

    def loop(self, *, should_stop: Callable[[], bool], on_pass: Callable[[dict], None] | None = None) -> None:
        while not should_stop():
            counts = self.run_once()
            if on_pass:
                on_pass(counts)
            slept = 0.0
            while slept < self.settings.playbooks.poll_interval_seconds and not should_stop():
                time.sleep(0.2)
                slept += 0.2
