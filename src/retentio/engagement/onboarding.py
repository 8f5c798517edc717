"""Time to first value, onboarding engagement score, trial-to-paid conversion (metrics.md §9, §4).

The engine finds each account's first paid day, first value event and first completion
of each milestone (minimum dates); day differences and averages are made in Python on that
one-row-per-account result.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import narwhals as nw

from retentio.config import Settings
from retentio.engagement._common import day_of, median, with_segment
from retentio.engagement.registry import share
from retentio.engine import Engine
from retentio.errors import UsageError
from retentio.metrics.periods import Period, month_index, month_label


def _first_paid(engine: Engine, by: str | None) -> nw.LazyFrame:
    fp = (
        engine.table("subscriptions")
        .filter(~nw.col("is_trial"))
        .group_by("account_id")
        .agg(nw.col("start_date").min().alias("first_paid"))
    )
    return with_segment(engine, fp, by)


def _in_period(d: date, period: Period | None) -> bool:
    return period is None or period.first <= month_index(d) <= period.last


def _groups(rows: list[dict], keys: tuple[str, ...]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def time_to_first_value(engine: Engine, settings: Settings, period: Period | None = None,
                        by: str | None = None) -> dict[str, Any]:
    """Days from the first paid day to the first ``value_event`` (clamped at 0 when the event
    came first, e.g. during a trial), per account; mean and median by cohort (month of the
    first paid day) and segment.  Accounts without the event are excluded from the mean and
    median and counted in ``without_event``."""
    event = settings.engagement.value_event
    if not event:
        raise UsageError(
            "time to first value needs engagement.value_event (the event that marks first value)",
            hint='set it in retentio.toml, e.g. [engagement] value_event = "report_shared"',
        )
    fv = (
        engine.table("usage").filter(nw.col("event") == event)
        .group_by("account_id").agg(day_of("timestamp").min().alias("first_value"))
    )
    out = engine.collect(_first_paid(engine, by).join(fv, on="account_id", how="left"))
    accounts = []
    for r in sorted(out.to_dicts(), key=lambda r: r["account_id"]):
        if not _in_period(r["first_paid"], period):
            continue
        days = None if r["first_value"] is None else max(0, (r["first_value"] - r["first_paid"]).days)
        accounts.append({"account_id": r["account_id"], "cohort": month_label(month_index(r["first_paid"])),
                         "segment": r["segment"], "first_paid": r["first_paid"], "first_value": r["first_value"],
                         "ttfv_days": days, "value_before_paid": r["first_value"] is not None and r["first_value"] < r["first_paid"]})

    def summary(rs: list[dict]) -> dict[str, Any]:
        d = [r["ttfv_days"] for r in rs if r["ttfv_days"] is not None]
        return {"accounts": len(rs), "with_event": len(d), "without_event": len(rs) - len(d),
                "mean_days": (sum(d) / len(d)) if d else None, "median_days": median(d)}

    groups = [{"cohort": k[0], "segment": k[1], **summary(v)}
              for k, v in sorted(_groups(accounts, ("cohort", "segment")).items())]
    return {"value_event": event, "by": by, "overall": summary(accounts), "groups": groups, "accounts": accounts}


def milestone_first_days(engine: Engine, milestones: list[str]) -> nw.LazyFrame:
    """account_id, event, first_day: the first day each account completed each milestone event."""
    return (engine.table("usage").filter(nw.col("event").is_in(milestones))
            .group_by("account_id", "event").agg(day_of("timestamp").min().alias("first_day")))


def onboarding(engine: Engine, settings: Settings, period: Period | None = None, by: str | None = None,
               as_of: date | None = None) -> dict[str, Any]:
    """Onboarding engagement score per account: share of ``onboarding_milestones`` (event
    names) completed at all, and completed on time (first occurrence on or before the first
    paid day + ``onboarding_window_days``; occurrences before payment, e.g. in a trial, count).

    An account whose window has not ended at ``as_of`` is ``in_progress``: listed, but left
    out of the scores (``left_out`` counts them), since its score is not final yet."""
    milestones = list(dict.fromkeys(settings.engagement.onboarding_milestones))
    window = settings.engagement.onboarding_window_days
    if not milestones:
        raise UsageError(
            "the onboarding score needs engagement.onboarding_milestones (the checklist events)",
            hint='set it in retentio.toml, e.g. [engagement] onboarding_milestones = ["invite_user", "connect_api"]',
        )
    firsts = engine.collect(milestone_first_days(engine, milestones))
    done: dict[str, dict[str, date]] = {}
    for r in firsts.to_dicts():
        done.setdefault(r["account_id"], {})[r["event"]] = r["first_day"]
    fp = engine.collect(_first_paid(engine, by))
    n = len(milestones)
    accounts = []
    for r in sorted(fp.to_dicts(), key=lambda r: r["account_id"]):
        if not _in_period(r["first_paid"], period):
            continue
        deadline = r["first_paid"] + timedelta(days=window)
        d = done.get(r["account_id"], {})
        completed = sum(1 for m in milestones if m in d)
        on_time = sum(1 for m in milestones if m in d and d[m] <= deadline)
        accounts.append({"account_id": r["account_id"], "cohort": month_label(month_index(r["first_paid"])),
                         "segment": r["segment"], "in_progress": as_of is not None and deadline > as_of,
                         "completed": completed, "on_time": on_time, "milestones": n,
                         "onboarding_score": share(completed, n), "on_time_share": share(on_time, n),
                         "missing": [m for m in milestones if m not in d]})

    def summary(all_rs: list[dict]) -> dict[str, Any]:
        rs = [r for r in all_rs if not r["in_progress"]]
        return {"accounts": len(rs), "left_out": len(all_rs) - len(rs), "in_progress": len(rs) < len(all_rs),
                "onboarding_score": share(sum(r["completed"] for r in rs), n * len(rs)),
                "on_time_share": share(sum(r["on_time"] for r in rs), n * len(rs)),
                "fully_onboarded": sum(r["completed"] == n for r in rs),
                "fully_onboarded_on_time": sum(r["on_time"] == n for r in rs)}

    judged = [r for r in accounts if not r["in_progress"]]
    per_milestone = [{"milestone": m, "accounts_completed": sum(m not in r["missing"] for r in judged),
                      "share": share(sum(m not in r["missing"] for r in judged), len(judged))} for m in milestones]
    groups = [{"cohort": k[0], "segment": k[1], **summary(v)}
              for k, v in sorted(_groups(accounts, ("cohort", "segment")).items())]
    return {"milestones": milestones, "window_days": window, "by": by, "overall": summary(accounts),
            "per_milestone": per_milestone, "groups": groups, "accounts": accounts}


def trial_conversion(engine: Engine, settings: Settings, period: Period | None = None, by: str | None = None,
                     as_of: date | None = None) -> dict[str, Any]:
    """Trial-to-paid conversion by cohort (month of the account's first trial start).

    An account's trial is its earliest trial line; it converts as
    ``retentio.metrics.renewals.trial_conversions`` defines (one definition with the revenue
    figure).  At ``as_of`` a trial is judged when its window (end + window days) has closed,
    or when it has converted by then; the others are listed ``in_progress`` and left out."""
    from retentio.metrics.renewals import trial_conversions

    window = settings.metrics.trial_conversion_window_days
    subs = engine.table("subscriptions").select("account_id", "start_date", "end_date", "is_trial")
    trials = with_segment(engine, subs.filter(nw.col("is_trial")), by)
    t = engine.collect(trials.select("account_id", "start_date", "end_date", "segment"))
    first: dict[str, dict] = {}
    for r in t.to_dicts():
        cur = first.get(r["account_id"])
        if cur is None or (r["start_date"], r["end_date"] or date.max) < (cur["start_date"], cur["end_date"] or date.max):
            first[r["account_id"]] = r
    picked = [r for _a, r in sorted(first.items()) if _in_period(r["start_date"], period)]
    firsts = engine.from_columns(
        {"account_id": [r["account_id"] for r in picked], "t_start": [r["start_date"] for r in picked],
         "t_end": [r["end_date"] for r in picked]},
        {"account_id": "string", "t_start": "date", "t_end": "date"},
    )
    conv = {r["account_id"]: r for r in engine.rows(trial_conversions(settings, subs, firsts, ["account_id"]))}
    accounts = []
    for r in picked:
        a = r["account_id"]
        c = conv.get(a) or {"converted": False, "paid_start": None}
        converted = bool(c["converted"]) and (as_of is None or c["paid_start"] <= as_of)
        closed = r["end_date"] is not None and (as_of is None or r["end_date"] + timedelta(days=window) <= as_of)
        accounts.append({"account_id": a, "cohort": month_label(month_index(r["start_date"])), "segment": r["segment"],
                         "trial_start": r["start_date"], "trial_end": r["end_date"], "converted": converted,
                         "paid_start": c["paid_start"] if converted else None,
                         "in_progress": as_of is not None and not (converted or closed)})

    def summary(all_rs: list[dict]) -> dict[str, Any]:
        rs = [r for r in all_rs if not r["in_progress"]]
        c = sum(r["converted"] for r in rs)
        return {"trials": len(rs), "converted": c, "conversion_rate": share(c, len(rs)),
                "left_out": len(all_rs) - len(rs)}

    groups = [{"cohort": k[0], "segment": k[1], **summary(v)}
              for k, v in sorted(_groups(accounts, ("cohort", "segment")).items())]
    return {"window_days": window, "by": by, "overall": summary(accounts), "groups": groups, "accounts": accounts}


__all__ = ["onboarding", "time_to_first_value", "trial_conversion"]
