"""Engagement and adoption metrics (metrics.md §9): usage, lifecycle, engagement score,
time to first value, onboarding, trial conversion.  See docs/metrics-engagement.md."""

from retentio.engagement.lifecycle import engagement_score, lifecycle
from retentio.engagement.onboarding import onboarding, time_to_first_value, trial_conversion
from retentio.engagement.usage import active_users, daily_points, feature_adoption, key_feature_time, month_end_points

__all__ = [
    "active_users", "daily_points", "engagement_score", "feature_adoption", "key_feature_time", "lifecycle",
    "month_end_points", "onboarding", "time_to_first_value", "trial_conversion",
]
