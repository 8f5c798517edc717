"""TEMPORARY adapter — TO BE REPLACED by ``retentio.features.account_features`` (branch
``health``), the one feature definition shared with the health score (issue 14: "one
feature definition, from the registry").

It builds the same kind of frame — one row per paying account per day, only data known on
that day — from the existing metric functions (account-month MRR, paid lines, active
users, user-days), plus a few ticket and survey counts.  ``retentio.predict.features``
uses ``retentio.features`` whenever it is importable and falls back to this module only
until that package lands.

Rules that keep the frame free of leakage (tested in tests/predict):
- MRR, lines, seats and usage are read at the day (a line counts when start <= day < end,
  which is known on the day: only its *existence* on the day is used, never its end date);
- an ``end_date`` after the day is not known on the day unless ``canceled_at`` is on or
  before it; days to renewal come from the start date and the billing period;
- tickets, surveys and usage are counted only when dated on or before the day;
- account attributes that describe the future (``churn_reason``, the last ``plan``) or
  that are dates/ids are never used (``predict.exclude_attributes``).
"""

from __future__ import annotations

from datetime import date, timedelta

import narwhals as nw
import polars as pl

from retentio.config import Settings
from retentio.engine import Engine
from retentio.metrics.mrr import account_months, paid_lines
from retentio.metrics.periods import month_index

# Attributes with more distinct values than this are identifiers or free text: not features.
MAX_CATEGORIES = 30


def _add_months(d: date, n: int) -> date:
    import calendar

    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    m += 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _mrr_features(engine: Engine, settings: Settings, days: list[date]) -> pl.DataFrame:
    months = sorted({month_index(d) for d in days})
    lo, hi = min(months) - 6, max(months)
    A = engine.collect(account_months(engine, settings, lo, hi)).select("account_id", "month", "mrr_cents")
    first = engine.collect(
        account_months(engine, settings, min(months) - 600, hi, check=False).group_by("account_id").agg(
            nw.col("month").min().alias("first_month")
        )
    )
    day_of = pl.DataFrame({"month": [month_index(d) for d in days], "day": days})
    cur = A.join(day_of, on="month", how="inner")
    out = cur.join(first, on="account_id", how="left").with_columns(
        mrr=pl.col("mrr_cents") / 100.0,
        tenure_months=(pl.col("month") - pl.col("first_month")).cast(pl.Int64),
    )
    for k in (1, 3, 6):
        prev = A.select("account_id", (pl.col("month") + k).alias("month"), pl.col("mrr_cents").alias(f"_p{k}"))
        out = out.join(prev, on=["account_id", "month"], how="left").with_columns(
            ((pl.col("mrr_cents") - pl.col(f"_p{k}")) / pl.col(f"_p{k}")).alias(f"mrr_change_{k}m")
        ).drop(f"_p{k}")
    return out.drop("mrr_cents", "first_month")


