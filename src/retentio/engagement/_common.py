"""Helpers shared by the engagement and satisfaction metrics.

Dates: ``dt.date()`` of a timestamp gives the same UTC calendar day on DuckDB, Polars and
Spark (the Spark session runs in UTC); day arithmetic is done by joining a small calendar
table built in Python (day -> day number) rather than with engine-specific date functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import narwhals as nw

from retentio.engine import Engine
from retentio.figures import NONE_GROUP
from retentio.metrics.periods import month_of

__all__ = ["date_bounds", "day_of", "dayno", "days_table", "median", "month_of", "quantile_nearest_rank",
           "seconds_of_day", "with_segment"]

EPOCH = date(1970, 1, 1)


def day_of(col: str) -> nw.Expr:
    """UTC calendar day of a timestamp column (a date on every engine)."""
    return nw.col(col).dt.date()


def seconds_of_day(col: str) -> nw.Expr:
    c = nw.col(col)
    return c.dt.hour().cast(nw.Int64) * 3600 + c.dt.minute().cast(nw.Int64) * 60 + c.dt.second().cast(nw.Int64)


def dayno(d: date) -> int:
    return (d - EPOCH).days


def days_table(engine: Engine, first: date, last: date, name: str = "day") -> nw.LazyFrame:
    """One row per day of [first, last]: ``name`` (date) and ``name + '_no'`` (days since 1970-01-01)."""
    n = (last - first).days + 1
    days = [first + timedelta(days=i) for i in range(max(n, 0))]
    return engine.from_columns(
        {name: days, f"{name}_no": [dayno(d) for d in days]}, {name: "date", f"{name}_no": "int"}
    )


def date_bounds(engine: Engine, lf: nw.LazyFrame, col: str) -> tuple[date, date] | None:
    """(min, max) of a date column, or None when the frame is empty."""
    out = engine.collect(lf.select(nw.col(col).min().alias("lo"), nw.col(col).max().alias("hi")))
    lo, hi = out["lo"][0], out["hi"][0]
    if lo is None:
        return None
    return lo, hi


def with_segment(engine: Engine, lf: nw.LazyFrame, by: str | None, *, column: str = "segment") -> nw.LazyFrame:
    """Attach the value of account attribute ``by`` (long table account_attributes) as
    ``column``; accounts without the attribute get "(none)".  ``by=None`` gives "all"."""
    if by is None:
        return lf.with_columns(nw.lit("all").alias(column))
    attrs = (
        engine.table("account_attributes")
        .filter(nw.col("attribute") == by)
        .group_by("account_id")
        .agg(nw.col("value").min().alias(column))
    )
    return lf.join(attrs, on="account_id", how="left").with_columns(nw.col(column).fill_null(NONE_GROUP))


def quantile_nearest_rank(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank quantile: the ceil(q * n)-th smallest value (1-based); None when empty."""
    import math

    v = sorted(values)
    if not v:
        return None
    k = max(1, math.ceil(q * len(v)))
    return v[k - 1]


def median(values: Iterable[float]) -> float | None:
    v = sorted(values)
    n = len(v)
    if n == 0:
        return None
    return float(v[n // 2]) if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
