"""What the CLI's ``--format json`` and the REST API both return, written once.

Each figure question is a service call; its answer is serialised by :func:`dumps`: typed
results through ``to_dict``, dates as ISO strings, Decimals as floats, and every value
rounded by the unit of its figure in the registry (money 2 decimals, rates 4 significant
digits).  ``retentio metrics --format json`` prints ``dumps(metrics_result(...))`` and
``GET /api/v1/metrics`` returns the same text, so the two cannot drift apart.  Light on
purpose: the registry is imported only when a value is rounded.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from retentio.errors import UsageError

__all__ = ["dumps", "metrics_result", "rounded"]


def rounded(data: Any, prefix: str = "") -> Any:
    """JSON and CSV values rounded by the unit of their figure (money 2 decimals, rates 4
    significant digits); keys that are not figures are left as they are."""
    from retentio.figures import round_value, unit_of

    if isinstance(data, dict):
        return {k: rounded(v, f"{prefix}{k}.") for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [rounded(v, prefix) for v in data]
    if isinstance(data, float):
        unit = unit_of(prefix[:-1]) if prefix else None
        return round_value(data, unit) if unit else data
    return data


def _jsonable(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, Enum):
        return v.value
    if hasattr(v, "to_dict"):
        return v.to_dict()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def dumps(data: Any) -> str:
    if hasattr(data, "to_dict"):
        data = data.to_dict()
    return json.dumps(rounded(json.loads(json.dumps(data, default=_jsonable))), ensure_ascii=False, indent=2)


def metrics_result(ws, period: str, *, by: str | None = None, filters: dict[str, str] | None = None,
                   series: bool = False, as_of: date | str | None = None) -> Any:
    """``retentio metrics`` as data: the figures of the period (grouped ``by`` an attribute),
    or with ``series`` one dict of figures per month."""
    if series:
        if by:
            raise UsageError("by cannot be combined with a monthly series", hint="drop by, or drop series",
                             details={"parameter": "by"})
        return ws.metrics_series(period, filters=filters, as_of=as_of)
    return ws.metrics(period, by=by, filters=filters, as_of=as_of)
