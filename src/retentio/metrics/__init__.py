"""Revenue and retention metrics (metrics.md §1-§8), written once in narwhals and run on
any engine.  These functions take an engine and the workspace settings and return plain
Python data; they are the capability's internals: the public API is
``retentio.service.Workspace`` (``ws.metrics``, ``ws.explain`` ...), which the CLI, the API and
notebooks call.  Every figure is defined in ``retentio.metrics.registry``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retentio._lazy import lazy_exports

if TYPE_CHECKING:
    from retentio.config import Settings
    from retentio.engine import Engine
    from retentio.metrics.cohorts import cohorts
    from retentio.metrics.drilldown import explain, movements
    from retentio.metrics.kpis import compute
    from retentio.metrics.periods import Period, as_period, month_label, parse_period

# The computations (narwhals, engines) are imported on first use: the figure registry
# (retentio.metrics.registry) and the periods are read by the table formatting and the
# figure cache without them (see retentio._lazy).
lazy_exports(__name__, {
    "cohorts": "retentio.metrics.cohorts:cohorts",
    "explain": "retentio.metrics.drilldown:explain",
    "movements": "retentio.metrics.drilldown:movements",
    "compute": "retentio.metrics.kpis:compute",
    "Period": "retentio.metrics.periods:Period",
    "as_period": "retentio.metrics.periods:as_period",
    "month_label": "retentio.metrics.periods:month_label",
    "parse_period": "retentio.metrics.periods:parse_period",
})


Filters = dict[str, str] | None


def metrics(engine: Engine, settings: Settings, period: str | Period, *, by: str | None = None,
            filters: Filters = None) -> dict:
    """All figures of one period (JSON shape of ``retentio metrics``)."""
    from retentio.metrics.kpis import compute
    from retentio.metrics.periods import as_period

    return compute(engine, settings, [as_period(period)], by=by, filters=filters)[0]


def metrics_series(engine: Engine, settings: Settings, period: str | Period, *, filters: Filters = None) -> list[dict]:
    """One dict of figures per month of the period (a time series)."""
    from retentio.metrics.kpis import compute
    from retentio.metrics.periods import Period, as_period

    return compute(engine, settings, [Period.month(m) for m in as_period(period).months], filters=filters)


__all__ = ["cohorts", "explain", "metrics", "metrics_series", "month_label", "movements", "parse_period"]
