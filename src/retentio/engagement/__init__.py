"""Engagement and adoption metrics (metrics.md §9): usage, lifecycle, engagement score,
time to first value, onboarding, trial conversion.  See docs/metrics-engagement.md."""

from retentio._lazy import lazy_exports

# Computations imported on first use: the figure registry (retentio.engagement.registry) is
# read without them (see retentio._lazy).
lazy_exports(__name__, {
    "engagement_score": "retentio.engagement.lifecycle:engagement_score",
    "lifecycle": "retentio.engagement.lifecycle:lifecycle",
    "onboarding": "retentio.engagement.onboarding:onboarding",
    "time_to_first_value": "retentio.engagement.onboarding:time_to_first_value",
    "trial_conversion": "retentio.engagement.onboarding:trial_conversion",
    "active_users": "retentio.engagement.usage:active_users",
    "daily_points": "retentio.engagement.usage:daily_points",
    "feature_adoption": "retentio.engagement.usage:feature_adoption",
    "key_feature_time": "retentio.engagement.usage:key_feature_time",
    "month_end_points": "retentio.engagement.usage:month_end_points",
})

__all__ = [
    "active_users", "daily_points", "engagement_score", "feature_adoption", "key_feature_time", "lifecycle",
    "month_end_points", "onboarding", "time_to_first_value", "trial_conversion",
]
