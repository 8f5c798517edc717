"""Billing-system exports mapped to canonical ``subscriptions`` columns: Stripe and Chargebee.

Each translator reads the export's own column names (matched loosely: case, spaces,
``(UTC)`` suffixes and ``subscriptions.`` prefixes do not matter), and returns a frame of
canonical columns as text, plus per-row problems (unsupported status, weekly plans ...)
that validation turns into quarantined rows.  One export row is one subscription line, so
``rows read = accepted + quarantined`` holds here too.  See docs/import-guide.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

import polars as pl

from retentio.errors import DataError
from retentio.ingest.mapping import snake
from retentio.ingest.readers import RawTable

CANONICAL = ("subscription_id", "account_id", "plan", "start_date", "end_date", "amount",
             "billing_period_months", "currency", "is_trial", "quantity")

# A problem found while translating a row: (reason, source column, value, detail).
Problem = tuple[str, str, str | None, str]

STRIPE_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "subscription_id"),
    "customer": ("customer_id", "customer"),
    "plan": ("plan", "plan_id", "plan_nickname", "price_id", "price", "product", "product_name"),
    "quantity": ("quantity",),
    "amount": ("amount", "plan_amount", "price_amount", "unit_amount"),
    "interval": ("interval", "plan_interval", "price_interval"),
    "interval_count": ("interval_count", "plan_interval_count"),
    "currency": ("currency", "plan_currency"),
    "status": ("status",),
    "start": ("start_date", "start", "started_at", "created"),
    "cancel_at_period_end": ("cancel_at_period_end",),
    "cancel_at": ("cancel_at",),
    "current_period_end": ("current_period_end",),
    "canceled_at": ("canceled_at",),
    "ended_at": ("ended_at",),
    "trial_start": ("trial_start",),
    "trial_end": ("trial_end",),
}
STRIPE_REQUIRED = ("id", "customer", "plan", "amount", "interval", "currency", "status", "start")

CHARGEBEE_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "subscription_id"),
    "customer": ("customer_id", "customer"),
    "plan": ("plan_id", "item_price_id", "plan"),
    "quantity": ("plan_quantity", "quantity"),
    "unit_price": ("plan_unit_price", "unit_price"),
    "amount": ("plan_amount", "amount"),
    "billing_period": ("billing_period", "plan_billing_period"),
    "billing_period_unit": ("billing_period_unit", "plan_billing_period_unit", "period_unit"),
    "currency": ("currency_code", "currency"),
    "status": ("status",),
    "started_at": ("started_at", "start_date"),
    "activated_at": ("activated_at",),
    "trial_start": ("trial_start",),
    "trial_end": ("trial_end",),
    "cancelled_at": ("cancelled_at", "canceled_at"),
    "current_term_end": ("current_term_end",),
}
CHARGEBEE_REQUIRED = ("id", "customer", "plan", "billing_period_unit", "currency", "status", "started_at")


def _norm_header(h: str) -> str:
    h = re.sub(r"\((utc|gmt)\)", "", h, flags=re.I)
    h = h.strip()
    m = re.fullmatch(r"(?i)(subscriptions?|customers?)\[(\w+)\]", h)
    if m:  # Chargebee bulk-operation style: subscription[id], customer[id]
        prefix = "customer_" if m.group(1).lower().startswith("customer") else ""
        return prefix + m.group(2).lower()
    h = re.sub(r"(?i)^subscriptions?\.", "", h)
    if re.match(r"(?i)^customers?\.", h):
        h = "customer_" + h.split(".", 1)[1]
    return snake(h)


def _locate(raw: RawTable, wanted: dict[str, tuple[str, ...]], required: tuple[str, ...], system: str, path: str) -> dict[str, str]:
    by_norm: dict[str, str] = {}
    for frame_name, header in zip(raw.frame.columns, raw.headers):
        by_norm.setdefault(_norm_header(header), frame_name)
    found: dict[str, str] = {}
    for key, aliases in wanted.items():
        for a in aliases:
            if a in by_norm:
                found[key] = by_norm[a]
                break
    missing = [k for k in required if k not in found]
    if missing:
        names = ", ".join(wanted[k][0] for k in missing)
        raise DataError(
            f"{path}: not a {system} subscriptions export: column(s) {names} not found",
            hint=f"export subscriptions from {system} as CSV (see docs/import-guide.md), or import with --as csv and a mapping file",
            details={"missing": [wanted[k][0] for k in missing], "columns": raw.headers},
        )
    return found


def _ts(v: str | None) -> str | None:
    """Text timestamps kept as they are; Unix epoch seconds turned into ISO (UTC)."""
    if v is None:
        return None
    v = v.strip()
    if not v:
        return None
    if re.fullmatch(r"\d{9,10}", v):
        return datetime.fromtimestamp(int(v), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return v


def _day(v: str | None) -> str | None:
    """The ISO day of a timestamp, for comparisons; None when not ISO."""
    if v and re.match(r"^\d{4}-\d{2}-\d{2}", v):
        return v[:10]
    return None


def _dec(v: str | None) -> Decimal | None:
    if v is None or not v.strip():
        return None
    try:
        d = Decimal(v.strip().replace(" ", "").replace("\u00a0", ""))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _months(unit: str | None, count: str | None, col_unit: str, col_count: str) -> tuple[str | None, Problem | None]:
    u = (unit or "").strip().lower().rstrip("s")
    c = (count or "").strip() or "1"
    try:
        n = int(Decimal(c))
    except (InvalidOperation, ValueError):
        return c, None  # validation reports bad_integer on billing_period_months
    if u == "month":
        return str(n), None
    if u == "year":
        return str(12 * n), None
    if u in ("week", "day"):
        return None, (
            "unsupported_interval",
            col_unit,
            unit,
            f"a plan billed every {c} {u}(s) has no whole number of months: convert it with a mapping file "
            "(billing_period_months and amount per month) or leave it out",
        )
    return None, ("unsupported_interval", col_unit, unit, "the billing interval must be month or year: fix the value")


def _true(v: str | None) -> bool:
    return (v or "").strip().lower() in ("true", "yes", "1", "t", "y")


def _translate(raw: RawTable, cols: dict[str, str], row_fn: Callable[[dict[str, str | None], dict[str, str]], tuple[dict[str, str | None], Problem | None]]):
    n = raw.num_rows
    out: dict[str, list[str | None]] = {c: [] for c in CANONICAL}
    problems: dict[int, Problem] = {}
    data = {k: raw.frame[v].to_list() for k, v in cols.items()}
    for i in range(n):
        row = {k: data[k][i] for k in data}
        values, problem = row_fn(row, cols)
        for c in CANONICAL:
            out[c].append(values.get(c))
        if problem:
            problems[i] = problem
    frame = pl.DataFrame({c: pl.Series(c, out[c], dtype=pl.String) for c in CANONICAL})
    return frame, problems



def _subscription_row(r: dict[str, str | None], start, end, amount, months, is_trial: bool) -> dict[str, str | None]:
    """The canonical subscriptions row a provider export line translates to."""
    return {
        "subscription_id": r.get("id"),
        "account_id": r.get("customer"),
        "plan": r.get("plan"),
        "start_date": start,
        "end_date": end,
        "amount": amount,
        "billing_period_months": months,
        "currency": (r.get("currency") or "").strip().upper() or None,
        "is_trial": "true" if is_trial else "false",
        "quantity": r.get("quantity"),
    }

def stripe(raw: RawTable, path: str):
    """Stripe Dashboard subscriptions export (Billing > Subscriptions > Export)."""
    cols = _locate(raw, STRIPE_COLUMNS, STRIPE_REQUIRED, "Stripe", path)

    def row(r: dict[str, str | None], cols: dict[str, str]):
        status = (r.get("status") or "").strip().lower()
        unit_price, qty = _dec(r.get("amount")), _dec(r.get("quantity"))
        amount: str | None = r.get("amount")
        if unit_price is not None and (qty is not None or not (r.get("quantity") or "").strip()):
            amount = str(unit_price * (qty if qty is not None else 1))
        months, problem = _months(r.get("interval"), r.get("interval_count"), cols["interval"], cols.get("interval_count", "Interval Count"))
        start, trial_start, trial_end = _ts(r.get("start")), _ts(r.get("trial_start")), _ts(r.get("trial_end"))
        ended = _ts(r.get("ended_at")) or (_ts(r.get("canceled_at")) if status == "canceled" else None)
        scheduled = _ts(r.get("cancel_at")) or (_ts(r.get("current_period_end")) if _true(r.get("cancel_at_period_end")) else None)
        is_trial = False
        end = ended or scheduled
        if status == "trialing":
            is_trial, start, end = True, trial_start or start, trial_end
        elif status in ("active", "past_due", "unpaid", "paused", "canceled"):
            te, st, en = _day(trial_end), _day(start), _day(ended)
            if te and en and en <= te:  # ended during its trial: a trial that did not convert
                is_trial, start = True, trial_start or start
            elif te and st and te > st:  # paid from the end of the trial on
                start = trial_end
            if status == "canceled" and not end:
                problem = problem or ("missing_value", cols.get("ended_at", "Ended At (UTC)"), None,
                                      "a canceled subscription needs its Ended At date: export it with that column")
        elif status in ("incomplete", "incomplete_expired"):
            problem = ("inactive_status", cols["status"], r.get("status"),
                       f"status {status}: the first payment never succeeded, so this is not a subscription line; nothing to do")
        else:
            problem = ("unsupported_status", cols["status"], r.get("status"),
                       "unknown Stripe status (expected trialing, active, past_due, unpaid, paused, canceled): fix the value")
        return _subscription_row(r, start, end, amount, months, is_trial), problem

    return _translate(raw, cols, row)


def chargebee(raw: RawTable, path: str):
    """Chargebee subscriptions export (Settings > Import & Export Data > Export Data > Subscriptions)."""
    cols = _locate(raw, CHARGEBEE_COLUMNS, CHARGEBEE_REQUIRED, "Chargebee", path)

    def row(r: dict[str, str | None], cols: dict[str, str]):
        status = (r.get("status") or "").strip().lower()
        qty = _dec(r.get("quantity"))
        amount = r.get("amount")
        if not (amount or "").strip():
            unit = _dec(r.get("unit_price"))
            amount = str(unit * (qty if qty is not None else 1)) if unit is not None else r.get("unit_price")
        months, problem = _months(r.get("billing_period_unit"), r.get("billing_period"),
                                  cols["billing_period_unit"], cols.get("billing_period", "billing_period"))
        started, activated = _ts(r.get("started_at")), _ts(r.get("activated_at"))
        trial_start, trial_end, cancelled = _ts(r.get("trial_start")), _ts(r.get("trial_end")), _ts(r.get("cancelled_at"))
        start, end, is_trial = activated or started, cancelled, False
        if status == "in_trial":
            is_trial, start, end = True, trial_start or started, trial_end
        elif status in ("active", "non_renewing", "paused", "cancelled", "future"):
            te, en = _day(trial_end), _day(cancelled)
            if te and en and en <= te:
                is_trial, start = True, trial_start or started
            elif not activated and te and _day(started) and te > _day(started):  # type: ignore[operator]
                start = trial_end
            if status == "non_renewing" and not end:
                end = _ts(r.get("current_term_end"))
            if status == "cancelled" and not end:
                problem = problem or ("missing_value", cols.get("cancelled_at", "cancelled_at"), None,
                                      "a cancelled subscription needs its cancelled_at date: export it with that column")
        else:
            problem = ("unsupported_status", cols["status"], r.get("status"),
                       "status must be future, in_trial, active, non_renewing, paused or cancelled (transferred lines are not imported)")
        return _subscription_row(r, start, end, amount, months, is_trial), problem

    return _translate(raw, cols, row)
