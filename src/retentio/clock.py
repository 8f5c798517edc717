"""The one clock of Retentio: every computation is made "as of" a day.

The service takes ``as_of`` (default: today) and passes it down; nothing below the service
calls ``date.today()``.  The last complete month — the default period of most commands — is
derived here, in one place, so that a figure asked twice for the same ``as_of`` is the same
figure, and a test can pin the clock.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

from retentio.errors import UsageError

__all__ = ["PERIOD_HELP", "last_complete_month", "month_end", "month_start", "resolve_as_of", "today"]

PERIOD_HELP = (
    "YYYY-MM, YYYY-Qn, YYYY, FROM..TO (e.g. 2023-01..2024-12), last (the last complete month), last-N (N months), "
    "last-quarter, last-year (the last complete ones) or ytd (this year's complete months)"
)


def today() -> date:
    """The real current day (the default ``as_of``); the only call of ``date.today()``."""
    return date.today()


def resolve_as_of(value: date | datetime | str | None) -> date:
    """``as_of`` as a date: None means today; a string is an ISO day (YYYY-MM-DD)."""
    if value is None:
        return today()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise UsageError(f"as_of {value!r} is not a day", hint="write it as YYYY-MM-DD, e.g. 2024-03-31") from None
    raise UsageError(f"as_of {value!r} is not a day", hint="pass a date or a YYYY-MM-DD string")


def month_start(year: int, month: int) -> date:
    return date(year, month, 1)


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def last_complete_month(as_of: date) -> tuple[int, int]:
    """The last calendar month that has ended on ``as_of``.

    A month is complete on its last day: as of 2024-03-31 the last complete month is
    2024-03; as of 2024-03-30 it is 2024-02.
    """
    if as_of == month_end(as_of.year, as_of.month):
        return as_of.year, as_of.month
    return (as_of.year - 1, 12) if as_of.month == 1 else (as_of.year, as_of.month - 1)
