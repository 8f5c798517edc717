"""Usage metrics (metrics.md §9): DAU / WAU / MAU, stickiness, active users vs seats,
feature adoption and time on key features.

A user is active on a day when they have at least one usage event that UTC day.  A user is
identified by (account_id, user_id), so the overall count is the sum of the per-account
counts.  Counts are made in the engine (integers); ratios are computed in Python.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import narwhals as nw

from retentio.config import Settings
from retentio.engagement._common import day_of, month_of
from retentio.engagement.registry import share
from retentio.figures import safe_div
from retentio.usage_rollups import usage_daily
from retentio.engine import Engine, distinct
from retentio.metrics.periods import Period, month_end, month_label

WINDOWS = ("dau", "wau", "mau")


def window_days(point: date, kind: str, mode: str) -> list[date]:
    """The days whose active users count for ``kind`` (dau/wau/mau) at ``point``.

    trailing: the day; the 7 days; the 30 days ending on ``point`` (included).
    calendar: the day; the calendar week (Monday-Sunday) containing ``point``; the calendar
    month containing ``point`` (whole week / month, even days after ``point``).
    """
    if kind == "dau":
        return [point]
    if mode == "trailing":
        n = 7 if kind == "wau" else 30
        return [point - timedelta(days=i) for i in range(n - 1, -1, -1)]
    if kind == "wau":
        monday = point - timedelta(days=point.weekday())
        return [monday + timedelta(days=i) for i in range(7)]
    first = point.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return [first + timedelta(days=i) for i in range((nxt - first).days)]


def month_end_points(period: Period) -> list[date]:
    return [month_end(m) for m in period.months]


def daily_points(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def user_days(engine: Engine, first: date | None = None, last: date | None = None) -> nw.LazyFrame:
    """Distinct (account_id, user_id, day) with at least one event, optionally within [first, last]
    (from the daily rollup: rows of a day range only)."""
    lf = usage_daily(engine).select("account_id", "user_id", "day")
    if first is not None:
        lf = lf.filter(nw.col("day") >= nw.lit(first))
    if last is not None:
        lf = lf.filter(nw.col("day") <= nw.lit(last))
    return lf.unique(["account_id", "user_id", "day"])


def _lines_at(engine: Engine, points: list[date]) -> nw.LazyFrame:
    """point, account_id, quantity: the subscription lines active at each point
    (start_date <= point < end_date, open end = ongoing; trial lines included)."""
    pts = engine.from_columns({"point": list(points)}, {"point": "date"})
    subs = engine.table("subscriptions").select("account_id", "start_date", "end_date", "quantity")
    return subs.join(pts, how="cross").filter(
        (nw.col("start_date") <= nw.col("point"))
        & (nw.col("end_date").is_null() | (nw.col("end_date") > nw.col("point")))
    ).select("point", "account_id", "quantity")


def _seats(engine: Engine, points: list[date]) -> dict[tuple[date, str], dict[str, Any]]:
    """Seats = sum of ``quantity`` of the subscription lines active at each point
    (start_date <= point < end_date, open end = ongoing; trial lines included)."""
    out = engine.collect(
        _lines_at(engine, points).group_by("point", "account_id").agg(
            nw.col("quantity").sum().alias("seats"),
            nw.col("quantity").count().cast(nw.Int64).alias("lines_with_quantity"),
        )
    )
    res = {}
    for r in out.to_dicts():
        if not r["lines_with_quantity"]:  # no active line carries a quantity: seats unknown, not 0
            r["seats"] = None
        res[(r["point"], r["account_id"])] = r
    return res


def active_users(
    engine: Engine, settings: Settings, points: list[date], *, per_account: bool = True
) -> list[dict[str, Any]]:
    """DAU, WAU, MAU, stickiness (WAU/MAU and DAU/MAU, in %) and seats at each point.

    One row per point for the whole base (``account_id`` None) and, if ``per_account``,
    one row per point and account with at least one active user in the 30-day / month window.
    """
    mode = settings.engagement.active_window
    if not points:
        return []
    if not per_account:
        # the base's rows only, a point at a time: summed in the engine (a user id is an
        # account's own, so the base's active users are the sum over accounts), never millions
        # of account rows in Python, and each statement's groups are one point's users (all
        # twelve points at once: 90 M groups at 1 M accounts, beyond DuckDB's memory limit)
        return [_base_row(engine, _active_per_account(engine, mode, [p]), p) for p in sorted(set(points))]
    per_acc = _active_per_account(engine, mode, sorted(set(points)))
    counts = engine.collect(per_acc)
    by_acc: dict[tuple[date, str], dict[str, int]] = {}
    for r in counts.to_dicts():
        by_acc.setdefault((r["point"], r["account_id"]), {k: 0 for k in WINDOWS})[r["window"]] = int(r["users"])
    seats = _seats(engine, sorted(set(points)))
    total_seats = {}
    for (p, _a), s in seats.items():
        if s["seats"] is not None:
            total_seats[p] = total_seats.get(p, 0.0) + float(s["seats"])

    out: list[dict[str, Any]] = []
    for p in sorted(set(points)):
        tot = {k: 0 for k in WINDOWS}
        accs = sorted(a for (q, a) in by_acc if q == p)
        for a in accs:
            for k in WINDOWS:
                tot[k] += by_acc[(p, a)][k]
        out.append(_usage_row(p, None, tot, total_seats.get(p)))
        if per_account:
            for a in accs:
                s = seats.get((p, a))
                out.append(_usage_row(p, a, by_acc[(p, a)], None if s is None or s["seats"] is None else float(s["seats"])))
    return out


def _usage_row(p: date, acc: str | None, c: dict[str, int], seat: float | None) -> dict[str, Any]:
    return {
        "date": p,
        "account_id": acc,
        "dau": c["dau"],
        "wau": c["wau"],
        "mau": c["mau"],
        "stickiness_wau_mau": share(c["wau"], c["mau"]),
        "stickiness_dau_mau": share(c["dau"], c["mau"]),
        "seats": seat,
        "mau_per_seat": share(c["mau"], seat) if seat else None,
    }


def _active_per_account(engine: Engine, mode: str, points: list[date]) -> nw.LazyFrame:
    """point, window, account_id, users: the distinct active users of each account in each
    window (dau, wau, mau) ending at each point."""
    rows = [(p, k, d) for p in points for k in WINDOWS for d in window_days(p, k, mode)]
    windows = engine.from_columns(
        {"point": [r[0] for r in rows], "window": [r[1] for r in rows], "day": [r[2] for r in rows]},
        {"point": "date", "window": "string", "day": "date"},
    )
    lo = min(r[2] for r in rows)
    hi = max(r[2] for r in rows)
    # The rollup's rows of the days in range (one per user, day and feature), each joined to the
    # windows it falls in; distinct users per window and account (no separate distinct pass).
    ud = usage_daily(engine).select("account_id", "user_id", "day").filter(
        (nw.col("day") >= nw.lit(lo)) & (nw.col("day") <= nw.lit(hi))
    )
    return (
        ud.join(windows, on="day", how="inner")
        .group_by("point", "window", "account_id", "user_id").agg(nw.len().alias("_n"))
        .group_by("point", "window", "account_id")
        .agg(nw.len().cast(nw.Int64).alias("users"))
    )


def _base_row(engine: Engine, per_acc: nw.LazyFrame, point: date) -> dict[str, Any]:
    """The row of the whole base (account_id None) at ``point``: active users summed over
    accounts, seats summed over the lines active at the point (lines without a quantity add
    nothing; no line with one: seats unknown), as the per-account rows would add up."""
    totals = engine.collect(per_acc.group_by("window").agg(nw.col("users").sum().cast(nw.Int64).alias("users")))
    users = {k: 0 for k in WINDOWS}
    for r in totals.to_dicts():
        users[r["window"]] = int(r["users"])
    seats = engine.collect(_lines_at(engine, [point]).select(
        nw.col("quantity").sum().alias("seats"), nw.col("quantity").count().cast(nw.Int64).alias("with_quantity"))
    ).row(0)
    return _usage_row(point, None, users, float(seats[0]) if seats[1] else None)


def _days_in(engine: Engine, period: Period) -> nw.LazyFrame:
    """The daily rollup's rows of the period: (account, user, day, feature) -> events, duration_ms
    (duration in whole milliseconds, floored per event: identical on every engine)."""
    return usage_daily(engine).filter(
        (nw.col("day") >= nw.lit(period.first_day)) & (nw.col("day") <= nw.lit(period.last_day))
    )


def feature_adoption(engine: Engine, settings: Settings, period: Period) -> dict[str, Any]:
    """Share of active accounts and of active users that used each feature in the period.

    Denominators: accounts (users) with at least one usage event in the period.  A feature
    is "used" by an account when at least one of its events in the period names it.
    """
    ev = engine.materialize(_days_in(engine, period).select("account_id", "user_id", "feature", "events", "duration_ms"))
    users_active = int(engine.collect(ev.select("account_id", "user_id").pipe(distinct).select(nw.len().cast(nw.Int64).alias("n")))["n"][0])
    accounts_active = int(engine.collect(ev.select("account_id").pipe(distinct).select(nw.len().cast(nw.Int64).alias("n")))["n"][0])
    fev = ev.filter(~nw.col("feature").is_null())
    acc = engine.collect(
        fev.select("feature", "account_id").pipe(distinct).group_by("feature").agg(nw.len().cast(nw.Int64).alias("accounts"))
    )
    usr = engine.collect(
        fev.select("feature", "account_id", "user_id").pipe(distinct).group_by("feature").agg(nw.len().cast(nw.Int64).alias("users"))
    )
    evs = engine.collect(
        fev.group_by("feature").agg(
            nw.col("events").sum().cast(nw.Int64).alias("events"), nw.col("duration_ms").sum().cast(nw.Int64).alias("ms")
        )
    )
    a = {r["feature"]: r["accounts"] for r in acc.to_dicts()}
    u = {r["feature"]: r["users"] for r in usr.to_dicts()}
    e = {r["feature"]: r for r in evs.to_dicts()}
    complex_ = set(settings.engagement.complex_features)
    key = set(settings.engagement.key_features)
    features = sorted(set(a) | complex_ | key)
    rows = []
    for f in features:
        rows.append(
            {
                "feature": f,
                "complex": f in complex_,
                "key": f in key,
                "accounts_using": a.get(f, 0),
                "account_share": share(a.get(f, 0), accounts_active),
                "users_using": u.get(f, 0),
                "user_share": share(u.get(f, 0), users_active),
                "events": int(e[f]["events"]) if f in e else 0,
                "hours": (int(e[f]["ms"]) / 3_600_000) if f in e else 0.0,
            }
        )
    return {
        "period": period.label,
        "accounts_active": accounts_active,
        "users_active": users_active,
        "features": rows,
    }


def key_feature_time(engine: Engine, settings: Settings, period: Period) -> dict[str, Any]:
    """Time spent on key features (``engagement.key_features``; all features when the list
    is empty, said in the output) per account and month: hours, and hours per active user."""
    keys = list(settings.engagement.key_features)
    ev = _days_in(engine, period).filter(~nw.col("feature").is_null())
    if keys:
        ev = ev.filter(nw.col("feature").is_in(keys))
    ev = ev.with_columns(month_of("day").alias("month"))
    t = engine.collect(
        ev.group_by("account_id", "month").agg(nw.col("duration_ms").sum().cast(nw.Int64).alias("ms"))
    )
    active = engine.collect(
        _days_in(engine, period)
        .with_columns(month_of("day").alias("month"))
        .select("account_id", "month", "user_id")
        .pipe(distinct)
        .group_by("account_id", "month")
        .agg(nw.len().cast(nw.Int64).alias("users"))
    )
    users = {(r["account_id"], r["month"]): int(r["users"]) for r in active.to_dicts()}
    rows = []
    for r in sorted(t.to_dicts(), key=lambda r: (r["month"], r["account_id"])):
        n = users.get((r["account_id"], r["month"]), 0)
        h = int(r["ms"]) / 3_600_000
        rows.append(
            {
                "month": month_label(int(r["month"])),
                "account_id": r["account_id"],
                "hours": h,
                "active_users": n,
                "hours_per_active_user": safe_div(h, n),
            }
        )
    return {
        "period": period.label,
        "key_features": keys or "all features (engagement.key_features is empty)",
        "rows": rows,
    }


__all__ = ["WINDOWS", "active_users", "daily_points", "feature_adoption", "key_feature_time",
    "month_end_points", "user_days", "window_days"]
