"""Row validation against the canonical model: every row is accepted or quarantined, once.

Checks are vectorised (one boolean mask per check over a batch of rows).  They run in a
fixed order and a row with several problems is quarantined once, under its FIRST problem;
its detail says how many other problems the row has.  Order: the row's shape (reader,
billing-system translation, mapping), then each column in model order (missing value, then
type), then value rules, then cross-column rules, then references (FX rate, account), then
duplicates (counted among rows with no other problem, over the whole file).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from retentio.ingest.parse import Parsed, parse_bool, parse_date, parse_datetime, parse_float, parse_int, parse_string
from retentio.model import COST_CATEGORIES, ISO_4217, SURVEY_KINDS, Entity


# Every quarantine reason and what to do about it (docs/import-guide.md lists the same).
REASONS: dict[str, str] = {
    "bad_row": "the row has more or fewer fields than the header: check the delimiter and quotes on that line",
    "missing_value": "a required column is empty in this row: fill it in",
    "bad_number": "not a number: write it like 1234.56 (or 1 234,56 in a ; file)",
    "bad_integer": "not a whole number: write it like 12",
    "bad_boolean": "not a yes/no value: use true/false, yes/no, 1/0 or oui/non",
    "bad_date": "not a date: write it as YYYY-MM-DD (or DD/MM/YYYY with date_order = dmy)",
    "bad_datetime": "not a date and time: write it as YYYY-MM-DDTHH:MM:SS",
    "ambiguous_date": "a day/month date while the workspace's date_order is iso: set date_order to dmy or mdy",
    "bad_currency": "not an ISO 4217 currency code (EUR, USD, GBP ...)",
    "missing_fx_rate": "no exchange rate for this currency on or before the date: import fx-rates first",
    "bad_billing_period": "billing_period_months must be a whole number >= 1 (1 monthly, 12 annual)",
    "negative_amount": "amounts cannot be negative here: refunds and credits are not subscription lines",
    "negative_value": "this value cannot be negative",
    "bad_rate": "an FX rate must be > 0 (and exactly 1 for the base currency)",
    "end_before_start": "end_date must be after start_date (end_date is the first day without service)",
    "resolved_before_created": "resolved_at is before created_at: fix one of them",
    "score_out_of_range": "NPS scores are 0-10; CSAT 1-5 (or 0-10 with scale = 10)",
    "bad_scale": "scale must be 5 or 10 for CSAT, and 10 (or empty) for NPS",
    "bad_survey_kind": "kind must be nps or csat",
    "bad_category": "cost category must be cs_team, support_team, sales_marketing, cost_of_revenue or other",
    "bad_period": "period must be a month written YYYY-MM",
    "unknown_account": "the account_id is not in the workspace's accounts: import accounts first",
    "duplicate_id": "the same key appears on several rows with different values: keep one",
    "duplicate_row": "an exact copy of an earlier row of the file: the first copy was imported",
    "unmapped_value": "the value is not covered by the mapping file: add it",
    "bad_derived": "a derived column cannot be computed for this row (division by zero?)",
    "unsupported_interval": "weekly or daily billing has no whole number of months: convert it with a mapping file",
    "inactive_status": "an export line that is not a subscription (never paid): nothing to import",
    "unsupported_status": "a status the importer does not know: fix the value",
    "unknown_coupon": "a billing line names a coupon whose terms are not known: describe it under coupons: in a mapping file",
    "bad_kind": "kind must be recurring, usage, one_off or discount (empty = recurring)",
}

# Line kinds (metrics.md §2) and the spellings read as each.
LINE_KINDS = {"recurring": "recurring", "usage": "usage", "one_off": "one_off", "one-off": "one_off", "oneoff": "one_off",
              "one off": "one_off", "discount": "discount"}


@dataclass
class Check:
    reason: str
    column: str | None
    mask: np.ndarray  # bool, True = problem
    values: pl.Series | list[Any] | None  # the offending value, per row
    detail: str  # sentence: what is wrong and what to do


@dataclass
class Context:
    base_currency: str
    date_order: str
    decimal: str
    date_formats: dict[str, str]
    account_ids: pl.Series | None  # the workspace's account ids; None = entity does not reference accounts
    fx_first_dates: dict[str, date]  # currency -> earliest rate date in the workspace
    file: str


def _np(s: pl.Series) -> np.ndarray:
    return s.fill_null(False).to_numpy().astype(bool, copy=False)


def parse_column(dtype: str, s: pl.Series, ctx: Context, name: str) -> Parsed:
    if dtype == "string":
        return parse_string(s)
    if dtype == "float":
        return parse_float(s, ctx.decimal)
    if dtype == "int":
        return parse_int(s, ctx.decimal)
    if dtype == "bool":
        return parse_bool(s)
    if dtype == "date":
        return parse_date(s, ctx.date_order, ctx.date_formats.get(name))
    return parse_datetime(s, ctx.date_order, ctx.date_formats.get(name))


_TYPE_REASON = {"float": "bad_number", "int": "bad_integer", "bool": "bad_boolean", "date": "bad_date", "datetime": "bad_datetime"}


def validate(entity: Entity, frame: pl.DataFrame, pre: list[Check], ctx: Context) -> tuple[pl.DataFrame, list[Check]]:
    """Parse and check ``frame`` (canonical column names; absent optional columns allowed).

    Returns the typed frame (canonical columns, model order) and the ordered checks.
    """
    n = frame.height
    checks: list[Check] = list(pre)
    typed: dict[str, pl.Series] = {}
    for col in entity.columns:
        if col.name not in frame.columns:
            typed[col.name] = pl.Series(col.name, [None] * n, dtype=_polars_type(col.dtype))
            continue
        src = frame[col.name]
        p = parse_column(col.dtype, src, ctx, col.name)
        empty = p.values.is_null() & ~p.bad
        if p.ambiguous is not None:
            empty = empty & ~p.ambiguous
        if col.required:
            checks.append(Check("missing_value", col.name, _np(empty), None,
                                f"required column {col.name} is empty: fill it in"))
        if p.ambiguous is not None and p.ambiguous.any():
            checks.append(Check("ambiguous_date", col.name, _np(p.ambiguous), src,
                                f"{col.name} is a day/month date but the workspace reads dates as ISO (date_order = \"iso\"): "
                                "set date_order = \"dmy\" (or \"mdy\") under [workspace] in retentio.toml, or write YYYY-MM-DD"))
        if col.dtype in _TYPE_REASON:
            checks.append(Check(_TYPE_REASON[col.dtype], col.name, _np(p.bad), src,
                                f"{col.name} cannot be read as a {_TYPE_WORD[col.dtype]}: " + REASONS[_TYPE_REASON[col.dtype]].split(": ", 1)[-1]))
        typed[col.name] = p.values.rename(col.name).cast(_polars_type(col.dtype))
    t = pl.DataFrame(typed)
    checks += _rules(entity, t, ctx)
    return t, checks


_TYPE_WORD = {"float": "number", "int": "whole number", "bool": "yes/no value", "date": "date", "datetime": "date and time"}


def _polars_type(dtype: str) -> pl.DataType:
    return {"string": pl.String(), "date": pl.Date(), "datetime": pl.Datetime("us"), "float": pl.Float64(),
            "int": pl.Int64(), "bool": pl.Boolean()}[dtype]


def _rules(entity: Entity, t: pl.DataFrame, ctx: Context) -> list[Check]:
    out: list[Check] = []

    def add(reason: str, column: str | None, mask: pl.Series, detail: str, values: pl.Series | None = None) -> None:
        m = _np(mask)
        if m.any():
            out.append(Check(reason, column, m, values if values is not None else (t[column] if column else None), detail))

    name = entity.name
    cols = t.columns
    if "currency" in cols:
        cur = t["currency"].str.to_uppercase()
        t.replace_column(t.get_column_index("currency"), cur)
        add("bad_currency", "currency", cur.is_not_null() & ~cur.is_in(sorted(ISO_4217)),
            "not an ISO 4217 currency code: use a code such as EUR, USD or GBP")
    if name == "subscriptions":
        add("bad_billing_period", "billing_period_months", t["billing_period_months"] < 1,
            "billing_period_months must be a whole number >= 1 (1 = monthly, 12 = annual): fix the value")
        raw_kind = t["kind"]
        kind = raw_kind.str.to_lowercase().replace_strict(LINE_KINDS, default=None, return_dtype=pl.String)
        add("bad_kind", "kind", raw_kind.is_not_null() & kind.is_null(),
            "kind must be recurring, usage, one_off or discount (empty = recurring): fix the value", raw_kind)
        t.replace_column(t.get_column_index("kind"), kind)  # empty stays empty: recurring
        # A discount line is a negative recurring amount (metrics.md §2): its amount is stored
        # negative whatever the sign it was written with (-20 and 20 are both a 20 discount).
        is_discount = (kind == "discount").fill_null(False)
        t.replace_column(t.get_column_index("amount"), pl.select(
            pl.when(pl.lit(is_discount)).then(-pl.lit(t["amount"]).abs()).otherwise(pl.lit(t["amount"]))
        ).to_series().rename("amount"))
        add("negative_amount", "amount", ~is_discount & (t["amount"] < 0),
            "a subscription amount cannot be negative (but on a discount line, kind = discount): remove refunds "
            "and credits from the file, or fix the sign")
        add("negative_value", "quantity", t["quantity"] < 0, "quantity cannot be negative: fix the value")
        add("end_before_start", "end_date", t["end_date"] <= t["start_date"],
            "end_date must be after start_date (end_date is the first day without service): fix one of them")
        _fx(out, t, "start_date", t["start_date"], ctx)
    elif name == "costs":
        period = t["period"].str.replace(r"^(\d{1,2})/(\d{4})$", "$2-$1").str.replace(r"^(\d{4})-(\d)$", "$1-0$2")
        t.replace_column(t.get_column_index("period"), period)
        add("bad_period", "period", period.is_not_null() & ~period.str.contains(r"^\d{4}-(0[1-9]|1[0-2])$"),
            "period must be a month written YYYY-MM (e.g. 2024-03): fix the value")
        cat = t["category"].str.to_lowercase().str.replace_all(r"[\s-]+", "_")
        t.replace_column(t.get_column_index("category"), cat)
        add("bad_category", "category", cat.is_not_null() & ~cat.is_in(list(COST_CATEGORIES)),
            "cost category must be one of " + ", ".join(COST_CATEGORIES) + ": fix the value or map it in a mapping file")
        add("negative_amount", "amount", t["amount"] < 0, "a cost cannot be negative: fix the sign")
        month_end = (period + "-01").str.strptime(pl.Date, "%Y-%m-%d", strict=False).dt.month_end()
        _fx(out, t, "period", month_end, ctx)
    elif name == "fx-rates":
        is_base = t["currency"] == ctx.base_currency
        add("bad_rate", "rate", (t["rate"] <= 0) | (is_base & (t["rate"] != 1)),
            f"a rate must be > 0 base-currency units per unit of the currency (and exactly 1 for {ctx.base_currency}): fix the value")
    elif name == "usage":
        add("negative_value", "duration_seconds", t["duration_seconds"] < 0, "duration_seconds cannot be negative: fix the value")
    elif name == "tickets":
        add("resolved_before_created", "resolved_at", t["resolved_at"] < t["created_at"],
            "resolved_at is before created_at: fix one of them")
    elif name == "surveys":
        kind = t["kind"].str.to_lowercase()
        t.replace_column(t.get_column_index("kind"), kind)
        add("bad_survey_kind", "kind", kind.is_not_null() & ~kind.is_in(list(SURVEY_KINDS)), "kind must be nps or csat: fix the value")
        scale, score = t["scale"], t["score"]
        is_nps, is_csat = kind == "nps", kind == "csat"
        add("bad_scale", "scale", (is_nps & scale.is_not_null() & (scale != 10)) | (is_csat & scale.is_not_null() & ~scale.is_in([5, 10])),
            "scale must be 5 or 10 for CSAT, and 10 (or empty) for NPS: fix the value")
        ten = is_nps | (is_csat & (scale == 10))
        five = is_csat & (scale.is_null() | (scale == 5))
        add("score_out_of_range", "score",
            (ten & ((score < 0) | (score > 10))) | (five & ((score < 1) | (score > 5))),
            "score out of range: NPS 0-10, CSAT 1-5 (or 0-10 when scale = 10): fix the score or the scale")
    if ctx.account_ids is not None and "account_id" in cols:
        acc = t["account_id"]
        add("unknown_account", "account_id", acc.is_not_null() & ~acc.is_in(ctx.account_ids.implode()),
            "this account_id is not in the workspace's accounts: import accounts first "
            "(retentio import accounts FILE), or fix the id, then import this file again")
    return out


def _fx(out: list[Check], t: pl.DataFrame, column: str, when: pl.Series, ctx: Context) -> None:
    """Amounts in a foreign currency need a rate dated on or before the month's last day."""
    cur = t["currency"]
    eom = when.dt.month_end() if when.dtype == pl.Date else when
    first = cur.replace_strict(ctx.fx_first_dates, default=None, return_dtype=pl.Date) if len(cur) else pl.Series([], dtype=pl.Date)
    foreign = cur.is_not_null() & (cur != ctx.base_currency) & cur.is_in(sorted(ISO_4217)) & eom.is_not_null()
    missing = foreign & (first.is_null() | (first > eom))
    m = _np(missing)
    if not m.any():
        return
    cur_l, eom_l = cur.to_list(), eom.to_list()
    details = [
        (f"no {cur_l[i]} rate dated on or before {eom_l[i]} in the workspace's fx-rates (amounts are converted to "
         f"{ctx.base_currency}; a missing rate is never taken as 1): import fx-rates first, then this file again")
        if m[i] else "" for i in range(len(m))
    ]
    out.append(Check("missing_fx_rate", "currency", m, cur, details))  # type: ignore[arg-type]


