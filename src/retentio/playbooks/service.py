"""Service functions of the playbooks capability (``ws.playbooks_run(...)`` etc.)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

from retentio.clock import resolve_as_of
from retentio.errors import NotFound, UsageError
from retentio.playbooks.spec import DEFAULTS_DIR, TEMPLATES_DIR, load_playbooks


def _folder(ws) -> Path:
    return Path(ws.path) / "playbooks"


def _template_dirs(ws) -> list[Path]:
    return [_folder(ws) / "templates", TEMPLATES_DIR]


def load(ws) -> list:
    return load_playbooks(_folder(ws), template_dirs=_template_dirs(ws))


def playbooks_list(ws) -> list[dict[str, Any]]:
    """Every playbook of the workspace (or the shipped defaults when it has no playbooks/ folder)."""
    return [b.summary() for b in load(ws)]


def playbooks_validate(ws) -> dict[str, Any]:
    """Parse and check every playbook file; raises ConfigError naming the file and key."""
    books = load(ws)
    return {"valid": True, "folder": str(_folder(ws)), "source": books[0].source if books else "workspace",
            "playbooks": len(books), "enabled": sum(b.enabled for b in books),
            "files": [b.file for b in books]}


def playbooks_init(ws, *, force: bool = False) -> dict[str, Any]:
    """Copy the shipped playbooks and e-mail templates into ``<workspace>/playbooks`` to edit them."""
    dest = _folder(ws)
    if dest.exists() and any(dest.glob("*.yaml")) and not force:
        raise UsageError(f"{dest} already holds playbooks", hint="pass force=True to overwrite them with the defaults")
    (dest / "templates").mkdir(parents=True, exist_ok=True)
    copied = []
    for f in sorted(DEFAULTS_DIR.glob("*.yaml")):
        shutil.copy2(f, dest / f.name)
        copied.append(f.name)
    for f in sorted(TEMPLATES_DIR.glob("*.txt")):
        shutil.copy2(f, dest / "templates" / f.name)
    return {"folder": str(dest), "playbooks": copied}


def _inputs(ws, as_of: date):
    from retentio.playbooks.sources import Inputs, health_from_workspace, risk_from_workspace

    return Inputs(ws.engine(), ws.settings, as_of, health=health_from_workspace(ws), risk=risk_from_workspace(ws))


def playbooks_run(ws, *, as_of: date | str | None = None, dry_run: bool = False, playbook: str | None = None,
                  inputs=None) -> dict[str, Any]:
    """Evaluate the enabled playbooks at ``as_of``, start runs and enqueue their actions
    (``dry_run``: only say what would happen and why).  JSON shape of ``playbooks run``."""
    from retentio.playbooks.evaluate import run_playbooks

    as_of = resolve_as_of(as_of)
    books = load(ws)
    if playbook and playbook not in {b.name for b in books}:
        raise NotFound(f"no playbook named {playbook!r}", hint=f"playbooks: {', '.join(b.name for b in books)}")
    inp = inputs or _inputs(ws, as_of)
    with ws.app_session() as s:
        out = run_playbooks(s, books, inp, ws.settings, template_dirs=_template_dirs(ws), dry_run=dry_run, only=playbook)
        if dry_run:
            s.rollback()
    res = out.to_dict()
    if dry_run:
        res["skipped_runs"] = out.skipped_runs
    return res


def playbooks_runs(ws, *, account: str | None = None, playbook: str | None = None, status: str | None = None,
                   limit: int | None = None, attempts: bool = True) -> list[dict[str, Any]]:
    """Runs (newest first) with their actions and each delivery attempt: the audit trail."""
    from sqlalchemy import select

    from retentio.store.models import PlaybookAction, PlaybookAttempt, PlaybookRun

    if limit is not None and limit < 1:
        raise UsageError("limit must be at least 1")
    with ws.app_session() as s:
        q = select(PlaybookRun).order_by(PlaybookRun.id.desc())
        if account:
            q = q.where(PlaybookRun.account_id == account)
        if playbook:
            q = q.where(PlaybookRun.playbook == playbook)
        if status:
            q = q.where(PlaybookRun.status == status)
        if limit:
            q = q.limit(limit)
        runs = s.scalars(q).all()
        ids = [r.id for r in runs]
        acts = s.scalars(select(PlaybookAction).where(PlaybookAction.run_id.in_(ids))
                         .order_by(PlaybookAction.run_id, PlaybookAction.position, PlaybookAction.id)).all() if ids else []
        atts = s.scalars(select(PlaybookAttempt).where(PlaybookAttempt.action_id.in_([a.id for a in acts]))
                         .order_by(PlaybookAttempt.action_id, PlaybookAttempt.number)).all() if acts and attempts else []
    by_action: dict[int, list] = {}
    for t in atts:
        by_action.setdefault(t.action_id, []).append(t.to_dict())
    by_run: dict[int, list] = {}
    for a in acts:
        d = a.to_dict()
        if attempts:
            d["attempts_log"] = by_action.get(a.id, [])
        by_run.setdefault(a.run_id, []).append(d)
    return [{**r.to_dict(), "actions": by_run.get(r.id, [])} for r in runs]


def playbooks_retry(ws, *, action_id: int | None = None, all_dead: bool = False) -> dict[str, Any]:
    """Put dead-letter actions back in the outbox (due now, attempts counted afresh)."""
    from sqlalchemy import select

    from retentio.store.models import AuditEntry, PlaybookAction, PlaybookRun, utcnow

    if (action_id is None) == (not all_dead):
        raise UsageError("give one action id or all_dead=True", hint="action_id=ID for one, or all_dead=True for every dead-letter action")
    now = utcnow()
    with ws.app_session() as s:
        q = select(PlaybookAction).where(PlaybookAction.status == "dead")
        if action_id is not None:
            a = s.get(PlaybookAction, action_id)
            if a is None:
                raise NotFound(f"no playbook action {action_id}", hint="see `retentio playbooks runs`")
            if a.status != "dead":
                raise UsageError(f"action {action_id} is {a.status}, not dead", hint="only dead-letter actions are retried by hand")
            q = q.where(PlaybookAction.id == action_id)
        ids = []
        for a in s.scalars(q):
            a.status, a.attempts, a.due_at, a.updated_at, a.done_at = "pending", 0, now, now, None
            run = s.get(PlaybookRun, a.run_id)
            if run.status == "closed" and not run.level:
                run.status, run.closed_at, run.closed_reason = "open", None, None
            ids.append(a.id)
        s.add(AuditEntry(actor="system:playbooks", action="playbook.retry", target=None, details={"actions": ids}))
    return {"retried": len(ids), "actions": ids}


def _worker(ws, **kw):
    from retentio.playbooks.delivery import Worker

    return Worker(ws.app_session, ws.settings, playbooks=lambda: load(ws), template_dirs=_template_dirs(ws), **kw)


def worker_once(ws, **kw) -> dict[str, int]:
    """Deliver what is due now and return {"delivered", "failed", "retrying", "dead", "skipped"}."""
    return _worker(ws, **kw).run_once()


def worker_loop(ws, *, should_stop, on_pass=None, **kw) -> None:
    """Poll the outbox every ``playbooks.poll_interval_seconds`` until ``should_stop()``."""
    _worker(ws, **kw).loop(should_stop=should_stop, on_pass=on_pass)


def account_tags(ws, account: str | None = None) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from retentio.store.models import AccountTag

    with ws.app_session() as s:
        q = select(AccountTag).order_by(AccountTag.account_id, AccountTag.tag)
        if account:
            q = q.where(AccountTag.account_id == account)
        return [{"account_id": t.account_id, "tag": t.tag, "run_id": t.run_id, "created_at": t.created_at} for t in s.scalars(q)]


def notifications(ws, recipient: str | None = None) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from retentio.store.models import Notification

    with ws.app_session() as s:
        q = select(Notification).order_by(Notification.id)
        if recipient:
            q = q.where(Notification.recipient == recipient)
        return [n.to_dict() for n in s.scalars(q)]
