"""Billing-system exports mapped to canonical ``subscriptions`` columns: Stripe and Chargebee.

Two kinds of export per system: the **subscriptions** export (one row per subscription, its
status, price and dates) and the **invoice line items** export (one row per invoiced line:
its period, amount after discounts, proration flag, type), which is what finance teams keep.

Each translator reads the export's own column names (matched loosely: case, spaces,
``(UTC)`` suffixes and ``subscriptions.`` prefixes do not matter), and returns a
``Translation``: a frame of canonical columns as text, the export row each output line comes
from, per-line problems (unsupported status, weekly plans ...) that validation turns into
quarantined rows, the export columns it read (the others are reported as ignored) and notes.

One export row gives one subscription line, except a subscriptions row with a coupon of
limited duration, which also gives a ``discount`` line (metrics.md §2): the report counts
those lines apart (``lines_added``).  See docs/import-guide.md.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import polars as pl

from retentio.errors import DataError
from retentio.ingest.mapping import snake
from retentio.ingest.readers import RawTable

CANONICAL = ("subscription_id", "account_id", "plan", "start_date", "end_date", "amount",
             "billing_period_months", "currency", "is_trial", "quantity", "kind", "canceled_at")

# A problem found while translating a row: (reason, source column, value, detail).
Problem = tuple[str, str, str | None, str]

# Where a canonical column comes from, for the quarantine (the user's column and value).
Sources = dict[str, str]


@dataclass
class Translation:
    frame: pl.DataFrame  # canonical columns as text, one row per subscription line
    problems: dict[int, Problem]  # line index -> its problem
    source: list[int]  # line index -> index of the export row it comes from
    used: set[str]  # frame columns of the export that were read
    sources: Sources  # canonical column -> export frame column it is read from
    notes: list[str] = field(default_factory=list)

    @property
    def lines_added(self) -> int:
        return len(self.source) - len(set(self.source))


@dataclass(frozen=True)
class Options:
    """Choices of the workspace and mapping file that change a translation."""

    unpaid: str = "until_canceled"  # past_due / unpaid lines: "until_canceled" (MRR) or "exclude"
    coupons: dict[str, dict[str, Any]] = field(default_factory=dict)  # coupon id -> terms (mapping file)


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
    "current_period_start": ("current_period_start",),
    "cancel_at_period_end": ("cancel_at_period_end",),
    "cancel_at": ("cancel_at",),
    "current_period_end": ("current_period_end",),
    "canceled_at": ("canceled_at",),
    "ended_at": ("ended_at",),
    "trial_start": ("trial_start",),
    "trial_end": ("trial_end",),
    "paused_at": ("paused_at", "pause_start", "pause_collection_start"),
    "coupon": ("coupon", "coupon_id", "discount_coupon", "discount_coupon_id", "discount"),
    "percent_off": ("coupon_percent_off", "discount_coupon_percent_off", "percent_off"),
    "amount_off": ("coupon_amount_off", "discount_coupon_amount_off", "amount_off"),
    "duration": ("coupon_duration", "discount_coupon_duration", "duration"),
    "duration_in_months": ("coupon_duration_in_months", "discount_coupon_duration_in_months", "duration_in_months"),
    "discount_start": ("discount_start",),
    "discount_end": ("discount_end",),
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
    "cancel_schedule_created_at": ("cancel_schedule_created_at",),
    "current_term_start": ("current_term_start",),
    "current_term_end": ("current_term_end",),
    "pause_date": ("pause_date", "paused_at"),
    "due_since": ("due_since",),
    "coupon": ("coupon", "coupon_id", "coupon_ids", "coupons_coupon_id"),
    "percent_off": ("discount_percentage", "coupon_discount_percentage", "percent_off"),
    "amount_off": ("discount_amount", "coupon_discount_amount", "amount_off"),
    "duration": ("duration_type", "coupon_duration_type", "duration"),
    "duration_in_months": ("duration_month", "coupon_duration_month", "duration_in_months", "apply_for_months"),
    "discount_start": ("coupon_applied_at", "discount_start"),
    "discount_end": ("coupon_apply_till", "apply_till", "discount_end"),
}
CHARGEBEE_REQUIRED = ("id", "customer", "plan", "billing_period_unit", "currency", "status", "started_at")

STRIPE_LINE_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("line_item_id", "invoice_line_item_id", "id"),
    "invoice": ("invoice_id", "invoice", "invoice_number"),
    "customer": ("customer_id", "customer"),
    "subscription": ("subscription_id", "subscription"),
    "subscription_item": ("subscription_item_id", "subscription_item"),
    "plan": ("price_id", "plan_id", "price", "plan", "product_id", "product", "product_name"),
    "description": ("description", "invoice_line_item_memo", "line_item_description"),
    "amount": ("amount", "invoice_line_item_amount", "line_item_amount"),
    "discount": ("discount_amount", "discount_amounts", "discount", "total_discount_amount"),
    "currency": ("currency",),
    "quantity": ("quantity",),
    "period_start": ("period_start", "line_item_period_start"),
    "period_end": ("period_end", "line_item_period_end"),
    "proration": ("proration", "is_proration"),
    "type": ("type", "line_item_type"),
    "price_type": ("price_type",),
    "usage_type": ("price_recurring_usage_type", "plan_usage_type", "usage_type"),
    "interval": ("price_recurring_interval", "price_interval", "plan_interval", "interval"),
    "interval_count": ("price_recurring_interval_count", "price_interval_count", "plan_interval_count", "interval_count"),
}
STRIPE_LINE_REQUIRED = ("id", "customer", "amount", "currency", "period_start", "period_end")

CHARGEBEE_LINE_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("line_item_id", "line_items_id", "id"),
    "invoice": ("invoice_id", "invoice_number", "invoices_id"),
    "customer": ("customer_id", "line_items_customer_id"),
    "subscription": ("subscription_id", "line_items_subscription_id"),
    "entity_type": ("entity_type", "line_items_entity_type"),
    "plan": ("entity_id", "item_price_id", "line_items_entity_id"),
    "description": ("description", "entity_description", "line_items_description"),
    "amount": ("amount", "amount_in_decimal", "line_items_amount"),
    "discount": ("discount_amount", "line_items_discount_amount"),
    "currency": ("currency_code", "currency", "invoice_currency_code"),
    "quantity": ("quantity", "quantity_in_decimal", "line_items_quantity"),
    "period_start": ("date_from", "line_items_date_from"),
    "period_end": ("date_to", "line_items_date_to"),
    "billing_period": ("billing_period", "plan_billing_period"),
    "billing_period_unit": ("billing_period_unit", "plan_billing_period_unit", "period_unit"),
}
CHARGEBEE_LINE_REQUIRED = ("id", "customer", "amount", "currency", "period_start", "period_end", "entity_type")


def _norm_header(h: str) -> str:
    h = re.sub(r"\((utc|gmt)\)", "", h, flags=re.I)
    h = h.strip()
    m = re.fullmatch(r"(?i)(subscriptions?|customers?|line_items?|invoices?)\[(\w+)\](?:\[\d+\])?", h)
    if m:  # Chargebee bulk-operation style: subscription[id], customer[id], line_items[date_from]
        group = m.group(1).lower()
        prefix = "customer_" if group.startswith("customer") else "invoice_" if group.startswith("invoice") else ""
        return prefix + m.group(2).lower()
    h = re.sub(r"(?i)^(subscriptions?|line_items?)\.", "", h)
    if re.match(r"(?i)^customers?\.", h):
        h = "customer_" + h.split(".", 1)[1]
    return snake(h)


def _locate(raw: RawTable, wanted: dict[str, tuple[str, ...]], required: tuple[str, ...], system: str, path: str,
            what: str = "subscriptions") -> dict[str, str]:
    by_norm: dict[str, str] = {}
    for frame_name, header in zip(raw.frame.columns, raw.headers):
        by_norm.setdefault(_norm_header(header), frame_name)
    found: dict[str, str] = {}
    taken: set[str] = set()
    for key, aliases in wanted.items():
        for a in aliases:
            if a in by_norm and by_norm[a] not in taken:
                found[key] = by_norm[a]
                taken.add(by_norm[a])
                break
    missing = [k for k in required if k not in found]
    if missing:
        names = ", ".join(wanted[k][0] for k in missing)
        raise DataError(
            f"{path}: not a {system} {what} export: column(s) {names} not found",
            hint=f"export {what} from {system} as CSV (see docs/import-guide.md), or import with kind=csv and a mapping file",
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


def _date(v: str | None) -> date | None:
    d = _day(v)
    if d is None:
        return None
    try:
        return date.fromisoformat(d)
    except ValueError:
        return None


def add_months(d: date, n: int) -> date:
    """The same day ``n`` months later (the month's last day when it has fewer days)."""
    k = d.year * 12 + d.month - 1 + n
    y, m = divmod(k, 12)
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def _dec(v: str | None) -> Decimal | None:
    if v is None or not v.strip():
        return None
    try:
        d = Decimal(v.strip().replace(" ", "").replace("\u00a0", ""))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _text(d: Decimal) -> str:
    """A decimal as plain text (no exponent), trailing zeros of the cents kept: 40.00."""
    return format(d, "f")


def _cents(d: Decimal) -> Decimal:
    return d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


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


Row = dict[str, str | None]
Line = tuple[Row, Problem | None]


def _translate(raw: RawTable, cols: dict[str, str], row_fn: Callable[[dict[str, str | None]], list[Line]],
               sources: Sources, notes: list[str] | None = None) -> Translation:
    n = raw.num_rows
    out: dict[str, list[str | None]] = {c: [] for c in CANONICAL}
    problems: dict[int, Problem] = {}
    source: list[int] = []
    data = {k: raw.frame[v].to_list() for k, v in cols.items()}
    for i in range(n):
        row = {k: data[k][i] for k in data}
        for values, problem in row_fn(row):
            if problem:
                problems[len(source)] = problem
            source.append(i)
            for c in CANONICAL:
                out[c].append(values.get(c))
    frame = pl.DataFrame({c: pl.Series(c, out[c], dtype=pl.String) for c in CANONICAL})
    return Translation(frame, problems, source, set(cols.values()), sources, list(notes or []))


def _subscription_row(r: dict[str, str | None], start, end, amount, months, is_trial: bool, *,
                      kind: str = "recurring", canceled_at: str | None = None) -> Row:
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
        "kind": kind,
        "canceled_at": canceled_at,
    }


