"""Periods and month arithmetic.

Months are handled as integer indices (``year * 12 + month - 1``) so that every engine
does the same integer arithmetic; snapshots are on the last day of a month (metrics.md §1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from retentio.clock import PERIOD_HELP, last_complete_month
from retentio.errors import UsageError

__all__ = ["PERIOD_HELP", "Period", "as_period", "month_end", "month_index", "month_label", "month_of",
           "month_of_text", "month_start", "parse_period"]


def month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def month_of(col: str):
    """Month index (year * 12 + month - 1) of a date or timestamp column, as an Int64 engine
    expression on every engine (the engine-side twin of :func:`month_index`)."""
    import narwhals as nw

    c = nw.col(col)
    return c.dt.year().cast(nw.Int64) * 12 + c.dt.month().cast(nw.Int64) - 1


def month_of_text(col: str):
    """Month index of a ``YYYY-MM`` text column, as an Int64 engine expression."""
    import narwhals as nw

    c = nw.col(col)
    return c.str.slice(0, 4).cast(nw.Int64) * 12 + c.str.slice(5, 2).cast(nw.Int64) - 1


def month_label(idx: int) -> str:
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def month_start(idx: int) -> date:
    return date(idx // 12, idx % 12 + 1, 1)


def month_end(idx: int) -> date:
    """The snapshot day of a month: its last day."""
    return month_start(idx + 1) - timedelta(days=1)


@dataclass(frozen=True)
class Period:
    first: int  # month index of the first month
    last: int  # month index of the last month (inclusive)
    label: str

    @property
    def n_months(self) -> int:
        return self.last - self.first + 1

    @property
    def months(self) -> range:
        return range(self.first, self.last + 1)

    @property
    def start_snapshot(self) -> int:
        """Month whose end is the period's start snapshot."""
        return self.first - 1

    @property
    def first_day(self) -> date:
        return month_start(self.first)

    @property
    def last_day(self) -> date:
        return month_end(self.last)

    @classmethod
    def month(cls, idx: int) -> "Period":
        return cls(idx, idx, month_label(idx))


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_LAST = re.compile(r"^last(?:-(\d+))?$")


def _one(token: str) -> tuple[int, int]:
    token = token.strip()
    if m := _MONTH.match(token):
        month = int(m.group(2))
        if not 1 <= month <= 12:
            raise UsageError(f"period {token!r}: month {month} does not exist", hint=f"use {PERIOD_HELP}")
        idx = int(m.group(1)) * 12 + month - 1
        return idx, idx
    if m := _QUARTER.match(token):
        first = int(m.group(1)) * 12 + (int(m.group(2)) - 1) * 3
        return first, first + 2
    if m := _YEAR.match(token):
        first = int(m.group(1)) * 12
        return first, first + 11
    raise UsageError(f"cannot read period {token!r}", hint=f"use {PERIOD_HELP}")


def as_period(period: "str | Period") -> "Period":
    return period if isinstance(period, Period) else parse_period(period)


def parse_period(text: str, *, today: date | None = None) -> Period:
    """Parse a period as typed by a user.  Relative periods are judged at ``today`` (the
    service's as_of; default the real day): ``last`` is the last complete calendar month,
    ``last-N`` the N months ending with it, ``last-quarter`` / ``last-year`` the last complete
    calendar quarter / year, ``ytd`` the complete months of as_of's year."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError("a period is required", hint=f"use {PERIOD_HELP}")
    text = text.strip().lower() if text.strip().lower() in ("last-quarter", "last-year", "ytd") else text.strip()
    if text in ("last-quarter", "last-year", "ytd"):
        from retentio.clock import today as real_today

        y, mo = last_complete_month(today or real_today())
        last = y * 12 + mo - 1
        if text == "last-quarter":
            last = last - (last % 3 != 2) * (last % 3 + 1)  # the last month of a complete quarter
            first = last - 2
            return Period(first, last, f"{first // 12}-Q{(first % 12) // 3 + 1}")
        if text == "last-year":
            last = last if last % 12 == 11 else (last // 12) * 12 - 1
            return Period(last - 11, last, f"{last // 12}")
        first = (last // 12) * 12
        return Period(first, last, f"{month_label(first)}..{month_label(last)}")
    if m := _LAST.match(text):
        from retentio.clock import today as real_today

        y, mo = last_complete_month(today or real_today())
        last = y * 12 + mo - 1
        n = int(m.group(1) or 1)
        if n < 1:
            raise UsageError("last-N needs N >= 1", hint=f"use {PERIOD_HELP}")
        first = last - n + 1
        return Period(first, last, month_label(last) if n == 1 else f"{month_label(first)}..{month_label(last)}")
    if ".." in text:
        a, b = text.split("..", 1)
        first, _ = _one(a)
        _, last = _one(b)
        if last < first:
            raise UsageError(f"period {text!r} ends before it starts", hint="write FROM..TO with FROM <= TO")
        return Period(first, last, f"{month_label(first)}..{month_label(last)}")
    first, last = _one(text)
    return Period(first, last, text.upper() if "q" in text.lower() else text)