def _line_features(engine: Engine, days: list[date]) -> pl.DataFrame:
    ids = paid_lines(engine).select("subscription_id")
    lines = engine.collect(
        engine.table("subscriptions").join(ids, on="subscription_id", how="semi").select(
            "account_id", "start_date", "end_date", "billing_period_months", "canceled_at"
        )
    )
    rows = []
    for d in sorted(set(days)):
        for r in lines.iter_rows(named=True):
            if r["start_date"] > d or (r["end_date"] is not None and r["end_date"] <= d):
                continue
            bp = int(r["billing_period_months"] or 1)
            canceled = r["canceled_at"] is not None and r["canceled_at"] <= d and r["end_date"] is not None
            if canceled:
                nxt = r["end_date"]
            else:
                # next term boundary strictly after d, from the start date and the billing period
                k = max(1, ((d.year - r["start_date"].year) * 12 + d.month - r["start_date"].month) // bp)
                nxt = _add_months(r["start_date"], k * bp)
                while nxt <= d:
                    k += 1
                    nxt = _add_months(r["start_date"], k * bp)
                while k > 1 and _add_months(r["start_date"], (k - 1) * bp) > d:
                    k -= 1
                    nxt = _add_months(r["start_date"], k * bp)
            rows.append((r["account_id"], d, bp, (nxt - d).days, canceled))
    df = pl.DataFrame(rows, schema={"account_id": pl.Utf8, "day": pl.Date, "bp": pl.Int64, "to_renewal": pl.Int64,
                                    "canceled": pl.Boolean}, orient="row")
    return df.group_by("account_id", "day").agg(
        pl.len().cast(pl.Int64).alias("paid_lines"),
        pl.col("bp").max().alias("billing_period_months"),
        pl.col("to_renewal").filter(pl.col("bp") > 1).min().alias("days_to_renewal"),
        pl.col("canceled").any().cast(pl.Int64).alias("cancellation_recorded"),
    )


def _usage_features(engine: Engine, settings: Settings, days: list[date]) -> pl.DataFrame:
    from retentio.engagement.usage import active_users
    from retentio.metrics.periods import month_end

    back = {d: month_end(month_index(d) - 2) for d in days}  # about 60 days before
    pts = sorted(set(days) | set(back.values()))
    rows = [r for r in active_users(engine, settings, pts, per_account=True) if r["account_id"] is not None]
    if not rows:
        return pl.DataFrame(schema={"account_id": pl.Utf8, "day": pl.Date})
    u = pl.DataFrame(rows, infer_schema_length=None).select(
        "account_id", pl.col("date").alias("day"), pl.col("mau").cast(pl.Float64), pl.col("dau").cast(pl.Float64),
        pl.col("seats").cast(pl.Float64), pl.col("stickiness_dau_mau_pct").cast(pl.Float64).alias("stickiness_pct"),
        pl.col("mau_per_seat_pct").cast(pl.Float64),
    )
    then = pl.DataFrame({"day": list(back), "_then": list(back.values())})
    cur = u.filter(pl.col("day").is_in(list(days))).join(then, on="day", how="left")
    prev = u.select("account_id", pl.col("day").alias("_then"), pl.col("mau").alias("_mau_then"))
    cur = cur.join(prev, on=["account_id", "_then"], how="left").with_columns(
        active_users_change_60d=pl.when(pl.col("_mau_then") > 0)
        .then((pl.col("mau") - pl.col("_mau_then")) / pl.col("_mau_then"))
        .otherwise(None)
    )
    return cur.drop("_then", "_mau_then")


def _last_activity(engine: Engine, days: list[date]) -> pl.DataFrame:
    from retentio.engagement.usage import user_days

    lo = min(days) - timedelta(days=400)
    ud = engine.collect(user_days(engine, lo, max(days)).group_by("account_id", "day").agg(nw.len().alias("n")))
    ud = ud.select("account_id", pl.col("day").cast(pl.Date)).sort("day")
    pts = pl.DataFrame({"day": sorted(set(days))}).with_columns(pl.col("day").cast(pl.Date))
    accs = ud.select("account_id").unique()
    grid = accs.join(pts, how="cross").sort("day")
    j = grid.join_asof(ud.rename({"day": "last_day"}).with_columns(pl.col("last_day").alias("day")).sort("day"),
                       on="day", by="account_id", strategy="backward", check_sortedness=False)
    return j.select("account_id", "day", (pl.col("day") - pl.col("last_day")).dt.total_days().alias("days_since_last_activity"))


def _support_features(engine: Engine, days: list[date]) -> pl.DataFrame:
    t = engine.collect(engine.table("tickets").select("account_id", "created_at", "resolved_at", "topic"))
    t = t.with_columns(pl.col("created_at").dt.date().alias("c"), pl.col("resolved_at").dt.date().alias("r"))
    frames = []
    for d in sorted(set(days)):
        known = t.filter(pl.col("c") <= d)
        frames.append(known.group_by("account_id").agg(
            (pl.col("c") > d - timedelta(days=30)).sum().cast(pl.Int64).alias("tickets_30d"),
            (pl.col("c") > d - timedelta(days=90)).sum().cast(pl.Int64).alias("tickets_90d"),
            ((pl.col("c") > d - timedelta(days=30)) & (pl.col("topic") == "integration")).sum().cast(pl.Int64)
            .alias("integration_tickets_30d"),
            ((pl.col("c") > d - timedelta(days=30)) & (pl.col("topic") == "bug")).sum().cast(pl.Int64)
            .alias("bug_tickets_30d"),
            (pl.col("r").is_null() | (pl.col("r") > d)).sum().cast(pl.Int64).alias("open_tickets"),
        ).with_columns(pl.lit(d).alias("day")))
    return pl.concat(frames) if frames else pl.DataFrame(schema={"account_id": pl.Utf8, "day": pl.Date})


def _survey_features(engine: Engine, days: list[date]) -> pl.DataFrame:
    s = engine.collect(engine.table("surveys").select("account_id", "answered_at", "kind", "score", "scale"))
    s = s.with_columns(pl.col("answered_at").dt.date().alias("a")).sort("a")
    pts = pl.DataFrame({"day": sorted(set(days))}).with_columns(pl.col("day").cast(pl.Date))
    out = None
    for kind, name in (("nps", "last_nps"), ("csat", "last_csat")):
        k = s.filter(pl.col("kind") == kind)
        if kind == "csat":  # on a 0-1 scale so that 1-5 and 0-10 answers compare
            k = k.with_columns(pl.when(pl.col("scale").fill_null(5) == 5).then((pl.col("score") - 1) / 4.0)
                               .otherwise(pl.col("score") / 10.0).alias("score"))
        k = k.select("account_id", pl.col("a").alias("day"), pl.col("score").cast(pl.Float64).alias(name)).sort("day")
        grid = k.select("account_id").unique().join(pts, how="cross").sort("day")
        j = grid.join_asof(k, on="day", by="account_id", strategy="backward", check_sortedness=False)
        out = j if out is None else out.join(j, on=["account_id", "day"], how="full", coalesce=True)
    return out if out is not None else pl.DataFrame(schema={"account_id": pl.Utf8, "day": pl.Date})


def _attributes(engine: Engine, settings: Settings) -> pl.DataFrame:
    exclude = {a.lower() for a in settings.predict.exclude_attributes}
    at = engine.collect(engine.table("account_attributes").select("account_id", "attribute", "value"))
    at = at.filter(~pl.col("attribute").str.to_lowercase().is_in(list(exclude)))
    keep = (at.group_by("attribute").agg(pl.col("value").n_unique().alias("n"))
            .filter(pl.col("n") <= MAX_CATEGORIES)["attribute"].to_list())
    at = at.filter(pl.col("attribute").is_in(keep))
    if at.height == 0:
        return pl.DataFrame(schema={"account_id": pl.Utf8})
    wide = at.group_by("account_id", "attribute").agg(pl.col("value").min()).pivot(
        on="attribute", index="account_id", values="value")
    return wide.rename({c: f"attr_{c}" for c in wide.columns if c != "account_id"})


def account_features(engine: Engine, settings: Settings, days: list[date]) -> pl.DataFrame:
    """One row per paying account (MRR > 0) per day of ``days``: account_id, day, features.
    The days are month ends (the MRR snapshot days, metrics.md §1)."""
    from retentio.errors import UsageError
    from retentio.metrics.periods import month_end

    days = sorted(set(days))
    bad = [d for d in days if d != month_end(month_index(d))]
    if bad:
        raise UsageError(f"feature day {bad[0]} is not a month end", hint="pass the last days of months")
    if not days:
        return pl.DataFrame(schema={"account_id": pl.Utf8, "day": pl.Date})
    base = _mrr_features(engine, settings, days).drop("month")
    for part in (_line_features(engine, days), _usage_features(engine, settings, days), _last_activity(engine, days),
                 _support_features(engine, days), _survey_features(engine, days)):
        if part.height:
            base = base.join(part.with_columns(pl.col("day").cast(pl.Date)), on=["account_id", "day"], how="left")
    for c in ("tickets_30d", "tickets_90d", "integration_tickets_30d", "bug_tickets_30d", "open_tickets", "mau", "dau"):
        if c in base.columns:
            base = base.with_columns(pl.col(c).fill_null(0))
    attrs = _attributes(engine, settings)
    if attrs.width > 1:
        base = base.join(attrs, on="account_id", how="left")
    return base.sort("day", "account_id")