# -- coupons ----------------------------------------------------------------------------------

_DURATIONS = {"forever": "forever", "once": "once", "one_time": "once", "repeating": "repeating",
              "limited_period": "repeating", "": "forever"}


def _coupon_terms(r: Row, opts: Options, cols: dict[str, str]) -> tuple[dict[str, Any] | None, Problem | None]:
    """The coupon of a row: its terms from the export's columns, else from the mapping file's
    ``coupons:``; None when the row has no coupon."""
    cid = (r.get("coupon") or "").strip()
    pct, off = _dec(r.get("percent_off")), _dec(r.get("amount_off"))
    if not cid and pct is None and off is None:
        return None, None
    if cid and "," in cid:  # several coupons on one line: their terms cannot be combined safely
        return None, ("unknown_coupon", cols.get("coupon", "coupon"), cid,
                      "several coupons on one line: import this line with its amount after discounts (--as csv)")
    if pct is None and off is None:
        terms = opts.coupons.get(cid)
        if terms is None:
            return None, ("unknown_coupon", cols.get("coupon", "coupon"), cid,
                          f"coupon {cid!r}: the export does not give its terms; describe it in a mapping file "
                          f"(coupons: {{{cid}: {{percent_off: 20, duration: forever}}}}) and import again")
        return dict(terms, id=cid), None
    duration = _DURATIONS.get((r.get("duration") or "").strip().lower())
    if duration is None:
        return None, ("unknown_coupon", cols.get("duration", "duration"), r.get("duration"),
                      "coupon duration must be forever, once or repeating (limited_period): fix the value")
    months = _dec(r.get("duration_in_months"))
    return {"id": cid or "discount", "percent_off": pct, "amount_off": off, "duration": duration,
            "duration_in_months": int(months) if months is not None else None}, None


def _line_with_coupon(line: dict, problem, r: dict, opts, cols: dict) -> list:
    """A translated billing line: quarantined with its status problem, or with its coupon
    terms' problem, else the line with its coupon applied (Stripe and Chargebee alike)."""
    if problem:
        return [(line, problem)]
    terms, cproblem = _coupon_terms(r, opts, cols)
    if cproblem:
        return [(line, cproblem)]
    return _with_coupon(line, r, terms, cols)


def _with_coupon(line: Row, r: Row, terms: dict[str, Any] | None, cols: dict[str, str]) -> list[Line]:
    """A paid line and its coupon (metrics.md §2): a discount covering the whole line lowers the
    line's amount; one covering part of it (limited duration, or starting later) is a
    ``discount`` line of its own, from the discount's start to its end."""
    if terms is None or line["is_trial"] == "true":
        return [(line, None)]
    amount = _dec(line["amount"])
    if amount is None:
        return [(line, None)]
    pct, off = terms.get("percent_off"), terms.get("amount_off")
    if pct is not None:
        discount = _cents(amount * Decimal(str(pct)) / 100)
    else:
        discount = min(Decimal(str(off)), amount)  # amount off each invoice, never below 0
    duration = terms.get("duration") or "forever"
    if duration == "once" or discount == 0:
        return [(line, None)]  # one invoice: no effect on MRR
    start, end = _date(line["start_date"]), _date(line["end_date"])
    d_start = _date(_ts(r.get("discount_start"))) or start
    d_end = _date(_ts(r.get("discount_end")))
    if d_end is None and duration == "repeating":
        n = terms.get("duration_in_months")
        if not n:
            return [(line, ("unknown_coupon", cols.get("duration_in_months", "duration_in_months"), None,
                            f"coupon {terms['id']!r} repeats but its number of months is not given: add duration_in_months"))]
        d_end = add_months(d_start, int(n)) if d_start else None
    if end is not None and d_end is not None and d_end > end:
        d_end = end
    whole = (d_start is None or start is None or d_start <= start) and (d_end is None or (end is not None and d_end >= end))
    if whole:
        return [(dict(line, amount=_text(amount - discount)), None)]
    if d_end is not None and d_start is not None and d_end <= d_start:
        return [(line, None)]  # the discount was over before the line began
    disc = dict(line, subscription_id=f"{line['subscription_id']}:{terms['id']}", plan=terms["id"],
                start_date=d_start.isoformat() if d_start else line["start_date"],
                end_date=d_end.isoformat() if d_end else line["end_date"],
                amount=_text(-discount), kind="discount", quantity=None, canceled_at=None)
    return [(line, None), (disc, None)]


def _subscription_sources(cols: dict[str, str], pairs: dict[str, str]) -> Sources:
    return {canon: cols[key] for canon, key in pairs.items() if key in cols}


# -- Stripe subscriptions ---------------------------------------------------------------------


def stripe(raw: RawTable, path: str, opts: Options = Options()) -> Translation:
    """Stripe Dashboard subscriptions export (Billing > Subscriptions > Export)."""
    cols = _locate(raw, STRIPE_COLUMNS, STRIPE_REQUIRED, "Stripe", path)

    def row(r: dict[str, str | None]) -> list[Line]:
        status = (r.get("status") or "").strip().lower()
        unit_price, qty = _dec(r.get("amount")), _dec(r.get("quantity"))
        amount: str | None = r.get("amount")
        if unit_price is not None and (qty is not None or not (r.get("quantity") or "").strip()):
            amount = _text(unit_price * (qty if qty is not None else 1))
        months, problem = _months(r.get("interval"), r.get("interval_count"), cols["interval"], cols.get("interval_count", "Interval Count"))
        start, trial_start, trial_end = _ts(r.get("start")), _ts(r.get("trial_start")), _ts(r.get("trial_end"))
        canceled = _ts(r.get("canceled_at"))
        ended = _ts(r.get("ended_at")) or (canceled if status == "canceled" else None)
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
            if status == "paused" and not ended:
                # Out of MRR from the pause on: Stripe pauses a subscription whose trial ended
                # without a payment method (then it never paid: a trial), or on request.
                paused = _ts(r.get("paused_at"))
                if paused:
                    end = paused
                elif trial_end:
                    is_trial, start, end = True, trial_start or _ts(r.get("start")), trial_end
                elif _ts(r.get("current_period_start")):
                    end = _ts(r.get("current_period_start"))
                else:
                    problem = problem or ("missing_value", cols.get("status", "Status"), r.get("status"),
                                          "a paused subscription needs the day it was paused: export Current Period Start "
                                          "(or a Paused At column)")
            if status in ("past_due", "unpaid") and opts.unpaid == "exclude" and not ended:
                # setting unpaid_mrr = "exclude": out of MRR from the unpaid period's start
                if _ts(r.get("current_period_start")):
                    end = _ts(r.get("current_period_start"))
                else:
                    problem = problem or ("missing_value", cols.get("status", "Status"), r.get("status"),
                                          f"a {status} subscription leaves MRR at its Current Period Start "
                                          "(unpaid_mrr = \"exclude\"): export that column")
        elif status in ("incomplete", "incomplete_expired"):
            problem = ("inactive_status", cols["status"], r.get("status"),
                       f"status {status}: the first payment never succeeded, so this is not a subscription line; nothing to do")
        else:
            problem = ("unsupported_status", cols["status"], r.get("status"),
                       "unknown Stripe status (expected trialing, active, past_due, unpaid, paused, canceled): fix the value")
        line = _subscription_row(r, start, end, amount, months, is_trial, canceled_at=canceled)
        return _line_with_coupon(line, problem, r, opts, cols)

    sources = _subscription_sources(cols, {
        "subscription_id": "id", "account_id": "customer", "plan": "plan", "start_date": "start",
        "end_date": "ended_at", "amount": "amount", "billing_period_months": "interval", "currency": "currency",
        "quantity": "quantity", "canceled_at": "canceled_at"})
    return _translate(raw, cols, row, sources)


