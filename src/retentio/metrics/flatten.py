"""Flatten nested figures into one level (``movements.new``) for CSV rows and DataFrames."""

from __future__ import annotations

from typing import Any

# Nested parts that are descriptions rather than figures stay out of flat rows.
SKIP = {"benchmarks"}


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if k in SKIP and not prefix:
            continue
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def lookup(figures: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (``annualised.cs_headwind``), or None if absent."""
    cur: Any = figures
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur
