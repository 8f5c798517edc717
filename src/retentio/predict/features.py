"""The per-account feature frame the models read: ``retentio.features.account_features``,
the one feature definition shared with the health score (only data known on each day).

Prediction adds one derived column, computed from the shared features themselves:
``active_users_change_60d`` = (active_users_30d on the day - active_users_30d 60 days
earlier) / active_users_30d 60 days earlier (empty when there were none then).
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from retentio.config import Settings
from retentio.engine import Engine

KEYS = ("account_id", "day")
LOOKBACK_DAYS = 60


def account_features(engine: Engine, settings: Settings, days: list[date]) -> pl.DataFrame:
    from retentio.features import account_features as shared

    days = sorted(set(days))
    back = {d: d - timedelta(days=LOOKBACK_DAYS) for d in days}
    frame = shared(engine, settings, sorted(set(days) | set(back.values())))
    cur = frame.filter(pl.col("day").is_in(days))
    if "active_users_30d" in frame.columns:
        then = frame.select("account_id", pl.col("day").alias("_then"), pl.col("active_users_30d").alias("_au_then"))
        cur = (
            cur.with_columns((pl.col("day") - pl.duration(days=LOOKBACK_DAYS)).alias("_then"))
            .join(then, on=["account_id", "_then"], how="left")
            .with_columns(
                pl.when(pl.col("_au_then") > 0)
                .then((pl.col("active_users_30d") - pl.col("_au_then")) / pl.col("_au_then"))
                .otherwise(None)
                .alias("active_users_change_60d")
            )
            .drop("_then", "_au_then")
        )
    return cur.sort("day", "account_id")


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