# -- Chargebee subscriptions ------------------------------------------------------------------


def chargebee(raw: RawTable, path: str, opts: Options = Options()) -> Translation:
    """Chargebee subscriptions export (Settings > Import & Export Data > Export Data > Subscriptions)."""
    cols = _locate(raw, CHARGEBEE_COLUMNS, CHARGEBEE_REQUIRED, "Chargebee", path)

    def row(r: dict[str, str | None]) -> list[Line]:
        status = (r.get("status") or "").strip().lower()
        qty = _dec(r.get("quantity"))
        amount = r.get("amount")
        if not (amount or "").strip():
            unit = _dec(r.get("unit_price"))
            amount = _text(unit * (qty if qty is not None else 1)) if unit is not None else r.get("unit_price")
        months, problem = _months(r.get("billing_period_unit"), r.get("billing_period"),
                                  cols["billing_period_unit"], cols.get("billing_period", "billing_period"))
        started, activated = _ts(r.get("started_at")), _ts(r.get("activated_at"))
        trial_start, trial_end, cancelled = _ts(r.get("trial_start")), _ts(r.get("trial_end")), _ts(r.get("cancelled_at"))
        start, end, is_trial = activated or started, cancelled, False
        canceled_at = _ts(r.get("cancel_schedule_created_at")) or (cancelled if status == "cancelled" else None)
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
            if status == "paused" and not cancelled:
                end = _ts(r.get("pause_date")) or _ts(r.get("current_term_start"))
                if not end:
                    problem = problem or ("missing_value", cols.get("status", "status"), r.get("status"),
                                          "a paused subscription needs its pause_date (or current_term_start): export that column")
            if opts.unpaid == "exclude" and _ts(r.get("due_since")) and not cancelled:
                end = _ts(r.get("due_since"))  # unpaid_mrr = "exclude": out of MRR since the unpaid invoice
        else:
            problem = ("unsupported_status", cols["status"], r.get("status"),
                       "status must be future, in_trial, active, non_renewing, paused or cancelled (transferred lines are not imported)")
        line = _subscription_row(r, start, end, amount, months, is_trial, canceled_at=canceled_at)
        return _line_with_coupon(line, problem, r, opts, cols)

    sources = _subscription_sources(cols, {
        "subscription_id": "id", "account_id": "customer", "plan": "plan", "start_date": "started_at",
        "end_date": "cancelled_at", "amount": "amount", "billing_period_months": "billing_period_unit",
        "currency": "currency", "quantity": "quantity", "canceled_at": "cancelled_at"})
    return _translate(raw, cols, row, sources)


