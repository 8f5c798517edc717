"""Per-account drivers: the features that raise and lower an account's churn risk most
(TreeSHAP contributions, log-odds), phrased for a CSM.

A phrase says what the value is, not what the model did with it: "active users down 45 %
in 60 days", "3 tickets about integration in 30 days".  A feature without a phrase of its
own is shown as "<name>: <value>".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from retentio.satisfaction.registry import nps_class


def _pct_change(what: str, span: str) -> Callable[[Any], str]:
    def f(v: float) -> str:
        pct = round(abs(v) * 100)
        if pct == 0:
            return f"{what} unchanged in {span}"
        return f"{what} {'down' if v < 0 else 'up'} {pct} % in {span}"

    return f


def _count(one: str, many: str) -> Callable[[Any], str]:
    def f(v: float) -> str:
        n = int(round(v))
        return (one if n == 1 else many).format(n=n)

    return f


def _nps(v: float) -> str:
    n = int(round(v))
    return f"last NPS answer {n} ({nps_class(n)})"


def _days_to_renewal(v: float) -> str:
    return f"renewal in {int(round(v))} days"


PHRASES: dict[str, Callable[[Any], str]] = {
    "mrr": lambda v: f"MRR {v:,.0f}",
    "tenure_months": _count("customer for {n} month", "customer for {n} months"),
    "mrr_change_1m": _pct_change("MRR", "1 month"),
    "mrr_change_3m": _pct_change("MRR", "3 months"),
    "mrr_change_6m": _pct_change("MRR", "6 months"),
    "plan": lambda v: f"plan {v}",
    "billing_period_months": lambda v: "billed monthly" if v <= 1 else f"billed every {int(v)} months",
    "days_to_renewal": _days_to_renewal,
    "cancellation_recorded": lambda v: "cancellation recorded" if v else "no cancellation recorded",
    "seats": _count("{n} seat", "{n} seats"),
    "touch": lambda v: f"{v} touch account",
    "active_users_30d": _count("{n} active user in 30 days", "{n} active users in 30 days"),
    "active_users_7d": _count("{n} active user in 7 days", "{n} active users in 7 days"),
    "active_users_vs_seats": lambda v: f"{v * 100:.0f} % of seats active in 30 days",
    "active_users_change_60d": _pct_change("active users", "60 days"),
    "stickiness": lambda v: f"stickiness (DAU/MAU) {v * 100:.0f} %",
    "stickiness_wau_mau": lambda v: f"WAU/MAU {v * 100:.0f} %",
    "events_30d": _count("1 usage event in 30 days", "{n} usage events in 30 days"),
    "usage_trend": _pct_change("usage", "30 days (vs the 30 before)"),
    "features_used_30d": _count("1 feature used in 30 days", "{n} features used in 30 days"),
    "complex_features_used_30d": _count("1 complex feature used in 30 days", "{n} complex features used in 30 days"),
    "key_feature_hours_30d": lambda v: f"{v:.1f} h on key features in 30 days",
    "key_feature_hours_per_day": lambda v: f"{v:.1f} h a day on key features",
    "days_since_last_activity": lambda v: "active today" if v == 0 else f"no activity for {int(v)} days",
    "onboarding_score": lambda v: f"onboarding {v:.0f} % complete",
    "lifecycle": lambda v: f"lifecycle: {str(v).replace('_', ' ')}",
    "engagement_score": lambda v: f"engagement score {v:.0f}/100",
    "tickets_open": _count("1 open ticket", "{n} open tickets"),
    "tickets_30d": _count("1 ticket in 30 days", "{n} tickets in 30 days"),
    "tickets_90d": _count("1 ticket in 90 days", "{n} tickets in 90 days"),
    "resolution_hours_90d": lambda v: f"tickets resolved in {v:.0f} h on average (90 days)",
    "nps_last": _nps,
    "nps_class": lambda v: f"last NPS answer: {v}",
    "csat_90d": lambda v: f"{v * 100:.0f} % positive CSAT in 90 days",
    "sentiment_90d": lambda v: f"{'negative' if v < -0.05 else 'positive' if v > 0.05 else 'neutral'} tone in texts "
                               f"of 90 days ({v:+.2f})",
    "texts_90d": _count("1 ticket or comment text in 90 days", "{n} ticket or comment texts in 90 days"),
}


# What a missing value means, where it means something.
NULL_PHRASES = {
    "active_users_change_60d": "no active users 60 days ago to compare with",
    "usage_trend": "no usage in the 30 days before to compare with",
    "mrr_change_1m": "not a customer 1 month ago",
    "mrr_change_3m": "not a customer 3 months ago",
    "mrr_change_6m": "not a customer 6 months ago",
    "days_since_last_activity": "no recorded activity",
    "nps_last": "no NPS answer",
    "nps_class": "no NPS answer",
    "csat_90d": "no CSAT answer in 90 days",
    "sentiment_90d": "no ticket or comment text in 90 days",
    "resolution_hours_90d": "no ticket resolved in 90 days",
    "seats": "no seat count",
}

# Contributions smaller than this (log-odds) are not shown: they move the risk by well under 1 %.
MIN_EFFECT = 0.01


def phrase(feature: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        if feature in NULL_PHRASES:
            return NULL_PHRASES[feature]
        return f"no {feature.replace('_', ' ')} data"
    f = PHRASES.get(feature)
    if f is not None:
        try:
            return f(value)
        except (TypeError, ValueError):
            pass
    if isinstance(value, float):
        value = round(value, 3)
    return f"{feature.replace('_', ' ')}: {value}"


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return None if math.isnan(v) else v
    if isinstance(v, np.integer):
        return int(v)
    return v


def drivers(contrib: np.ndarray, values: list[Any], features: list[str], top: int) -> list[dict[str, Any]]:
    """The ``top`` features raising the risk (largest positive contributions) then the
    ``top`` lowering it (most negative); ``effect`` is the contribution in log-odds."""
    c = contrib[: len(features)]
    order = sorted(range(len(features)), key=lambda i: (-c[i], features[i]))
    up = [i for i in order if c[i] >= MIN_EFFECT][:top]
    down = [i for i in sorted(range(len(features)), key=lambda i: (c[i], features[i])) if c[i] <= -MIN_EFFECT][:top]
    out = []
    for i in up + down:
        v = _plain(values[i])
        out.append({"feature": features[i], "value": v, "effect": round(float(c[i]), 4),
                    "text": phrase(features[i], v)})
    return out
