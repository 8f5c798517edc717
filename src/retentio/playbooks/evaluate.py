"""Evaluate playbooks at ``as_of``: start runs exactly once and enqueue their actions.

For each enabled playbook, the trigger is evaluated for every account (or the portfolio);
each hit is then, in this order:

1. filtered by the playbook's ``accounts`` filter (not counted as skipped);
2. skipped as ``dedupe`` when a run with the same dedupe key (playbook | account |
   occurrence) exists: the same occurrence never starts twice;
3. skipped as ``open_run`` when the account has an open run of this playbook;
4. skipped as ``cap`` when a frequency cap is reached (``caps.per_playbook``,
   ``caps.per_account``, and ``playbooks.account_cap_runs`` across playbooks), counting the
   runs whose ``as_of`` falls in the ``days`` days ending on ``as_of``;
5. otherwise a run starts and its actions go to the outbox (``playbook_actions``), in the
   same transaction.

Open runs of state triggers whose condition no longer holds are closed ("cleared"): their
pending actions are cancelled and their tasks with ``close_when_cleared`` are closed with a
note.  A dry run does all of this in memory and writes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retentio.config import Settings
from retentio.playbooks import actions as A
from retentio.playbooks.spec import PORTFOLIO, Playbook
from retentio.playbooks.triggers import Hit, Unavailable, evaluate
from retentio.store.models import AuditEntry, Note, PlaybookAction, PlaybookRun, Task, utcnow

ACTOR = "system:playbooks"


@dataclass
class Outcome:
    as_of: date
    dry_run: bool
    runs: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=lambda: {"dedupe": 0, "cap": 0, "open_run": 0})
    cleared: list[dict[str, Any]] = field(default_factory=list)
    unavailable: list[dict[str, str]] = field(default_factory=list)
    skipped_runs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "runs_started": len(self.runs),
            "actions_enqueued": sum(len(r["actions"]) for r in self.runs),
            "skipped": dict(self.skipped),
            "runs": self.runs,
            "cleared": self.cleared,
            "unavailable": self.unavailable,
        }


def dedupe_key(playbook: str, account_id: str, occurrence: str) -> str:
    return f"{playbook}|{account_id}|{occurrence}"


def idempotency_key(dkey: str, position: int, recipient: str | None) -> str:
    return hashlib.sha256(f"{dkey}|{position}|{recipient or ''}".encode()).hexdigest()[:40]


def _jsonable(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and v != v:
        return None
    return v


def build_context(pb: Playbook, account_id: str, hit: Hit, inp, settings: Settings) -> dict[str, Any]:
    """What templates and actions see: account (id, name, attributes), figures on as_of,
    trigger (kind, occurrence, reason, data), playbook, as_of."""
    if account_id == PORTFOLIO:
        account = {"account_id": PORTFOLIO, "name": "portfolio", "attributes": {}}
        figures: dict[str, Any] = {}
    else:
        account = inp.accounts()[account_id]
        figures = dict(inp.figures(inp.as_of)[account_id])
    return _jsonable({
        "playbook": pb.name, "as_of": inp.as_of, "account": account, "figures": figures,
        "trigger": {"kind": pb.trigger.describe(), "occurrence": hit.occurrence, "reason": hit.reason, **hit.data},
        "currency": settings.workspace.base_currency,
    })


def _passes_filter(pb: Playbook, account_id: str, inp, tags: dict[str, set[str]]) -> bool:
    f = pb.accounts
    if account_id == PORTFOLIO:
        return True
    figs = inp.figures(inp.as_of)[account_id]
    if f["customers_only"] and not figs["customer"]:
        return False
    if f["mrr_min"] is not None and figs["mrr"] < f["mrr_min"]:
        return False
    if f["mrr_max"] is not None and figs["mrr"] > f["mrr_max"]:
        return False
    if f["touch_tier"] and figs["touch_tier"] not in f["touch_tier"]:
        return False
    attrs = inp.accounts()[account_id]["attributes"]
    for k, v in (f["attributes"] or {}).items():
        allowed = {str(x) for x in (v if isinstance(v, list) else [v])}
        if str(attrs.get(k)) not in allowed:
            return False
    have = tags.get(account_id, set())
    if f["tags"] and not set(f["tags"]) <= have:
        return False
    if f["exclude_tags"] and set(f["exclude_tags"]) & have:
        return False
    return True


class _Counter:
    """Runs in a window, from the database plus those started in this evaluation."""

    def __init__(self, s: Session, as_of: date):
        self.s, self.as_of = s, as_of
        self.new: list[tuple[str, str]] = []

    def count(self, days: int, playbook: str | None = None, account: str | None = None) -> int:
        first = self.as_of - timedelta(days=days - 1)
        q = select(func.count()).select_from(PlaybookRun).where(PlaybookRun.as_of >= first, PlaybookRun.as_of <= self.as_of)
        if playbook is not None:
            q = q.where(PlaybookRun.playbook == playbook)
        if account is not None:
            q = q.where(PlaybookRun.account_id == account)
        n = self.s.scalar(q) or 0
        return n + sum(1 for p, a in self.new if (playbook is None or p == playbook) and (account is None or a == account))


def run_playbooks(
    s: Session,
    playbooks: list[Playbook],
    inp,
    settings: Settings,
    *,
    template_dirs: list[Path],
    dry_run: bool = False,
    only: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    now = now or utcnow()
    as_of = inp.as_of
    out = Outcome(as_of, dry_run)
    st = settings.playbooks
    # Evaluate every trigger first, without touching the application database: the slow
    # part holds no database lock (on SQLite a long read would block the workers' writes).
    days = {as_of}
    for pb in playbooks:
        for t in pb.trigger.triggers():
            if t.kind == "figure" and (t.params["change_below"] is not None or t.params["change_above"] is not None):
                days.add(as_of - timedelta(days=t.params["over_days"]))
    inp.prefetch(sorted(days))
    evaluated: list[tuple[Playbook, dict[str, Hit]]] = []
    for pb in playbooks:
        if not pb.enabled or (only and pb.name != only):
            continue
        try:
            evaluated.append((pb, evaluate(pb.trigger, inp)))
        except Unavailable as exc:
            out.unavailable.append({"playbook": pb.name, "reason": str(exc)})
    inp.accounts()
    # Then one short transaction.  A real run writes first, so that on SQLite it takes the
    # write lock at once (waiting for it if need be) instead of failing to upgrade a read lock.
    audit = None
    if not dry_run:
        audit = AuditEntry(actor=ACTOR, action="playbook.run", target=None, details={"as_of": as_of.isoformat()})
        s.add(audit)
        s.flush()
    tags = A.all_tags(s)
    counter = _Counter(s, as_of)
    for pb, hits in evaluated:
        # 1. clear open runs of state triggers that no longer hold
        if pb.trigger.level:
            open_runs = s.scalars(select(PlaybookRun).where(
                PlaybookRun.playbook == pb.name, PlaybookRun.status == "open", PlaybookRun.level.is_(True))).all()
            for run in open_runs:
                if run.account_id not in hits:
                    why = f"trigger cleared on {as_of} ({pb.trigger.describe()} no longer holds)"
                    out.cleared.append({"playbook": pb.name, "account_id": run.account_id, "run_id": run.id, "reason": why})
                    if not dry_run:
                        close_run(s, run, why, cleared=True, now=now)
        # 2. start runs
        known = inp.accounts()
        for acc, hit in hits.items():
            if (acc != PORTFOLIO and acc not in known) or not _passes_filter(pb, acc, inp, tags):
                continue
            key = dedupe_key(pb.name, acc, hit.occurrence)
            info = {"playbook": pb.name, "account_id": acc, "trigger": hit.reason}
            if s.scalar(select(PlaybookRun.id).where(PlaybookRun.dedupe_key == key)) is not None:
                out.skipped["dedupe"] += 1
                out.skipped_runs.append({**info, "skipped": "dedupe"})
                continue
            if s.scalar(select(PlaybookRun.id).where(PlaybookRun.playbook == pb.name, PlaybookRun.account_id == acc,
                                                    PlaybookRun.status == "open").limit(1)) is not None:
                out.skipped["open_run"] += 1
                out.skipped_runs.append({**info, "skipped": "open_run"})
                continue
            capped = None
            if (c := pb.caps.get("per_playbook")) and counter.count(c["days"], playbook=pb.name) >= c["runs"]:
                capped = f"per_playbook cap {c['runs']} in {c['days']} days"
            elif (c := pb.caps.get("per_account")) and counter.count(c["days"], playbook=pb.name, account=acc) >= c["runs"]:
                capped = f"per_account cap {c['runs']} in {c['days']} days"
            elif st.account_cap_runs and acc != PORTFOLIO and counter.count(st.account_cap_days, account=acc) >= st.account_cap_runs:
                capped = f"playbooks.account_cap_runs {st.account_cap_runs} in {st.account_cap_days} days"
            if capped:
                out.skipped["cap"] += 1
                out.skipped_runs.append({**info, "skipped": "cap", "why": capped})
                continue
            ctx = build_context(pb, acc, hit, inp, settings)
            planned = A.plan_actions(pb, ctx, settings, s, template_dirs=template_dirs)
            if dry_run:  # a real run is flushed to the database, where the counter sees it
                counter.new.append((pb.name, acc))
            entry = {**info, "occurrence": hit.occurrence, "dedupe_key": key,
                     "actions": [p.describe() for p in planned]}
            if not dry_run:
                run = start_run(s, pb, acc, hit, key, as_of, ctx, planned, now=now)
                entry["run_id"] = run.id
            out.runs.append(entry)
    if audit is not None:
        audit.details = _jsonable({"as_of": as_of, "runs_started": len(out.runs), "skipped": out.skipped,
                                   "cleared": len(out.cleared)})
    return out


def start_run(s: Session, pb: Playbook, account_id: str, hit: Hit, key: str, as_of: date, ctx: dict[str, Any],
              planned: list, *, now: datetime, parent_run_id: int | None = None) -> PlaybookRun:
    run = PlaybookRun(playbook=pb.name, account_id=account_id, trigger=pb.trigger.describe(), occurrence=hit.occurrence,
                      dedupe_key=key, as_of=as_of, status="open", level=pb.trigger.level and parent_run_id is None,
                      reason=hit.reason[:2000], context=ctx, parent_run_id=parent_run_id, created_at=now)
    s.add(run)
    s.flush()
    for p in planned:
        s.add(PlaybookAction(run_id=run.id, position=p.position, type=p.type, params=p.params, recipient=p.recipient,
                             idempotency_key=idempotency_key(key, p.position, p.recipient), status=p.status,
                             due_at=now + p.delay, result=p.result, last_error=p.note, created_at=now, updated_at=now,
                             done_at=now if p.status == "skipped" else None))
    s.add(AuditEntry(actor=ACTOR, action="playbook.run.start", target=f"account:{account_id}",
                     details={"playbook": pb.name, "run_id": run.id, "occurrence": hit.occurrence, "reason": hit.reason}))
    s.flush()
    maybe_complete(s, run, now=now)
    return run


def maybe_complete(s: Session, run: PlaybookRun, *, now: datetime) -> None:
    """An event run closes when all its actions are finished; a state run waits for clearing."""
    if run.status != "open" or run.level:
        return
    busy = s.scalar(select(func.count()).select_from(PlaybookAction).where(
        PlaybookAction.run_id == run.id, PlaybookAction.status.in_(("pending", "running", "retrying"))))
    if not busy:
        run.status, run.closed_at, run.closed_reason = "closed", now, "completed: every action finished"


def close_run(s: Session, run: PlaybookRun, why: str, *, cleared: bool, now: datetime) -> None:
    run.status, run.closed_at, run.closed_reason = "closed", now, why
    for a in s.scalars(select(PlaybookAction).where(PlaybookAction.run_id == run.id,
                                                    PlaybookAction.status.in_(("pending", "retrying")))):
        a.status, a.last_error, a.updated_at, a.done_at = "canceled", why, now, now
    if cleared:
        keep = {a.result.get("task_id") for a in s.scalars(select(PlaybookAction).where(
            PlaybookAction.run_id == run.id, PlaybookAction.type == "task")) if not a.params.get("close_when_cleared", True)}
        for t in s.scalars(select(Task).where(Task.playbook_run_id == run.id, Task.status == "open")):
            if t.id in keep:
                continue
            t.status, t.closed_at = "canceled", now
            t.closed_note = f"Closed by playbook {run.playbook}: {why}."
            # and a note on the account, for its timeline
            s.add(Note(account_id=run.account_id, body=f"Task \"{t.title}\" closed: {t.closed_note}",
                       author=ACTOR, created_at=now))
    s.add(AuditEntry(actor=ACTOR, action="playbook.run.close", target=f"account:{run.account_id}",
                     details={"playbook": run.playbook, "run_id": run.id, "reason": why}))
