""""Does NPS predict churn here?" (metrics.md §10; seed 001 cites a study finding no link).

Unit: one NPS answer.  The answer's account must be a customer (MRR > 0) at the end of the
answer's month m; it churned within N months when it is not a customer at some month end
among m+1 .. m+N.  Answers whose window m+N goes beyond the last month of the MRR history
(``as_of``, default the last complete calendar month) cannot be judged yet and are
counted as ``too_recent``.  Compared: detractors (0-6) against promoters (9-10), passives
are reported apart.  95 % interval of the difference: Newcombe's hybrid score method.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import narwhals as nw

from retentio.config import Settings
from retentio.figures import safe_div
from retentio.metrics.periods import month_of
from retentio.satisfaction.registry import nps_class
from retentio.engine import Engine
from retentio.errors import UsageError
from retentio.metrics.periods import month_label
from retentio.satisfaction.stats import newcombe_diff

MIN_GROUP = 30  # below this many answers in a group the verdict says there is not enough data


def nps_vs_churn(engine: Engine, settings: Settings, months: int = 6, as_of: date | None = None) -> dict[str, Any]:
    """Answers are judged at ``as_of``: only those whose N-month window has ended by the
    last complete month of as_of count (the others are ``too_recent``)."""
    if months < 1:
        raise UsageError(f"months must be at least 1, not {months}", hint="e.g. months=6")
    from retentio.clock import last_complete_month, today
    from retentio.metrics.mrr import account_month_mrr

    y, mo = last_complete_month(as_of or today())
    horizon = y * 12 + mo - 1
    answers = engine.collect(
        engine.table("surveys").filter(nw.col("kind") == "nps")
        .select("response_id", "account_id", month_of("answered_at").alias("month"), "score")
    )
    # No answer's window reaches past the last answer's month + N: the customer months after it
    # are never looked at (this keeps a far as_of, e.g. 9999-10-01, from expanding every month).
    last_answer = max((int(m) for m in answers["month"].to_list() if m is not None), default=None)
    last = horizon if last_answer is None else min(horizon, last_answer + months)
    cust = engine.collect(account_month_mrr(engine, settings, last=last).select("account_id", "month"))
    customer = {(r["account_id"], int(r["month"])) for r in cust.to_dicts()}
    groups = {g: {"answers": 0, "churned": 0} for g in ("detractor", "passive", "promoter")}
    skipped = {"not_customer_at_answer": 0, "too_recent": 0}
    for r in answers.to_dicts():
        m = int(r["month"])
        if (r["account_id"], m) not in customer:
            skipped["not_customer_at_answer"] += 1
            continue
        if horizon is None or m + months > horizon:
            skipped["too_recent"] += 1
            continue
        g = nps_class(r["score"])
        groups[g]["answers"] += 1
        if any((r["account_id"], k) not in customer for k in range(m + 1, m + months + 1)):
            groups[g]["churned"] += 1
    for g in groups.values():
        g["churn_rate"] = safe_div(g["churned"], g["answers"])
    d, p = groups["detractor"], groups["promoter"]
    result: dict[str, Any] = {"months": months, "horizon": None if horizon is None else month_label(horizon),
                              "groups": groups, "excluded": skipped}
    if d["answers"] and p["answers"]:
        diff, lo, hi = newcombe_diff(d["churned"], d["answers"], p["churned"], p["answers"])
        result.update(difference=diff, ci95_low=lo, ci95_high=hi, ci_method="Newcombe hybrid score (Wilson)")
    else:
        diff = lo = hi = None
        result.update(difference=None, ci95_low=None, ci95_high=None, ci_method="Newcombe hybrid score (Wilson)")
    result["verdict"] = verdict(d["answers"], p["answers"], lo, hi, months)
    return result


def verdict(n_det: int, n_pro: int, lo: float | None, hi: float | None, months: int) -> str:
    if lo is None or n_det < MIN_GROUP or n_pro < MIN_GROUP:
        return (f"Not enough data to tell: {n_det} detractor and {n_pro} promoter answers could be followed for "
                f"{months} months (at least {MIN_GROUP} of each are needed).")
    if lo > 0:
        return (f"Yes: detractors churned more than promoters within {months} months, and the difference is "
                f"statistically significant (95 % interval above zero).")
    if hi < 0:
        return (f"No, the opposite: promoters churned more than detractors within {months} months "
                f"(95 % interval below zero).")
    return (f"No clear link: the churn of detractors and promoters within {months} months does not differ "
            f"significantly (the 95 % interval includes zero), as the study cited by seed 001 found.")


__all__ = ["MIN_GROUP", "nps_vs_churn", "verdict"]
