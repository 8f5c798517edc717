"""Segmentation (metrics.md §8): group or filter by any account attribute, or by the
derived attributes touch (MRR tier), plan (largest line) and cohort (first paid month)."""

from __future__ import annotations

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine
from retentio.metrics.movements import lag_endpoints



def touch_tier(mrr_cents: nw.Expr, settings: Settings) -> nw.Expr:
    """high / low / tech touch of an MRR in cents (metrics.md §8, settings metrics.touch_tiers)."""
    t = settings.metrics.touch_tiers
    return (nw.when(mrr_cents >= round(t.high * 100)).then(nw.lit("high"))
            .when(mrr_cents >= round(t.low * 100)).then(nw.lit("low")).otherwise(nw.lit("tech")))


def _snapshot_month_per_account(engine: Engine, A: nw.LazyFrame, start_m: int, end_m: int) -> nw.LazyFrame:
    """account_id, month, mrr: the end snapshot if the account is a customer there, else the start."""
    pa_ = lag_endpoints(A, [end_m], end_m - start_m)
    return pa_.filter((nw.col("s") > 0) | (nw.col("e") > 0)).select(
        "account_id",
        nw.when(nw.col("e") > 0).then(nw.lit(end_m, nw.Int64)).otherwise(nw.lit(start_m, nw.Int64)).alias("month"),
        nw.when(nw.col("e") > 0).then(nw.col("e")).otherwise(nw.col("s")).alias("mrr"),
    )


def group_frame(
    engine: Engine, settings: Settings, attribute: str, A: nw.LazyFrame, lines: nw.LazyFrame | None,
    start_m: int, end_m: int, firsts: nw.LazyFrame | None = None,
) -> nw.LazyFrame:
    """account_id, grp (string) for the accounts that have a value of ``attribute``
    (``firsts``: account_id, m = first paid month; else the first month of ``A``)."""
    attr = attribute.strip().lower()
    if attr == "cohort" and firsts is not None:
        return firsts.select("account_id", nw.col("m").cast(nw.String).alias("grp"))
    if attr == "cohort":
        return A.group_by("account_id").agg(nw.col("month").min().alias("m")).select(
            "account_id", nw.col("m").cast(nw.String).alias("grp")
        )
    if attr == "touch":
        snap = _snapshot_month_per_account(engine, A, start_m, end_m)
        return snap.select("account_id", touch_tier(nw.col("mrr"), settings).alias("grp"))
    if attr == "plan":
        assert lines is not None
        snap = _snapshot_month_per_account(engine, A, start_m, end_m).select("account_id", "month")
        per_plan = (
            lines.join(snap, on=["account_id", "month"], how="inner")
            .group_by("account_id", "plan")
            .agg(nw.col("mrr_cents").sum().cast(nw.Int64).alias("v"))
        )
        top = per_plan.group_by("account_id").agg(nw.col("v").max().alias("top"))
        return (
            per_plan.join(top, on="account_id", how="inner")
            .filter(nw.col("v") == nw.col("top"))
            .group_by("account_id")
            .agg(nw.col("plan").min().alias("grp"))
        )
    return (
        engine.table("account_attributes")
        .filter(nw.col("attribute") == attr)
        .group_by("account_id")
        .agg(nw.col("value").min().alias("grp"))
    )


def cohort_label_to_key(value: str) -> str:
    """Filters on cohort are typed as YYYY-MM; groups carry the month index as text."""
    from retentio.metrics.periods import parse_period

    return str(parse_period(value).first)


__all__ = ["cohort_label_to_key", "group_frame"]
