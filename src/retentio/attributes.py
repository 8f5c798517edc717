"""Strict names: an account attribute or a filter value that does not exist is an error that
names what exists, never a silent "(none)" group or an empty result (issue 11).

An unknown attribute (``by``, ``filters``, ``segment``) is a :class:`UsageError` (exit 2)
naming the known attributes and the closest one; a filter value no account has is a
:class:`DataError` (exit 1) listing the closest known values, case differences included.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

import narwhals as nw

from retentio.engine import Engine, distinct
from retentio.errors import DataError, UsageError

__all__ = ["DERIVED", "check_attribute", "check_filters", "closest", "known_attributes"]

# Attributes every revenue command understands besides the imported ones.
DERIVED = {"touch": "MRR tier (high / low / tech)", "plan": "largest line's plan", "cohort": "first paid month"}
TOUCH_VALUES = ("high", "low", "tech")


def closest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates nearest to ``word``: same text in another case first, then similar ones."""
    cands = [str(c) for c in candidates]
    same_case = [c for c in cands if c.lower() == word.lower() and c != word]
    lowered = {c.lower(): c for c in cands}
    near = [lowered[c] for c in difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.5)]
    return list(dict.fromkeys(same_case + near))[:n]


def known_attributes(engine: Engine) -> list[str]:
    out = engine.collect(engine.table("account_attributes").select("attribute").pipe(distinct))
    return sorted(str(a) for a in out["attribute"].to_list())


def check_attribute(engine: Engine, name: str | None, *, parameter: str = "by", derived: bool = True,
                    extra: Iterable[str] = ()) -> str | None:
    """``name`` if it is a known attribute (or a derived one when ``derived``); else UsageError."""
    if name is None:
        return None
    known = known_attributes(engine)
    allowed = list(dict.fromkeys(known + (list(DERIVED) if derived else []) + list(extra)))
    if name in allowed or (derived and name.strip().lower() in DERIVED):
        return name
    near = closest(name, allowed)
    raise UsageError(
        f"{parameter} {name!r}: no account attribute of that name"
        + (f"; did you mean {' or '.join(repr(c) for c in near)}?" if near else ""),
        hint="known attributes: " + (", ".join(allowed) or "none (add columns to accounts.csv and re-import)"),
        details={"parameter": parameter, "known": allowed, "closest": near},
    )


def _values(engine: Engine, attribute: str) -> list[str]:
    a = attribute.strip().lower()
    if a == "touch":
        return list(TOUCH_VALUES)
    if a == "plan":
        out = engine.collect(engine.table("subscriptions").select("plan").pipe(distinct))
        return sorted(str(v) for v in out["plan"].to_list() if v is not None)
    out = engine.collect(engine.table("account_attributes").filter(nw.col("attribute") == attribute)
                         .select("value").pipe(distinct))
    return sorted(str(v) for v in out["value"].to_list() if v is not None)


def check_filters(engine: Engine, filters: Mapping[str, str] | None, *, derived: bool = True) -> None:
    """Every filter names a known attribute (UsageError) and a value some account has (DataError)."""
    for attr, value in (filters or {}).items():
        check_attribute(engine, attr, parameter="filters", derived=derived)
        if attr.strip().lower() == "cohort":
            from retentio.metrics.periods import parse_period

            parse_period(value)  # a month, checked as a period
            continue
        values = _values(engine, attr)
        if str(value) in values:
            continue
        near = closest(str(value), values, n=5)
        shown = ", ".join(values[:20]) + (f" (and {len(values) - 20} more)" if len(values) > 20 else "")
        raise DataError(
            f"filters {attr}={value!r}: no account has this value"
            + (f"; closest: {', '.join(repr(c) for c in near)}" if near else ""),
            hint=f"values of {attr}: {shown}" if values else f"no account has a value of {attr}",
            details={"attribute": attr, "value": value, "closest": near},
        )
