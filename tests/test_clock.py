from datetime import date, datetime

import pytest

from retentio.clock import last_complete_month, month_end, resolve_as_of
from retentio.errors import UsageError


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2024, 3, 31), (2024, 3)),  # the last day completes March
        (date(2024, 3, 30), (2024, 2)),  # March is not over yet
        (date(2024, 1, 15), (2023, 12)),  # across the year boundary
        (date(2024, 2, 29), (2024, 2)),  # leap day is February's last
        (date(2023, 2, 28), (2023, 2)),
    ],
)
def test_last_complete_month(as_of, expected):
    assert last_complete_month(as_of) == expected


def test_month_end():
    assert month_end(2024, 2) == date(2024, 2, 29)
    assert month_end(2023, 12) == date(2023, 12, 31)


def test_resolve_as_of():
    assert resolve_as_of("2024-05-06") == date(2024, 5, 6)
    assert resolve_as_of(datetime(2024, 5, 6, 13, 0)) == date(2024, 5, 6)
    assert resolve_as_of(date(2024, 5, 6)) == date(2024, 5, 6)
    with pytest.raises(UsageError, match="not a day"):
        resolve_as_of("2024-13-01")
