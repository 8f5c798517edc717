"""Health scores (metrics.md §11): configurable scorecards, backtested on the workspace's
own churn.  See docs/health.md.  The service functions live in retentio.health.service."""
