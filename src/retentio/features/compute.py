"""Per-account features known on a day, for many days at once.

The engine (narwhals over DuckDB, Polars or Spark) reduces the canonical tables to compact
frames (active lines per day, usage per window, tickets, answers, texts); the windows and
joins per (account, day) are then made once, vectorised, in Polars.  Nothing dated after a
row's day enters that row:

- subscriptions: a line counts on day d when ``start_date <= d < end_date``; its end date is
  known on d only when it is past (``end_date <= d``) or a cancellation was recorded
  (``canceled_at <= d``); otherwise its next renewal is derived from its start date and
  billing period.  Lines starting after d do not exist on d.
- usage, tickets, surveys, texts: only rows dated on or before d (a ticket resolved after d
  is open on d; its resolution time is unknown on d).
- account attributes are undated: only those listed in ``health.attributes`` (static ones)
  are offered.

The formulas are those of the metrics, engagement and satisfaction modules, called or
factored from there (line MRR, seats, active users, onboarding milestones, lifecycle status,
engagement score, CSAT positivity, NPS classes, sentiment scorer, touch tiers).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import narwhals as nw
import polars as pl

from retentio.clock import last_complete_month
from retentio.config import Settings
from retentio.engine import Engine, distinct
from retentio.errors import DataError
from retentio.features.catalog import CATEGORICAL, FEATURES

KEYS = ("account_id", "day")


def add_months(d: date, n: int) -> date:
    """The same day n months later (earlier for n < 0), clamped to the month's last day."""
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def next_renewal(start: date, period_months: int, day: date) -> date:
    """The first date start + k x period (k >= 1) strictly after ``day``."""
    p = max(int(period_months or 1), 1)
    months = (day.year - start.year) * 12 + day.month - start.month
    k = max(months // p, 1)
    r = add_months(start, k * p)
    while r <= day:
        k += 1
        r = add_months(start, k * p)
    while k > 1 and add_months(start, (k - 1) * p) > day:
        k -= 1
        r = add_months(start, k * p)
    return r


def _nonempty(engine: Engine, table: str) -> bool:
    out = engine.collect(engine.table(table).select(nw.len().cast(nw.Int64).alias("n")))
    return bool(out["n"][0])


def _schema() -> dict[str, pl.DataType]:
    s: dict[str, pl.DataType] = {"account_id": pl.String, "day": pl.Date}
    for f in FEATURES:
        s[f.name] = pl.String if f.kind == "category" else pl.Float64
    return s


def _points_frame(days: list[date]) -> pl.DataFrame:
    return pl.DataFrame({"day": days}, schema={"day": pl.Date})


# -- subscriptions ---------------------------------------------------------------------------
def _subscription_features(engine: Engine, settings: Settings, days: list[date]) -> pl.DataFrame:
    from retentio.clock import month_end
    from retentio.metrics.mrr import line_days

    lags = {(d, k): add_months(d, -k) for d in days for k in (1, 3, 6)}
    month_ends = {month_end(*last_complete_month(d)) for d in days}
    all_days = sorted(set(days) | set(lags.values()) | month_ends)
    extra = engine.table("subscriptions").select(
        "subscription_id", "start_date", "end_date", "billing_period_months", "canceled_at")
    # The lines active on every day asked (the days, their lags and month ends) stay in the
    # engine: only the per-account sums and the lines of the days themselves come to Polars
    # (all of them were 2.6 GB at 1 M accounts).
    ld = engine.materialize(line_days(engine, settings, all_days))
    bad = engine.collect(ld.filter(nw.col("rate").is_null()).sort("day", "subscription_id").head(1))
    if bad.height:
        b = bad.row(0, named=True)
        raise DataError(
            f"no FX rate for {b['currency']} on or before {b['day']} (subscription {b['subscription_id']})",
            hint="import rates into the base currency: retentio import fx-rates rates.csv; a missing rate is never 1.0",
        )
    acc = engine.collect(ld.group_by("account_id", "day").agg(nw.col("mrr_cents").sum().cast(nw.Int64).alias("mrr_cents")))
    points = engine.from_columns({"day": sorted(set(days))}, {"day": "date"})
    on_days = engine.collect(ld.join(points, on="day", how="inner").join(extra, on="subscription_id", how="left"))
    cur = acc.join(_points_frame(days), on="day", how="semi").filter(pl.col("mrr_cents") > 0)
    if cur.height == 0:
        return pl.DataFrame(schema={"account_id": pl.String, "day": pl.Date})
    # MRR changes.
    for k in (1, 3, 6):
        lag = pl.DataFrame({"day": [d for d in days], "lag_day": [lags[(d, k)] for d in days]},
                           schema={"day": pl.Date, "lag_day": pl.Date})
        prev = acc.rename({"day": "lag_day", "mrr_cents": "prev"})
        cur = (cur.join(lag, on="day", how="left").join(prev, on=["account_id", "lag_day"], how="left")
               .with_columns(pl.when(pl.col("prev") > 0)
                             .then((pl.col("mrr_cents") - pl.col("prev")) / pl.col("prev"))
                             .otherwise(None).alias(f"mrr_change_{k}m"))
               .drop("lag_day", "prev"))
    # Customer at the end of the last complete month (for the lifecycle status).
    lcm = pl.DataFrame({"day": days, "_lcm_end": [month_end(*last_complete_month(d)) for d in days]},
                       schema={"day": pl.Date, "_lcm_end": pl.Date})
    cur = cur.join(lcm, on="day", how="left")
    cur = cur.join(acc.filter(pl.col("mrr_cents") > 0).select("account_id", pl.col("day").alias("_lcm_end"),
                                                                pl.lit(True).alias("_lcm_customer")),
                   on=["account_id", "_lcm_end"], how="left").drop("_lcm_end")
    # The largest line of the day, its plan, billing period and next renewal.
    main = (on_days.sort(["account_id", "day", "mrr_cents", "plan", "subscription_id"],
                         descending=[False, False, True, False, False])
            .group_by("account_id", "day", maintain_order=True).first())
    ren = []
    for r in main.select("start_date", "end_date", "canceled_at", "billing_period_months", "day").iter_rows():
        start, end, canceled, bpm, d = r
        if end is not None and canceled is not None and canceled <= d:
            ren.append((end - d).days)
        else:
            ren.append((next_renewal(start, bpm, d) - d).days)
    main = main.select("account_id", "day", "plan", pl.col("billing_period_months").cast(pl.Float64),
                       pl.Series("days_to_renewal", ren, dtype=pl.Float64))
    canceled = on_days.group_by("account_id", "day").agg(
        (pl.col("canceled_at").is_not_null() & (pl.col("canceled_at") <= pl.col("day"))).any().cast(pl.Float64)
        .alias("cancellation_recorded"))
    first = engine.collect(
        engine.table("subscriptions").filter(~nw.col("is_trial")).group_by("account_id")
        .agg(nw.col("start_date").min().alias("first_paid")))
    cur = (cur.join(main, on=KEYS, how="left").join(canceled, on=KEYS, how="left")
           .join(first, on="account_id", how="left")
           .with_columns(((pl.col("day") - pl.col("first_paid")).dt.total_days() / (365.25 / 12)).alias("tenure_months"),
                         (pl.col("mrr_cents") / 100).alias("mrr"))
           .drop("first_paid"))
    # Seats (engagement.usage) and touch tier (metrics.segments).
    from retentio.engagement.usage import _seats
    from retentio.metrics.segments import touch_tier

    seats = _seats(engine, days)
    sf = pl.DataFrame({"account_id": [a for (_d, a) in seats], "day": [d for (d, _a) in seats],
                       "seats": [None if v["seats"] is None else float(v["seats"]) for v in seats.values()]},
                      schema={"account_id": pl.String, "day": pl.Date, "seats": pl.Float64})
    cur = cur.join(sf, on=KEYS, how="left")
    cur = nw.from_native(cur).with_columns(touch_tier(nw.col("mrr_cents"), settings).alias("touch")).to_native()
    return cur.drop("mrr_cents")


def _asof(left: pl.DataFrame, right: pl.DataFrame, on: str) -> pl.DataFrame:
    """Each row of ``left`` with the account's last row of ``right`` dated on or before its day
    (both sorted by their day column)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sortedness within groups: sorted globally above
        return left.join_asof(right, left_on="day", right_on=on, by="account_id", strategy="backward")


# -- usage -----------------------------------------------------------------------------------
def _window_frame(engine: Engine, days: list[date], length: int, slots: int = 1) -> nw.LazyFrame:
    """(point, day, slot): the ``length``-day windows ending on each point (slot 0), and the
    windows before them (slot 1, ...)."""
    pts, ds, sl = [], [], []
    for p in days:
        for i in range(length * slots):
            pts.append(p)
            ds.append(p - timedelta(days=i))
            sl.append(i // length)
    return engine.from_columns({"point": pts, "day": ds, "slot": sl}, {"point": "date", "day": "date", "slot": "int"})


def _usage_features(engine: Engine, settings: Settings, days: list[date], customers: pl.DataFrame) -> pl.DataFrame:
    from retentio.engagement._common import day_of
    from retentio.engagement.usage import active_users
    from retentio.usage_rollups import duration_ms, usage_daily_active

    trailing = settings.model_copy(deep=True)
    trailing.engagement.active_window = "trailing"  # a calendar week can reach past the day
    au = [r for r in active_users(engine, trailing, days, per_account=True) if r["account_id"] is not None]
    auf = pl.DataFrame(
        {"account_id": [r["account_id"] for r in au], "day": [r["date"] for r in au],
         "dau": [float(r["dau"]) for r in au], "active_users_7d": [float(r["wau"]) for r in au],
         "active_users_30d": [float(r["mau"]) for r in au]},
        schema={"account_id": pl.String, "day": pl.Date, "dau": pl.Float64, "active_users_7d": pl.Float64,
                "active_users_30d": pl.Float64})
    win = _window_frame(engine, days, 30, 2)
    lo, hi = min(days) - timedelta(days=59), max(days)
    ev = (engine.table("usage").with_columns(day_of("timestamp").alias("day"))
          .filter((nw.col("day") >= nw.lit(lo)) & (nw.col("day") <= nw.lit(hi)))
          .select("account_id", "day", "feature", "duration_seconds"))
    j = engine.materialize(ev.join(win, on="day", how="inner"))
    counts = engine.collect(j.group_by("point", "account_id", "slot").agg(nw.len().cast(nw.Int64).alias("n")))
    cur30 = j.filter(nw.col("slot") == 0)
    feats = engine.collect(cur30.filter(~nw.col("feature").is_null()).select("point", "account_id", "feature").pipe(distinct)
                           .group_by("point", "account_id").agg(nw.len().cast(nw.Int64).alias("features_used_30d")))
    complex_ = list(settings.engagement.complex_features)
    cx = engine.collect(cur30.filter(nw.col("feature").is_in(complex_ or ["\x00"])).select("point", "account_id", "feature")
                        .pipe(distinct).group_by("point", "account_id")
                        .agg(nw.len().cast(nw.Int64).alias("complex_features_used_30d")))
    keys = list(settings.engagement.key_features)
    kev = cur30.filter(~nw.col("feature").is_null())
    if keys:
        kev = kev.filter(nw.col("feature").is_in(keys))
    kt = engine.collect(kev.with_columns(duration_ms().alias("ms")).group_by("point", "account_id")
                        .agg(nw.col("ms").sum().cast(nw.Int64).alias("ms")))
    c = counts.rename({"point": "day"})
    e30 = c.filter(pl.col("slot") == 0).select("account_id", "day", pl.col("n").cast(pl.Float64).alias("events_30d"))
    ep = c.filter(pl.col("slot") == 1).select("account_id", "day", pl.col("n").cast(pl.Float64).alias("_events_prev"))
    out = customers.select(KEYS)
    for f in (auf, e30, ep, feats.rename({"point": "day"}), cx.rename({"point": "day"}), kt.rename({"point": "day"})):
        out = out.join(f, on=KEYS, how="left")
    out = out.with_columns(
        pl.col("dau", "active_users_7d", "active_users_30d", "events_30d", "_events_prev").fill_null(0.0),
        pl.col("features_used_30d", "complex_features_used_30d").cast(pl.Float64).fill_null(0.0),
        (pl.col("ms").fill_null(0) / 3_600_000).alias("key_feature_hours_30d"),
    ).with_columns(
        (pl.col("key_feature_hours_30d") / 30).alias("key_feature_hours_per_day"),
        pl.when(pl.col("active_users_30d") > 0).then(pl.col("dau") / pl.col("active_users_30d")).alias("stickiness"),
        pl.when(pl.col("active_users_30d") > 0).then(pl.col("active_users_7d") / pl.col("active_users_30d"))
        .alias("stickiness_wau_mau"),
        pl.when(pl.col("_events_prev") > 0).then((pl.col("events_30d") - pl.col("_events_prev")) / pl.col("_events_prev"))
        .alias("usage_trend"),
    ).drop("dau", "_events_prev", "ms")
    # Days since the last activity: the last active day on or before each day, found in the
    # engine over the daily active-user rollup (collecting every active account-day of the
    # whole history into Python took 1.7 GB at 100 k accounts)
    pts = engine.from_columns({"day": list(days)}, {"day": "date"})
    last = engine.collect(
        usage_daily_active(engine).select("account_id", nw.col("day").alias("active"))
        .join(pts, how="cross").filter(nw.col("active") <= nw.col("day"))
        .group_by("account_id", "day").agg(nw.col("active").max().alias("last_active"))
    ).select(*KEYS, (pl.col("day") - pl.col("last_active")).dt.total_days().cast(pl.Float64)
             .alias("days_since_last_activity"))
    out = out.join(last, on=KEYS, how="left")
    # Onboarding: milestones completed by the day.
    milestones = list(dict.fromkeys(settings.engagement.onboarding_milestones))
    if milestones:
        from retentio.engagement.onboarding import milestone_first_days

        firsts = engine.collect(milestone_first_days(engine, milestones))
        done = (out.select(KEYS).join(firsts, on="account_id", how="inner").filter(pl.col("first_day") <= pl.col("day"))
                .group_by(KEYS).agg(pl.len().alias("_done")))
        out = out.join(done, on=KEYS, how="left").with_columns(
            (100.0 * pl.col("_done").fill_null(0) / len(milestones)).alias("onboarding_score")).drop("_done")
    else:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("onboarding_score"))
    return out


def _monthly_usage_features(engine: Engine, settings: Settings, days: list[date], customers: pl.DataFrame) -> pl.DataFrame:
    """Lifecycle status and engagement score of the last complete month of each day."""
    from retentio.engagement.lifecycle import account_usage, classify, engagement_frame
    from retentio.metrics.periods import Period, month_label

    lcm = {d: (lambda ym: ym[0] * 12 + ym[1] - 1)(last_complete_month(d)) for d in days}
    first, last = min(lcm.values()), max(lcm.values())
    usage, first_use = account_usage(engine, first - 1, last)
    ces = engagement_frame(engine, settings, Period(first, last, f"{month_label(first)}..{month_label(last)}")).select(
        "account_id", pl.col("month").alias("_m"), pl.col("ces").alias("engagement_score"))
    status, month = [], []
    for a, d, cust in customers.select("account_id", "day", "_lcm_customer").iter_rows():
        m = lcm[d]
        status.append(classify(usage.get((a, m), 0), usage.get((a, m - 1), 0), a in first_use and first_use[a] < m,
                               bool(cust), settings.engagement.at_risk_drop))
        month.append(m)
    return (customers.select(KEYS)
            .with_columns(pl.Series("lifecycle", status, dtype=pl.String), pl.Series("_m", month, dtype=pl.Int64))
            .join(ces, on=["account_id", "_m"], how="left").drop("_m"))


# -- tickets ---------------------------------------------------------------------------------
def _cross_window(rows: pl.DataFrame, customers: pl.DataFrame, col: str) -> pl.DataFrame:
    """Each (account, day) of ``customers`` with the account's rows dated on or before the day."""
    return customers.select(KEYS).join(rows, on="account_id", how="inner").filter(pl.col(col) <= pl.col("day"))


def _ticket_features(engine: Engine, days: list[date], customers: pl.DataFrame) -> pl.DataFrame:
    from retentio.satisfaction.tickets import _with_resolution_seconds

    lo, hi = min(days), max(days)
    # Only the tickets a day asked can count (not the whole history's): those created in the
    # 90 days before the first day or later, and the older ones still open on the first day.
    recent = nw.col("cday") >= nw.lit(lo - timedelta(days=89))
    open_then = nw.col("rday").is_null() | (nw.col("rday") > nw.lit(lo))
    t = engine.collect(
        _with_resolution_seconds(engine, engine.table("tickets").select("account_id", "created_at", "resolved_at"))
        .filter((nw.col("cday") <= nw.lit(hi)) & (recent | open_then))
        .select("account_id", "cday", "rday", "resolution_seconds"))
    x = _cross_window(t, customers, "cday").with_columns((pl.col("day") - pl.col("cday")).dt.total_days().alias("_age"))
    agg = x.group_by(KEYS).agg(
        (pl.col("rday").is_null() | (pl.col("rday") > pl.col("day"))).sum().cast(pl.Float64).alias("tickets_open"),
        (pl.col("_age") < 30).sum().cast(pl.Float64).alias("tickets_30d"),
        (pl.col("_age") < 90).sum().cast(pl.Float64).alias("tickets_90d"),
        (pl.col("resolution_seconds").filter((pl.col("_age") < 90) & pl.col("rday").is_not_null()
                                             & (pl.col("rday") <= pl.col("day"))).mean() / 3600)
        .alias("resolution_hours_90d"),
    )
    return customers.select(KEYS).join(agg, on=KEYS, how="left").with_columns(
        pl.col("tickets_open", "tickets_30d", "tickets_90d").fill_null(0.0))


# -- surveys and texts -----------------------------------------------------------------------
def _survey_features(engine: Engine, settings: Settings, days: list[date], customers: pl.DataFrame) -> pl.DataFrame:
    from retentio.engagement._common import day_of
    from retentio.satisfaction.surveys import csat_positive, nps_class_expr

    hi = max(days)
    s = (engine.table("surveys").with_columns(day_of("answered_at").alias("aday"))
         .filter(nw.col("aday") <= nw.lit(hi)))
    nps = engine.collect(s.filter(nw.col("kind") == "nps").select(
        "account_id", "aday", "answered_at", nw.col("score").cast(nw.Float64).alias("nps_last"),
        nps_class_expr(nw.col("score")).alias("nps_class"))).sort("aday", "answered_at")
    nps = nps.group_by("account_id", "aday", maintain_order=True).last().drop("answered_at").sort("aday")
    left = customers.select(KEYS).sort("day")
    out = _asof(left, nps, "aday").drop("aday")
    cs = engine.collect(s.filter(nw.col("kind") == "csat").select(
        "account_id", "aday", csat_positive(settings).cast(nw.Int64).alias("positive")))
    x = _cross_window(cs, customers, "aday").filter((pl.col("day") - pl.col("aday")).dt.total_days() < 90)
    c = x.group_by(KEYS).agg((pl.col("positive").sum() / pl.len()).alias("csat_90d"))
    return customers.select(KEYS).join(out, on=KEYS, how="left").join(c, on=KEYS, how="left")


def _text_features(engine: Engine, days: list[date], customers: pl.DataFrame,
                   text_scores: dict[str, float | None] | None = None) -> pl.DataFrame:
    from retentio.satisfaction.sentiment import score_texts
    from retentio.satisfaction.sentiment_trend import texts

    lo = min(days) - timedelta(days=89)
    rows = texts(engine, max(days), first_day=lo)
    # Each distinct text is scored once, in one batch: the trained model featurizes and scores
    # texts per language in bulk (one call per text cost 25 s for 117 k texts at 100 k
    # accounts), and a text's score does not depend on its batch (sentiment_model.logits).
    # ``text_scores`` carries the scores of the previous call's window to the next (the
    # 90-day windows of days scored in passes overlap); it keeps only this window's texts.
    memo: dict[str, float | None] = {} if text_scores is None else text_scores
    known = {r["text"]: memo[r["text"]] for r in rows if r["text"] in memo}
    new = list(dict.fromkeys(r["text"] for r in rows if r["text"] not in known))
    for txt, s in zip(new, score_texts(new)):
        known[txt] = None if s is None else s.score
    memo.clear()
    memo.update(known)
    acc, tday, score = [], [], []
    for r in rows:
        s = known[r["text"]]
        if s is None:
            continue
        acc.append(r["account_id"])
        tday.append(r["day"])
        score.append(s)
    t = pl.DataFrame({"account_id": acc, "tday": tday, "s": score},
                     schema={"account_id": pl.String, "tday": pl.Date, "s": pl.Float64})
    x = _cross_window(t, customers, "tday").filter((pl.col("day") - pl.col("tday")).dt.total_days() < 90)
    agg = x.group_by(KEYS).agg(pl.col("s").mean().alias("sentiment_90d"), pl.len().cast(pl.Float64).alias("texts_90d"))
    return customers.select(KEYS).join(agg, on=KEYS, how="left").with_columns(pl.col("texts_90d").fill_null(0.0))


def _attributes(engine: Engine, settings: Settings) -> pl.DataFrame:
    names = [a for a in settings.health.attributes if a not in {f.name for f in FEATURES} and a not in KEYS]
    if not names:
        return pl.DataFrame(schema={"account_id": pl.String})
    a = engine.collect(engine.table("account_attributes").filter(nw.col("attribute").is_in(names))
                       .group_by("account_id", "attribute").agg(nw.col("value").min().alias("value")))
    if a.height == 0:
        return pl.DataFrame(schema={"account_id": pl.String})
    return a.pivot(on="attribute", index="account_id", values="value")


def attribute_columns(frame: pl.DataFrame) -> list[str]:
    """The account-attribute columns of an ``account_features`` frame."""
    known = set(KEYS) | {f.name for f in FEATURES}
    return [c for c in frame.columns if c not in known]


# -- the whole row ---------------------------------------------------------------------------
def account_features(engine: Engine, settings: Settings, days: list[date], *,
                     text_scores: dict[str, float | None] | None = None) -> pl.DataFrame:
    """One row per (account_id, day) for every account that is a paying customer (MRR > 0)
    on that day, with the features of :data:`retentio.features.FEATURES` known on that day
    (then the account attributes of ``health.attributes`` that exist).  Sorted by day, account.

    Features of a source the workspace has no rows of (no usage, tickets or surveys at all)
    are empty (null), not 0; an account without rows of a source the workspace has gets 0
    counts.

    ``text_scores`` (text -> sentiment score, filled here) lets calls over consecutive days
    share the scores of the texts their 90-day windows have in common."""
    # The intermediates materialised on the way (usage events x windows: hundreds of MB on a
    # large book) are released at the end: the frame returned is collected.
    with engine.scratch():
        return _account_features(engine, settings, days, text_scores)


def _account_features(engine: Engine, settings: Settings, days: list[date],
                      text_scores: dict[str, float | None] | None = None) -> pl.DataFrame:
    days = sorted(set(days))
    schema = _schema()
    if not days:
        return pl.DataFrame(schema=schema)
    cust = _subscription_features(engine, settings, days)
    if cust.height == 0:
        return pl.DataFrame(schema=schema)
    out = cust
    if _nonempty(engine, "usage"):
        out = out.join(_usage_features(engine, settings, days, cust), on=KEYS, how="left")
        out = out.join(_monthly_usage_features(engine, settings, days, cust), on=KEYS, how="left")
        out = out.with_columns(pl.when(pl.col("seats") > 0).then(pl.col("active_users_30d") / pl.col("seats"))
                               .alias("active_users_vs_seats"))
    if _nonempty(engine, "tickets"):
        out = out.join(_ticket_features(engine, days, cust), on=KEYS, how="left")
    if _nonempty(engine, "surveys"):
        out = out.join(_survey_features(engine, settings, days, cust), on=KEYS, how="left")
    if _nonempty(engine, "tickets") or _nonempty(engine, "surveys"):
        out = out.join(_text_features(engine, days, cust, text_scores), on=KEYS, how="left")
    for name, dtype in schema.items():
        if name not in out.columns:
            out = out.with_columns(pl.lit(None, dtype).alias(name))
        else:
            out = out.with_columns(pl.col(name).cast(dtype))
    attrs = _attributes(engine, settings)
    out = out.select(list(schema)).join(attrs, on="account_id", how="left")
    return out.sort("day", "account_id")


__all__ = ["CATEGORICAL", "FEATURES", "account_features", "add_months", "attribute_columns", "next_renewal"]
