"""What triggers read, known on a day: the one adapter between playbooks and the rest.

:class:`Inputs` answers, for an explicit ``as_of``, using only data dated on or before it:
accounts and their attributes; per-account figures on a day (MRR, seats, active users,
usage events, last activity, first paid day); survey answers, cancellations, trial and
renewal dates; portfolio figures of a month (``retentio.metrics``); sentiment drops
(``retentio.satisfaction``); health bands and risk levels (the health and prediction
capabilities, through the service facade, when they are installed).

Per-account figures come from ``retentio.features.account_features`` when that module
exists (health capability); until then from :func:`_own_figures` below, a small
computation over the canonical tables.  Tests inject ``health=`` / ``risk=`` /
``figures=`` stubs.  Only this module changes when those capabilities change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine
from retentio.errors import DataError

Band = str | None


def touch_tier(settings: Settings, mrr: float) -> str:
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
        risk: Callable[[date], dict[str, str] | None] | dict[str, str] | None = None,
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

    def _rates(self) -> dict[str, list[tuple[date, float]]]:
        def load():
            fx = self.engine.collect(self.engine.table("fx_rates").select("date", "currency", "rate"))
            out: dict[str, list[tuple[date, float]]] = {}
            for r in fx.sort("date").iter_rows(named=True):
                out.setdefault(r["currency"], []).append((r["date"], float(r["rate"])))
            return out
        return self._memo("fx", load)

    def _rate(self, currency: str, day: date) -> float:
        base = self.settings.workspace.base_currency
        if currency == base:
            return 1.0
        best = None
        for d, r in self._rates().get(currency, []):
            if d > day:
                break
            best = r
        if best is None:
            raise DataError(f"fx-rates: no {currency} rate on or before {day}",
                            hint=f"import a {currency} rate dated on or before {day} (metrics.md §2)")
        return best

    def figures(self, day: date) -> dict[str, dict[str, Any]]:
        """account_id -> figures known on ``day`` (see :func:`_own_figures`)."""
        return self._memo(("figures", day), lambda: _own_figures(self, day))

    def usage(self, day: date, window_days: int) -> dict[str, dict[str, Any]]:
        """account_id -> {"events", "users"} in the ``window_days`` days ending on ``day``."""
        def load():
            first = day - timedelta(days=window_days - 1)
            u = (self.engine.table("usage").with_columns(nw.col("timestamp").dt.date().alias("day"))
                 .filter((nw.col("day") <= nw.lit(day)) & (nw.col("day") >= nw.lit(first)))
                 .group_by("account_id")
                 .agg(nw.len().cast(nw.Int64).alias("events"), nw.col("user_id").n_unique().cast(nw.Int64).alias("users")))
            return {r["account_id"]: r for r in self.engine.collect(u).iter_rows(named=True)}
        return self._memo(("usage", day, window_days), load)

    def last_activity(self, day: date) -> dict[str, date]:
        def load():
            u = (self.engine.table("usage").with_columns(nw.col("timestamp").dt.date().alias("day"))
                 .filter(nw.col("day") <= nw.lit(day)).group_by("account_id").agg(nw.col("day").max().alias("last")))
            return {r["account_id"]: r["last"] for r in self.engine.collect(u).iter_rows(named=True)}
        return self._memo(("last", day), load)

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
        return sorted(self.engine.collect(s).to_dicts(), key=lambda r: (r["day"], r["response_id"]))

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
        return h(self.as_of) if callable(h) else h

    def risk(self) -> dict[str, str] | None:
        r = self._risk
        return r(self.as_of) if callable(r) else r


def _own_figures(inp: Inputs, day: date) -> dict[str, dict[str, Any]]:
    """Per-account figures known on ``day`` (metrics.md §1-§2, §9):

    - ``mrr``: sum over the account's paid lines active on ``day`` (start <= day < end; not
      trial, not one_off) of amount / billing_period_months x the rate in force on ``day``;
      discounts lower it, never below 0.  ``customer`` = mrr > 0.
    - ``seats``: sum of ``quantity`` of those lines; ``first_paid``: the first start date of a
      paid line on or before ``day``; ``tenure_days`` = day - first_paid.
    - ``active_users`` / ``usage_events``: distinct users / events in the 30 days ending on
      ``day``; ``active_users_per_seat`` = active_users / seats; ``days_inactive`` = days since
      the last usage event (None: never active).
    """
    subs = inp.subscription_lines()
    out: dict[str, dict[str, Any]] = {}
    for acc in inp.accounts():
        out[acc] = {"mrr": 0.0, "seats": 0.0, "first_paid": None}
    for r in subs:
        acc = r["account_id"]
        if acc not in out or r["is_trial"] or (r.get("kind") or "recurring") == "one_off":
            continue
        start, end = r["start_date"], r["end_date"]
        if start <= day and (r.get("kind") or "recurring") != "discount" and float(r["amount"]) > 0:
            fp = out[acc]["first_paid"]
            out[acc]["first_paid"] = start if fp is None or start < fp else fp
        if start <= day and (end is None or day < end):
            out[acc]["mrr"] += float(r["amount"]) / int(r["billing_period_months"]) * inp._rate(r["currency"], day)
            if r.get("quantity") is not None and (r.get("kind") or "recurring") != "discount":
                out[acc]["seats"] += float(r["quantity"])
    usage = inp.usage(day, 30)
    last = inp.last_activity(day)
    for acc, f in out.items():
        f["mrr"] = round(max(f["mrr"], 0.0), 2)
        f["customer"] = f["mrr"] > 0
        f["touch_tier"] = touch_tier(inp.settings, f["mrr"])
        f["tenure_days"] = None if f["first_paid"] is None else (day - f["first_paid"]).days
        u = usage.get(acc) or {}
        f["active_users"] = int(u.get("users") or 0)
        f["usage_events"] = int(u.get("events") or 0)
        f["active_users_per_seat"] = (f["active_users"] / f["seats"]) if f["seats"] else None
        f["last_activity"] = last.get(acc)
        f["days_inactive"] = None if acc not in last else (day - last[acc]).days
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


def risk_from_workspace(ws) -> Callable[[date], dict[str, str] | None]:
    """``as_of -> {account_id: level}`` from ``ws.churn_risk`` (prediction capability), or None."""
    def get(as_of: date):
        try:
            fn = ws.churn_risk
        except AttributeError:
            return None
        rows = fn(as_of=as_of)
        rows = rows.get("accounts", []) if isinstance(rows, dict) else rows
        return {r["account_id"]: r.get("level") or r.get("risk_level") for r in rows}
    return get