def key_hash(entity: Entity, t: pl.DataFrame) -> pl.Series:
    """A 64-bit hash of each row's key (the same key gives the same hash in every batch of
    the file): only rows whose hash repeats can be duplicates, and only those are compared
    whole (a hash collision only adds a candidate; ``duplicates`` compares real values)."""
    return t.select(pl.struct(list(entity.key)).hash()).to_series()


def duplicates(entity: Entity, rows: pl.DataFrame) -> list[Check]:
    """Key collisions among ``rows``: the rows of the file with no other problem whose key
    hash repeats, in file order, with their typed columns (and, for accounts, attributes).

    Exact copies of an earlier row: the first is kept, the copies are ``duplicate_row``.
    The same key with different values: every one of them is ``duplicate_id`` (which one is
    right cannot be told, so none is imported).
    """
    n = rows.height
    if n == 0:
        return []
    key = list(entity.key)
    all_cols = list(rows.columns)
    g = rows.select(
        pl.len().over(key).alias("_n"),
        pl.struct(all_cols).n_unique().over(key).alias("_variants"),
        pl.struct(all_cols).is_first_distinct().alias("_first_copy"),
    )
    dup_id = _np((g["_n"] > 1) & (g["_variants"] > 1))
    dup_row = _np((g["_n"] > 1) & (g["_variants"] == 1) & ~g["_first_copy"])
    keyname = ", ".join(key)
    key_values = rows.select(pl.concat_str([pl.col(k).cast(pl.String).fill_null("∅") for k in key], separator=" | ")).to_series()
    out = []
    if dup_id.any():
        out.append(Check("duplicate_id", key[0] if len(key) == 1 else keyname, dup_id, key_values,
                         f"{keyname} appears on several rows of the file with different values: keep the right one, delete the others"))
    if dup_row.any():
        out.append(Check("duplicate_row", key[0] if len(key) == 1 else keyname, dup_row, key_values,
                         "an exact copy of an earlier row of the file: the first copy was imported; delete this one"))
    return out


def to_arrow(entity: Entity, t: pl.DataFrame) -> pa.Table:
    schema = entity.arrow_schema
    table = t.select(entity.column_names).to_arrow()
    return table.cast(schema)
