"""What the CLI's ``--format json`` and the REST API both return, written once.

Each figure question is a service call; its answer is serialised by :func:`dumps` (dates
as ISO strings, Decimals as floats, objects through ``to_dict``).  ``retentio metrics
--format json`` prints ``dumps(metrics_result(...))`` and ``GET /api/v1/metrics`` returns
the same text, so the two cannot drift apart.  Light on purpose: no heavy import.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from retentio.errors import UsageError


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
    return json.dumps(data, default=_jsonable, ensure_ascii=False, indent=2)


def metrics_result(ws, period: str, *, by: str | None = None, filters: dict[str, str] | None = None,
                   series: bool = False) -> Any:
    """``retentio metrics`` as data: the figures of the period (grouped ``by`` an attribute),
    or with ``series`` one dict of figures per month."""
    if series:
        if by:
            raise UsageError("by cannot be combined with a monthly series", hint="drop by, or drop series")
        return ws.metrics_series(period, filters=filters)
    return ws.metrics(period, by=by, filters=filters)
