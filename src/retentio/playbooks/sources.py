"""What triggers read, known on a day: the one adapter between playbooks and the rest.

:class:`Inputs` answers, for an explicit ``as_of``, using only data dated on or before it:
accounts and their attributes; per-account figures on a day (MRR, seats, active users,
usage events, last activity, first paid day); survey answers, cancellations, trial and
renewal dates; portfolio figures of a month (``retentio.metrics``); sentiment drops
(``retentio.satisfaction``); health bands and risk levels (the health and prediction
capabilities, through the service facade, when they are installed).

Per-account figures are those of ``retentio.features.account_features`` (the same
features health scores and predictions read); health bands come from ``ws.health_scores``
and risk levels from ``ws.churn_risk`` when those capabilities are installed.  Tests
inject ``health=`` / ``risk=`` stubs.  Only this module changes when those capabilities
change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine

Band = str | None


def touch_tier(settings: Settings, mrr: float) -> str:
    """The rule of metrics.segments.touch_tier for one MRR (base currency)."""
    t = settings.metrics.touch_tiers
    return "high" if mrr >= t.high else "low" if mrr >= t.low else "tech"


class Inputs:
    """Everything triggers read, cached per ``as_of``."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        as_of: date,
        *,
        health: Callable[[date], dict[str, dict[str, Any]] | None] | dict[str, dict[str, Any]] | None = None,
        risk: Callable[[date], dict[str, dict[str, Any]] | None] | dict[str, dict[str, Any]] | None = None,
    ):
        self.engine, self.settings, self.as_of = engine, settings, as_of
        self._health, self._risk = health, risk
        self._cache: dict[Any, Any] = {}

    def _memo(self, key: Any, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    # -- accounts ------------------------------------------------------------------------
    def accounts(self) -> dict[str, dict[str, Any]]:
        """account_id -> {"account_id", "name", "attributes": {...}}."""
        def load():
            acc = self.engine.collect(self.engine.table("accounts").select("account_id", "name"))
            out = {r["account_id"]: {"account_id": r["account_id"], "name": r["name"], "attributes": {}}
                   for r in acc.iter_rows(named=True)}
            attrs = self.engine.collect(self.engine.table("account_attributes"))
            for r in attrs.iter_rows(named=True):
                if r["account_id"] in out and r["value"] is not None:
                    out[r["account_id"]]["attributes"][r["attribute"]] = r["value"]
            return out
        return self._memo("accounts", load)

    # -- per-account figures on a day --------------------------------------------------------
    def _subscriptions(self):
        return self._memo("subs", lambda: self.engine.collect(self.engine.table("subscriptions")))

    def prefetch(self, days: list[date]) -> None:
        """Compute the figures of several days in one pass (account_features takes many days)."""
        todo = sorted({d for d in days if ("figures", d) not in self._cache})
        if todo:
            for d, figs in _figures(self, todo).items():
                self._cache[("figures", d)] = figs

    def figures(self, day: date) -> dict[str, dict[str, Any]]:
        """account_id -> figures known on ``day`` (see :func:`_figures`)."""
        self.prefetch([day])
        return self._cache[("figures", day)]

    def events_done(self, events: list[str], until: dict[str, date]) -> dict[str, set[str]]:
        """account_id -> the events of ``events`` it did on or before its own day ``until[account]``."""
        if not events or not until:
            return {}
        last = max(until.values())
        u = (self.engine.table("usage").with_columns(nw.col("timestamp").dt.date().alias("day"))
             .filter(nw.col("event").is_in(events) & (nw.col("day") <= nw.lit(last)))
             .group_by("account_id", "event").agg(nw.col("day").min().alias("first")))
        out: dict[str, set[str]] = {}
        for r in self.engine.collect(u).iter_rows(named=True):
            lim = until.get(r["account_id"])
            if lim is not None and r["first"] <= lim:
                out.setdefault(r["account_id"], set()).add(r["event"])
        return out

    # -- events ------------------------------------------------------------------------------
    def surveys(self, first: date, last: date) -> list[dict[str, Any]]:
        s = (self.engine.table("surveys").with_columns(nw.col("answered_at").dt.date().alias("day"))
             .filter((nw.col("day") >= nw.lit(first)) & (nw.col("day") <= nw.lit(last))))
        return sorted(self.engine.rows(s), key=lambda r: (r["day"], r["response_id"]))

    def subscription_lines(self) -> list[dict[str, Any]]:
        return self._memo("sub_rows", lambda: self._subscriptions().to_dicts())

    def portfolio(self, figure: str, month_label: str) -> float | None:
        def load():
            from retentio.metrics import metrics

            return metrics(self.engine, self.settings, month_label)
        res = self._memo(("metrics", month_label), load)
        v = res.get(figure)
        return None if v is None else float(v)

    def sentiment_flags(self, month_label: str) -> list[dict[str, Any]]:
        def load():
            from retentio.metrics.periods import parse_period
            from retentio.satisfaction.sentiment_trend import sentiment_by_account

            return sentiment_by_account(self.engine, self.settings, parse_period(month_label))["flagged"]
        return self._memo(("sentiment", month_label), load)

    # -- other capabilities ------------------------------------------------------------------
    def health(self) -> dict[str, dict[str, Any]] | None:
        """account_id -> {"band", "score"} on as_of, or None when health is not installed."""
        h = self._health
        return self._memo("health", lambda: h(self.as_of)) if callable(h) else h

    def risk(self) -> dict[str, dict[str, Any]] | None:
        """account_id -> {"risk" (probability), "level"} on as_of, or None when not available."""
        r = self._risk
        return self._memo("risk", lambda: r(self.as_of)) if callable(r) else r


# Names a `figure` trigger may use for the features of retentio.features (kept short and
# stable in playbook files): alias -> feature column.
ALIASES = {"active_users": "active_users_30d", "usage_events": "events_30d",
           "active_users_per_seat": "active_users_vs_seats", "days_inactive": "days_since_last_activity"}


def _figures(inp: Inputs, days: list[date]) -> dict[date, dict[str, dict[str, Any]]]:
    """Per-account figures known on each day: every numeric feature of
    ``retentio.features.account_features`` (metrics.md §1-§2, §9-§10: mrr, seats,
    active_users_30d, events_30d, usage_trend, tickets_30d, csat_90d, sentiment_90d, ...)
    for the accounts that are customers that day, under their names and the aliases of
    :data:`ALIASES`; ``customer`` (MRR > 0), ``touch_tier``; ``first_paid``: the first
    start date of a paid line (not trial, one-off or discount, amount > 0) on or before the
    day; ``tenure_days`` = day - first_paid; ``last_activity``.  Accounts that are not
    customers that day have mrr 0 and no other figure."""
    from retentio.features import NUMERIC, account_features

    frame = account_features(inp.engine, inp.settings, days)
    numeric = [c for c in NUMERIC if c in frame.columns]
    by_day: dict[date, dict[str, dict[str, Any]]] = {d: {} for d in days}
    extra = ["touch"] if "touch" in frame.columns else []
    for r in frame.select(["account_id", "day", *numeric, *extra]).iter_rows(named=True):
        by_day[r["day"]][r["account_id"]] = r
    first_paid: dict[str, list[date]] = {}
    for r in inp.subscription_lines():
        if r["is_trial"] or (r.get("kind") or "recurring") in ("one_off", "discount") or float(r["amount"] or 0) <= 0:
            continue
        first_paid.setdefault(r["account_id"], []).append(r["start_date"])
    out: dict[date, dict[str, dict[str, Any]]] = {}
    for d in days:
        figs: dict[str, dict[str, Any]] = {}
        for acc in inp.accounts():
            row = by_day[d].get(acc)
            starts = [s for s in first_paid.get(acc, []) if s <= d]
            fp = min(starts) if starts else None
            f: dict[str, Any] = {c: (row or {}).get(c) for c in numeric}
            f["mrr"] = float(row["mrr"]) if row and row.get("mrr") is not None else 0.0
            for alias, col in ALIASES.items():
                f[alias] = f.get(col)
            f["customer"] = row is not None and f["mrr"] > 0
            # the features' tier (metrics.segments.touch_tier) for customers; the same rule otherwise
            f["touch_tier"] = (row or {}).get("touch") or touch_tier(inp.settings, f["mrr"])
            f["first_paid"] = fp
            f["tenure_days"] = None if fp is None else (d - fp).days
            di = f.get("days_inactive")
            f["last_activity"] = None if di is None else d - timedelta(days=int(di))
            figs[acc] = f
        out[d] = figs
    return out


# -- adapters to the other capabilities (through the service facade) ---------------------------
def health_from_workspace(ws) -> Callable[[date], dict[str, dict[str, Any]] | None]:
    """``as_of -> {account_id: {"band", "score"}}`` from ``ws.health_scores``; None when the
    health capability is not installed."""
    def get(as_of: date):
        try:
            fn = ws.health_scores
        except AttributeError:
            return None
        return {r["account_id"]: {"band": r.get("band"), "score": r.get("score")} for r in fn(as_of=as_of)}
    return get


def risk_level(settings: Settings, risk: float | None) -> str | None:
    if risk is None:
        return None
    st = settings.playbooks
    return "high" if risk >= st.risk_high else "medium" if risk >= st.risk_medium else "low"


def risk_from_workspace(ws) -> Callable[[date], dict[str, dict[str, Any]] | None]:
    """``as_of -> {account_id: {"risk", "level"}}`` from ``ws.churn_risk`` (prediction
    capability: the stored probability of churn for the last complete month of as_of);
    None when that capability is not installed or has stored no risks."""
    def get(as_of: date):
        try:
            fn = ws.churn_risk
        except AttributeError:
            return None
        rows = fn(as_of=as_of)
        rows = rows.get("accounts", []) if isinstance(rows, dict) else rows
        if not rows:
            return None
        out = {}
        for r in rows:
            p = r.get("risk")
            out[r["account_id"]] = {"risk": p, "level": r.get("level") or risk_level(ws.settings, p)}
        return out
    return get
