"""The registry of figures: the one definition of every number Retentio reports.

A figure is a :class:`MetricDef`: its key, its labels (EN/FR), its unit, its section, the
inputs it reads (aggregates of the compute pass, or other figures), its formula as one
function, its benchmark band, where it appears in the output (``path``) and its
documentation.  The compute passes of the capabilities produce their aggregates; the
figures are then *evaluated* from the registry (:func:`evaluate`), and ``explain``, the
table formatting, the JSON rounding and ``docs/metrics.md`` read the same definitions.

Capabilities register their figures in their own module (``metrics/registry.py``,
``engagement/registry.py``, ``satisfaction/registry.py``; a capability declares it as
``Capability(figures=...)``).  This module imports nothing heavy.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ABSENT", "DIMENSIONS", "NONE_GROUP", "SECTIONS", "UNITS", "Band", "MetricDef", "Zone", "all_figures", "assemble", "assess",
    "evaluate", "figure", "figures_of", "for_path", "format_value", "known_path", "register", "round_value",
    "safe_div", "unit_of",
]

UNITS = ("money", "rate", "ratio", "count", "days", "hours", "score")
SECTIONS = (
    "Revenue", "Movements", "Retention", "Unit economics", "Customer Success efficiency", "Benchmarks",
    "Engagement", "Satisfaction", "Prediction",
)
# The group of accounts that have no value of the attribute grouped by.
NONE_GROUP = "(none)"


class _Absent:
    """A figure that is not part of the result (e.g. a cost category with no cost)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


