"""Scoring one account with one scorecard: measure scores, missing data, models, bands.

Missing data (settings ``health.missing_policy``): ``redistribute`` drops a measure without
data and spreads its weight over the measures of its group that have data (a group without
any drops out and its weight goes to the other groups); ``value`` scores it
``health.missing_value`` instead.  Either way the missing inputs are listed.  An account with
fewer than ``health.min_measures`` measures with data, or whose measures with data carry less
than ``health.min_weight_share`` of the card's weight, is not scored (score and band None):
too little data is never green.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from retentio.config import HealthSettings
from retentio.health.scorecard import Measure, Scorecard

BANDS = ("red", "yellow", "green", "thriving")


def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def band_of(score: float | None, settings: HealthSettings) -> str | None:
    """red 0-40, yellow 41-70, green 71-100, thriving above (settings), on the score rounded
    half up: 40 red, 40.5 -> 41 yellow, 70 yellow, 71 green, 100 green, 101 thriving."""
    if score is None:
        return None
    s = round_half_up(score)
    b = settings.bands
    if s <= b.red_max:
        return "red"
    if s <= b.yellow_max:
        return "yellow"
    if s <= b.green_max:
        return "green"
    return "thriving"


def band_floor(band: str, settings: HealthSettings) -> float:
    """The lowest (unrounded) score of a band: red 0, yellow 40.5, green 70.5, thriving 100.5."""
    b = settings.bands
    return {"red": 0.0, "yellow": b.red_max + 0.5, "green": b.yellow_max + 0.5, "thriving": b.green_max + 0.5}[band]


@dataclass
class MeasureResult:
    name: str
    feature: str
    group: str
    raw: Any
    score: float | None  # 0-100 (points / action value for those models)
    weight: float  # effective share of the card (weighted models), 0 when missing and redistributed
    contribution: float | None
    missing: bool

    def to_dict(self) -> dict[str, Any]:
        return {"measure": self.name, "feature": self.feature, "group": self.group, "raw": self.raw,
                "score": self.score, "weight": self.weight, "contribution": self.contribution, "missing": self.missing}


@dataclass
class Result:
    scorecard: str
    model: str
    score: float | None
    band: str | None
    missing: list[str]
    groups: dict[str, dict[str, Any]]
    measures: list[MeasureResult] = field(default_factory=list)
    reason: str | None = None  # why not scored

    def to_dict(self) -> dict[str, Any]:
        return {"scorecard": self.scorecard, "model": self.model, "score": self.score, "band": self.band,
                "missing": self.missing, "groups": self.groups, "reason": self.reason,
                "measures": [m.to_dict() for m in self.measures]}


def _value(row: dict[str, Any], m: Measure) -> Any:
    v = row.get(m.feature)
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def score_account(card: Scorecard, row: dict[str, Any], settings: HealthSettings) -> Result:
    """Score one account (``row``: its features known on the day, plus csm_pulse)."""
    results: list[MeasureResult] = []
    missing: list[str] = []
    for g in card.groups:
        for m in g.measures:
            raw = _value(row, m)
            if card.model == "points":
                s = m.points_of(raw)
            elif card.model == "action_values":
                s = m.action_value(raw)
            else:
                s = m.score(raw)
            if s is None:
                missing.append(m.name)
            results.append(MeasureResult(m.name, m.feature, g.name, raw, s, 0.0, None, s is None))
    n_with = sum(not r.missing for r in results)
    total_w = sum(g.weight * m.weight for g in card.groups for m in g.measures) or 1.0
    with_w = sum(g.weight * m.weight for g in card.groups for m, r in zip(g.measures, _of(results, g)) if not r.missing)
    if n_with < min(settings.min_measures, len(results)) or with_w / total_w < settings.min_weight_share - 1e-12:
        return Result(card.name, card.model, None, None, missing, _groups_missing(card), results,
                      reason=f"too little data: {n_with} of {len(results)} measures have data")
    if card.model in ("points", "action_values"):
        for r in results:
            r.contribution = r.score
            r.weight = 1.0
        score = sum(r.score for r in results if r.score is not None)
        groups = {g.name: {"score": sum(r.score or 0.0 for r in _of(results, g)), "weight": None}
                  for g in card.groups}
        return Result(card.name, card.model, score, band_of(score, settings), missing, groups, results)
    if card.model == "worst_of":
        present = [r for r in results if not r.missing] if settings.missing_policy == "redistribute" else results
        for r in results:
            if r.missing and settings.missing_policy == "value":
                r.score = settings.missing_value
        score = min(r.score for r in present if r.score is not None)
        for r in results:
            r.contribution = r.score
        groups = {g.name: {"score": min((r.score for r in _of(results, g) if r.score is not None), default=None),
                           "weight": None} for g in card.groups}
        return Result(card.name, card.model, score, band_of(score, settings), missing, groups, results)
    # weighted (and peer_percentile, whose weighted score is turned into a percentile later)
    if settings.missing_policy == "value":
        for r in results:
            if r.missing:
                r.score = settings.missing_value
    group_scores: dict[str, dict[str, Any]] = {}
    live_groups = []
    for g in card.groups:
        rs = _of(results, g)
        ws = [(m.weight, r) for m, r in zip(g.measures, rs) if r.score is not None]
        wsum = sum(w for w, _ in ws)
        if not ws or wsum <= 0:
            group_scores[g.name] = {"score": None, "weight": 0.0}
            continue
        gs = sum(w * r.score for w, r in ws) / wsum
        group_scores[g.name] = {"score": gs, "weight": g.weight}
        live_groups.append((g, ws, wsum, gs))
    gsum = sum(g.weight for g, *_ in live_groups)
    if gsum <= 0:
        return Result(card.name, card.model, None, None, missing, group_scores, results, reason="no weight with data")
    score = 0.0
    for g, ws, wsum, gs in live_groups:
        share = g.weight / gsum
        group_scores[g.name]["weight"] = share
        score += share * gs
        for w, r in ws:
            r.weight = share * w / wsum
            r.contribution = r.weight * r.score
    return Result(card.name, card.model, score, band_of(score, settings), missing, group_scores, results)


def _of(results: list[MeasureResult], g) -> list[MeasureResult]:
    return [r for r in results if r.group == g.name]


def _groups_missing(card: Scorecard) -> dict[str, dict[str, Any]]:
    return {g.name: {"score": None, "weight": None} for g in card.groups}


def peer_percentiles(results: list[Result], peers: list[Any], settings: HealthSettings) -> None:
    """Turn weighted scores into percentiles among accounts with the same peer value (same day):
    100 x (peers with a lower score + half the other peers with the same score) / (peers - 1);
    a lone account gets 50."""
    by: dict[Any, list[int]] = {}
    for i, (r, p) in enumerate(zip(results, peers)):
        if r.score is not None:
            by.setdefault(p, []).append(i)
    from bisect import bisect_left, bisect_right

    for idx in by.values():
        # counts by binary search in the sorted scores: n log n (a count per account over its
        # whole group was quadratic: hours for a segment of hundreds of thousands of accounts)
        vals = sorted(results[i].score for i in idx)
        n = len(idx)
        for i in idx:
            s = results[i].score
            lower = bisect_left(vals, s)
            same = bisect_right(vals, s) - lower - 1
            pct = 50.0 if n == 1 else 100.0 * (lower + 0.5 * same) / (n - 1)
            results[i].groups = {**results[i].groups, "_weighted_score": {"score": s, "weight": None}}
            results[i].score = pct
            results[i].band = band_of(pct, settings)


def next_band_change(card: Scorecard, res: Result, settings: HealthSettings) -> dict[str, Any] | None:
    """The smallest change of one measure that lifts the account to the next band (weighted,
    points and action-value cards), or every measure to raise (worst-of)."""
    if res.score is None or res.band == "thriving":
        return None
    nxt = BANDS[BANDS.index(res.band) + 1]
    target = band_floor(nxt, settings)
    gap = target - res.score
    measures = {m.name: m for m in card.measures}
    options = []
    if card.model == "worst_of":
        need = [r for r in res.measures if r.score is not None and r.score < target]
        out = []
        for r in need:
            raw = measures[r.name].raw_for_score(target)
            out.append({"measure": r.name, "feature": r.feature, "from": r.raw, "to": raw})
        return {"next_band": nxt, "target_score": target, "change_all": out}
    if card.model == "peer_percentile":
        return {"next_band": nxt, "target_score": target, "note": "relative to peers: no single change is certain"}
    for r in res.measures:
        m = measures[r.name]
        if r.missing or r.score is None:
            continue
        if card.model == "points":
            new_pts = r.score + gap
            if new_pts > m.max_points() + 1e-9:
                continue
            raw = (new_pts / m.per) if m.per is not None else m.raw_for_score(100.0 * new_pts / (m.points or 1))
            options.append((gap / max(m.max_points() if m.max_points() != math.inf else gap, 1e-9), r, raw))
        elif card.model == "action_values":
            if not m.impact:
                continue
            raw = float(r.raw) + gap / m.impact
            if m.cap is not None and r.score + gap > m.cap + 1e-9:
                continue
            options.append((gap / m.impact, r, raw))
        else:
            if r.weight <= 0:
                continue
            needed = r.score + gap / r.weight
            if needed > 100 + 1e-9:
                continue
            raw = m.raw_for_score(needed)
            if raw is None:
                continue
            options.append((gap / r.weight, r, raw))
    if not options:
        out = {"next_band": nxt, "target_score": target, "measure": None,
               "note": "no single measure can reach the next band"}
        if card.model not in ("points", "action_values"):
            # Fewest measures: raise the heaviest ones (weight x headroom) first, each to 100
            # but the last, which goes only as far as needed.
            changes, left = [], gap
            cands = sorted((r for r in res.measures if not r.missing and r.score is not None and r.weight > 0),
                           key=lambda r: -(r.weight * (100 - r.score)))
            for r in cands:
                if left <= 1e-9:
                    break
                room = r.weight * (100 - r.score)
                if room <= 0:
                    continue
                needed = min(100.0, r.score + left / r.weight)
                changes.append({"measure": r.name, "feature": r.feature, "from": r.raw,
                                "to": measures[r.name].raw_for_score(needed)})
                left -= min(room, left)
            if left <= 1e-9:
                out["change_all"] = changes
                out["note"] = f"no single measure can: raise {len(changes)} together"
        return out
    _, r, raw = min(options, key=lambda o: o[0])
    return {"next_band": nxt, "target_score": target, "measure": r.name, "feature": r.feature, "from": r.raw, "to": raw}
