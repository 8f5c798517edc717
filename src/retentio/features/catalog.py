"""The per-account features known on a day: name, meaning, unit (the FEATURES table).

Every feature of a row (account_id, day) is computed only from data dated on or before
``day``; see :func:`retentio.features.account_features` and docs/health.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    meaning: str
    unit: str  # EUR (base currency) | fraction | months | days | count | hours | score | category | flag
    source: str  # subscriptions | usage | tickets | surveys | texts | attributes
    kind: str = "number"  # number | category

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "meaning": self.meaning, "unit": self.unit, "source": self.source, "kind": self.kind}


def _f(name: str, meaning: str, unit: str, source: str, kind: str = "number") -> Feature:
    return Feature(name, meaning, unit, source, kind)


FEATURES: tuple[Feature, ...] = (
    # -- subscriptions ------------------------------------------------------------------
    _f("mrr", "MRR on the day: sum of the line MRR of the paid lines active that day, in the base currency "
       "(metrics.mrr.line_days, the same line MRR as the metrics)", "base currency", "subscriptions"),
    _f("mrr_change_1m", "(MRR on the day - MRR one month earlier) / MRR one month earlier; empty when the "
       "account was not a customer then", "fraction", "subscriptions"),
    _f("mrr_change_3m", "as mrr_change_1m, three months earlier", "fraction", "subscriptions"),
    _f("mrr_change_6m", "as mrr_change_1m, six months earlier", "fraction", "subscriptions"),
    _f("tenure_months", "months since the start of the account's first paid line", "months", "subscriptions"),
    _f("plan", "plan of the account's largest active line (MRR; ties: first plan name)", "category",
       "subscriptions", "category"),
    _f("billing_period_months", "billing period of that largest line", "months", "subscriptions"),
    _f("days_to_renewal", "days until the largest line's next renewal: its end date when a cancellation is "
       "recorded (canceled_at on or before the day), else start date + k x billing period, the first such "
       "date after the day (an end date not yet announced is not known on the day)", "days", "subscriptions"),
    _f("cancellation_recorded", "1 when an active paid line has a cancellation recorded on or before the day "
       "(canceled_at), else 0", "flag", "subscriptions"),
    _f("seats", "sum of quantity of the lines active on the day (trials included); empty when no active "
       "line carries a quantity (engagement.usage seats)", "count", "subscriptions"),
    _f("touch", "touch tier of the day's MRR (metrics.touch_tiers: high, low, tech)", "category",
       "subscriptions", "category"),
    # -- usage --------------------------------------------------------------------------
    _f("active_users_30d", "distinct users with an event in the 30 days ending on the day (MAU, trailing)",
       "count", "usage"),
    _f("active_users_7d", "distinct users with an event in the 7 days ending on the day (WAU, trailing)",
       "count", "usage"),
    _f("active_users_vs_seats", "active_users_30d / seats", "fraction", "usage"),
    _f("stickiness", "DAU / MAU on the day (trailing windows)", "fraction", "usage"),
    _f("stickiness_wau_mau", "WAU / MAU on the day (trailing windows)", "fraction", "usage"),
    _f("events_30d", "usage events in the 30 days ending on the day", "count", "usage"),
    _f("usage_trend", "(events in the last 30 days - events in the 30 days before) / events in the 30 days "
       "before; empty when there were none before", "fraction", "usage"),
    _f("features_used_30d", "distinct features used in the 30 days ending on the day", "count", "usage"),
    _f("complex_features_used_30d", "distinct complex features (engagement.complex_features) used in the "
       "30 days ending on the day", "count", "usage"),
    _f("key_feature_hours_30d", "hours on key features (engagement.key_features; all when empty) in the 30 "
       "days ending on the day", "hours", "usage"),
    _f("key_feature_hours_per_day", "key_feature_hours_30d / 30", "hours", "usage"),
    _f("days_since_last_activity", "days since the account's last usage event (empty: never active)", "days",
       "usage"),
    _f("onboarding_score", "share of engagement.onboarding_milestones completed by the day, 0-100 (empty "
       "without milestones)", "score", "usage"),
    _f("lifecycle", "lifecycle status of the last complete month (new, active, at_risk, resurrected, dormant, "
       "never_active)", "category", "usage", "category"),
    _f("engagement_score", "Customer Engagement Score 0-100 of the last complete month", "score", "usage"),
    # -- tickets ------------------------------------------------------------------------
    _f("tickets_open", "tickets created on or before the day and not resolved by its end", "count", "tickets"),
    _f("tickets_30d", "tickets created in the 30 days ending on the day", "count", "tickets"),
    _f("tickets_90d", "tickets created in the 90 days ending on the day", "count", "tickets"),
    _f("resolution_hours_90d", "mean time to resolution of the tickets created in the 90 days ending on the "
       "day and resolved by then", "hours", "tickets"),
    # -- surveys and texts --------------------------------------------------------------
    _f("nps_last", "score of the account's last NPS answer on or before the day (0-10)", "score", "surveys"),
    _f("nps_class", "class of that answer: detractor (0-6), passive (7-8), promoter (9-10)", "category",
       "surveys", "category"),
    _f("csat_90d", "positive CSAT answers / CSAT answers in the 90 days ending on the day", "fraction",
       "surveys"),
    _f("sentiment_90d", "mean sentiment score (-1..1) of ticket texts and survey comments of the 90 days "
       "ending on the day", "score", "texts"),
    _f("texts_90d", "number of those texts", "count", "texts"),
)

NUMERIC = tuple(f.name for f in FEATURES if f.kind == "number")
CATEGORICAL = tuple(f.name for f in FEATURES if f.kind == "category")


def feature(name: str) -> Feature | None:
    for f in FEATURES:
        if f.name == name:
            return f
    return None
