"""Typed results of the service facade.

Each result is a frozen dataclass with ``to_dict()`` (the JSON shape the CLI prints and the
API returns).  Results also read like the dict they replace (``result["nrr"]``), so code
written against the earlier plain dicts keeps working.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

__all__ = ["ExplainResult", "MetricsResult", "MovementsResult", "Report", "flatten", "lookup"]


class _DictLike(Mapping):
    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every result overrides it
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _DictLike):
            return self.to_dict() == other.to_dict()
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class MetricsResult(_DictLike):
    """The figures of one period; with ``by``, one set per group plus ``overall``."""

    period: str
    currency: str
    figures: Mapping[str, Any]  # the figures of the whole (filtered) book
    as_of: date | None = None
    to_date: bool = False  # the period is the month of as_of, not complete yet
    by: str | None = None
    groups: Mapping[str, Mapping[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        when = {"as_of": None if self.as_of is None else self.as_of.isoformat(), "to_date": self.to_date}
        if self.by is None:
            return {**self.figures, **when}
        return {"period": self.period, "by": self.by, "groups": {g: dict(f) for g, f in (self.groups or {}).items()},
                "overall": dict(self.figures), **when}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MetricsResult":
        """The result whose :meth:`to_dict` is ``data`` (the figure cache stores that shape)."""
        as_of = None if data.get("as_of") is None else date.fromisoformat(data["as_of"])
        if data.get("by") is not None and "overall" in data and "groups" in data:
            figures = data["overall"]
            return cls(data["period"], figures["currency"], figures, as_of, data["to_date"], data["by"],
                       data["groups"])
        figures = {k: v for k, v in data.items() if k not in ("as_of", "to_date")}
        return cls(figures["period"], figures["currency"], figures, as_of, data["to_date"])


@dataclass(frozen=True, eq=False)
class Report(_DictLike):
    """The result of an engagement, satisfaction or analysis metric: ``kind`` names it
    (``engagement.usage``, ``satisfaction.nps``, ``analyze.nps_vs_churn``); ``data`` is its
    JSON shape, whose keys are figures of the registry or dimensions."""

    kind: str
    data: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


@dataclass(frozen=True, eq=False)
class ExplainResult(_DictLike):
    metric: str
    title: str
    unit: str
    period: str
    currency: str
    value: Any
    undefined_reason: str | None
    formula: str
    inputs: Mapping[str, Any]
    recomputed_from_inputs: Any
    settings: Mapping[str, Any]
    code: str
    accounts: Sequence[Mapping[str, Any]] = field(default_factory=list)
    input_labels: Mapping[str, str] = field(default_factory=dict)  # each input in words

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "title": self.title, "unit": self.unit, "period": self.period,
            "currency": self.currency, "value": self.value, "undefined_reason": self.undefined_reason,
            "formula": self.formula, "inputs": dict(self.inputs), "input_labels": dict(self.input_labels),
            "recomputed_from_inputs": self.recomputed_from_inputs,
            "settings": dict(self.settings), "code": self.code, "accounts": [dict(a) for a in self.accounts],
        }


@dataclass(frozen=True, eq=False)
class MovementsResult(Sequence):
    """Every account movement of a period (a sequence of movement dicts)."""

    period: str
    currency: str
    type: str | None
    rows: Sequence[Mapping[str, Any]]

    def __getitem__(self, i):  # type: ignore[override]
        return self.rows[i]

    def __len__(self) -> int:
        return len(self.rows)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MovementsResult):
            return self.to_dict() == other.to_dict()
        if isinstance(other, list):
            return list(self.rows) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "currency": self.currency, "type": self.type, "count": len(self.rows),
                "rows": [dict(r) for r in self.rows]}


# Nested parts that are descriptions rather than figures stay out of flat rows.
SKIP = {"benchmarks"}


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested figures in one level (``movements.new``), for CSV rows and DataFrames."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if k in SKIP and not prefix:
            continue
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def lookup(figures: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``annualised.cs_headwind``), or None if absent."""
    cur: Any = figures
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur
