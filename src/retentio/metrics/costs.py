"""Costs by month and category, converted to the base currency (CAC, CRC, CS Magic
Number, CS ROI, derived gross margin)."""

from __future__ import annotations

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine
from retentio.errors import DataError
from retentio.metrics.mrr import _fx_by_month, month_frame, to_cents
from retentio.metrics.periods import month_end, month_label, month_of_text


def cost_cents(engine: Engine, settings: Settings, first: int, last: int) -> dict[tuple[int, str], int]:
    """{(month, category): cents} for months [first, last], each cost converted at the rate in
    force on the last day of its month."""
    base = settings.workspace.base_currency
    costs = engine.table("costs").select(
        "category",
        "currency",
        "amount",
        month_of_text("period").alias("month"),
    ).filter((nw.col("month") >= first) & (nw.col("month") <= last))
    rates = _fx_by_month(engine, month_frame(engine, first, last), base)
    joined = costs.join(rates, on=["currency", "month"], how="left").with_columns(
        rate=nw.when(nw.col("currency") == base).then(nw.lit(1.0)).otherwise(nw.col("rate"))
    )
    out = engine.rows(
        joined.group_by("month", "category", "currency").agg(
            nw.col("rate").max().alias("rate"),
            to_cents(nw.col("amount") * nw.col("rate")).sum().cast(nw.Int64).alias("cents"),
        )
    )
    result: dict[tuple[int, str], int] = {}
    for row in out:
        if row["rate"] is None:
            raise DataError(
                f"no FX rate for {row['currency']} on or before {month_end(row['month']).isoformat()} "
                f"(costs of {month_label(row['month'])}, {row['category']})",
                hint="import fx-rates covering that month: retentio import fx-rates rates.csv",
            )
        key = (int(row["month"]), row["category"])
        result[key] = result.get(key, 0) + int(row["cents"])
    return result


__all__ = ["cost_cents"]
