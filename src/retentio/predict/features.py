"""The per-account feature frame the models read.

The one feature definition is ``retentio.features.account_features`` (shared with the
health score).  Until that package is on this branch, the temporary adapter
``retentio.predict._adapter`` builds the same shape from the metric functions.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from retentio.config import Settings
from retentio.engine import Engine

KEYS = ("account_id", "day")


def account_features(engine: Engine, settings: Settings, days: list[date]) -> pl.DataFrame:
    try:
        from retentio.features import account_features as shared
    except ImportError:  # TODO(issue 14): remove once retentio.features is merged
        from retentio.predict._adapter import account_features as shared
    frame = shared(engine, settings, days)
    if "day" not in frame.columns and "date" in frame.columns:
        frame = frame.rename({"date": "day"})
    return frame


def feature_columns(frame: pl.DataFrame) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns of a frame: everything but the keys."""
    numeric, categorical = [], []
    for name, dtype in frame.schema.items():
        if name in KEYS:
            continue
        if dtype.is_numeric() or dtype == pl.Boolean:
            numeric.append(name)
        elif dtype in (pl.Utf8, pl.Categorical, pl.Enum):
            categorical.append(name)
    return numeric, categorical
