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

__all__ = ["dumps", "engagement_result", "limited", "listing", "metrics_result", "movements_result", "rounded",
           "satisfaction_result"]


def rounded(data: Any, prefix: str = "") -> Any:
    """JSON and CSV values rounded by the unit of their figure (money 2 decimals, rates 4
    significant digits); keys that are not figures are left as they are."""
    from retentio.figures import round_value, unit_of

    if isinstance(data, dict):
        out = {k: rounded(v, f"{prefix}{k}.") for k, v in data.items()}
        # a result that states its unit: a figure (explain: its value and the recomputed
        # value) or a table of cells (cohorts: each row's values) is rounded by it
        unit = data.get("unit")
        if isinstance(unit, str):
            for k in ("value", "recomputed_from_inputs"):
                if isinstance(out.get(k), float):
                    out[k] = round_value(out[k], unit)
            if isinstance(out.get("rows"), list):
                out["rows"] = [{**r, "values": [round_value(v, unit) for v in r["values"]]}
                               if isinstance(r, dict) and isinstance(r.get("values"), list) else r
                               for r in out["rows"]]
        return out
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


def limited(rows: list[dict[str, Any]], limit: int, sort: str | None) -> list[dict[str, Any]]:
    """The rows sorted by ``sort`` (a column; -column: descending) and cut to ``limit`` (0: all)."""
    # Errors name the parameter (details.parameter), never a flag: the CLI shows --limit / --sort.
    if limit < 0:
        raise UsageError(f"limit {limit}: must be 0 (all) or more", hint="e.g. limit=20",
                         details={"parameter": "limit", "value": limit})
    if sort:
        col = sort.lstrip("-")
        if rows and col not in rows[0]:
            raise UsageError(f"sort {sort!r}: no such column", hint="one of: " + ", ".join(rows[0]),
                             details={"parameter": "sort", "value": sort, "columns": list(rows[0])})
        if any(isinstance(r.get(col), (dict, list, tuple)) for r in rows):
            raise UsageError(f"sort {sort!r}: the column holds lists, not values to sort by",
                             hint="one of: " + ", ".join(k for k, v in rows[0].items()
                                                         if not isinstance(v, (dict, list, tuple))),
                             details={"parameter": "sort", "value": sort})
        present = [r for r in rows if r.get(col) is not None]
        absent = [r for r in rows if r.get(col) is None]
        rows = sorted(present, key=lambda r: r[col], reverse=sort.startswith("-")) + absent
    return rows if limit == 0 else rows[:limit]


def listing(result: Any, rows_key: str, limit: int | None, sort: str | None) -> dict[str, Any]:
    """A result whose list ``rows_key`` is sorted and cut to ``limit``, with ``shown`` (rows
    kept) and ``count`` (rows in all); ``limit`` None: the result as it is."""
    data = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    if limit is None:
        return data
    all_rows = [dict(r) for r in data.get(rows_key) or []]
    rows = limited(all_rows, limit, sort)
    return {**data, rows_key: rows, "shown": len(rows), "count": len(all_rows)}


def movements_result(ws, period: str, *, type: str | None = None, filters: dict[str, str] | None = None,
                     limit: int = 20, sort: str | None = None, as_of: date | str | None = None) -> dict[str, Any]:
    """``retentio movements`` as data: the period's movements sorted (default: largest amount
    first) and cut to ``limit`` (0: all); ``count`` is the number of movements in all."""
    res = ws.movements(period, type=type, filters=filters, as_of=as_of)
    return listing(res, "rows", limit, sort or "-amount")


# Which list of an engagement result is its table, and which of them are lists of accounts
# (sorted and cut to a limit).
ENGAGEMENT_ROWS = {"usage": "rows", "adoption": "features", "key-time": "rows", "lifecycle": "summary", "ces": "rows",
                   "ttfv": "groups", "onboarding": "groups", "trials": "groups"}
ENGAGEMENT_LISTS = {"usage", "key-time", "ces"}


def engagement_result(ws, metric: str, *, period: str = "last", by: list[str] | str | None = None,
                      limit: int = 20, sort: str | None = None, as_of: date | str | None = None,
                      **kw: Any) -> tuple[Any, dict[str, Any]]:
    """``retentio engagement METRIC`` as data: (the service result, its JSON shape: account
    lists sorted and cut to ``limit`` with ``shown`` and ``count``)."""
    res = ws.engagement(metric, period=period, by=by, as_of=as_of, **kw)
    return res, listing(res, ENGAGEMENT_ROWS[metric], limit if metric in ENGAGEMENT_LISTS else None, sort)


def satisfaction_result(ws, metric: str, *, period: str | None = "last", by: list[str] | None = None,
                        texts: bool = False, flagged: bool = False, limit: int = 20, sort: str | None = None,
                        as_of: date | str | None = None) -> tuple[Any, str, dict[str, Any]]:
    """``retentio satisfaction METRIC`` as data: (the service result, the key of its table,
    its JSON shape).  nps and csat: one row per group then a total row (``by``), or the one
    overall row; sentiment: its rows (``flagged``: only the drops) sorted and cut to ``limit``."""
    if period == "all":
        period = None
    if metric in ("nps", "csat"):
        res = ws.satisfaction(metric, period=period, by=by, as_of=as_of)
        d = res.to_dict() if hasattr(res, "to_dict") else dict(res)
        if by:
            return res, "groups", {**d, "groups": [*d["groups"], {**{b: "total" for b in by}, **d["overall"]}]}
        return res, "rows", {**d, "rows": [d["overall"]]}
    if metric == "tickets":
        res = ws.satisfaction("tickets", period=period, as_of=as_of)
        return res, "topics", listing(res, "topics", None, None)
    if metric == "sentiment":
        res = ws.satisfaction("sentiment", period=period, texts=texts, as_of=as_of)
        key = "flagged" if flagged else "rows"
        return res, key, listing(res, key, limit, sort)
    raise UsageError(f"satisfaction metric {metric!r} unknown", hint="one of: nps, csat, tickets, sentiment",
                     details={"parameter": "metric"})