def safe_div(a: float | int | None, b: float | int | None) -> float | None:
    """a / b, or None (undefined) when a or b is missing or b is 0: never infinite, never 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b


# -- benchmark bands (metrics.md §13): one mechanism for every figure ------------------------
@dataclass(frozen=True)
class Zone:
    """Values v with lo <= v < hi (bounds optional; ``lo_open``/``hi_closed`` flip inclusion)."""

    status: str  # best | good | watch | alarm
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_closed: bool = False

    def holds(self, v: float) -> bool:
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        if self.hi is not None and (v > self.hi if self.hi_closed else v >= self.hi):
            return False
        return True

    def words(self, unit: str) -> str:
        def f(x: float) -> str:
            return _threshold(x, unit)

        if self.lo is None and self.hi is None:
            return "otherwise"
        if self.lo is None:
            return ("<= " if self.hi_closed else "< ") + f(self.hi)  # type: ignore[arg-type]
        if self.hi is None:
            return ("> " if self.lo_open else ">= ") + f(self.lo)
        return f"{f(self.lo)} to {'' if self.hi_closed else '< '}{f(self.hi)}"


def _threshold(x: float, unit: str) -> str:
    if unit == "rate":
        return f"{x * 100:g} %"
    return f"{x:g}"


@dataclass(frozen=True)
class Band:
    """A benchmark: zones tried in order (the first that holds gives the status), the figure
    actually judged (``judged``: an annualised one for monthly churn figures) and a note in
    words on what the band is (shown to the user); ``source`` is for the documentation."""

    zones: tuple[Zone, ...]
    judged: str
    note: str = ""
    source: str = ""

    def status(self, v: float) -> str | None:
        for z in self.zones:
            if z.holds(v):
                return z.status
        return None

    def words(self, unit: str) -> str:
        text = "; ".join(f"{z.status}: {z.words(unit)}" for z in self.zones)
        return f"{text} ({self.note})" if self.note else text


# -- figures ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricDef:
    key: str
    label: str
    label_fr: str
    unit: str
    section: str
    formula: str  # in words, as metrics.md gives it
    inputs: tuple[str, ...] = ()  # aggregates or figures the formula reads, by name
    compute: Callable[..., Any] | None = None  # compute(*inputs) -> value (None: undefined)
    path: str = ""  # where it appears in the output JSON (dotted; default: the key)
    capability: str = "metrics"
    benchmark: Band | None = None
    contributors: str = "snapshot"  # explain: snapshot | endpoint | movements:<kinds> | none
    settings: tuple[str, ...] = ()
    module: str = ""
    doc: str = ""
    input_units: Mapping[str, str] = field(default_factory=dict)  # explain: unit of an input

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"{self.key}: unit {self.unit!r} is not one of {UNITS}")
        if self.section not in SECTIONS:
            raise ValueError(f"{self.key}: section {self.section!r} is not one of {SECTIONS}")
        if not self.path:
            object.__setattr__(self, "path", self.key)

    def value(self, env: Mapping[str, Any]) -> Any:
        """The figure from its inputs (``env`` maps input names to values)."""
        if self.compute is None:
            return env[self.key]
        return self.compute(*(env[name] for name in self.inputs))


_REGISTRY: dict[str, MetricDef] = {}
_ORDERED: dict[str, MetricDef] | None = None  # _REGISTRY in the order of the capabilities


def register(*defs: MetricDef) -> None:
    global _ORDERED
    for d in defs:
        if d.key in _REGISTRY and _REGISTRY[d.key] != d:
            raise RuntimeError(f"figure {d.key!r} defined twice")
        _REGISTRY[d.key] = d
    _ORDERED = None


_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    from retentio.capabilities import all_capabilities

    for cap in all_capabilities():
        if cap.figures:
            importlib.import_module(cap.figures)
    _loaded = True


def all_figures() -> dict[str, MetricDef]:
    """Every registered figure of every capability, by key: capability by capability in the
    order they are declared, each in its registration order (whatever order the capability
    packages happened to be imported in: they import their computations lazily)."""
    global _ORDERED
    _load_all()
    if _ORDERED is None:
        from retentio.capabilities import all_capabilities

        rank = {c.name: i for i, c in enumerate(all_capabilities())}
        _ORDERED = dict(sorted(_REGISTRY.items(), key=lambda kv: rank.get(kv[1].capability, len(rank))))
    return dict(_ORDERED)


def figures_of(capability: str) -> list[MetricDef]:
    return [d for d in all_figures().values() if d.capability == capability]


def figure(key: str) -> MetricDef | None:
    return all_figures().get(key)


def evaluate(defs: Iterable[MetricDef], aggregates: Mapping[str, Any]) -> dict[str, Any]:
    """Every figure of ``defs`` from the aggregates; a figure may read other figures (they
    are evaluated first, whatever their order).  Returns {key: value}."""
    by_key = {d.key: d for d in defs}
    env: dict[str, Any] = dict(aggregates)
    busy: set[str] = set()

    def get(name: str) -> Any:
        if name in env:
            return env[name]
        d = by_key.get(name)
        if d is None:
            raise KeyError(f"figure input {name!r} is neither an aggregate nor a figure")
        if name in busy:
            raise RuntimeError(f"figure {name!r} depends on itself")
        busy.add(name)
        env[name] = d.compute(*(get(i) for i in d.inputs)) if d.compute else env[name]
        busy.discard(name)
        return env[name]

    return {k: get(k) for k in by_key}


# Keys of the output that are not figures: dimensions, parameters and echoed settings.
DIMENSIONS = frozenset({
    "period", "currency", "by", "account_id", "account_name", "csm", "month", "cohort", "segment", "date",
    "feature", "complex", "key", "status", "customer", "milestone", "milestones", "topic", "value_event",
    "window_days", "at_risk_drop", "active_window", "weights", "thresholds", "drop_threshold", "backlog_date",
    "missing", "first_paid", "first_value", "trial_start", "trial_end", "paid_start", "previous_month",
    "flagged", "value_before_paid", "horizon", "benchmark", "months", "verdict", "ci_method", "benchmarks",
    "key_features", "to_date", "in_progress", "as_of", "group", "overall", "groups", "rows", "accounts",
    "features", "summary", "per_milestone", "topics", "excluded", "left_out", "missing_components",
    "model",  # the sentiment model that scored the texts (docs/sentiment.md)
})


def known_path(path: str) -> bool:
    """Is this output key (dotted, list indices and group names removed) a figure, or a
    group of figures (``costs``: null when costs are not attributed)?"""
    if for_path(path) is not None:
        return True
    leaf = path.rsplit(".", 1)[-1]
    return any(d.path.startswith(leaf + ".") for d in all_figures().values())


# -- presentation by unit ----------------------------------------------------------------------
def round_value(v: Any, unit: str) -> Any:
    """JSON/CSV rounding by unit: money 2 decimals, rates and ratios 4 significant decimals."""
    if not isinstance(v, float) or math.isnan(v) or math.isinf(v):
        return v
    if unit == "money":
        return round(v, 2)
    if unit in ("rate", "ratio", "score", "days", "hours"):
        return float(f"{v:.4g}") if abs(v) < 1 else round(v, 4)
    return v


def format_value(v: Any, unit: str, currency: str = "") -> str:
    """A value as a table shows it: rates in %, money with 2 decimals and the currency."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if unit == "rate":
        return f"{v * 100:.2f} %"
    if unit == "money":
        return f"{v:,.2f} {currency}".rstrip()
    if unit == "count" and isinstance(v, (int, float)) and float(v).is_integer():
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