# -- invoice line items -----------------------------------------------------------------------

_MONTH_DAYS = Decimal("30.436875")  # mean days in a month (365.2425 / 12)


def _period_months(start: date, end: date) -> int:
    """Whole months a billing period covers (Jan 10 -> Feb 10 = 1; Jan 1 -> Jan 1 next year = 12)."""
    k = (end.year - start.year) * 12 + end.month - start.month
    if add_months(start, k) > end:
        k -= 1
    if add_months(start, k) == end:
        return k
    return max(1, int((Decimal((end - start).days) / _MONTH_DAYS).to_integral_value(ROUND_HALF_UP)))


def _invoice_line(r: Row, *, kind: str, proration: bool, full_months: int | None,
                  cols: dict[str, str], system: str) -> Line:
    """One invoiced line -> one subscription line covering the invoiced period.

    Regular lines: ``amount`` = the line's amount after discounts for its period,
    ``billing_period_months`` = the months the period covers.  Prorations cover part of a
    billing period: their amount is scaled to the whole period (an upgrade's +50.00 for the
    15 last days of a 30-day month is a line of 100.00 a month over those days; the credit
    for unused time of the old price is a negative, ``discount``, line over the same days).
    One-off lines (setup fees, ad hoc charges) are ``one_off`` lines dated on their day."""
    amount, discount = _dec(r.get("amount")), _dec(r.get("discount")) or Decimal(0)
    start, end = _date(_ts(r.get("period_start"))), _date(_ts(r.get("period_end")))
    sub_id = r.get("id")
    if r.get("invoice") and sub_id:
        sub_id = f"{r.get('invoice')}:{sub_id}"
    line: Row = {
        "subscription_id": sub_id,
        "account_id": r.get("customer"),
        "plan": r.get("plan") or r.get("description"),
        "start_date": _ts(r.get("period_start")),
        "end_date": _ts(r.get("period_end")),
        "amount": r.get("amount") if amount is None else _text(amount - discount),
        "billing_period_months": "1",
        "currency": (r.get("currency") or "").strip().upper() or None,
        "is_trial": "false",
        "quantity": r.get("quantity"),
        "kind": kind,
        "canceled_at": None,
    }
    if amount is None or start is None or end is None:
        return line, None  # validation names the unreadable value
    net = amount - discount
    if end <= start:
        end = start + timedelta(days=1)  # an instant (a one-off charge): the day it is dated
        line["end_date"] = end.isoformat()
    if kind == "one_off":
        line["start_date"], line["end_date"] = start.isoformat(), (start + timedelta(days=1)).isoformat()
        if net < 0:
            return line, ("negative_amount", cols.get("amount", "amount"), r.get("amount"),
                          "a negative one-off line (a refund or credit of a charge) is not a subscription line: leave it out")
        return line, None
    if proration:
        months = full_months or 1
        full = (end - add_months(end, -months)).days
        part = (end - start).days
        scaled = _cents(net * Decimal(full) / Decimal(part)) if part < full else net
        line["billing_period_months"] = str(months)
        line["amount"] = _text(scaled)
        if scaled < 0:
            line["kind"] = "discount"  # the credit for unused time of the old price, over the same days
        return line, None
    months = full_months or _period_months(start, end)
    line["billing_period_months"] = str(months)
    if net == 0 and "trial" in (r.get("description") or "").lower():
        line["is_trial"] = "true"
    if net < 0:
        line["kind"] = "discount"
    return line, None


def _interval_months(r: Row, cols: dict[str, str], unit_key: str, count_key: str) -> int | None:
    if not (r.get(unit_key) or "").strip():
        return None
    months, problem = _months(r.get(unit_key), r.get(count_key), cols.get(unit_key, unit_key), cols.get(count_key, count_key))
    if problem or months is None:
        return None
    try:
        return int(months)
    except ValueError:
        return None


