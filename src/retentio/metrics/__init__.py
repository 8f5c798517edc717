"""Revenue and retention metrics (metrics.md §1-§8), written once in narwhals and run on
any engine.  Public functions take an engine and the workspace settings and return plain
Python data; ``retentio.service.Workspace`` wraps them for the CLI, the API and notebooks.
"""

from __future__ import annotations

from retentio.config import Settings
from retentio.engine import Engine
from retentio.metrics.cohorts import cohorts
from retentio.metrics.drilldown import explain, movements
from retentio.metrics.kpis import compute
from retentio.metrics.periods import Period, month_label, parse_period


def metrics(
    engine: Engine,
    settings: Settings,
    period: str | Period,
    *,
    by: str | None = None,
    filters: dict[str, str] | None = None,
) -> dict:
    """All figures of one period (JSON shape of ``retentio metrics``)."""
    p = period if isinstance(period, Period) else parse_period(period)
    return compute(engine, settings, [p], by=by, filters=filters)[0]


def metrics_series(
    engine: Engine,
    settings: Settings,
    period: str | Period,
    *,
    filters: dict[str, str] | None = None,
) -> list[dict]:
    """One dict of figures per month of the period (a time series)."""
    p = period if isinstance(period, Period) else parse_period(period)
    return compute(engine, settings, [Period.month(m) for m in p.months], filters=filters)


__all__ = ["cohorts", "explain", "metrics", "metrics_series", "month_label", "movements", "parse_period"]
