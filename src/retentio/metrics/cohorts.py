"""Cohort triangles (metrics.md §7): accounts grouped by the month (or quarter) of their
first paid MRR; MRR, logos and ARPA at each age, relative to age 0 or absolute."""

from __future__ import annotations

from datetime import date

import narwhals as nw

from retentio.clock import last_complete_month, today
from retentio.config import Settings
from retentio.engine import Engine
from retentio.errors import UsageError
from retentio.metrics.kpis import Book
from retentio.metrics.mrr import month_of, paid_lines
from retentio.metrics.periods import month_label, parse_period
from retentio.figures import NONE_GROUP


def _latest_change_month(engine: Engine) -> int | None:
    """The last month in which a paid line starts or ends (nothing moves after it)."""
    lines = paid_lines(engine)
    out = engine.rows(
        lines.select(
            nw.col("from_month").max().alias("a"),
            nw.when(nw.col("end_date").is_null()).then(nw.lit(None, nw.Int64)).otherwise(month_of("end_date")).max().alias("b"),
        )
    )[0]
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
    # the unit of the cells (JSON and CSV round them by it, retentio.output): shares of age 0,
    # money (MRR, ARPA) or accounts
    unit = "ratio" if values == "relative" else ("count" if measure == "logos" else "money")
    result = {"grain": grain, "measure": measure, "values": values, "unit": unit, "segment": segment,
              "through": month_label(last), "rows": []}
    book = Book.load(engine, settings, last, filters)
    if book.first is None:
        return result
    # Running sums per cohort over the change table: each change row moves its cohort's MRR
    # by e - s and its logos by [e > 0] - [s > 0] from its month on (issue 12).  The rows
    # before an account's first paid month (first_paid null) move nothing: s = e = 0.
    C = book.C.filter(~nw.col("first_paid").is_null()).with_columns(cohort=nw.col("first_paid"))
    keys = ["cohort"]
    if segment:
        g = engine.materialize(book.groups(segment, last - 1, last))
        C = C.join(g, on="account_id", how="left").with_columns(
            grp=nw.when(nw.col("grp").is_null()).then(nw.lit(NONE_GROUP)).otherwise(nw.col("grp"))
        )
        keys.append("grp")
    one, zero = nw.lit(1, nw.Int64), nw.lit(0, nw.Int64)
    deltas = engine.rows(
        C.filter(nw.col("month") <= last).group_by(*keys, "month").agg(
            (nw.col("e") - nw.col("s")).sum().cast(nw.Int64).alias("d_mrr"),
            (nw.when(nw.col("e") > 0).then(one).otherwise(zero) - nw.when(nw.col("s") > 0).then(one).otherwise(zero))
            .sum().cast(nw.Int64).alias("d_logos"),
        )
    )
    per: dict[tuple, dict[int, tuple[int, int]]] = {}
    for r in deltas:
        per.setdefault((int(r["cohort"]), r.get("grp")), {})[int(r["month"])] = (int(r["d_mrr"]), int(r["d_logos"]))
    # cells: (cohort key, grp, age) -> (mrr, logos); monthly: age = month - cohort; quarterly:
    # the cohort is its first month's quarter and age k is the snapshot at the end of its k-th quarter
    cell_rows: list[tuple] = []
    sizes_acc: dict[tuple, int] = {}
    for (c, grp), months in per.items():
        mrr = logos = 0
        for m in range(c, last + 1):
            d = months.get(m)
            if d is not None:
                mrr += d[0]
                logos += d[1]
            if grain == "quarter":
                cq = c - c % 3
                if m % 3 == 2 and (mrr or logos):
                    cell_rows.append((cq, grp, (m - cq - 2) // 3, mrr, logos))
            elif mrr or logos:
                cell_rows.append((c, grp, m - c, mrr, logos))
        if grain == "quarter":
            k = (c - c % 3, grp)
            sizes_acc[k] = sizes_acc.get(k, 0) + (months.get(c, (0, 0))[1])
    agg: dict[tuple, list[int]] = {}
    for cq, grp, age, mrr, logos in cell_rows:
        v = agg.setdefault((cq, grp, age), [0, 0])
        v[0] += mrr
        v[1] += logos
    table: dict[tuple, dict[int, tuple[int, int]]] = {}
    for (cq, grp, age), (mrr, logos) in agg.items():
        table.setdefault((cq, grp), {})[age] = (mrr, logos)
    if grain == "quarter":
        sizes = sizes_acc
    else:
        # every account of a monthly cohort is a customer at age 0: the sizes are those logos
        sizes = {k: ages[0][1] for k, ages in table.items() if 0 in ages}
    step = 3 if grain == "quarter" else 1
    rows = []
    for (c, grp), size in sorted(sizes.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
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
        rows.append({"cohort": label, "segment": seg_label, "size": int(size), "values": series})
    result["rows"] = rows
    return result


__all__ = ["cohorts"]
