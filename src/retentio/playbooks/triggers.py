"""Trigger evaluation: for one ``as_of``, which accounts (or the portfolio) a condition
holds for, with the occurrence that identifies this firing and a reason in words.

``evaluate(condition, inputs)`` returns ``{account_id: Hit}``.  An *event* trigger's
occurrence names the event (the survey response, the subscription line and its end date,
the first paid day, the month); a *state* trigger's (segment, band, risk, figure,
inactive) is the day the state was first seen: the run stays open until it clears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from retentio.clock import last_complete_month
from retentio.errors import ConfigError
from retentio.playbooks.spec import PORTFOLIO, WEEKDAYS, Condition, Trigger
from retentio.satisfaction.registry import nps_class
from retentio.satisfaction.surveys import csat_is_positive


class Unavailable(Exception):
    """The data a trigger needs is not there (e.g. the health capability is not installed)."""


@dataclass
class Hit:
    occurrence: str
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


def _month_label(y: int, m: int) -> str:
    return f"{y:04d}-{m:02d}"


def _prev_month(y: int, m: int) -> tuple[int, int]:
    return (y - 1, 12) if m == 1 else (y, m - 1)


def evaluate(cond: Condition, inp) -> dict[str, Hit]:
    if cond.op == "one":
        item = cond.items[0]
        return evaluate(item, inp) if isinstance(item, Condition) else evaluate_trigger(item, inp)
    results = [evaluate(c, inp) if isinstance(c, Condition) else evaluate_trigger(c, inp) for c in cond.items]
    if cond.op == "all":
        keys = set(results[0])
        for r in results[1:]:
            keys &= set(r)
    else:
        keys = set().union(*results)
    out: dict[str, Hit] = {}
    for acc in sorted(keys):
        parts = [r[acc] for r in results if acc in r]
        out[acc] = Hit("+".join(p.occurrence for p in parts), "; ".join(p.reason for p in parts),
                       {k: v for p in parts for k, v in p.data.items()})
    return out


def evaluate_trigger(t: Trigger, inp) -> dict[str, Hit]:
    fn = _KINDS[t.kind]
    return fn(t.params, inp, inp.as_of)


# -- state triggers ------------------------------------------------------------------------------
def _segment(p, inp, d: date) -> dict[str, Hit]:
    attr, values = p["attribute"], set(p["in"])
    out = {}
    figs = inp.figures(d)
    for acc, a in inp.accounts().items():
        v = figs[acc]["touch_tier"] if attr == "touch_tier" else a["attributes"].get(attr)
        if v is not None and str(v) in values:
            out[acc] = Hit(f"{attr}={v}@{d}", f"{attr} is {v}", {"segment": str(v)})
    return out


def _score_text(score) -> str:
    """A health score as people read it (one decimal, like the health tables), not 59.108504..."""
    return "none" if score is None else f"{float(score):.1f}"


def _health_band(p, inp, d: date) -> dict[str, Hit]:
    h = inp.health()
    if h is None:
        raise Unavailable("health scores are not available (the health capability is not installed)")
    bands = set(p["band"])
    return {acc: Hit(f"band={r['band']}@{d}", f"health band {r['band']} (score {_score_text(r.get('score'))})",
                     {"band": r["band"], "health_score": r.get("score")})
            for acc, r in sorted(h.items()) if r.get("band") in bands}


def _risk_level(p, inp, d: date) -> dict[str, Hit]:
    r = inp.risk()
    if r is None:
        raise Unavailable("churn-risk levels are not available (the prediction capability is not installed "
                          "or has stored no risks: run its scoring first)")
    levels = set(p["level"] or [])
    out = {}
    for acc, v in sorted(r.items()):
        lv, risk = v.get("level"), v.get("risk")
        if levels and lv not in levels:
            continue
        if p["above"] is not None and (risk is None or not risk > p["above"]):
            continue
        why = f"churn risk {lv}" + ("" if risk is None else f" ({risk:.0%})")
        out[acc] = Hit(f"risk={lv}@{d}", why, {"risk_level": lv, "risk": risk})
    return out


def _figure_value(inp, name: str, acc: str, day: date):
    if name == "health_score":
        h = inp.health()
        if h is None:
            raise Unavailable("health scores are not available (the health capability is not installed)")
        return (h.get(acc) or {}).get("score")
    return inp.figures(day)[acc].get(name)


def _figure(p, inp, d: date) -> dict[str, Hit]:
    name, out = p["name"], {}
    before_day = d - timedelta(days=p["over_days"])
    for acc in inp.accounts():
        v = _figure_value(inp, name, acc, d)
        reasons, data = [], {name: v}
        if v is None:
            continue
        if p["below"] is not None and not v < p["below"]:
            continue
        if p["below"] is not None:
            reasons.append(f"{name} {v:g} < {p['below']:g}")
        if p["above"] is not None and not v > p["above"]:
            continue
        if p["above"] is not None:
            reasons.append(f"{name} {v:g} > {p['above']:g}")
        if p["change_below"] is not None or p["change_above"] is not None:
            b = _figure_value(inp, name, acc, before_day)
            if not b:  # no base (0 or unknown): a change is undefined
                continue
            ch = (v - b) / b
            data.update({f"{name}_before": b, f"{name}_change": ch})
            if p["change_below"] is not None and not ch < p["change_below"]:
                continue
            if p["change_above"] is not None and not ch > p["change_above"]:
                continue
            reasons.append(f"{name} {b:g} -> {v:g} ({ch * 100:+.1f} % over {p['over_days']} days)")
        out[acc] = Hit(f"{name}@{d}", "; ".join(reasons), data)
    return out


def _inactive(p, inp, d: date) -> dict[str, Hit]:
    out, n = {}, p["days"]
    for acc, f in inp.figures(d).items():
        if not f["customer"]:
            continue
        di = f["days_inactive"]
        if di is None:
            since = f["first_paid"]
            if since is None or (d - since).days < n:
                continue
            out[acc] = Hit(f"inactive-since={since}", f"no usage event since becoming a customer on {since}",
                           {"days_inactive": (d - since).days})
        elif di >= n:
            out[acc] = Hit(f"inactive-since={f['last_activity']}", f"no usage event for {di} days (last {f['last_activity']})",
                           {"days_inactive": di})
    return out


# -- event triggers --------------------------------------------------------------------------------
def _new_customer(p, inp, d: date) -> dict[str, Hit]:
    out, first = {}, d - timedelta(days=p["within_days"] - 1) if p["within_days"] else d
    for acc, f in inp.figures(d).items():
        fp = f["first_paid"]
        if fp is not None and first <= fp <= d and f["customer"]:
            out[acc] = Hit(f"first-paid={fp}", f"customer since {fp} (MRR {f['mrr']:g})", {"first_paid": fp})
    return out


def _line_ends(p, inp, d: date, trial: bool) -> dict[str, Hit]:
    out: dict[str, Hit] = {}
    last = d + timedelta(days=p["in_days"])
    accounts = inp.accounts()
    for r in sorted(inp.subscription_lines(), key=lambda r: (r["account_id"], r["end_date"] or date.max, r["subscription_id"])):
        end = r["end_date"]
        if r["account_id"] not in accounts or end is None or bool(r["is_trial"]) != trial or r["start_date"] > d:
            continue
        if not (d <= end <= last) or r["account_id"] in out:
            continue
        if not trial:
            if (r.get("kind") or "recurring") in ("one_off", "discount"):
                continue
            if r.get("canceled_at") is not None and r["canceled_at"] <= d:
                continue  # known as cancelled: not a renewal to prepare
        what = "trial ends" if trial else f"renewal of {r['plan']}"
        out[r["account_id"]] = Hit(f"{r['subscription_id']}@{end}", f"{what} on {end} ({(end - d).days} days)",
                                   {"subscription_id": r["subscription_id"], "end_date": end, "days_left": (end - d).days})
    return out


def _trial_ending(p, inp, d):
    return _line_ends(p, inp, d, trial=True)


def _renewal(p, inp, d):
    return _line_ends(p, inp, d, trial=False)


def _onboarding_missed(p, inp, d: date) -> dict[str, Hit]:
    st = inp.settings.engagement
    milestones = [p["milestone"]] if p["milestone"] else list(st.onboarding_milestones)
    if not milestones:
        raise ConfigError("trigger onboarding_missed: no milestone",
                          hint="set engagement.onboarding_milestones in retentio.toml or `milestone` in the trigger")
    within = p["within_days"] if p["within_days"] is not None else st.onboarding_window_days
    deadlines: dict[str, date] = {}
    for acc, f in inp.figures(d).items():
        fp = f["first_paid"]
        if fp is None or not f["customer"]:
            continue
        dl = fp + timedelta(days=within)
        if d - timedelta(days=p["lookback_days"]) < dl <= d:
            deadlines[acc] = dl
    done = inp.events_done(milestones, deadlines)
    out = {}
    for acc, dl in sorted(deadlines.items()):
        missing = [m for m in milestones if m not in done.get(acc, set())]
        if missing:
            out[acc] = Hit(f"onboarding-deadline={dl}", f"onboarding deadline {dl} passed without {', '.join(missing)}",
                           {"missing_milestones": missing, "deadline": dl})
    return out


def _survey(p, inp, d: date) -> dict[str, Hit]:
    first = d - timedelta(days=p["within_days"] - 1) if p["within_days"] else d
    ans, out = p["answer"], {}
    accounts = inp.accounts()
    for r in inp.surveys(first, d):
        acc, score, kind = r["account_id"], r["score"], (r["kind"] or "").lower()
        if acc not in accounts or score is None:
            continue
        if ans == "low_csat":
            if kind != "csat":
                continue
            scale = r.get("scale") or 5
            if csat_is_positive(score, scale, inp.settings):
                continue
            label = f"CSAT {score}/{scale}"
        else:
            if kind != "nps":
                continue
            cat = nps_class(score)
            if cat != ans:
                continue
            label = f"NPS {score} ({cat})"
        # the latest matching answer of the window wins: one run per response
        out[acc] = Hit(f"response={r['response_id']}", f"{label} on {r['day']}",
                       {"response_id": r["response_id"], "score": score, "comment": r.get("comment")})
    return out


def _sentiment_drop(p, inp, d: date) -> dict[str, Hit]:
    y, m = last_complete_month(d)
    label = _month_label(y, m)
    th = p["threshold"]
    out = {}
    for r in inp.sentiment_flags(label):
        if r.get("month") not in (label, None):
            continue
        drop = r.get("drop")
        if th is not None and drop is not None and drop < th:
            continue
        out[r["account_id"]] = Hit(f"sentiment={label}", f"text sentiment dropped in {label}", {"sentiment": r})
    return out


def _line_canceled(p, inp, d: date) -> dict[str, Hit]:
    first = d - timedelta(days=p["within_days"] - 1) if p["within_days"] else d
    figs = inp.figures(d)
    out = {}
    for r in sorted(inp.subscription_lines(), key=lambda r: (r["account_id"], r.get("canceled_at") or date.min, r["subscription_id"])):
        c = r.get("canceled_at")
        acc = r["account_id"]
        if c is None or not (first <= c <= d) or r["is_trial"] or acc not in figs:
            continue
        if (r.get("kind") or "recurring") in ("one_off", "discount"):
            continue
        if p["partial_only"] and not figs[acc]["customer"]:
            continue
        if p["partial_only"]:
            # the account keeps paying after this line ends: an add-on / partial cancellation
            others = [o for o in inp.subscription_lines() if o["account_id"] == acc and o["subscription_id"] != r["subscription_id"]
                      and not o["is_trial"] and (o.get("kind") or "recurring") not in ("one_off", "discount")
                      and o["start_date"] <= d and (o["end_date"] is None or o["end_date"] > d)
                      and (o.get("canceled_at") is None or o["canceled_at"] > d)]
            if not others:
                continue
        out[acc] = Hit(f"canceled={r['subscription_id']}", f"{r['plan']} cancelled on {c}",
                       {"subscription_id": r["subscription_id"], "canceled_at": c})
    return out


# -- portfolio and calendar ------------------------------------------------------------------------
def _portfolio(p, inp, d: date) -> dict[str, Hit]:
    y, m = last_complete_month(d)
    py, pm = _prev_month(y, m)
    cur, prev = _month_label(y, m), _month_label(py, pm)
    v, b = inp.portfolio(p["figure"], cur), inp.portfolio(p["figure"], prev)
    if v is None or v < p["min"]:
        return {}
    if p["above"] is not None and not v > p["above"]:
        return {}
    why = f"{p['figure']} {v:.4g} in {cur}"
    if p["rise_above"] is not None:
        if not b or (v - b) / b <= p["rise_above"]:
            return {}
        why += f" vs {b:.4g} in {prev} ({(v - b) / b * 100:+.0f} %)"
    return {PORTFOLIO: Hit(f"{p['figure']}={cur}", why, {"figure": p["figure"], "value": v, "previous": b, "month": cur})}


def _schedule(p, inp, d: date) -> dict[str, Hit]:
    every = p["every"]
    nxt = d + timedelta(days=1)
    ok = (every == "day" or (every in WEEKDAYS and d.weekday() == WEEKDAYS.index(every))
          or (every == "month_end" and nxt.month != d.month) or (every == "month_start" and d.day == 1))
    if not ok:
        return {}
    hit = Hit(f"{every}={d}", f"schedule {every} ({d})")
    if p["scope"] == "portfolio":
        return {PORTFOLIO: hit}
    return {acc: hit for acc in inp.accounts()}


_KINDS = {
    "segment": _segment, "health_band": _health_band, "risk_level": _risk_level, "figure": _figure,
    "portfolio": _portfolio, "new_customer": _new_customer, "trial_ending": _trial_ending, "renewal": _renewal,
    "onboarding_missed": _onboarding_missed, "inactive": _inactive, "survey": _survey,
    "sentiment_drop": _sentiment_drop, "line_canceled": _line_canceled, "schedule": _schedule,
}
