"""Line MRR, FX conversion and account-month snapshots (metrics.md §1-§2).

Everything here is narwhals over the engine.  Amounts become integer cents of the base
currency per line (rounded half up), and only integers are summed afterwards, so DuckDB,
Polars and PySpark give identical results whatever their summation order.
"""

from __future__ import annotations


from datetime import date

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine
from retentio.errors import DataError
from retentio.metrics.periods import month_end, month_index, month_label, month_of

# Month index of an open-ended line's (exclusive) end: far beyond any report.
OPEN_END = 9999 * 12


def to_cents(amount: nw.Expr) -> nw.Expr:
    """Round a positive amount to integer cents, half up, identically on every engine
    (DuckDB's float->int cast rounds while Polars and Spark truncate: floor first)."""
    return (amount * 100 + 0.5).floor().cast(nw.Int64)


def month_frame(engine: Engine, first: int, last: int) -> nw.LazyFrame:
    months = list(range(first, last + 1))
    return engine.from_columns(
        {"month": months, "snapshot": [month_end(m) for m in months]}, {"month": "int", "snapshot": "date"}
    )


def line_kind(subs: nw.LazyFrame) -> nw.Expr:
    """The kind of a line (metrics.md §2): recurring (also empty), usage, one_off or discount.
    A book without the ``kind`` column is all recurring."""
    if "kind" not in subs.collect_schema().names():
        return nw.lit("recurring")
    k = nw.col("kind").str.strip_chars().str.to_lowercase()
    return nw.when(k.is_null() | (k == "")).then(nw.lit("recurring")).otherwise(k)


def paid_lines(engine: Engine) -> nw.LazyFrame:
    """Non-trial recurring subscription lines (kinds recurring, usage and discount; one-off
    lines are never MRR) with the month range in which they are active at a snapshot.

    A line is active at the snapshot of month m (its last day d) when start <= d < end.
    start <= d  <=>  month(start) <= m;  end > d  <=>  month(end) > m.  So the line counts in
    months [from_month, to_month) with to_month = month(end) (exclusive), open lines forever.
    ``sign`` is -1 for a discount line (its amount lowers the account's MRR whichever sign
    it was written with), +1 otherwise; ``amount`` is then the absolute amount.
    """
    subs = engine.table("subscriptions")
    kind = line_kind(subs)
    return subs.with_columns(_kind=kind).filter(~nw.col("is_trial") & (nw.col("_kind") != "one_off")).select(
        "subscription_id",
        "account_id",
        "plan",
        "currency",
        nw.col("amount").abs().alias("amount"),
        "billing_period_months",
        "start_date",
        "end_date",
        month_of("start_date").alias("from_month"),
        nw.when(nw.col("end_date").is_null())
        .then(nw.lit(OPEN_END, nw.Int64))
        .otherwise(month_of("end_date"))
        .alias("to_month"),
        nw.when(nw.col("_kind") == "discount").then(nw.lit(-1, nw.Int64)).otherwise(nw.lit(1, nw.Int64)).alias("sign"),
    )


def one_off_lines(engine: Engine) -> nw.LazyFrame:
    """Non-trial one-off lines (metrics.md §2): account_id, currency, amount, start_date,
    month (of start_date: the month the charge is dated in)."""
    subs = engine.table("subscriptions")
    if "kind" not in subs.collect_schema().names():
        return subs.filter(nw.lit(False)).select("account_id", "currency", "amount", "start_date",
                                                 month_of("start_date").alias("month"))
    return subs.with_columns(_kind=line_kind(subs)).filter(~nw.col("is_trial") & (nw.col("_kind") == "one_off")).select(
        "subscription_id", "account_id", "currency", "amount", "start_date", month_of("start_date").alias("month")
    )


def history_first_month(engine: Engine) -> int | None:
    """First month with a paid line, or None for an empty book."""
    out = engine.rows(paid_lines(engine).select(nw.col("from_month").min().alias("m")))
    v = out[0]["m"] if out else None
    return None if v is None else int(v)


