"""Drill-down: every account's movement with the lines behind it, and ``explain`` of a
figure (its formula, inputs and the accounts contributing most)."""

from __future__ import annotations

from retentio.metrics.flatten import lookup

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine
from retentio.errors import UsageError
from retentio.metrics.kpis import Book, compute
from retentio.metrics.movements import MOVEMENT_TYPES, lag_endpoints
from retentio.metrics.periods import Period, month_label, parse_period
from retentio.metrics.registry import METRICS


def _period(period: str | Period) -> Period:
    return period if isinstance(period, Period) else parse_period(period)


def movements(
    engine: Engine,
    settings: Settings,
    period: str | Period,
    *,
    type: str | None = None,
    filters: dict[str, str] | None = None,
) -> list[dict]:
    """Every account movement of the period's months, with its subscription lines.

    An account-month gives one entry per movement: its new, reactivation, expansion,
    contraction or churn (expansion and contraction at constant currency) and, when its
    lines' currencies moved, an ``fx`` entry whose amount is signed (metrics.md §3)."""
    p = _period(period)
    kinds = MOVEMENT_TYPES
    if type is not None:
        if type not in MOVEMENT_TYPES:
            raise UsageError(f"unknown movement type {type!r}", hint="choose one of: " + ", ".join(MOVEMENT_TYPES))
        kinds = (type,)
    book = Book.load(engine, settings, p.last, filters)
    rows = book.C.filter((nw.col("month") >= p.first) & (nw.col("month") <= p.last)).select(
        "account_id", "month", "s", "e", "ecc", "fx", "kind")
    return movement_entries(book, p, rows, kinds)


def movement_entries(book: Book, p: Period, rows_lf: nw.LazyFrame, kinds) -> list[dict]:
    """The entries of ``movements`` from account-month rows (account_id, month, s, e, ecc,
    fx, kind); shared with the expansion oracle."""
    engine = book.engine
    want_fx = "fx" in kinds
    cond = nw.col("kind").is_in([k for k in kinds if k != "fx"] or ["-"])
    if want_fx:
        cond = cond | (nw.col("fx") != 0)
    mv = engine.materialize(rows_lf.filter(cond))
    rows = engine.collect(mv.sort("month", "account_id")).to_dicts()
    if not rows:
        return []
    keys = mv.select("account_id", "month")
    lines_lf = book.lines_at(p.first - 1, p.last)
    at_end = lines_lf.join(keys, on=["account_id", "month"], how="inner").with_columns(side=nw.lit("end"))
    at_start = lines_lf.join(
        keys.with_columns(month=nw.col("month") - 1), on=["account_id", "month"], how="inner"
    ).with_columns(month=nw.col("month") + 1, side=nw.lit("start"))
    cols = ["account_id", "month", "subscription_id", "plan", "currency", "mrr_cents", "side"]
    lines = engine.collect(nw.concat([at_end.select(cols), at_start.select(cols)], how="vertical"))
    by_key: dict[tuple, dict[str, dict]] = {}
    for ln in lines.iter_rows(named=True):
        d = by_key.setdefault((ln["account_id"], int(ln["month"])), {})
        entry = d.setdefault(
            ln["subscription_id"],
            {"subscription_id": ln["subscription_id"], "plan": ln["plan"], "currency": ln["currency"],
             "mrr_start": 0.0, "mrr_end": 0.0},
        )
        entry["mrr_" + ln["side"]] = int(ln["mrr_cents"]) / 100
    out = []
    for r in rows:
        s, e, ecc, fx = int(r["s"]), int(r["e"]), int(r["ecc"]), int(r["fx"])
        amounts = {"new": e, "reactivation": e, "churn": s, "expansion": ecc - s, "contraction": s - ecc}
        lines_of = sorted(by_key.get((r["account_id"], int(r["month"])), {}).values(),
                          key=lambda x: x["subscription_id"])
        types = []
        if r["kind"] in kinds and r["kind"] != "flat":
            types.append((r["kind"], amounts[r["kind"]]))
        if want_fx and fx != 0:
            types.append(("fx", fx))
        for t, amount in types:
            out.append(
                {
                    "account_id": r["account_id"],
                    "month": month_label(int(r["month"])),
                    "type": t,
                    "mrr_start": s / 100,
                    "mrr_end": e / 100,
                    "mrr_end_constant_currency": ecc / 100,
                    "amount": amount / 100,
                    "lines": lines_of,
                }
            )
    return out


