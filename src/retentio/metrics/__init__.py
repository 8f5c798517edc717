"""Revenue and retention metrics (metrics.md §1-§8), written once in narwhals and run on
any engine.  These functions take an engine and the workspace settings and return plain
Python data; they are the capability's internals: the public API is
``retentio.service.Workspace`` (``ws.metrics``, ``ws.explain`` ...), which the CLI, the API and
notebooks call.  Every figure is defined in ``retentio.metrics.registry``.
"""

from __future__ import annotations

from retentio.config import Settings
from retentio.engine import Engine
from retentio.metrics.cohorts import cohorts
from retentio.metrics.drilldown import explain, movements
from retentio.metrics.kpis import compute
from retentio.metrics.periods import Period, as_period, month_label, parse_period


Filters = dict[str, str] | None


def metrics(engine: Engine, settings: Settings, period: str | Period, *, by: str | None = None,
            filters: Filters = None) -> dict:
    """All figures of one period (JSON shape of ``retentio metrics``)."""
    return compute(engine, settings, [as_period(period)], by=by, filters=filters)[0]


def metrics_series(engine: Engine, settings: Settings, period: str | Period, *, filters: Filters = None) -> list[dict]:
    """One dict of figures per month of the period (a time series)."""
    return compute(engine, settings, [Period.month(m) for m in as_period(period).months], filters=filters)


__all__ = ["cohorts", "explain", "metrics", "metrics_series", "month_label", "movements", "parse_period"]