def _fx_by_month(engine: Engine, months: nw.LazyFrame, base: str) -> nw.LazyFrame:
    """(currency, month, rate): the rate in force on each month's snapshot day, i.e. the
    latest rate dated on or before it (month(date) <= m, then the latest date)."""
    fx = engine.table("fx_rates").filter(nw.col("currency") != base).select(
        "currency", "date", "rate", month_of("date").alias("fx_month")
    )
    latest = (
        fx.join(months.select("month"), how="cross")
        .filter(nw.col("fx_month") <= nw.col("month"))
        .group_by("currency", "month")
        .agg(nw.col("date").max().alias("date"))
    )
    return latest.join(fx.select("currency", "date", "rate"), on=["currency", "date"], how="inner").select(
        "currency", "month", "rate"
    )


def _fx_at_line_start(engine: Engine, lines: nw.LazyFrame, base: str) -> nw.LazyFrame:
    """(subscription_id, rate): the rate in force on each line's start date (fx_rule = line_start)."""
    fx = engine.table("fx_rates").filter(nw.col("currency") != base).select("currency", "date", "rate")
    starts = lines.filter(nw.col("currency") != base).select("subscription_id", "currency", "start_date")
    latest = (
        starts.join(fx.select("currency", "date"), on="currency", how="inner")
        .filter(nw.col("date") <= nw.col("start_date"))
        .group_by("subscription_id", "currency")
        .agg(nw.col("date").max().alias("date"))
    )
    return latest.join(fx, on=["currency", "date"], how="inner").select("subscription_id", "rate")


def line_months(engine: Engine, settings: Settings, first: int, last: int) -> nw.LazyFrame:
    """One row per paid line and month in [first, last] where it is active at the snapshot:
    subscription_id, account_id, plan, currency, month, mrr_cents (base currency)."""
    base = settings.workspace.base_currency
    lines = paid_lines(engine)
    months = month_frame(engine, first, last)
    active = lines.join(months, how="cross").filter(
        (nw.col("from_month") <= nw.col("month")) & (nw.col("month") < nw.col("to_month"))
    )
    if settings.metrics.fx_rule == "line_start":
        rates = _fx_at_line_start(engine, lines, base)
        with_rate = active.join(rates, on="subscription_id", how="left")
    else:
        rates = _fx_by_month(engine, months, base)
        with_rate = active.join(rates, on=["currency", "month"], how="left")
    with_rate = with_rate.with_columns(
        rate=nw.when(nw.col("currency") == base).then(nw.lit(1.0)).otherwise(nw.col("rate"))
    )
    return with_rate.select(
        "subscription_id",
        "account_id",
        "plan",
        "currency",
        "month",
        "snapshot",
        "rate",
        (nw.col("sign") * to_cents(nw.col("amount") / nw.col("billing_period_months") * nw.col("rate"))).alias("mrr_cents"),
        # ARR is annualised per line before rounding, so a 6-month contract of 1 000 EUR is
        # 2 000.00 ARR (metrics.md §2) even though its MRR rounds to 166.67.
        (nw.col("sign") * to_cents(nw.col("amount") * 12 / nw.col("billing_period_months") * nw.col("rate"))).alias("arr_cents"),
    )


def fx_on_days(engine: Engine, days: nw.LazyFrame, base: str) -> nw.LazyFrame:
    """(currency, day, rate): the rate in force on each day of ``days`` (column ``day``), the
    latest rate dated on or before it; the day-grain form of the snapshot FX rule."""
    fx = engine.table("fx_rates").filter(nw.col("currency") != base).select("currency", "date", "rate")
    latest = (
        fx.select("currency", "date")
        .join(days.select("day"), how="cross")
        .filter(nw.col("date") <= nw.col("day"))
        .group_by("currency", "day")
        .agg(nw.col("date").max().alias("date"))
    )
    return latest.join(fx, on=["currency", "date"], how="inner").select("currency", "day", "rate")