def stripe_lines(raw: RawTable, path: str, opts: Options = Options()) -> Translation:
    """Stripe invoice line items export (Billing > Invoices > Export > line items; or the
    ``invoice_line_items`` table of Sigma / Data Pipeline)."""
    cols = _locate(raw, STRIPE_LINE_COLUMNS, STRIPE_LINE_REQUIRED, "Stripe", path, "invoice line items")

    def row(r: Row) -> list[Line]:
        typ = (r.get("type") or "").strip().lower()
        price_type = (r.get("price_type") or "").strip().lower()
        proration = _true(r.get("proration"))
        if proration:
            kind = "recurring"
        elif price_type == "one_time" or (typ == "invoiceitem" and not (r.get("subscription") or "").strip()):
            kind = "one_off"
        elif (r.get("usage_type") or "").strip().lower() == "metered":
            kind = "usage"
        elif typ in ("", "subscription", "invoiceitem"):
            kind = "recurring"
        else:
            return [(_invoice_line(r, kind="recurring", proration=False, full_months=None, cols=cols, system="Stripe")[0],
                     ("unsupported_status", cols.get("type", "type"), r.get("type"),
                      "line type must be subscription or invoiceitem: fix the value"))]
        return [_invoice_line(r, kind=kind, proration=proration, full_months=_interval_months(r, cols, "interval", "interval_count"),
                              cols=cols, system="Stripe")]

    sources = _subscription_sources(cols, {
        "subscription_id": "id", "account_id": "customer", "plan": "plan", "start_date": "period_start",
        "end_date": "period_end", "amount": "amount", "currency": "currency", "quantity": "quantity"})
    return _translate(raw, cols, row, sources)


_CB_ONE_OFF = ("plan_setup", "adhoc", "charge_item_price", "charge")
_CB_RECURRING = ("plan", "plan_item_price", "addon", "addon_item_price")


def chargebee_lines(raw: RawTable, path: str, opts: Options = Options()) -> Translation:
    """Chargebee invoice line items (Export Data > Invoices: the line items file; or the
    ``invoice_line_items`` table of Chargebee's data exports)."""
    cols = _locate(raw, CHARGEBEE_LINE_COLUMNS, CHARGEBEE_LINE_REQUIRED, "Chargebee", path, "invoice line items")

    def row(r: Row) -> list[Line]:
        et = (r.get("entity_type") or "").strip().lower()
        full = _interval_months(r, cols, "billing_period_unit", "billing_period")
        if et in _CB_ONE_OFF:
            return [_invoice_line(r, kind="one_off", proration=False, full_months=None, cols=cols, system="Chargebee")]
        if et not in _CB_RECURRING:
            return [(_invoice_line(r, kind="recurring", proration=False, full_months=None, cols=cols, system="Chargebee")[0],
                     ("unsupported_status", cols["entity_type"], r.get("entity_type"),
                      "entity_type must be plan, addon, plan_setup, adhoc or their *_item_price forms: fix the value"))]
        start, end = _date(_ts(r.get("period_start"))), _date(_ts(r.get("period_end")))
        # Chargebee has no proration flag: a line shorter than its billing period is one.
        proration = False
        if start and end and end > start:
            months = full or 1
            proration = (end - start).days < (end - add_months(end, -months)).days - 1 if full else (end - start).days < 28
        return [_invoice_line(r, kind="recurring", proration=proration, full_months=full, cols=cols, system="Chargebee")]

    sources = _subscription_sources(cols, {
        "subscription_id": "id", "account_id": "customer", "plan": "plan", "start_date": "period_start",
        "end_date": "period_end", "amount": "amount", "currency": "currency", "quantity": "quantity"})
    return _translate(raw, cols, row, sources)


TRANSLATORS: dict[str, Callable[[RawTable, str, Options], Translation]] = {
    "stripe": stripe,
    "chargebee": chargebee,
    "stripe-invoice-lines": stripe_lines,
    "chargebee-invoice-lines": chargebee_lines,
}
