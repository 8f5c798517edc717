"""Service functions of the prediction capability (``ws.predict_score(...)`` etc.).

Each takes the :class:`retentio.service.Workspace` first and an explicit ``as_of`` (default
today): the model is trained on month ends up to the last complete month of ``as_of``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from retentio.clock import last_complete_month, month_end, resolve_as_of
from retentio.errors import NotFound, UsageError


def _horizon(ws, horizon: int | None) -> int:
    h = ws.settings.predict.horizon_months if horizon is None else int(horizon)
    if not 1 <= h <= 12:
        raise UsageError(f"horizon {h} is out of range", hint="pass a horizon of 1 to 12 months")
    return h


# Datasets built in this process, by workspace, data version, settings, as_of and horizon:
# the features of every month end are the slow part, and train, score, forecasts and the
# CLI commands of one session ask for the same ones.  Data only changes through imports
# (each logged in the ``imports`` table), so their count and latest time version the data.
_DATASETS: dict[tuple, Any] = {}


def _data_version(ws) -> tuple:
    row = ws.warehouse.query("SELECT count(*) AS n, max(imported_at) AS last FROM imports")[0]
    return (str(Path(ws.path).resolve()), row["n"], str(row["last"]))


def _dataset(ws, as_of, horizon):
    from retentio.predict.churn import build_dataset

    day, h = resolve_as_of(as_of), _horizon(ws, horizon)
    key = (*_data_version(ws), ws.settings.model_dump_json(), day, h)
    if key not in _DATASETS:
        if len(_DATASETS) >= 4:
            _DATASETS.pop(next(iter(_DATASETS)))
        _DATASETS[key] = build_dataset(ws.engine(), ws.settings, day, h)
    return _DATASETS[key]


def _evaluation(ws, ds) -> dict[str, Any]:
    """The evaluation of a dataset under the current settings, computed once per process."""
    import copy

    from retentio.predict.churn import evaluate

    done = ds.__dict__.setdefault("_evaluations", {})
    key = ws.settings.model_dump_json()
    if key not in done:
        done[key] = evaluate(ds, ws.settings)
    return copy.deepcopy(done[key])


def predict_evaluate(ws, *, as_of: date | str | None = None, horizon: int | None = None) -> dict[str, Any]:
    """Time-based evaluation: LightGBM vs the logistic baseline on the last labelled months."""
    return _evaluation(ws, _dataset(ws, as_of, horizon))


def predict_train(ws, *, as_of: date | str | None = None, horizon: int | None = None) -> dict[str, Any]:
    """Evaluate on a time split, then fit on every labelled month end and save the model
    in ``<workspace>/models/``; returns its metadata."""
    import lightgbm
    import sklearn

    from retentio.predict import churn, store
    from retentio.metrics.periods import month_label

    ds = _dataset(ws, as_of, horizon)
    evaluation = _evaluation(ws, ds)
    split = churn.time_split(ds, ws.settings, with_test=False)
    fitted = churn.fit_models(ds.frame, split, ws.settings)
    me = month_end(ds.last // 12, ds.last % 12 + 1)
    mid = store.model_id(me, ds.horizon, ws.settings.predict.horizon_months)
    meta = {
        "model_id": mid,
        "kind": "churn",
        "scored_month_end": me.isoformat(),
        "horizon_months": ds.horizon,
        "training_window": [month_label(split.fit[0]), month_label(split.calibration[1])],
        "fit_months": [month_label(split.fit[0]), month_label(split.fit[1])],
        "calibration_months": [month_label(split.calibration[0]), month_label(split.calibration[1])],
        "features": fitted.enc.features,
        "encoding": fitted.enc.to_dict(),
        "calibration": fitted.calibrator.to_dict(),
        "class_balance": fitted.balance,
        "params": churn.lgb_params(ws.settings.predict.seed, fitted.balance["scale_pos_weight"]),
        "rounds": churn.LGB_ROUNDS,
        "evaluation": {k: v for k, v in evaluation.items() if k != "features"},
        "versions": {"lightgbm": lightgbm.__version__, "scikit-learn": sklearn.__version__},
    }
    path = store.save_model(ws.path, mid, fitted.booster, meta)
    return {**meta, "path": str(path)}


def _scored(ws, as_of, horizon) -> tuple[Any, dict[str, Any], Any, Any]:
    """(dataset, metadata, rows at the scored month, contributions) for the model of as_of,
    trained first when the workspace has none."""
    from retentio.predict import store
    from retentio.predict.churn import Calibrator, Encoding, contributions

    import polars as pl

    ds = _dataset(ws, as_of, horizon)
    me = month_end(ds.last // 12, ds.last % 12 + 1)
    mid = store.model_id(me, ds.horizon, ws.settings.predict.horizon_months)
    if not store.has_model(ws.path, mid):
        predict_train(ws, as_of=as_of, horizon=ds.horizon)
    booster, meta = store.load_model(ws.path, mid)
    enc = Encoding.from_dict(meta["encoding"])
    cal = Calibrator.from_dict(meta["calibration"])
    rows = ds.frame.filter(pl.col("month") == ds.last).sort("account_id")
    X = enc.matrix(rows)
    raw = booster.predict(X, raw_score=True) if rows.height else []
    risk = cal(raw) if rows.height else []
    contrib = contributions(booster, X) if rows.height else None
    return ds, {**meta, "model_id": mid, "month_end": me}, (rows, X, risk), contrib


def _names(ws) -> dict[str, str]:
    return {r["account_id"]: r["name"] for r in ws.warehouse.query("SELECT account_id, name FROM accounts")}


def predict_score(ws, *, as_of: date | str | None = None, horizon: int | None = None,
                  store_risk: bool = True) -> list[dict[str, Any]]:
    """Churn risk of every customer at the last complete month end, riskiest first, with
    its top drivers; the risks are stored in the workspace (``churn_risk``)."""
    from retentio.predict import store
    from retentio.predict.drivers import drivers

    ds, meta, (rows, X, risk), contrib = _scored(ws, as_of, horizon)
    names = _names(ws)
    features = meta["features"]
    top = ws.settings.predict.drivers
    out = []
    for i, acc in enumerate(rows["account_id"].to_list()):
        out.append({"account_id": acc, "account_name": names.get(acc), "risk": float(risk[i]),
                    "drivers": drivers(contrib[i], _values(rows, i, features), features, top)})
    out.sort(key=lambda r: (-r["risk"], r["account_id"]))
    if store_risk:
        store.write_risk(ws, [{"account_id": r["account_id"], "risk": r["risk"], "model_id": meta["model_id"]} for r in out],
                         meta["month_end"], ds.horizon)
    return out


def _values(rows, i: int, features: list[str]) -> list[Any]:
    r = rows.row(i, named=True)
    return [r.get(f) for f in features]


def predict_explain(ws, account_id: str, *, as_of: date | str | None = None, horizon: int | None = None,
                    top: int = 5) -> dict[str, Any]:
    """One account's risk, its drivers (``top`` each way) and its feature values."""
    from retentio.predict.drivers import drivers

    ds, meta, (rows, X, risk), contrib = _scored(ws, as_of, horizon)
    ids = rows["account_id"].to_list()
    if account_id not in ids:
        raise NotFound(f"account {account_id!r} is not a customer at {meta['month_end']}",
                       hint="pick an account with MRR on that day (predict_score lists them) or another as_of")
    i = ids.index(account_id)
    features = meta["features"]
    values = _values(rows, i, features)
    rank = sum(1 for r in risk if r > risk[i]) + 1
    return {
        "account_id": account_id,
        "account_name": _names(ws).get(account_id),
        "month_end": meta["month_end"].isoformat(),
        "horizon_months": ds.horizon,
        "risk": float(risk[i]),
        "rank": rank,
        "accounts_scored": len(ids),
        "base_log_odds": round(float(contrib[i][-1]), 4),
        "drivers": drivers(contrib[i], values, features, top),
        "features": {f: _plain(v) for f, v in zip(features, values)},
        "model_id": meta["model_id"],
    }


