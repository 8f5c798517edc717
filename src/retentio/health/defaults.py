"""The shipped scorecards, used when the workspace's ``health/`` folder holds no YAML card.

A recorded cancellation (feature ``cancellation_recorded``) is deliberately left out: it
is known churn, not health, and would only flatter the backtest.  ``commercial`` needs only subscriptions; ``standard`` (seed 002's weights: product usage 40,
relationship / NPS 10, support 20, billing 30) also reads usage, tickets and surveys.  When
the workspace has usage, ticket or survey rows, ``standard`` is the default card, else
``commercial``.  ``retentio health init`` writes both into ``health/`` to be edited.
"""

from __future__ import annotations

from typing import Any

COMMERCIAL: dict[str, Any] = {
    "name": "commercial",
    "description": "Subscriptions only: revenue trend, commitment and renewal (for a book without usage data).",
    "model": "weighted",
    "groups": [
        {"name": "Revenue trend", "weight": 40, "measures": [
            {"name": "mrr_change_3m", "feature": "mrr_change_3m", "linear": [-0.3, 0.1]},
            {"name": "mrr_change_1m", "feature": "mrr_change_1m", "linear": [-0.2, 0.05]},
        ]},
        {"name": "Commitment", "weight": 40, "measures": [
            {"name": "billing_period", "feature": "billing_period_months", "thresholds": [[1, 30], [12, 80], [24, 100]]},
            {"name": "tenure", "feature": "tenure_months", "linear": [0, 24]},
        ]},
        {"name": "Renewal", "weight": 20, "measures": [
            {"name": "days_to_renewal", "feature": "days_to_renewal", "linear": [0, 120]},
        ]},
    ],
}

STANDARD: dict[str, Any] = {
    "name": "standard",
    "description": "Seed 002's weighted model: product usage 40, relationship 10, support 20, billing 30.",
    "model": "weighted",
    "groups": [
        {"name": "Product usage", "weight": 40, "measures": [
            {"name": "active_users_vs_seats", "feature": "active_users_vs_seats", "linear": [0.1, 0.8]},
            {"name": "usage_trend", "feature": "usage_trend", "linear": [-0.5, 0.2]},
            {"name": "days_since_last_activity", "feature": "days_since_last_activity", "direction": "down",
             "linear": [3, 30]},
            {"name": "features_used", "feature": "features_used_30d", "linear": [1, 6]},
        ]},
        {"name": "Relationship", "weight": 10, "measures": [
            {"name": "nps", "feature": "nps_class", "bands": {"promoter": 100, "passive": 60, "detractor": 10}},
            {"name": "csm_pulse", "feature": "csm_pulse", "linear": [1, 5]},
        ]},
        {"name": "Support", "weight": 20, "measures": [
            {"name": "tickets_30d", "feature": "tickets_30d", "direction": "down",
             "thresholds": [[0, 100], [1, 70], [2, 40]], "below": 0},
            {"name": "sentiment", "feature": "sentiment_90d", "linear": [-0.5, 0.5]},
        ]},
        {"name": "Billing", "weight": 30, "measures": [
            {"name": "mrr_change_3m", "feature": "mrr_change_3m", "linear": [-0.3, 0.1]},
            {"name": "billing_period", "feature": "billing_period_months", "thresholds": [[1, 30], [12, 80], [24, 100]]},
        ]},
    ],
}
