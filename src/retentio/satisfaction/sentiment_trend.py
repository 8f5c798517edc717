"""Sentiment of ticket texts and survey comments per account and month, and drops flagged
for alerts.  Texts are read through the engine; scoring is Python, by the model named in the
setting ``sentiment.model`` (the trained model by default, or the lexicon scorer)."""

from __future__ import annotations

from typing import Any

import narwhals as nw

from retentio.config import Settings
from retentio.engagement._common import day_of, month_of
from retentio.engine import Engine
from retentio.metrics.periods import Period, month_label
from retentio.satisfaction.sentiment import score_texts


def texts(engine: Engine, last_day, first_day=None) -> list[dict[str, Any]]:
    """(source, id, account_id, day, month, text) of tickets (subject + body) and survey
    comments up to ``last_day`` (and from ``first_day`` when given: filtered in the engine,
    a large book's whole history of texts is gigabytes as Python dicts)."""
    def within(day):
        ok = day <= nw.lit(last_day)
        return ok if first_day is None else ok & (day >= nw.lit(first_day))

    t = engine.collect(
        engine.table("tickets").with_columns(day_of("created_at").alias("day"))
        .filter(within(nw.col("day")))
        .select("ticket_id", "account_id", "day", month_of("day").alias("month"), "subject", "body")
    )
    s = engine.collect(
        engine.table("surveys").with_columns(day_of("answered_at").alias("day"))
        .filter(within(nw.col("day")) & ~nw.col("comment").is_null())
        .select("response_id", "account_id", "day", month_of("day").alias("month"), "comment")
    )
    out = []
    for r in t.to_dicts():
        txt = ". ".join(x for x in (r["subject"], r["body"]) if x and str(x).strip())
        if txt:
            out.append({"source": "ticket", "id": r["ticket_id"], "account_id": r["account_id"], "day": r["day"],
                        "month": int(r["month"]), "text": txt})
    for r in s.to_dicts():
        if r["comment"] and str(r["comment"]).strip():
            out.append({"source": "survey", "id": r["response_id"], "account_id": r["account_id"], "day": r["day"],
                        "month": int(r["month"]), "text": r["comment"]})
    return sorted(out, key=lambda r: (r["account_id"], r["month"], r["source"], str(r["id"])))


def sentiment_by_account(engine: Engine, settings: Settings, period: Period, *, include_texts: bool = False) -> dict[str, Any]:
    """Mean score (-1..1) and label counts per account and month; an account-month is
    flagged when its mean is below the account's previous month with texts by at least
    ``satisfaction.sentiment_drop_threshold``."""
    th = settings.satisfaction.sentiment_drop_threshold
    model = settings.sentiment.model
    agg: dict[tuple[str, int], dict[str, Any]] = {}
    scored = []
    rows_in = texts(engine, period.last_day)
    for r, s in zip(rows_in, score_texts([r["text"] for r in rows_in], model=model)):
        if s is None:
            continue
        a = agg.setdefault((r["account_id"], r["month"]), {"texts": 0, "sum": 0.0, "positive": 0, "neutral": 0, "negative": 0})
        a["texts"] += 1
        a["sum"] += s.score
        a[s.label] += 1
        if include_texts and period.first <= r["month"] <= period.last:
            scored.append({**r, "month": month_label(r["month"]), **s.to_dict()})
    rows, flags = [], []
    prev: dict[str, tuple[int, float]] = {}
    for (acc, m) in sorted(agg, key=lambda k: (k[0], k[1])):
        a = agg[(acc, m)]
        mean = a["sum"] / a["texts"]
        before = prev.get(acc)
        drop = None if before is None else before[1] - mean
        flagged = drop is not None and drop >= th
        prev[acc] = (m, mean)
        if not (period.first <= m <= period.last):
            continue
        row = {"account_id": acc, "month": month_label(m), "texts": a["texts"], "mean_score": mean,
               "positive": a["positive"], "neutral": a["neutral"], "negative": a["negative"],
               "previous_month": None if before is None else month_label(before[0]),
               "previous_mean_score": None if before is None else before[1], "drop": drop, "flagged": flagged}
        rows.append(row)
        if flagged:
            flags.append(row)
    out = {"period": period.label, "drop_threshold": th, "model": _model_name(model), "rows": rows, "flagged": flags}
    if include_texts:
        out["texts"] = scored
    return out


def _model_name(model: str) -> str:
    """The name of the model behind the setting (as every scored text reports it)."""
    if model == "lexicon":
        from retentio.satisfaction.sentiment import LEXICON_MODEL

        return LEXICON_MODEL
    from retentio.satisfaction.sentiment_model import MODEL_NAME

    return MODEL_NAME


__all__ = ["sentiment_by_account", "texts"]
