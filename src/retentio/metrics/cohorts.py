"""Cohort triangles (metrics.md §7): accounts grouped by the month (or quarter) of their
first paid MRR; MRR, logos and ARPA at each age, relative to age 0 or absolute."""

from __future__ import annotations

from datetime import date

import narwhals as nw

from retentio.clock import last_complete_month, today
from retentio.config import Settings
from retentio.engine import Engine
from retentio.errors import UsageError
from retentio.metrics.changes import cohort_month_deltas
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
    # by e - s and its logos by [e > 0] - [s > 0] from its month on (issue 12); without
    # segment or filters, the same sums stored by the refresh (metrics/rollups.py) are read.
    if book.rollups is not None and not segment and not book.filtered:
        deltas = book.rollups.cohort_columns()
    else:
        C = book.C
        keys = []
        if segment:
            g = engine.materialize(book.groups(segment, last - 1, last))
            C = C.join(g, on="account_id", how="left").with_columns(
                grp=nw.when(nw.col("grp").is_null()).then(nw.lit(NONE_GROUP)).otherwise(nw.col("grp"))
            )
            keys.append("grp")
        deltas = engine.columns(cohort_month_deltas(C.filter(nw.col("month") <= last), keys))
    # per (cohort, grp): the month deltas of MRR and of logos.  Ints in dicts and lists, no
    # tuple per cell: at ten years of history (~7,000 cells) tuples kept alive would cost a
    # full garbage collection of the process's heap, longer than the loops themselves.
    per: dict[tuple, tuple[dict[int, int], dict[int, int]]] = {}
    grps = deltas.get("grp") or [None] * len(deltas["cohort"])
    for c, grp, m, d_mrr, d_logos in zip(deltas["cohort"], grps, deltas["month"], deltas["d_mrr"], deltas["d_logos"]):
        if m <= last:
            dm, dl = per.get((c, grp)) or per.setdefault((c, grp), ({}, {}))
            dm[m], dl[m] = d_mrr, d_logos
    # cells: (cohort key, grp) -> (MRR by age, logos by age); monthly: age = month - cohort;
    # quarterly: the cohort is its first month's quarter and age k is the snapshot at the end
    # of its k-th quarter (the cells of the months of a quarter's cohort add up)
    table: dict[tuple, tuple[list[int], list[int]]] = {}
    sizes: dict[tuple, int] = {}
    for (c, grp), (dm, dl) in per.items():
        if c > last:
            continue
        mrr = logos = 0
        if grain == "quarter":
            cq = c - c % 3
            n = max((last - cq - 2) // 3 + 1, 0)
            cm, cl = table.get((cq, grp)) or table.setdefault((cq, grp), ([0] * n, [0] * n))
            for m in range(c, last + 1):
                mrr += dm.get(m, 0)
                logos += dl.get(m, 0)
                if m % 3 == 2:
                    k = (m - cq - 2) // 3
                    cm[k] += mrr
                    cl[k] += logos
            sizes[(cq, grp)] = sizes.get((cq, grp), 0) + dl.get(c, 0)
        else:
            cm, cl = [0] * (last - c + 1), [0] * (last - c + 1)
            for m in range(c, last + 1):
                mrr += dm.get(m, 0)
                logos += dl.get(m, 0)
                cm[m - c], cl[m - c] = mrr, logos
            table[(c, grp)] = (cm, cl)
            if cm[0] or cl[0]:
                # every account of a monthly cohort is a customer at age 0: its size is those logos
                sizes[(c, grp)] = cl[0]
    step = 3 if grain == "quarter" else 1
    rows = []
    for (c, grp), size in sorted(sizes.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        max_age = (last - (c + step - 1)) // step if grain == "quarter" else last - c
        if max_age < 0:
            continue
        cm, cl = table[(c, grp)]
        if measure == "mrr":
            series = [v / 100 for v in cm[:max_age + 1]]
        elif measure == "logos":
            series = cl[:max_age + 1]
        else:
            series = [None if lg == 0 else v / 100 / lg for v, lg in zip(cm[:max_age + 1], cl[:max_age + 1])]
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
