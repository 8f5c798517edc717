"""Public benchmark: the IBM Telco customer churn data set (7 043 customers, Apache-2.0).

A snapshot (one row per customer, no history), so it tests the *model* — LightGBM with the
same parameters as the workspace churn model, and the same logistic baseline — not the
feature pipeline.  Mapping: tenure (months), contract, monthly and total charges, services
and billing attributes become features; ``TotalCharges`` is blank for the 11 customers of
tenure 0 (nothing billed yet), read as 0.  5-fold stratified cross-validation, fixed seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from retentio.errors import DataError

CATEGORICAL = ("gender", "Partner", "Dependents", "PhoneService", "MultipleLines", "InternetService", "OnlineSecurity",
               "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies", "Contract",
               "PaperlessBilling", "PaymentMethod")
NUMERIC = ("tenure_months", "monthly_charges", "total_charges", "senior_citizen", "services", "charges_per_tenure")
SERVICES = ("PhoneService", "MultipleLines", "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport",
            "StreamingTV", "StreamingMovies")


def load(path: Path) -> tuple[pl.DataFrame, np.ndarray]:
    """The feature frame (account_id, day = null, features) and the churn label."""
    if not Path(path).exists():
        raise DataError(f"{path}: no such file", hint="pass the Telco CSV, e.g. tests/data/telco/Telco-Customer-Churn.csv")
    raw = pl.read_csv(path, infer_schema_length=0)  # every column as text: blanks stay visible
    missing = [c for c in (*CATEGORICAL, "customerID", "tenure", "MonthlyCharges", "TotalCharges", "Churn", "SeniorCitizen")
               if c not in raw.columns]
    if missing:
        raise DataError(f"{path}: not the Telco churn file (columns missing: {', '.join(missing)})",
                        hint="use the IBM Telco-Customer-Churn.csv")
    total = pl.col("TotalCharges").str.strip_chars()
    frame = raw.select(
        pl.col("customerID").alias("account_id"),
        pl.col("tenure").cast(pl.Float64).alias("tenure_months"),
        pl.col("MonthlyCharges").cast(pl.Float64).alias("monthly_charges"),
        # blank for tenure-0 customers: nothing billed yet
        pl.when(total == "").then(pl.lit(0.0)).otherwise(total.cast(pl.Float64, strict=False)).alias("total_charges"),
        pl.col("SeniorCitizen").cast(pl.Float64).alias("senior_citizen"),
        pl.sum_horizontal([(pl.col(c) == "Yes").cast(pl.Int64) for c in SERVICES]).cast(pl.Float64).alias("services"),
        *[pl.col(c).alias(f"attr_{c}") for c in CATEGORICAL],
    ).with_columns(
        (pl.col("total_charges") / pl.max_horizontal(pl.col("tenure_months"), pl.lit(1.0))).alias("charges_per_tenure"),
    )
    y = (raw["Churn"] == "Yes").cast(pl.Int64).to_numpy()
    return frame, y


def benchmark(path: Path, *, folds: int = 5, seed: int = 42) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from retentio.predict.churn import Baseline, Encoding, fit_lgb

    if not 2 <= folds <= 20:
        from retentio.errors import UsageError

        raise UsageError(f"folds {folds} is out of range", hint="use 2 to 20 folds")
    frame, y = load(path)
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    aucs, base_aucs = [], []
    for train_idx, test_idx in skf.split(np.zeros(len(y)), y):
        tr, te = frame[train_idx.tolist()], frame[test_idx.tolist()]
        enc = Encoding.learn(tr)
        Xtr, Xte = enc.matrix(tr), enc.matrix(te)
        booster = fit_lgb(Xtr, y[train_idx], enc, seed)
        aucs.append(float(roc_auc_score(y[test_idx], booster.predict(Xte, raw_score=True))))
        base = Baseline.fit(Xtr, y[train_idx], enc, seed)
        base_aucs.append(float(roc_auc_score(y[test_idx], base.score(Xte))))
    return {
        "dataset": "telco",
        "rows": int(len(y)),
        "churned": int(y.sum()),
        "folds": folds,
        "seed": seed,
        "auc_mean": float(np.mean(aucs)),
        "auc_std": float(np.std(aucs)),
        "model": "lightgbm",
        "baseline": "logistic_regression_l2",
        "baseline_auc_mean": float(np.mean(base_aucs)),
        "baseline_auc_std": float(np.std(base_aucs)),
        "fold_auc": aucs,
    }