def line_days(engine: Engine, settings: Settings, days: list[date]) -> nw.LazyFrame:
    """One row per paid line and day of ``days`` on which it is active (start <= day < end):
    subscription_id, account_id, plan, currency, day, rate, mrr_cents (base currency, the
    same line MRR as :func:`line_months`, with the rate in force on that day).  The day-grain
    twin of ``line_months`` for figures "known on a day" (health, prediction)."""
    base = settings.workspace.base_currency
    lines = paid_lines(engine)
    pts = engine.from_columns({"day": sorted(set(days))}, {"day": "date"})
    active = lines.join(pts, how="cross").filter(
        (nw.col("start_date") <= nw.col("day")) & (nw.col("end_date").is_null() | (nw.col("end_date") > nw.col("day")))
    )
    if settings.metrics.fx_rule == "line_start":
        with_rate = active.join(_fx_at_line_start(engine, lines, base), on="subscription_id", how="left")
    else:
        with_rate = active.join(fx_on_days(engine, pts, base), on=["currency", "day"], how="left")
    with_rate = with_rate.with_columns(
        rate=nw.when(nw.col("currency") == base).then(nw.lit(1.0)).otherwise(nw.col("rate"))
    )
    return with_rate.select(
        "subscription_id", "account_id", "plan", "currency", "day", "rate",
        to_cents(nw.col("amount") / nw.col("billing_period_months") * nw.col("rate")).alias("mrr_cents"),
    )


def check_fx_lines(engine: Engine, settings: Settings, first: int, last: int) -> None:
    """A missing FX rate is an error naming the currency and the day (metrics.md §2), checked
    on the lines alone, without expanding them to months: a line in a
    foreign currency active at some snapshot of [first, last] needs a rate on or before its
    first such snapshot (rates hold until the next one, so later snapshots then have one),
    or, with fx_rule = line_start, on or before its start date."""
    base = settings.workspace.base_currency
    lines = paid_lines(engine).filter(nw.col("currency") != base)
    lines = lines.with_columns(fm=nw.max_horizontal(nw.col("from_month"), nw.lit(first, nw.Int64))).filter(
        (nw.col("fm") < nw.col("to_month")) & (nw.col("fm") <= last)
    )
    earliest = (
        engine.table("fx_rates")
        .filter(nw.col("currency") != base)
        .group_by("currency")
        .agg(nw.col("date").min().alias("first_date"), month_of("date").min().alias("first_fx_month"))
    )
    j = lines.join(earliest, on="currency", how="left")
    if settings.metrics.fx_rule == "line_start":
        bad = nw.col("first_date").is_null() | (nw.col("first_date") > nw.col("start_date"))
    else:
        bad = nw.col("first_fx_month").is_null() | (nw.col("first_fx_month") > nw.col("fm"))
    missing = engine.rows(
        j.filter(bad)
        .group_by("currency")
        .agg(nw.col("fm").min().alias("fm"), nw.col("subscription_id").min().alias("subscription_id"))
        .sort("currency")
    )
    if missing:
        row, lacking = missing[0], [r["currency"] for r in missing]
        if settings.metrics.fx_rule == "line_start":
            what = f"on or before the start date of subscription {row['subscription_id']}"
        else:
            what = f"on or before {month_end(int(row['fm'])).isoformat()}"
        raise DataError(
            f"no FX rate for {row['currency']} {what} (subscription {row['subscription_id']}); "
            f"currencies lacking rates: {', '.join(lacking)}",
            hint=f"import rates into {base}: retentio import fx-rates rates.csv "
            "(columns date, currency, rate); a missing rate is never taken as 1.0",
            details={"currencies": lacking},
        )


def account_months(engine: Engine, settings: Settings, first: int, last: int, *, check: bool = True) -> nw.LazyFrame:
    """account_id, month, mrr_cents for every account that is a customer (MRR > 0) at the
    snapshot of month m in [first, last]."""
    if check:
        check_fx_lines(engine, settings, first, last)
    lm = line_months(engine, settings, first, last)
    return (
        lm.group_by("account_id", "month")
        .agg(nw.col("mrr_cents").sum().cast(nw.Int64).alias("mrr_cents"))
        .filter(nw.col("mrr_cents") > 0)
    )


def account_month_mrr(engine: Engine, settings: Settings, last: int | None = None) -> nw.LazyFrame:
    """The account-month MRR table of the whole history up to ``last`` (default: the
    current month), for other layers (engagement, health, prediction).  Columns:
    account_id, month (index), mrr_cents (> 0 only)."""
    first = history_first_month(engine)
    if last is None:
        from retentio.clock import today

        last = month_index(today())
    if first is None:
        first = last
    return account_months(engine, settings, first, last)


__all__ = [
    "account_month_mrr",
    "account_months",
    "check_fx_lines",
    "history_first_month",
    "fx_on_days",
    "line_days",
    "line_months",
    "month_label",
    "month_of",
    "one_off_lines",
    "paid_lines",
    "to_cents",
]
