"""Cohort triangles (metrics.md §7): accounts grouped by the month (or quarter) of their
first paid MRR; MRR, logos and ARPA at each age, relative to age 0 or absolute."""

from __future__ import annotations

from datetime import date

import narwhals as nw
import polars as pl

from retentio.clock import last_complete_month, today
from retentio.config import Settings
from retentio.engine import Engine
from retentio.errors import UsageError
from retentio.metrics.kpis import Book
from retentio.metrics.mrr import month_of, paid_lines
from retentio.metrics.periods import month_label, parse_period
from retentio.figures import NONE_GROUP
from retentio.metrics.segments import group_frame


def _latest_change_month(engine: Engine) -> int | None:
    """The last month in which a paid line starts or ends (nothing moves after it)."""
    lines = paid_lines(engine)
    out = engine.collect(
        lines.select(
            nw.col("from_month").max().alias("a"),
            nw.when(nw.col("end_date").is_null()).then(nw.lit(None, nw.Int64)).otherwise(month_of("end_date")).max().alias("b"),
        )
    ).row(0, named=True)
    vals = [v for v in (out["a"], out["b"]) if v is not None]
    return int(max(vals)) if vals else None


def cohorts(
    engine: Engine,
    settings: Settings,
    *,
    grain: str = "month",
    measure: str = "mrr",
    values: str = "relative",
    segment: str | None = None,
    through: str | None = None,
    filters: dict[str, str] | None = None,
    as_of: date | None = None,
) -> dict:
    if grain not in ("month", "quarter"):
        raise UsageError(f"unknown grain {grain!r}", hint="choose month or quarter")
    if measure not in ("mrr", "logos", "arpa"):
        raise UsageError(f"unknown measure {measure!r}", hint="choose mrr, logos or arpa")
    if values not in ("relative", "absolute"):
        raise UsageError(f"unknown values {values!r}", hint="choose relative or absolute")
    if through is not None:
        last = parse_period(through, today=as_of).last
    else:
        latest = _latest_change_month(engine)
        y, mo = last_complete_month(as_of or today())
        cap = y * 12 + mo - 1
        last = cap if latest is None else min(latest, cap)
    result = {"grain": grain, "measure": measure, "values": values, "segment": segment, "through": month_label(last), "rows": []}
    book = Book.load(engine, settings, last, filters)
    if book.first is None:
        return result
    A = book.A.join(book.A.group_by("account_id").agg(nw.col("month").min().alias("first_month")), on="account_id")
    if grain == "quarter":
        # Age k of a quarterly cohort is the snapshot at the end of its k-th quarter.
        # Integer arithmetic only: a float division cast to int rounds on DuckDB and
        # truncates elsewhere.  cohort = first month of its quarter; age in whole quarters.
        cohort_q = nw.col("first_month") - nw.col("first_month") % 3
        A = A.filter(nw.col("month") % 3 == 2).with_columns(
            cohort=cohort_q, age=(nw.col("month") - cohort_q - 2) // 3
        )
        sizes_lf = book.A.group_by("account_id").agg(nw.col("month").min().alias("m")).with_columns(cohort=nw.col("m") - nw.col("m") % 3)
    else:
        A = A.with_columns(cohort=nw.col("first_month"), age=nw.col("month") - nw.col("first_month"))
        # Every account of a monthly cohort is a customer at age 0 (its first paid month):
        # the sizes are the logos of age 0, read from the cells below.
        sizes_lf = None
    keys = ["cohort"]
    if segment:
        g = engine.materialize(group_frame(engine, settings, segment, book.A, book.lines, last - 1, last))

        def seg(lf):
            return lf.join(g, on="account_id", how="left").with_columns(
                grp=nw.when(nw.col("grp").is_null()).then(nw.lit(NONE_GROUP)).otherwise(nw.col("grp"))
            )

        A = seg(A)
        sizes_lf = None if sizes_lf is None else seg(sizes_lf)
        keys.append("grp")
    cells = engine.collect(
        A.group_by(*keys, "age").agg(
            nw.col("mrr_cents").sum().cast(nw.Int64).alias("mrr"), nw.len().cast(nw.Int64).alias("logos")
        )
    )
    if sizes_lf is None:
        sizes = cells.filter(pl.col("age") == 0).select(*keys, pl.col("logos").alias("size"))
    else:
        sizes = engine.collect(sizes_lf.group_by(*keys).agg(nw.len().cast(nw.Int64).alias("size")))
    table: dict[tuple, dict[int, tuple[int, int]]] = {}
    for r in cells.iter_rows(named=True):
        table.setdefault((int(r["cohort"]), r.get("grp")), {})[int(r["age"])] = (int(r["mrr"]), int(r["logos"]))
    step = 3 if grain == "quarter" else 1
    rows = []
    for srow in sorted(sizes.iter_rows(named=True), key=lambda r: (int(r["cohort"]), r.get("grp") or "")):
        c, grp = int(srow["cohort"]), srow.get("grp")
        max_age = (last - (c + step - 1)) // step if grain == "quarter" else last - c
        if max_age < 0:
            continue
        cells_c = table.get((c, grp), {})
        series = []
        for k in range(max_age + 1):
            mrr, logos = cells_c.get(k, (0, 0))
            if measure == "mrr":
                series.append(mrr / 100)
            elif measure == "logos":
                series.append(logos)
            else:
                series.append(None if logos == 0 else mrr / 100 / logos)
        if values == "relative":
            base = series[0]
            series = [None if (base in (None, 0) or v is None) else v / base for v in series]
        label = month_label(c) if grain == "month" else f"{c // 12}-Q{(c % 12) // 3 + 1}"
        seg_label = grp
        if segment and segment.strip().lower() == "cohort" and grp not in (None, NONE_GROUP):
            seg_label = month_label(int(grp))
        rows.append({"cohort": label, "segment": seg_label, "size": int(srow["size"]), "values": series})
    result["rows"] = rows
    return result


__all__ = ["cohorts"]
