"""Per-account features known on a day (the inputs of health scores and predictions).

``account_features(engine, settings, days)`` gives one row per (account_id, day) for every
paying customer on that day, computed only from data dated on or before the day; the
columns are documented in :data:`FEATURES` (name, meaning, unit).  See docs/health.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retentio.features.catalog import CATEGORICAL, FEATURES, NUMERIC, Feature, feature

if TYPE_CHECKING:  # pragma: no cover
    from datetime import date

    import polars as pl

    from retentio.config import Settings
    from retentio.engine import Engine

__all__ = ["CATEGORICAL", "FEATURES", "NUMERIC", "Feature", "account_features", "attribute_columns", "feature"]


def account_features(engine: "Engine", settings: "Settings", days: "list[date]", *,
                     text_scores: "dict[str, float | None] | None" = None) -> "pl.DataFrame":
    from retentio.features.compute import account_features as _compute

    return _compute(engine, settings, days, text_scores=text_scores)


def attribute_columns(frame: "pl.DataFrame") -> list[str]:
    from retentio.features.compute import attribute_columns as _cols

    return _cols(frame)
