"""Drill-down: every account's movement with the lines behind it, and ``explain`` of a
figure (its formula, inputs and the accounts contributing most)."""

from __future__ import annotations

import narwhals as nw

from retentio.config import Settings
from retentio.engine import Engine
from retentio.errors import UsageError
from retentio.figures import evaluate
from retentio.metrics.kpis import Book, compute_aggregates
from retentio.metrics.movements import MOVEMENT_TYPES, lag_endpoints, movement_amount
from retentio.metrics.periods import Period, as_period, month_label
from retentio.metrics.registry import AGGREGATE_LABELS, METRICS


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
    p = as_period(period)
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
    rows = engine.rows(mv.sort("month", "account_id"))
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
        lines_of = sorted(by_key.get((r["account_id"], int(r["month"])), {}).values(),
                          key=lambda x: x["subscription_id"])
        types = []
        if r["kind"] in kinds and r["kind"] != "flat":
            types.append((r["kind"], movement_amount(r["kind"], s, ecc)))
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
    accounts contributing most, so a user can redo the figure by hand.  Inputs are the
    aggregates of the compute pass (money in the base currency) or other figures."""
    key = metric.strip().lower().replace("-", "_")
    if key not in METRICS:
        raise UsageError(f"unknown metric {metric!r}", hint="choose one of: " + ", ".join(sorted(METRICS)))
    if top < 0:
        raise UsageError(f"top must be 0 or more, not {top}", hint="e.g. top=10")
    d = METRICS[key]
    p = as_period(period)
    agg = compute_aggregates(engine, settings, p, filters=filters).to_dict()
    values = evaluate(list(METRICS.values()), agg)
    env = {**agg, **values}
    inputs = {_shown(name): _display(name, env[name]) for name in d.inputs}
    value = values[key]
    reason = None if value is not None else _undefined_reason(d, env)

    accounts: list[dict] = []
    per_acc = None
    if d.contributors.startswith("movements:"):
        kinds = d.contributors.split(":", 1)[1].split(",")
        mv = [m for m in movements(engine, settings, p, filters=filters) if m["type"] in kinds]
        mv.sort(key=lambda m: (-abs(m["amount"]), m["account_id"], m["month"]))
        accounts = [{k: m[k] for k in ("account_id", "month", "type", "mrr_start", "mrr_end", "amount")} for m in mv[:top]]
    elif d.contributors in ("endpoint", "snapshot"):
        book = Book.load(engine, settings, p.last, filters)
        per_acc = lag_endpoints(book.at([p.last - p.n_months, p.last]), [p.last], p.n_months)
    if d.contributors == "endpoint":
        rows = engine.rows(per_acc.filter(nw.col("s") > 0))
        rows.sort(key=lambda r: (-abs(int(r["e"]) - int(r["s"])), r["account_id"]))
        accounts = [
            {"account_id": r["account_id"], "mrr_start": int(r["s"]) / 100, "mrr_end": int(r["e"]) / 100,
             "change": (int(r["e"]) - int(r["s"])) / 100, "still_customer": int(r["e"]) > 0}
            for r in rows[:top]
        ]
    elif d.contributors == "snapshot":
        rows = engine.rows(per_acc.filter(nw.col("e") > 0))
        rows.sort(key=lambda r: (-int(r["e"]), r["account_id"]))
        accounts = [{"account_id": r["account_id"], "mrr": int(r["e"]) / 100} for r in rows[:top]]
    return {
        "metric": key,
        "title": d.label,
        "unit": d.unit,
        "period": p.label,
        "currency": settings.workspace.base_currency,
        "value": value,
        "undefined_reason": reason,
        "formula": d.formula,
        "inputs": inputs,
        "input_labels": {_shown(n): _input_label(n) for n in d.inputs},
        "recomputed_from_inputs": d.value(env),
        "settings": {s: getattr(settings.metrics, s) for s in d.settings if hasattr(settings.metrics, s)},
        "code": d.module,
        "accounts": accounts,
    }


def _shown(name: str) -> str:
    return name[: -len("_cents")] if name.endswith("_cents") else name


def _input_label(name: str) -> str:
    """An input in words: an aggregate's description, or the label of the figure it is."""
    if name in AGGREGATE_LABELS:
        return AGGREGATE_LABELS[name]
    return METRICS[name].label if name in METRICS else name


def _display(name: str, v):
    """Money aggregates are summed in cents; explain shows them in the base currency."""
    if name.endswith("_cents"):
        if isinstance(v, dict):
            return {k: c / 100 for k, c in v.items()}
        return None if v is None else v / 100
    return v


def _undefined_reason(d, env: dict) -> str:
    zero = [_shown(n) for n in d.inputs if env.get(n) == 0]
    missing = [_shown(n) for n in d.inputs if env.get(n) is None]
    if missing:
        return "undefined: no value for " + ", ".join(missing)
    if zero:
        return "undefined: division by zero (" + ", ".join(f"{n} = 0" for n in zero) + ")"
    return "undefined for these inputs"


__all__ = ["explain", "movements"]
