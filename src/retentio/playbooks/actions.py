"""What each action does.

Two moments:

- :func:`plan_actions` (when a run starts): templates are rendered and recipients resolved
  from the run's context, so the outbox row holds exactly what will be delivered and the
  dry run can show it; an action that cannot be delivered (no contact address, no URL) is
  planned as ``skipped`` with the reason.
- :func:`execute_local` (in the worker): actions inside the application database (task,
  CSM assignment, touch tier, tags, notification, starting another playbook) are executed
  in the same transaction that marks them done, so they happen exactly once.  E-mail and
  webhook deliveries are in :mod:`retentio.playbooks.delivery`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from retentio.config import Settings
from retentio.playbooks.render import render, render_deep, render_email
from retentio.playbooks.sources import touch_tier
from retentio.playbooks.spec import LANGUAGES, Playbook, parse_duration
from retentio.store.models import AccountAssignment, AccountTag, Notification, PlaybookRun, Task

LOCAL = ("task", "assign_csm", "set_touch_tier", "add_tag", "remove_tag", "notify", "start_playbook")
REMOTE = ("email", "webhook")


@dataclass
class Planned:
    position: int
    type: str
    params: dict[str, Any]
    recipient: str | None = None
    delay: timedelta = timedelta(0)
    status: str = "pending"
    note: str | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"position": self.position, "type": self.type}
        if self.recipient:
            d["to"] = self.recipient
        for k in ("title", "subject", "language", "tag", "due", "priority", "owner", "playbook", "url", "rule", "team"):
            if self.params.get(k) not in (None, ""):
                d[k] = self.params[k]
        if self.delay:
            d["delay_hours"] = self.delay.total_seconds() / 3600
        if self.status != "pending":
            d["status"], d["why"] = self.status, self.note
        return d


def all_tags(s: Session) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for acc, tag in s.execute(select(AccountTag.account_id, AccountTag.tag)):
        out.setdefault(acc, set()).add(tag)
    return out


def current_csm(s: Session, ctx: dict[str, Any], settings: Settings) -> str | None:
    acc = ctx["account"]["account_id"]
    a = s.get(AccountAssignment, acc)
    if a is not None and a.csm:
        return a.csm
    return ctx["account"]["attributes"].get(settings.playbooks.csm_attribute) or None


def resolve_person(who: str, s: Session, ctx: dict[str, Any], settings: Settings) -> tuple[str | None, str]:
    """(recipient, how) for csm | lead | contact | a literal address."""
    if who == "csm":
        return current_csm(s, ctx, settings), f"the account's CSM (attribute {settings.playbooks.csm_attribute!r})"
    if who == "lead":
        return settings.playbooks.cs_lead or None, "playbooks.cs_lead"
    if who == "contact":
        attr = settings.playbooks.contact_email_attribute
        return ctx["account"]["attributes"].get(attr) or None, f"the account's {attr!r} attribute"
    return who, "the address in the playbook"


def language_of(ctx: dict[str, Any], settings: Settings, wanted: str = "auto") -> str:
    if wanted in LANGUAGES:
        return wanted
    lang = str(ctx["account"]["attributes"].get(settings.playbooks.language_attribute) or "").strip().lower()[:2]
    return lang if lang in LANGUAGES else settings.playbooks.default_language


def _tpl_ctx(ctx: dict[str, Any], s: Session, settings: Settings) -> dict[str, Any]:
    return {**ctx, "csm": current_csm(s, ctx, settings), "lead": settings.playbooks.cs_lead,
            "sender": settings.email.sender}


def plan_actions(pb: Playbook, ctx: dict[str, Any], settings: Settings, s: Session, *,
                 template_dirs: list[Path]) -> list[Planned]:
    tctx = _tpl_ctx(ctx, s, settings)
    out: list[Planned] = []
    where = f"{pb.file}: actions"
    default_url = settings.webhooks.default_url
    for a in pb.actions:
        p, w = dict(a.params), f"{where}[{a.position}]"
        if a.type == "task":
            p["title"] = render(p["title"], tctx, f"{w}.title")
            if p.get("description"):
                p["description"] = render(p["description"], tctx, f"{w}.description")
            out.append(Planned(a.position, "task", p, delay=a.delay))
        elif a.type == "email":
            to, how = resolve_person(p["to"], s, ctx, settings)
            lang = language_of(ctx, settings, p["language"])
            subject, body = render_email(p["template"], lang, template_dirs, {**tctx, "language": lang})
            params = {"template": p["template"], "language": lang, "subject": subject, "body": body, "to": to}
            if not to or "@" not in to:
                out.append(Planned(a.position, "email", params, None, a.delay, "skipped",
                                   f"no e-mail address for {p['to']!r} ({how} is {to!r})"))
            else:
                out.append(Planned(a.position, "email", params, to, a.delay))
        elif a.type == "webhook":
            url = p["url"] or default_url
            body = {"event": p["event"] or pb.name, **_event_body(ctx), **render_deep(p["body"] or {}, tctx, f"{w}.body")}
            if not url:
                out.append(Planned(a.position, "webhook", {"url": None, "body": body}, None, a.delay, "skipped",
                                   "no url and webhooks.default_url is empty"))
            else:
                out.append(Planned(a.position, "webhook", {"url": url, "body": body}, url, a.delay))
        elif a.type == "notify":
            to, how = resolve_person(p["to"], s, ctx, settings)
            title = render(p["title"], tctx, f"{w}.title")
            text = render(p["body"], tctx, f"{w}.body") if p.get("body") else None
            params = {"to": to, "title": title, "body": text}
            if not to:
                out.append(Planned(a.position, "notify", params, None, a.delay, "skipped", f"nobody to notify ({how} is empty)"))
            else:
                out.append(Planned(a.position, "notify", params, to, a.delay))
            if default_url:
                body = {"event": "notification", **_event_body(ctx), "to": to, "title": title, "body": text}
                out.append(Planned(a.position, "webhook", {"url": default_url, "body": body}, default_url, a.delay))
        else:  # assign_csm, set_touch_tier, add_tag, remove_tag, start_playbook
            if a.type == "set_touch_tier":
                p["mrr"], p["touch_tier"] = ctx["figures"].get("mrr"), ctx["figures"].get("touch_tier")
            out.append(Planned(a.position, a.type, p, delay=a.delay))
    return out


def _event_body(ctx: dict[str, Any]) -> dict[str, Any]:
    return {"playbook": ctx["playbook"], "account_id": ctx["account"]["account_id"], "account_name": ctx["account"]["name"],
            "as_of": ctx["as_of"], "trigger": ctx["trigger"]["reason"], "occurrence": ctx["trigger"]["occurrence"]}


# -- execution of the local actions (one transaction with the outbox update) -----------------------
class Skip(Exception):
    """The action has nothing to do; recorded as ``skipped`` with this reason."""


def execute_local(s: Session, action, run: PlaybookRun, settings: Settings, *, now: datetime,
                  playbooks: callable, template_dirs: list[Path]) -> dict[str, Any]:
    p, ctx, acc = action.params, run.context, run.account_id
    actor = f"playbook:{run.playbook}"
    if action.type == "task":
        owner, _ = resolve_person(p["owner"], s, ctx, settings)
        t = Task(account_id=acc, title=p["title"][:300], description=p.get("description"), status="open",
                 priority=p["priority"], owner=owner, due_at=now + parse_duration(p["due"]), source="playbook",
                 playbook_run_id=run.id, created_by=actor, created_at=now)
        s.add(t)
        s.flush()
        return {"task_id": t.id, "owner": owner}
    if action.type == "assign_csm":
        return _assign(s, p, run, ctx, settings, now)
    if action.type == "set_touch_tier":
        tier = p.get("touch_tier") or touch_tier(settings, float(p.get("mrr") or 0.0))
        a = s.get(AccountAssignment, acc) or AccountAssignment(account_id=acc)
        a.touch_tier, a.run_id, a.updated_at = tier, run.id, now
        s.add(a)
        return {"touch_tier": tier, "mrr": p.get("mrr")}
    if action.type == "add_tag":
        if s.scalar(select(AccountTag.id).where(AccountTag.account_id == acc, AccountTag.tag == p["tag"])) is not None:
            raise Skip(f"tag {p['tag']!r} already on the account")
        s.add(AccountTag(account_id=acc, tag=p["tag"], run_id=run.id, created_at=now))
        return {"tag": p["tag"]}
    if action.type == "remove_tag":
        n = s.execute(delete(AccountTag).where(AccountTag.account_id == acc, AccountTag.tag == p["tag"])).rowcount
        if not n:
            raise Skip(f"tag {p['tag']!r} not on the account")
        return {"tag": p["tag"], "removed": n}
    if action.type == "notify":
        n = Notification(recipient=p["to"], account_id=None if acc == "*" else acc, title=p["title"][:300],
                         body=p.get("body"), run_id=run.id, created_at=now)
        s.add(n)
        s.flush()
        return {"notification_id": n.id}
    if action.type == "start_playbook":
        from retentio.playbooks.evaluate import dedupe_key, start_run
        from retentio.playbooks.triggers import Hit

        target = next((b for b in playbooks() if b.name == p["playbook"]), None)
        if target is None:
            raise Skip(f"no playbook named {p['playbook']!r} any more")
        occurrence = f"run:{run.id}"
        key = dedupe_key(target.name, acc, occurrence)
        existing = s.scalar(select(PlaybookRun.id).where(PlaybookRun.dedupe_key == key))
        if existing is not None:
            return {"run_id": existing}
        ctx2 = {**ctx, "playbook": target.name}
        planned = plan_actions(target, ctx2, settings, s, template_dirs=template_dirs)
        hit = Hit(occurrence, f"started by playbook {run.playbook} (run {run.id})")
        child = start_run(s, target, acc, hit, key, run.as_of, ctx2, planned, now=now, parent_run_id=run.id)
        return {"run_id": child.id}
    raise AssertionError(action.type)


def _assign(s: Session, p: dict[str, Any], run: PlaybookRun, ctx: dict[str, Any], settings: Settings,
            now: datetime) -> dict[str, Any]:
    acc = run.account_id
    a = s.get(AccountAssignment, acc)
    imported = ctx["account"]["attributes"].get(settings.playbooks.csm_attribute)
    if p["rule"] == "keep" or (p["only_if_unassigned"] and ((a is not None and a.csm) or imported)):
        raise Skip(f"already assigned to {(a.csm if a is not None and a.csm else imported)!r}")
    team = None
    if p["rule"] == "by_attribute":
        v = ctx["account"]["attributes"].get(p["attribute"])
        csm = (p["map"] or {}).get(str(v)) if v is not None else None
        if not csm:
            raise Skip(f"no CSM mapped for {p['attribute']}={v!r}")
    else:
        teams = settings.playbooks.csm_teams
        team = p["team"] or (next(iter(teams)) if len(teams) == 1 else None)
        members = teams.get(team or "", [])
        if not members:
            raise Skip(f"no CSM team {team!r} in playbooks.csm_teams" if team else "no team: set playbooks.csm_teams")
        # round robin: the k-th account assigned in the team (k = 0, 1, ...) goes to member k mod n
        k = s.scalar(select(func.count()).select_from(AccountAssignment).where(
            AccountAssignment.team == team, AccountAssignment.csm.is_not(None))) or 0
        csm = members[k % len(members)]
    a = a or AccountAssignment(account_id=acc)
    a.csm, a.team, a.run_id, a.updated_at = csm, team, run.id, now
    s.add(a)
    return {"csm": csm, "team": team}
