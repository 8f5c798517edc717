"""Playbook files: ``<workspace>/playbooks/*.yaml``, parsed and validated.

Every error names the file, the key path inside it and the allowed values.  The schema of
each trigger and action is declared once, in :data:`TRIGGERS` and :data:`ACTIONS`;
docs/playbooks.md describes the same keys (tests/playbooks check the two agree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from retentio.errors import ConfigError

DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
LANGUAGES = ("en", "fr")
PORTFOLIO = "*"  # account_id of portfolio-level runs (churn-rate spike, ...)

BANDS = ("red", "yellow", "green", "thriving")
RISK_LEVELS = ("high", "medium", "low")
SURVEY_ANSWERS = ("detractor", "passive", "promoter", "low_csat")
# Per-account figures a `figure` trigger can test (sources.FIGURES computes them).
# The short names, then every numeric feature of retentio.features (docs/health.md).
def _figures() -> tuple[str, ...]:
    from retentio.features.catalog import NUMERIC

    short = ("mrr", "seats", "active_users", "usage_events", "active_users_per_seat", "days_inactive",
             "tenure_days", "health_score")
    return short + tuple(n for n in NUMERIC if n not in short)


FIGURES = _figures()
PORTFOLIO_FIGURES = ("customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "nrr", "grr", "mrr",
                     "customers")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SCHEDULES = WEEKDAYS + ("month_end", "month_start", "day")
PRIORITIES = ("low", "normal", "high", "urgent")
TIERS = ("high", "low", "tech")


# -- tiny schema language --------------------------------------------------------------------
@dataclass(frozen=True)
class Key:
    kind: str  # str | int | number | pct | bool | list[str] | dict | choice | choices | duration
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Kind:
    keys: dict[str, Key]
    doc: str
    level: bool = False  # a state: the run stays open until the trigger clears
    portfolio: bool = False


TRIGGERS: dict[str, Kind] = {
    "segment": Kind({
        "attribute": Key("str", True, doc="account attribute, or touch_tier (derived from MRR)"),
        "in": Key("list[str]", True, doc="values that make the segment"),
    }, "the account is in a segment (an attribute value, or a touch tier by MRR)", level=True),
    "health_band": Kind({
        "band": Key("choices", True, choices=BANDS, doc="one band or a list"),
        "scorecard": Key("str", doc="scorecard name (default: the workspace's)"),
    }, "the account's health band (health capability) is one of `band`", level=True),
    "risk_level": Kind({
        "level": Key("choices", choices=RISK_LEVELS, doc="one level or a list (playbooks.risk_high / risk_medium)"),
        "above": Key("number", doc="or: the churn probability is above this (0-1)"),
    }, "the account's churn risk (prediction capability) is at a level or above a probability", level=True),
    "figure": Kind({
        "name": Key("choice", True, choices=FIGURES, doc="the per-account figure"),
        "below": Key("number", doc="fires while the figure is < below"),
        "above": Key("number", doc="fires while the figure is > above"),
        "change_below": Key("pct", doc="fires while the change over over_days is < this (e.g. -10%)"),
        "change_above": Key("pct", doc="fires while the change over over_days is > this (e.g. 50%)"),
        "over_days": Key("int", default=30, doc="window of change_below / change_above, days"),
    }, "a per-account figure crosses a threshold or changes by more than X % over N days", level=True),
    "portfolio": Kind({
        "figure": Key("choice", True, choices=PORTFOLIO_FIGURES, doc="a figure of `retentio metrics`"),
        "rise_above": Key("pct", doc="relative rise of the last complete month over the month before (50% = 1.5x)"),
        "above": Key("number", doc="the last complete month's value is above this"),
        "min": Key("number", default=0.0, doc="and at least this (ignore noise on tiny rates)"),
    }, "a portfolio figure of the last complete month moves (e.g. churn-rate spike month over month)",
        portfolio=True),
    "new_customer": Kind({
        "within_days": Key("int", default=7, doc="first paid day in the last N days"),
    }, "the account became a customer (first paid day) in the last `within_days` days"),
    "trial_ending": Kind({
        "in_days": Key("int", default=7, doc="trial line ends within N days"),
    }, "a trial line ends within `in_days` days"),
    "renewal": Kind({
        "in_days": Key("int", default=60, doc="fixed-term paid line ends within N days"),
    }, "a fixed-term paid line not known as cancelled ends within `in_days` days"),
    "onboarding_missed": Kind({
        "milestone": Key("str", doc="one milestone event (default: every engagement.onboarding_milestones)"),
        "within_days": Key("int", doc="days allowed after the first paid day (default: engagement.onboarding_window_days)"),
        "lookback_days": Key("int", default=30, doc="only deadlines that passed in the last N days"),
    }, "a customer's onboarding deadline passed without the milestone event(s)"),
    "inactive": Kind({
        "days": Key("int", default=30, doc="no usage event for N days"),
    }, "a customer with no usage event in the last `days` days", level=True),
    "survey": Kind({
        "answer": Key("choice", True, choices=SURVEY_ANSWERS, doc="NPS 0-6 / 7-8 / 9-10, or a CSAT answer that is not positive"),
        "within_days": Key("int", default=7, doc="answered in the last N days"),
    }, "a survey answer: NPS detractor, passive or promoter; low CSAT"),
    "sentiment_drop": Kind({
        "threshold": Key("number", doc="drop of the monthly mean (default: satisfaction.sentiment_drop_threshold)"),
    }, "the account's text sentiment of the last complete month dropped (satisfaction capability)"),
    "line_canceled": Kind({
        "within_days": Key("int", default=7, doc="cancellation recorded in the last N days"),
        "partial_only": Key("bool", default=True, doc="only when the account keeps other paid lines (an add-on)"),
    }, "a paid line (add-on) was cancelled"),
    "schedule": Kind({
        "every": Key("choice", True, choices=SCHEDULES, doc="a weekday, month_end, month_start, or day"),
        "scope": Key("choice", default="accounts", choices=("accounts", "portfolio"), doc="one run per account or one for the portfolio"),
    }, "a calendar day (every Monday, every month end ...)"),
}

ACTIONS: dict[str, Kind] = {
    "task": Kind({
        "title": Key("str", True, doc="Jinja2 template"),
        "description": Key("str", doc="Jinja2 template"),
        "due": Key("duration", default="3d", doc="due this long after the action runs: 24h, 3d, 2w"),
        "priority": Key("choice", default="normal", choices=PRIORITIES),
        "owner": Key("str", default="csm", doc="csm | lead | an e-mail address"),
        "close_when_cleared": Key("bool", default=True, doc="close it with a note when a state trigger clears"),
    }, "create a task for the owner (tasks table)"),
    "assign_csm": Kind({
        "team": Key("str", doc="a team of playbooks.csm_teams (round_robin)"),
        "rule": Key("choice", default="round_robin", choices=("round_robin", "by_attribute", "keep")),
        "attribute": Key("str", doc="by_attribute: the account attribute read"),
        "map": Key("dict", doc="by_attribute: attribute value -> CSM e-mail"),
        "only_if_unassigned": Key("bool", default=True),
    }, "assign a CSM: round-robin within a team, or by rule"),
    "set_touch_tier": Kind({}, "set the account's touch tier from its MRR (metrics.touch_tiers)"),
    "email": Kind({
        "template": Key("str", True, doc="template name: templates/<name>.<fr|en>.txt"),
        "to": Key("str", default="contact", doc="contact | csm | lead | an e-mail address"),
        "language": Key("choice", default="auto", choices=("auto",) + LANGUAGES),
    }, "send an e-mail from a Jinja2 template (French or English)"),
    "webhook": Kind({
        "url": Key("str", doc="default: webhooks.default_url"),
        "event": Key("str", doc="event name in the body (default: the playbook's name)"),
        "body": Key("dict", doc="extra JSON fields (strings are Jinja2 templates)"),
    }, "POST a signed JSON body to a URL"),
    "add_tag": Kind({"tag": Key("str", True)}, "add a tag to the account"),
    "remove_tag": Kind({"tag": Key("str", True)}, "remove a tag from the account"),
    "notify": Kind({
        "to": Key("str", default="csm", doc="csm | lead | an e-mail address"),
        "title": Key("str", True, doc="Jinja2 template"),
        "body": Key("str", doc="Jinja2 template"),
    }, "an in-app notification (also posted to webhooks.default_url when set)"),
    "start_playbook": Kind({"playbook": Key("str", True)}, "start another playbook for the same account"),
}

PLAYBOOK_KEYS = ("name", "description", "enabled", "trigger", "accounts", "caps", "actions")
FILTER_KEYS = {
    "customers_only": Key("bool", default=True, doc="only accounts with MRR > 0 on as_of"),
    "attributes": Key("dict", doc="attribute -> value or list of values"),
    "mrr_min": Key("number"), "mrr_max": Key("number"),
    "touch_tier": Key("choices", choices=TIERS),
    "tags": Key("list[str]", doc="accounts carrying every tag"),
    "exclude_tags": Key("list[str]", doc="accounts carrying none of the tags"),
}
CAP_KEYS = ("per_account", "per_playbook")


# -- parsed forms ----------------------------------------------------------------------------
@dataclass
class Trigger:
    kind: str
    params: dict[str, Any]

    @property
    def level(self) -> bool:
        return TRIGGERS[self.kind].level

    @property
    def portfolio(self) -> bool:
        return TRIGGERS[self.kind].portfolio or (self.kind == "schedule" and self.params["scope"] == "portfolio")


@dataclass
class Condition:
    op: str  # "all" | "any" | "one"
    items: list["Condition | Trigger"]

    def triggers(self) -> list[Trigger]:
        out: list[Trigger] = []
        for it in self.items:
            out.extend(it.triggers() if isinstance(it, Condition) else [it])
        return out

    @property
    def level(self) -> bool:
        return all(t.level for t in self.triggers())

    @property
    def portfolio(self) -> bool:
        return any(t.portfolio for t in self.triggers())

    def describe(self) -> str:
        if self.op == "one":
            t = self.items[0]
            return t.describe() if isinstance(t, Condition) else t.kind
        return f"{self.op}(" + ", ".join(i.describe() if isinstance(i, Condition) else i.kind for i in self.items) + ")"


@dataclass
class Action:
    position: int
    type: str
    params: dict[str, Any]
    delay: timedelta = timedelta(0)


@dataclass
class Playbook:
    name: str
    file: str
    trigger: Condition
    actions: list[Action]
    description: str = ""
    enabled: bool = True
    accounts: dict[str, Any] = field(default_factory=dict)
    caps: dict[str, dict[str, int]] = field(default_factory=dict)
    source: str = "workspace"  # or "default"

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "enabled": self.enabled, "trigger": self.trigger.describe(),
                "actions": [a.type for a in self.actions], "file": self.file, "source": self.source,
                "description": self.description}


# -- parsing ---------------------------------------------------------------------------------
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$")
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    if value in (None, 0, "0"):
        return timedelta(0)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration (write 30m, 24h, 3d or 2w)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def parse_pct(value: Any) -> float:
    """A change written ``-10%`` (or as a fraction, -0.1) -> -0.1."""
    if isinstance(value, bool):
        raise ValueError("expected a percentage such as -10% or a fraction such as -0.1")
    if isinstance(value, (int, float)):
        return float(value)
    s = str(value).strip()
    if s.endswith("%"):
        try:
            return float(s[:-1]) / 100
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a percentage (write -10% or -0.1)")


class _Ctx:
    def __init__(self, file: str):
        self.file = file

    def fail(self, where: str, msg: str, hint: str = "see docs/playbooks.md for the YAML reference") -> None:
        raise ConfigError(f"{self.file}: {where}: {msg}", hint=hint, details={"file": self.file, "key": where})


def _check_value(ctx: _Ctx, where: str, key: Key, value: Any) -> Any:
    k = key.kind
    try:
        if k == "str":
            if not isinstance(value, str) or not value.strip():
                raise ValueError("expected a non-empty text")
            return value
        if k == "int":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError("expected a whole number >= 0")
            return value
        if k == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError("expected a number")
            return float(value)
        if k == "pct":
            return parse_pct(value)
        if k == "bool":
            if not isinstance(value, bool):
                raise ValueError("expected true or false")
            return value
        if k == "duration":
            parse_duration(value)
            return value
        if k == "dict":
            if not isinstance(value, dict):
                raise ValueError("expected a mapping (key: value)")
            return value
        if k == "list[str]":
            vals = [value] if isinstance(value, (str, int, float)) else value
            if not isinstance(vals, list) or not all(isinstance(v, (str, int, float)) for v in vals):
                raise ValueError("expected a value or a list of values")
            return [str(v) for v in vals]
        if k == "choice":
            if value not in key.choices:
                raise ValueError(f"{value!r} is not allowed; choose one of: {', '.join(key.choices)}")
            return value
        if k == "choices":
            vals = [value] if isinstance(value, str) else value
            if not isinstance(vals, list) or not vals or any(v not in key.choices for v in vals):
                raise ValueError(f"{value!r} is not allowed; choose one or more of: {', '.join(key.choices)}")
            return list(vals)
    except ValueError as exc:
        ctx.fail(where, str(exc))
    raise AssertionError(k)


def _check_keys(ctx: _Ctx, where: str, raw: Any, keys: dict[str, Key], what: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        ctx.fail(where, f"{what} takes a mapping of keys", hint=f"allowed keys: {', '.join(keys) or '(none)'}")
    out: dict[str, Any] = {}
    for name in raw:
        if name not in keys:
            ctx.fail(f"{where}.{name}", f"unknown key for {what}",
                     hint=f"allowed keys: {', '.join(keys) or '(none)'}")
    for name, key in keys.items():
        if name in raw and raw[name] is not None:
            out[name] = _check_value(ctx, f"{where}.{name}", key, raw[name])
        elif key.required:
            ctx.fail(f"{where}.{name}", f"{what} needs `{name}`", hint=key.doc or "see docs/playbooks.md")
        else:
            out[name] = key.default
    return out


def _condition(ctx: _Ctx, where: str, raw: Any) -> Condition:
    if not isinstance(raw, dict) or len(raw) != 1:
        ctx.fail(where, "a condition is a mapping with exactly one key: a trigger, `all` or `any`",
                 hint=f"triggers: {', '.join(TRIGGERS)}")
    (name, body), = raw.items()
    if name in ("all", "any"):
        if not isinstance(body, list) or not body:
            ctx.fail(f"{where}.{name}", "expects a non-empty list of conditions")
        items = [_condition(ctx, f"{where}.{name}[{i}]", b) for i, b in enumerate(body)]
        return Condition(name, items)
    if name not in TRIGGERS:
        ctx.fail(f"{where}.{name}", "unknown trigger", hint=f"choose one of: {', '.join(TRIGGERS)}, all, any")
    params = _check_keys(ctx, f"{where}.{name}", body, TRIGGERS[name].keys, f"trigger {name}")
    if name == "figure" and all(params[k] is None for k in ("below", "above", "change_below", "change_above")):
        ctx.fail(f"{where}.{name}", "needs one of below, above, change_below, change_above")
    if name == "risk_level" and not params["level"] and params["above"] is None:
        ctx.fail(f"{where}.{name}", "needs level or above")
    if name == "portfolio" and params["rise_above"] is None and params["above"] is None:
        ctx.fail(f"{where}.{name}", "needs rise_above or above")
    if name == "figure" and params["name"] == "health_score" and (params["change_below"] is not None or params["change_above"] is not None):
        ctx.fail(f"{where}.{name}", "health_score supports below / above only")
    return Condition("one", [Trigger(name, params)])


def _action(ctx: _Ctx, where: str, position: int, raw: Any) -> Action:
    if not isinstance(raw, dict) or "type" not in raw:
        ctx.fail(where, "an action is a mapping with a `type`", hint=f"types: {', '.join(ACTIONS)}")
    raw = dict(raw)
    typ = raw.pop("type")
    if typ not in ACTIONS:
        ctx.fail(f"{where}.type", f"unknown action type {typ!r}", hint=f"choose one of: {', '.join(ACTIONS)}")
    try:
        delay = parse_duration(raw.pop("delay", None))
    except ValueError as exc:
        ctx.fail(f"{where}.delay", str(exc))
    params = _check_keys(ctx, where, raw, ACTIONS[typ].keys, f"action {typ}")
    if typ == "task":
        parse_duration(params["due"])
    for k in ("title", "description", "body"):
        if isinstance(params.get(k), str):
            _check_template(ctx, f"{where}.{k}", params[k])
    if typ == "assign_csm":
        if params["rule"] == "by_attribute" and (not params["attribute"] or not params["map"]):
            ctx.fail(where, "rule by_attribute needs `attribute` and `map`")
    return Action(position, typ, params, delay)


def _check_template(ctx: _Ctx, where: str, text: str) -> None:
    from jinja2 import TemplateSyntaxError

    from retentio.playbooks.render import environment

    try:
        environment().parse(text)
    except TemplateSyntaxError as exc:
        ctx.fail(where, f"Jinja2 template error: {exc.message} (line {exc.lineno})")


def parse_playbook(raw: Any, file: str, source: str = "workspace") -> Playbook:
    ctx = _Ctx(file)
    if not isinstance(raw, dict):
        ctx.fail("(top)", "a playbook file holds one mapping with keys " + ", ".join(PLAYBOOK_KEYS))
    for k in raw:
        if k not in PLAYBOOK_KEYS:
            ctx.fail(str(k), "unknown key", hint=f"allowed keys: {', '.join(PLAYBOOK_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,99}", name or ""):
        ctx.fail("name", f"{name!r} is not a playbook name", hint="lower-case letters, digits, - and _, e.g. nps-detractor")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        ctx.fail("enabled", "expected true or false")
    if "trigger" not in raw:
        ctx.fail("trigger", "a playbook needs a trigger", hint=f"triggers: {', '.join(TRIGGERS)}")
    cond = _condition(ctx, "trigger", raw["trigger"])
    trig = cond.triggers()
    if cond.portfolio and not all(t.portfolio for t in trig):
        ctx.fail("trigger", "portfolio triggers (portfolio, schedule with scope portfolio) cannot be combined with account triggers")
    accounts = _check_keys(ctx, "accounts", raw.get("accounts"), FILTER_KEYS, "accounts")
    caps: dict[str, dict[str, int]] = {}
    raw_caps = raw.get("caps") or {}
    if not isinstance(raw_caps, dict):
        ctx.fail("caps", "expected a mapping", hint="caps: {per_account: {runs: 1, days: 30}}")
    for k, v in raw_caps.items():
        if k not in CAP_KEYS:
            ctx.fail(f"caps.{k}", "unknown cap", hint=f"allowed: {', '.join(CAP_KEYS)}")
        c = _check_keys(ctx, f"caps.{k}", v, {"runs": Key("int", True), "days": Key("int", True)}, "a cap")
        if c["days"] < 1:
            ctx.fail(f"caps.{k}.days", "expected at least 1 day")
        caps[k] = c
    raw_actions = raw.get("actions")
    if not isinstance(raw_actions, list) or not raw_actions:
        ctx.fail("actions", "a playbook needs a non-empty list of actions", hint=f"types: {', '.join(ACTIONS)}")
    actions = [_action(ctx, f"actions[{i}]", i, a) for i, a in enumerate(raw_actions)]
    desc = raw.get("description") or ""
    if not isinstance(desc, str):
        ctx.fail("description", "expected a text")
    return Playbook(name, file, cond, actions, desc, enabled, accounts, caps, source)


def _load_file(path: Path, source: str) -> Playbook:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(f"{path}: {where}: not valid YAML ({getattr(exc, 'problem', exc)})",
                          hint="fix the YAML syntax (indentation, colons, quotes)") from None
    return parse_playbook(raw, str(path), source)


def load_playbooks(folder: Path | None, *, template_dirs: list[Path] | None = None) -> list[Playbook]:
    """The workspace's playbooks (``folder/*.yaml``); the shipped defaults when the folder
    does not exist.  Names must be unique; ``start_playbook`` targets and e-mail templates
    must exist."""
    if folder is not None and folder.is_dir():
        files, source = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]), "workspace"
    else:
        files, source = sorted(DEFAULTS_DIR.glob("*.yaml")), "default"
    books = [_load_file(f, source) for f in files]
    seen: dict[str, str] = {}
    for b in books:
        if b.name in seen:
            raise ConfigError(f"{b.file}: name: playbook {b.name!r} is also defined in {seen[b.name]}",
                              hint="give every playbook its own name")
        seen[b.name] = b.file
    dirs = list(template_dirs or []) + [TEMPLATES_DIR]
    for b in books:
        for a in b.actions:
            where = f"actions[{a.position}]"
            if a.type == "start_playbook" and a.params["playbook"] not in seen:
                raise ConfigError(f"{b.file}: {where}.playbook: no playbook named {a.params['playbook']!r}",
                                  hint=f"playbooks: {', '.join(sorted(seen))}")
            if a.type == "email":
                for lang in LANGUAGES:
                    if not any((d / f"{a.params['template']}.{lang}.txt").is_file() for d in dirs):
                        raise ConfigError(
                            f"{b.file}: {where}.template: no template {a.params['template']}.{lang}.txt",
                            hint="add it to the workspace's playbooks/templates/ (one file per language, "
                                 "first line `Subject: ...`)")
    return books