def explain(
    engine: Engine,
    settings: Settings,
    metric: str,
    period: str | Period,
    *,
    filters: dict[str, str] | None = None,
    top: int = 10,
) -> dict:
    """The formula, each input with its value, the value recomputed from them, and the
    accounts contributing most, so a user can redo the figure by hand."""
    key = metric.strip().lower().replace("-", "_")
    if key not in METRICS:
        raise UsageError(f"unknown metric {metric!r}", hint="choose one of: " + ", ".join(sorted(METRICS)))
    d = METRICS[key]
    p = _period(period)
    fig = compute(engine, settings, [p], filters=filters)[0]
    book = Book.load(engine, settings, p.last, filters)
    per_acc = engine.materialize(lag_endpoints(book.at([p.last - p.n_months, p.last]), [p.last], p.n_months))
    sums = engine.collect(
        per_acc.filter(nw.col("s") > 0).select(
            nw.col("e").sum().cast(nw.Int64).alias("end"),
            nw.min_horizontal("s", "e").sum().cast(nw.Int64).alias("kept"),
            (nw.col("e") > 0).cast(nw.Int64).sum().cast(nw.Int64).alias("retained"),
        )
    ).row(0, named=True)
    fig["_nrr_numerator"] = (sums["end"] or 0) / 100
    fig["_grr_numerator"] = (sums["kept"] or 0) / 100
    fig["_retained"] = int(sums["retained"] or 0)
    fig["_lost"] = int(fig["customers_start"]) - fig["_retained"]
    # the constant-currency numerators (S's start MRR is the period's start MRR)
    for k in ("nrr", "grr"):
        v = fig.get(f"{k}_constant_currency")
        fig[f"_{k}_cc_numerator"] = None if v is None else round(v * fig["mrr_start"], 2)
    inputs = {name: lookup(fig, path) for name, path in d.inputs}
    try:
        recomputed = d.recompute(inputs)
    except TypeError:
        recomputed = None
    value = fig.get(key) if key in fig else recomputed
    if key.endswith("_mrr") and key[:-4] in MOVEMENT_TYPES:
        value = fig["movements"][key[:-4]]

    accounts: list[dict] = []
    if d.contributors.startswith("movements:"):
        kinds = d.contributors.split(":", 1)[1].split(",")
        mv = [m for m in movements(engine, settings, p, filters=filters) if m["type"] in kinds]
        mv.sort(key=lambda m: (-abs(m["amount"]), m["account_id"], m["month"]))
        accounts = [{k: m[k] for k in ("account_id", "month", "type", "mrr_start", "mrr_end", "amount")} for m in mv[:top]]
    elif d.contributors == "endpoint":
        rows = engine.collect(per_acc.filter(nw.col("s") > 0)).to_dicts()
        rows.sort(key=lambda r: (-abs(int(r["e"]) - int(r["s"])), r["account_id"]))
        accounts = [
            {"account_id": r["account_id"], "mrr_start": int(r["s"]) / 100, "mrr_end": int(r["e"]) / 100,
             "change": (int(r["e"]) - int(r["s"])) / 100, "still_customer": int(r["e"]) > 0}
            for r in rows[:top]
        ]
    else:
        rows = engine.collect(per_acc.filter(nw.col("e") > 0)).to_dicts()
        rows.sort(key=lambda r: (-int(r["e"]), r["account_id"]))
        accounts = [{"account_id": r["account_id"], "mrr": int(r["e"]) / 100} for r in rows[:top]]
    return {
        "metric": key,
        "title": d.title,
        "period": p.label,
        "currency": settings.workspace.base_currency,
        "value": value,
        "formula": d.formula,
        "inputs": inputs,
        "recomputed_from_inputs": recomputed,
        "settings": {s: getattr(settings.metrics, s) for s in d.settings if hasattr(settings.metrics, s)},
        "code": d.module,
        "accounts": accounts,
    }
