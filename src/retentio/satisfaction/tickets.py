"""Support tickets: volume per account and month, time to resolution, open backlog, topics."""

from __future__ import annotations

from datetime import date
from typing import Any

import narwhals as nw

from retentio.config import Settings
from retentio.engagement._common import date_bounds, day_of, days_table, median, month_of, seconds_of_day
from retentio.figures import safe_div
from retentio.engine import Engine
from retentio.metrics.periods import Period, month_label

NO_TOPIC = "(none)"


def _with_resolution_seconds(engine: Engine, lf: nw.LazyFrame) -> nw.LazyFrame:
    """Add ``resolution_seconds`` = resolved_at - created_at in whole seconds (null while open),
    from day numbers (a calendar join) and seconds of the day: integer arithmetic everywhere."""
    lf = lf.with_columns(day_of("created_at").alias("cday"), day_of("resolved_at").alias("rday"),
                         seconds_of_day("created_at").alias("csec"), seconds_of_day("resolved_at").alias("rsec"))
    b1 = date_bounds(engine, lf, "cday")
    b2 = date_bounds(engine, lf.filter(~nw.col("rday").is_null()), "rday")
    if b1 is None:
        return lf.with_columns(nw.lit(None, nw.Int64).alias("resolution_seconds"))
    lo = min(b1[0], b2[0]) if b2 else b1[0]
    hi = max(b1[1], b2[1]) if b2 else b1[1]
    cal = days_table(engine, lo, hi, "d")
    lf = lf.join(cal.rename({"d": "cday", "d_no": "cno"}), on="cday", how="left")
    lf = lf.join(cal.rename({"d": "rday", "d_no": "rno"}), on="rday", how="left")
    return lf.with_columns(((nw.col("rno") - nw.col("cno")) * 86400 + nw.col("rsec") - nw.col("csec")).alias("resolution_seconds"))


def tickets(engine: Engine, settings: Settings, period: Period, backlog_at: date | None = None) -> dict[str, Any]:
    """Tickets opened per account and month, time to resolution (hours) of the tickets opened
    in the period and resolved, the open backlog at ``backlog_at`` (default: the period's last
    day; open = created on or before that day and not resolved by its end) and all by topic."""
    at = backlog_at or period.last_day
    t = engine.table("tickets").with_columns(nw.col("topic").fill_null(NO_TOPIC))
    created = t.with_columns(day_of("created_at").alias("day")).filter(
        (nw.col("day") >= nw.lit(period.first_day)) & (nw.col("day") <= nw.lit(period.last_day))
    ).with_columns(month_of("day").alias("month"))
    vol = engine.collect(created.group_by("account_id", "month").agg(nw.len().cast(nw.Int64).alias("tickets")))
    res = engine.collect(
        _with_resolution_seconds(engine, created).filter(~nw.col("resolved_at").is_null())
        .select("ticket_id", "month", "topic", "resolution_seconds")
    )
    backlog = engine.collect(
        t.with_columns(day_of("created_at").alias("cday"), day_of("resolved_at").alias("rday"))
        .filter((nw.col("cday") <= nw.lit(at)) & (nw.col("rday").is_null() | (nw.col("rday") > nw.lit(at))))
        .group_by("topic").agg(nw.len().cast(nw.Int64).alias("open"))
    )
    by_topic_n = engine.collect(created.group_by("topic").agg(nw.len().cast(nw.Int64).alias("tickets")))
    secs = res.to_dicts()

    def stats(vals: list[int]) -> dict[str, Any]:
        return {"resolved": len(vals), "mean_hours": safe_div(sum(vals), len(vals) * 3600) if vals else None,
                "median_hours": None if not vals else median(vals) / 3600}

    per_month = []
    for m in period.months:
        v = [r["resolution_seconds"] for r in secs if r["month"] == m]
        n = sum(int(r["tickets"]) for r in vol.to_dicts() if r["month"] == m)
        per_month.append({"month": month_label(m), "opened": n, **stats(v)})
    open_by = {r["topic"]: int(r["open"]) for r in backlog.to_dicts()}
    n_by = {r["topic"]: int(r["tickets"]) for r in by_topic_n.to_dicts()}
    topics = []
    for tp in sorted(set(open_by) | set(n_by)):
        topics.append({"topic": tp, "opened": n_by.get(tp, 0), "open_at_date": open_by.get(tp, 0),
                       **stats([r["resolution_seconds"] for r in secs if r["topic"] == tp])})
    accounts = [{"month": month_label(int(r["month"])), "account_id": r["account_id"], "tickets": int(r["tickets"])}
                for r in sorted(vol.to_dicts(), key=lambda r: (r["month"], r["account_id"]))]
    return {"period": period.label, "backlog_date": at, "open_backlog": sum(open_by.values()),
            "overall": {"opened": sum(n_by.values()), **stats([r["resolution_seconds"] for r in secs])},
            "months": per_month, "topics": topics, "accounts": accounts}


__all__ = ["NO_TOPIC", "tickets"]
