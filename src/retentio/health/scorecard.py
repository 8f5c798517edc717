"""Scorecards: what a health score is made of (metrics.md §11), read from YAML and validated.

A scorecard has a model, optional assignment criteria, and groups of measures.  A measure
reads one per-account figure (a feature of :mod:`retentio.features`, an account attribute,
or the CSM pulse) and maps it to 0-100 with one scale:

- ``linear: [lo, hi]``: lo -> 0, hi -> 100, straight line between, clamped (direction down
  reverses: lo -> 100, hi -> 0);
- ``thresholds: [[t1, s1], [t2, s2], ...]``: direction up: the score of the largest t <= value
  (below every t: ``below``, default 0); direction down: the score of the smallest t >= value
  (above every t: ``below``);
- ``bands: {category: score, ...}``: categorical figures (NPS class, lifecycle, plan...);
  a category not listed scores ``other`` (default: missing).

Models: ``weighted`` (weighted mean of 0-100 scores, groups weighted in turn), ``points``
(each measure gives up to ``points`` points: ``per`` points per unit capped at ``cap``, or its
0-100 score x points / 100; the score is the sum and may exceed 100), ``action_values``
(sum of impact x frequency, frequency = the figure), ``worst_of`` (the lowest 0-100 score),
``peer_percentile`` (the weighted score turned into the percentile among accounts of the
same ``peer_attribute`` on the same day).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retentio.errors import ConfigError

MODELS = ("weighted", "points", "action_values", "worst_of", "peer_percentile")
DIRECTIONS = ("up", "down")
PULSE = "csm_pulse"
CARD_KEYS = {"name", "description", "model", "criteria", "default", "priority", "peer_attribute", "groups"}
GROUP_KEYS = {"name", "weight", "measures"}
MEASURE_KEYS = {"name", "feature", "weight", "direction", "linear", "thresholds", "below", "bands", "other",
                "points", "per", "cap", "impact"}


@dataclass
class Measure:
    name: str
    feature: str
    weight: float = 1.0
    direction: str = "up"
    linear: tuple[float, float] | None = None
    thresholds: list[tuple[float, float]] | None = None
    below: float = 0.0
    bands: dict[str, float] | None = None
    other: float | None = None
    points: float | None = None
    per: float | None = None
    cap: float | None = None
    impact: float | None = None

    def score(self, value: Any) -> float | None:
        """The 0-100 score of a raw value (None: missing)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if self.bands is not None:
            return self.bands.get(str(value), self.other)
        x = float(value)
        if self.linear is not None:
            lo, hi = self.linear
            p = 1.0 if hi == lo else min(max((x - lo) / (hi - lo), 0.0), 1.0)
            return 100.0 * (p if self.direction == "up" else 1.0 - p)
        if self.thresholds is not None:
            if self.direction == "up":
                ok = [s for t, s in self.thresholds if x >= t]
                return ok[-1] if ok else self.below
            ok = [s for t, s in self.thresholds if x <= t]
            return ok[0] if ok else self.below
        return min(max(x, 0.0), 100.0)  # already a 0-100 figure

    def points_of(self, value: Any) -> float | None:
        """Points model: per x value capped at cap, or score x points / 100."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if self.per is not None:
            p = self.per * float(value)
            return min(p, self.cap) if self.cap is not None else p
        s = self.score(value)
        return None if s is None else s * (self.points or 0.0) / 100.0

    def max_points(self) -> float:
        if self.per is not None:
            return self.cap if self.cap is not None else math.inf
        return self.points or 0.0

    def action_value(self, value: Any) -> float | None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        v = (self.impact or 0.0) * float(value)
        return min(v, self.cap) if self.cap is not None else v

    def raw_for_score(self, target: float) -> Any:
        """The raw value that reaches a 0-100 score of at least ``target`` (None: cannot)."""
        if target > 100 + 1e-9:
            return None
        if self.bands is not None:
            ok = [(s, c) for c, s in self.bands.items() if s >= target]
            return min(ok)[1] if ok else None
        if self.linear is not None:
            lo, hi = self.linear
            p = target / 100.0 if self.direction == "up" else 1.0 - target / 100.0
            return lo + p * (hi - lo)
        if self.thresholds is not None:
            ok = [t for t, s in self.thresholds if s >= target]
            if not ok:
                return None
            return min(ok) if self.direction == "up" else max(ok)
        return target

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "feature": self.feature}
        if self.weight != 1.0:
            d["weight"] = self.weight
        if self.direction != "up":
            d["direction"] = self.direction
        for k in ("linear", "thresholds", "bands", "other", "points", "per", "cap", "impact"):
            v = getattr(self, k)
            if v is not None:
                d[k] = [list(x) for x in v] if k == "thresholds" else list(v) if k == "linear" else v
        if self.thresholds is not None and self.below:
            d["below"] = self.below
        return d


@dataclass
class Group:
    name: str
    weight: float
    measures: list[Measure]


@dataclass
class Scorecard:
    name: str
    model: str = "weighted"
    description: str = ""
    criteria: dict[str, Any] = field(default_factory=dict)
    default: bool = False
    priority: int = 100
    peer_attribute: str = "segment"
    groups: list[Group] = field(default_factory=list)
    source: str = ""

    @property
    def measures(self) -> list[Measure]:
        return [m for g in self.groups for m in g.measures]

    def features(self) -> list[str]:
        return sorted({m.feature for m in self.measures})

    def matches(self, row: dict[str, Any]) -> bool:
        for key, want in self.criteria.items():
            v = row.get(key)
            if isinstance(want, dict):
                if v is None:
                    return False
                if "min" in want and float(v) < float(want["min"]):
                    return False
                if "max" in want and float(v) > float(want["max"]):
                    return False
            elif str(v) not in [str(w) for w in want]:
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "model": self.model}
        if self.description:
            d["description"] = self.description
        if self.criteria:
            d["criteria"] = self.criteria
        if self.default:
            d["default"] = True
        if self.priority != 100:
            d["priority"] = self.priority
        if self.model == "peer_percentile":
            d["peer_attribute"] = self.peer_attribute
        d["groups"] = [{"name": g.name, "weight": g.weight, "measures": [m.to_dict() for m in g.measures]}
                       for g in self.groups]
        return d


# -- parsing ---------------------------------------------------------------------------------
def _err(source: str, key: str, msg: str, allowed: str = "") -> ConfigError:
    return ConfigError(f"{source}: {key}: {msg}",
                       hint=(f"allowed: {allowed}; " if allowed else "") + "see docs/health.md (scorecard YAML reference)")


def _num(source: str, key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _err(source, key, f"{v!r} is not a number", "a number")
    return float(v)


def parse_scorecard(data: Any, source: str, known_features: set[str] | None = None) -> Scorecard:
    """A validated Scorecard from a parsed YAML document; errors name the file and the key."""
    if not isinstance(data, dict):
        raise _err(source, "(top)", "a scorecard is a mapping", ", ".join(sorted(CARD_KEYS)))
    unknown = set(data) - CARD_KEYS
    if unknown:
        raise _err(source, sorted(unknown)[0], "unknown key", ", ".join(sorted(CARD_KEYS)))
    name = data.get("name") or Path(source).stem
    model = data.get("model", "weighted")
    if model not in MODELS:
        raise _err(source, "model", f"{model!r} is not a model", ", ".join(MODELS))
    crit = data.get("criteria") or {}
    if not isinstance(crit, dict):
        raise _err(source, "criteria", "must map a figure to allowed values", "e.g. {segment: [enterprise], touch: [high]}")
    criteria: dict[str, Any] = {}
    for k, v in crit.items():
        if known_features is not None and k not in known_features:
            raise _err(source, f"criteria.{k}", f"unknown figure {k!r}",
                       ", ".join(sorted(known_features)) + " (an attribute must be listed in health.attributes)")
        if isinstance(v, dict):
            bad = set(v) - {"min", "max"}
            if bad:
                raise _err(source, f"criteria.{k}", f"unknown key {sorted(bad)[0]!r}", "min, max, or a list of values")
            criteria[k] = {kk: _num(source, f"criteria.{k}.{kk}", vv) for kk, vv in v.items()}
        else:
            criteria[k] = v if isinstance(v, list) else [v]
    groups_raw = data.get("groups")
    if not isinstance(groups_raw, list) or not groups_raw:
        raise _err(source, "groups", "a scorecard needs a list of groups with measures",
                   "- {name: Product, weight: 40, measures: [...]}")
    groups = []
    for gi, g in enumerate(groups_raw):
        gk = f"groups[{gi}]"
        if not isinstance(g, dict):
            raise _err(source, gk, "a group is a mapping", ", ".join(sorted(GROUP_KEYS)))
        bad = set(g) - GROUP_KEYS
        if bad:
            raise _err(source, f"{gk}.{sorted(bad)[0]}", "unknown key", ", ".join(sorted(GROUP_KEYS)))
        gw = _num(source, f"{gk}.weight", g.get("weight", 1))
        if gw < 0:
            raise _err(source, f"{gk}.weight", "must be >= 0", "a number >= 0")
        ms = g.get("measures")
        if not isinstance(ms, list) or not ms:
            raise _err(source, f"{gk}.measures", "a group needs a list of measures", "- {feature: nps_last, linear: [0, 10]}")
        measures = [_measure(m, source, f"{gk}.measures[{mi}]", model, known_features) for mi, m in enumerate(ms)]
        groups.append(Group(str(g.get("name", f"group{gi + 1}")), gw, measures))
    names = [m.name for g in groups for m in g.measures]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise _err(source, "measures", f"measure name {sorted(dup)[0]!r} used twice", "unique names (set name:)")
    return Scorecard(name=str(name), model=model, description=str(data.get("description", "")), criteria=criteria,
                     default=bool(data.get("default", False)), priority=int(data.get("priority", 100)),
                     peer_attribute=str(data.get("peer_attribute", "segment")), groups=groups, source=source)


def _measure(m: Any, source: str, key: str, model: str, known: set[str] | None) -> Measure:
    if not isinstance(m, dict):
        raise _err(source, key, "a measure is a mapping", ", ".join(sorted(MEASURE_KEYS)))
    bad = set(m) - MEASURE_KEYS
    if bad:
        raise _err(source, f"{key}.{sorted(bad)[0]}", "unknown key", ", ".join(sorted(MEASURE_KEYS)))
    feat = m.get("feature")
    if not isinstance(feat, str) or not feat:
        raise _err(source, f"{key}.feature", "missing", "a feature name (retentio health features), an account attribute or csm_pulse")
    if known is not None and feat not in known and feat != PULSE:
        raise _err(source, f"{key}.feature", f"unknown figure {feat!r}",
                   ", ".join(sorted(known | {PULSE})) + " (an attribute must be listed in health.attributes)")
    direction = m.get("direction", "up")
    if direction not in DIRECTIONS:
        raise _err(source, f"{key}.direction", f"{direction!r}", "up, down")
    out = Measure(name=str(m.get("name", feat)), feature=feat, weight=_num(source, f"{key}.weight", m.get("weight", 1)),
                  direction=direction)
    if out.weight < 0:
        raise _err(source, f"{key}.weight", "must be >= 0", "a number >= 0")
    scales = [k for k in ("linear", "thresholds", "bands") if k in m]
    if len(scales) > 1:
        raise _err(source, key, f"one scale only, got {', '.join(scales)}", "linear, thresholds or bands")
    if "linear" in m:
        v = m["linear"]
        if not (isinstance(v, list) and len(v) == 2):
            raise _err(source, f"{key}.linear", "must be [lo, hi]", "[lo, hi] with lo != hi")
        out.linear = (_num(source, f"{key}.linear", v[0]), _num(source, f"{key}.linear", v[1]))
        if out.linear[0] == out.linear[1]:
            raise _err(source, f"{key}.linear", "lo and hi are equal", "[lo, hi] with lo != hi")
    if "thresholds" in m:
        v = m["thresholds"]
        if not isinstance(v, list) or not v or not all(isinstance(x, list) and len(x) == 2 for x in v):
            raise _err(source, f"{key}.thresholds", "must be a list of [threshold, score]", "[[0.2, 30], [0.5, 70]]")
        pts = [(_num(source, f"{key}.thresholds", a), _num(source, f"{key}.thresholds", b)) for a, b in v]
        if [p[0] for p in pts] != sorted(p[0] for p in pts):
            raise _err(source, f"{key}.thresholds", "thresholds must be in increasing order", "[[0.2, 30], [0.5, 70]]")
        out.thresholds = pts
        out.below = _num(source, f"{key}.below", m.get("below", 0))
    if "bands" in m:
        v = m["bands"]
        if not isinstance(v, dict) or not v:
            raise _err(source, f"{key}.bands", "must map categories to scores", "{promoter: 100, passive: 60, detractor: 0}")
        out.bands = {str(k): _num(source, f"{key}.bands.{k}", s) for k, s in v.items()}
        if "other" in m:
            out.other = _num(source, f"{key}.other", m["other"])
    for k in ("points", "per", "cap", "impact"):
        if k in m:
            setattr(out, k, _num(source, f"{key}.{k}", m[k]))
    if model == "points" and out.points is None and out.per is None:
        raise _err(source, key, "a points measure needs points (max points of its 0-100 score) or per (points per unit, with cap)",
                   "points: 20, or per: 3 and cap: 30")
    if model == "action_values" and out.impact is None:
        raise _err(source, f"{key}.impact", "an action-values measure needs impact (score per action)", "a number")
    if model in ("weighted", "worst_of", "peer_percentile") and not scales and out.feature != PULSE:
        raise _err(source, key, "a measure needs a scale to map its figure to 0-100", "linear, thresholds or bands")
    if out.feature == PULSE and not scales:
        out.linear = (1.0, 5.0)  # pulse 1 (at risk) .. 5 (thriving)
    return out


def load_yaml(path: Path, known: set[str] | None = None) -> Scorecard:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})", hint="fix the file; see docs/health.md") from None
    return parse_scorecard(data, str(path), known)


def dump_yaml(card: Scorecard) -> str:
    import yaml

    return yaml.safe_dump(card.to_dict(), sort_keys=False, allow_unicode=True)


def check_cards(cards: list[Scorecard]) -> None:
    names = [c.name for c in cards]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"two scorecards are named {sorted(dup)[0]!r}", hint="give each health/*.yaml a unique name")
    defaults = [c.name for c in cards if c.default]
    if len(defaults) != 1:
        raise ConfigError(
            f"health scorecards: {len(defaults)} default cards ({', '.join(defaults) or 'none'}); exactly one is needed",
            hint="set default: true in one health/*.yaml (the card of accounts no criterion matches)")


def assign(cards: list[Scorecard], row: dict[str, Any]) -> Scorecard:
    """The one card of an account: the first non-default card (by priority, then name) whose
    criteria all match, else the default card."""
    for c in sorted((c for c in cards if not c.default), key=lambda c: (c.priority, c.name)):
        if c.criteria and c.matches(row):
            return c
    return next(c for c in cards if c.default)
