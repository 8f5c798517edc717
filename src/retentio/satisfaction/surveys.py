"""NPS and CSAT (metrics.md §10) per account, segment and month, with response counts
and benchmark status (metrics.md §13).  Counts in the engine, percentages in Python."""

from __future__ import annotations

from typing import Any

import narwhals as nw

from retentio.config import Settings
from retentio.attributes import check_attribute
from retentio.engagement._common import day_of, month_of, with_segment
from retentio.figures import safe_div
from retentio.satisfaction.registry import NPS_BAND, is_detractor, is_promoter, nps_score
from retentio.engine import Engine
from retentio.errors import DataError, UsageError
from retentio.metrics.periods import Period, month_label

SPECIAL_BY = ("account", "month")


def nps_benchmark(nps: float | None) -> str | None:
    """metrics.md §13 (seed 004), the band of the registry: alarm < 0, watch 0-30, good 30-50, best 50+."""
    return None if nps is None else NPS_BAND.status(nps)


def _answers(engine: Engine, kind: str, period: Period | None) -> nw.LazyFrame:
    lf = engine.table("surveys").filter(nw.col("kind") == kind).with_columns(day_of("answered_at").alias("day"))
    if period is not None:
        lf = lf.filter((nw.col("day") >= nw.lit(period.first_day)) & (nw.col("day") <= nw.lit(period.last_day)))
    return lf.with_columns(month_of("day").alias("month"))


def _check(engine: Engine, lf: nw.LazyFrame, bad: nw.Expr, what: str, hint: str) -> None:
    out = engine.collect(lf.filter(bad).select("response_id", "score", "scale").sort("response_id").head(5))
    if out.height:
        ids = ", ".join(str(x) for x in out["response_id"].to_list())
        raise DataError(f"surveys: {what} (response_id {ids})", hint=hint, details={"response_ids": out["response_id"].to_list()})


def _grouped(engine: Engine, lf: nw.LazyFrame, by: list[str], flags: dict[str, nw.Expr]) -> list[dict[str, Any]]:
    for b in by:
        if b not in SPECIAL_BY:
            check_attribute(engine, b, derived=False, extra=SPECIAL_BY)
    keys = []
    for b in by:
        if b == "account":
            keys.append("account_id")
        elif b == "month":
            keys.append("month")
        else:
            lf = with_segment(engine, lf, b, column=b)
            keys.append(b)
    aggs = [nw.len().cast(nw.Int64).alias("responses")] + [
        nw.when(e).then(nw.lit(1, nw.Int64)).otherwise(nw.lit(0, nw.Int64)).sum().cast(nw.Int64).alias(k) for k, e in flags.items()
    ]
    if keys:
        out = engine.collect(lf.group_by(*keys).agg(*aggs))
        rows = out.to_dicts()
    else:
        out = engine.collect(lf.with_columns(nw.lit(1).alias("_k")).group_by("_k").agg(*aggs))
        rows = [{k: v for k, v in r.items() if k != "_k"} for r in out.to_dicts()] or [{"responses": 0, **{k: 0 for k in flags}}]
    for r in rows:
        if "month" in r and r["month"] is not None:
            r["month"] = month_label(int(r["month"]))
    return sorted(rows, key=lambda r: tuple(str(r.get(k)) for k in keys))


def nps(engine: Engine, settings: Settings, period: Period | None = None, by: list[str] | None = None) -> dict[str, Any]:
    by = list(by or [])
    lf = _answers(engine, "nps", period)
    _check(engine, lf, nw.col("score").is_null() | (nw.col("score") < 0) | (nw.col("score") > 10),
           "NPS score outside 0-10", "an NPS answer is an integer from 0 to 10: fix or remove these rows and re-import")
    flags = {"promoters": is_promoter(nw.col("score")), "detractors": is_detractor(nw.col("score"))}
    rows = []
    for r in _grouped(engine, lf, by, flags) if by else []:
        rows.append(_nps_row(r))
    overall = _nps_row(_grouped(engine, lf, [], flags)[0])
    return {"period": None if period is None else period.label, "by": by, "overall": overall, "groups": rows}


def _nps_row(r: dict[str, Any]) -> dict[str, Any]:
    n, p, d = r["responses"], r["promoters"], r["detractors"]
    v = nps_score(p, d, n)
    return {**{k: v2 for k, v2 in r.items() if k not in ("responses", "promoters", "detractors")},
            "responses": n, "promoters": p, "passives": n - p - d, "detractors": d,
            "promoters_share": safe_div(p, n), "detractors_share": safe_div(d, n), "nps": v, "benchmark": nps_benchmark(v)}


def csat_is_positive(score, scale, settings: Settings):
    """True for a positive CSAT answer: >= csat_positive_1_5 on scale 5, >= csat_positive_0_10 on
    scale 10.  Works on numbers (a playbook trigger reading one answer) and on engine expressions
    alike, so the rule is written once."""
    s = settings.satisfaction
    return (((scale == 5) & (score >= s.csat_positive_1_5))
            | ((scale == 10) & (score >= s.csat_positive_0_10)))


def csat_positive(settings: Settings) -> nw.Expr:
    """``csat_is_positive`` over the columns ``score`` and ``scale``."""
    return csat_is_positive(nw.col("score"), nw.col("scale"), settings)


def nps_class_expr(score: nw.Expr) -> nw.Expr:
    """satisfaction.registry.nps_class as an engine expression: detractor, passive or promoter."""
    return (nw.when(is_promoter(score)).then(nw.lit("promoter"))
            .when(is_detractor(score)).then(nw.lit("detractor")).otherwise(nw.lit("passive")))


def csat(engine: Engine, settings: Settings, period: Period | None = None, by: list[str] | None = None) -> dict[str, Any]:
    """CSAT = positive answers / answers x 100.  scale 5 (1-5): positive at >= csat_positive_1_5;
    scale 10 (0-10): positive at >= csat_positive_0_10."""
    by = list(by or [])
    s = settings.satisfaction
    lf = _answers(engine, "csat", period)
    _check(engine, lf, nw.col("scale").is_null() | ~nw.col("scale").is_in([5, 10]),
           "CSAT answer without a scale of 5 or 10",
           "give every CSAT row scale = 5 (answers 1-5) or 10 (answers 0-10) and re-import")
    _check(engine, lf, nw.col("score").is_null()
           | ((nw.col("scale") == 5) & ((nw.col("score") < 1) | (nw.col("score") > 5)))
           | ((nw.col("scale") == 10) & ((nw.col("score") < 0) | (nw.col("score") > 10))),
           "CSAT score outside its scale", "scores are 1-5 on scale 5 and 0-10 on scale 10: fix these rows and re-import")
    flags = {"positive": csat_positive(settings)}

    def row(r):
        return {**{k: v for k, v in r.items() if k not in ("responses", "positive")},
                "responses": r["responses"], "positive": r["positive"], "csat": safe_div(r["positive"], r["responses"])}

    groups = [row(r) for r in _grouped(engine, lf, by, flags)] if by else []
    return {"period": None if period is None else period.label, "by": by,
            "thresholds": {"scale_5": s.csat_positive_1_5, "scale_10": s.csat_positive_0_10},
            "overall": row(_grouped(engine, lf, [], flags)[0]), "groups": groups}


__all__ = ["csat", "csat_positive", "nps", "nps_benchmark", "nps_class_expr"]