# -- output ------------------------------------------------------------------------------------
def assemble(defs: Iterable[MetricDef], values: Mapping[str, Any], head: Mapping[str, Any] | None = None,
             null_groups: Iterable[str] = ()) -> dict[str, Any]:
    """The nested output of evaluated figures: each at its ``path`` in registry order.
    A group in ``null_groups`` is ``None`` as a whole; an ``ABSENT`` figure is left out."""
    out: dict[str, Any] = dict(head or {})
    nulls = set(null_groups)
    for d in defs:
        parts = d.path.split(".")
        if parts[0] in nulls:
            out[parts[0]] = None
            continue
        cur = out
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        v = values[d.key]
        if v is not ABSENT:
            cur[parts[-1]] = v
    return out


def assess(defs: Iterable[MetricDef], values: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Benchmark status of every figure that has a band: {key: {status, reference, judged}}."""
    defs = list(defs)
    by_key = {d.key: d for d in defs}
    out: dict[str, dict[str, str]] = {}
    for d in defs:
        b = d.benchmark
        if b is None:
            continue
        v = values.get(b.judged)
        if v is None or v is ABSENT:
            continue
        judged = by_key.get(b.judged, d)
        status = b.status(float(v))
        if status is not None:
            out[d.key] = {"status": status, "reference": b.words(judged.unit), "judged": judged.path}
    return out


@functools.lru_cache(maxsize=4096)
def for_path(path: str) -> MetricDef | None:
    """The figure shown at an output key (dotted; the longest registered path that ends it)."""
    best = None
    for d in all_figures().values():
        if (path == d.path or path.endswith("." + d.path)) and (best is None or len(d.path) > len(best.path)):
            best = d
    return best


def unit_of(path: str) -> str | None:
    d = for_path(path)
    return None if d is None else d.unit


# -- documentation -----------------------------------------------------------------------------
DOC_BEGIN = "<!-- figures: generated by `python -m retentio.figures docs/metrics.md`; do not edit by hand -->"
DOC_END = "<!-- figures: end -->"


def render_tables() -> str:
    """The tables of docs/metrics.md: every figure of the registry, by section."""
    figs = list(all_figures().values())
    out = [DOC_BEGIN, ""]
    for section in SECTIONS:
        defs = [d for d in figs if d.section == section]
        if section == "Benchmarks":
            defs = defs + [d for d in figs if d.benchmark is not None and d.section != "Benchmarks"]
        if not defs:
            continue
        out += [f"### {section}", "", "| key (JSON path) | figure | unit | formula | benchmark |", "| --- | --- | --- | --- | --- |"]
        for d in defs:
            band = d.benchmark.words(unit_of_key(d.benchmark.judged) or d.unit) if d.benchmark else ""
            name = f"`{d.key}`" if d.path == d.key else f"`{d.key}` (`{d.path}`)"
            out.append(f"| {name} | {d.label} / {d.label_fr} | {d.unit} | {d.formula.replace('|', '/')} | {band} |")
        out.append("")
    out.append(DOC_END)
    return "\n".join(out)


def unit_of_key(key: str) -> str | None:
    d = all_figures().get(key)
    return None if d is None else d.unit


def update_doc(path: str) -> bool:
    """Rewrite the generated part of ``path``; returns True when it changed."""
    from pathlib import Path

    p = Path(path)
    text = p.read_text(encoding="utf-8")
    head, _, rest = text.partition(DOC_BEGIN)
    _, _, tail = rest.partition(DOC_END)
    new = head + render_tables() + tail
    if new != text:
        p.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":  # python -m retentio.figures docs/metrics.md
    import sys

    from retentio import figures as _this  # the registry lives in the imported module, not __main__

    for target in sys.argv[1:] or ["docs/metrics.md"]:
        print(f"{target}: {'updated' if _this.update_doc(target) else 'current'}")
