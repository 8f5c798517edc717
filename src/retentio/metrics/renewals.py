"""Renewals (renewal rate, renewed MRR) and trial conversions (metrics.md §4)."""

from __future__ import annotations

from datetime import timedelta

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine
from retentio.metrics.periods import month_end, month_of, month_start


def bucket_frame(engine: Engine, buckets: list[tuple[str, int, int]]) -> nw.LazyFrame:
    """key, month, b_last: one row per month of each bucket, so that lines are matched to
    buckets by an equality join on their month (not a cross join filtered by range)."""
    rows = [(key, m, last) for key, first, last in buckets for m in range(first, last + 1)]
    return engine.from_columns(
        {"key": [r[0] for r in rows], "b_month": [r[1] for r in rows], "b_last": [r[2] for r in rows]},
        {"key": "string", "b_month": "int", "b_last": "int"},
    )


def _in_buckets(lines: nw.LazyFrame, buckets: nw.LazyFrame) -> nw.LazyFrame:
    return lines.join(buckets.select("key", "b_month"), left_on="end_month", right_on="b_month", how="inner")


def _offset(col: str, days: int) -> nw.Expr:
    return nw.col(col).dt.offset_by(f"{days}d").cast(nw.Date)


def renewal_lines(engine: Engine, settings: Settings, subs: nw.LazyFrame, buckets: nw.LazyFrame,
                  months: tuple[int, int]) -> nw.LazyFrame:
    """key, account_id, subscription_id, renewed (bool) for every renewable line: a paid line
    whose (exclusive) end date falls in the bucket; renewed when the same account has another
    paid line starting within renewal_window_days of that end date.  ``months`` (first, last)
    span the buckets: only the lines starting within the window of those months can renew
    one, so the others are left out before the join (a filter, whatever the history)."""
    w = settings.metrics.renewal_window_days
    paid = subs.filter(~nw.col("is_trial"))
    lo, hi = month_start(months[0]) - timedelta(days=w), month_end(months[1]) + timedelta(days=w)
    renewable = (
        paid.filter(~nw.col("end_date").is_null())
        .select("account_id", "subscription_id", "end_date", month_of("end_date").alias("end_month"))
        .pipe(_in_buckets, buckets)
        .select("key", "account_id", "subscription_id", "end_date")
    )
    follow = paid.filter((nw.col("start_date") >= lo) & (nw.col("start_date") <= hi)).select(
        "account_id", nw.col("subscription_id").alias("other_id"), nw.col("start_date").alias("other_start"))
    # one pass: each renewable line with the lines of its account starting in the window (a
    # left join, so that lines without any stay), renewed when one of them follows it
    follows = (
        (nw.col("other_id") != nw.col("subscription_id"))
        & (nw.col("other_start") >= _offset("end_date", -w))
        & (nw.col("other_start") <= _offset("end_date", w))
    ).fill_null(False)
    return (
        renewable.join(follow, on="account_id", how="left")
        .group_by("key", "account_id", "subscription_id")
        .agg(follows.max().alias("renewed"))
    )


def trial_conversions(settings: Settings, subs: nw.LazyFrame, trials: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    """The one definition of a converted trial (metrics.md §4): a trial (t_start, t_end)
    converts when a paid line of its account starts on or after t_start and no later than
    t_end + ``trial_conversion_window_days`` (an open-ended trial: any later paid line).
    ``trials`` has ``keys`` (account_id among them), t_start, t_end; returns ``keys``,
    converted (bool) and paid_start (the first such paid start, or null)."""
    w = settings.metrics.trial_conversion_window_days
    paid = subs.filter(~nw.col("is_trial")).select("account_id", nw.col("start_date").alias("p_start"))
    # one pass: each trial with its account's paid lines (a left join, so that trials without
    # any stay), the first paid start that converts it per group of ``keys``
    converts = (nw.col("p_start") >= nw.col("t_start")) & (
        nw.col("t_end").is_null() | (nw.col("p_start") <= _offset("t_end", w)))
    return (
        trials.join(paid, on="account_id", how="left")
        .group_by(*keys)
        .agg(nw.when(converts).then(nw.col("p_start")).min().alias("paid_start"))
        .select(*keys, (~nw.col("paid_start").is_null()).alias("converted"), "paid_start")
    )


def trial_accounts(engine: Engine, settings: Settings, subs: nw.LazyFrame, buckets: nw.LazyFrame) -> nw.LazyFrame:
    """key, account_id, converted (bool): accounts with a trial line ending in the bucket,
    converted as :func:`trial_conversions` defines it."""
    trials = (
        subs.filter(nw.col("is_trial") & ~nw.col("end_date").is_null())
        .select("account_id", "start_date", "end_date", month_of("end_date").alias("end_month"))
        .pipe(_in_buckets, buckets)
        .select("key", "account_id", nw.col("start_date").alias("t_start"), nw.col("end_date").alias("t_end"))
    )
    return trial_conversions(settings, subs, trials, ["key", "account_id"]).select("key", "account_id", "converted")


__all__ = ["bucket_frame", "renewal_lines", "trial_accounts", "trial_conversions"]