def _plain(v):
    from retentio.predict.drivers import _plain as p

    return p(v)


def churn_risk(ws, *, as_of: date | str | None = None, horizon: int | None = None) -> list[dict[str, Any]]:
    """The stored risks (``predict_churn_risk``) of the month end of as_of's last complete
    month, riskiest first — the health measure and playbook trigger; empty when not scored."""
    from retentio.predict import store

    h = _horizon(ws, horizon)
    me = None
    if as_of is not None:
        y, m = last_complete_month(resolve_as_of(as_of))
        me = month_end(y, m)
    return store.read_risk(ws, me, h)


def predict_benchmark(ws_or_none, dataset: str = "telco", *, data: str | Path, folds: int = 5,
                      seed: int = 42) -> dict[str, Any]:
    from retentio.predict.telco import benchmark

    if dataset != "telco":
        raise UsageError(f"unknown benchmark data set {dataset!r}", hint="the only benchmark is telco")
    return benchmark(Path(data), folds=folds, seed=seed)


def survival_ltv(ws, *, as_of: date | str | None = None, by: str = "size", accounts: bool = False) -> dict[str, Any]:
    """Kaplan-Meier and Weibull lifetimes by segment (``by``: an account attribute) and
    cohort, survival LTV beside the ARPA / churn LTV; with ``accounts``, each current
    customer's expected remaining lifetime and LTV."""
    from retentio.predict.survival import survival_ltv as run

    return run(ws, resolve_as_of(as_of), by, accounts)


def forecast_mrr(ws, *, as_of: date | str | None = None, months: int = 12, horizon: int | None = None) -> dict[str, Any]:
    from retentio.predict.forecast import forecast_mrr as run

    if not 1 <= months <= 36:
        raise UsageError(f"months {months} is out of range", hint="forecast 1 to 36 months")
    return run(ws, resolve_as_of(as_of), months, _horizon(ws, horizon))


def forecast_renewals(ws, *, as_of: date | str | None = None, days: int = 90, horizon: int | None = None) -> dict[str, Any]:
    from retentio.predict.forecast import renewals as run

    if not 1 <= days <= 730:
        raise UsageError(f"days {days} is out of range", hint="look 1 to 730 days ahead")
    return run(ws, resolve_as_of(as_of), days, _horizon(ws, horizon))
