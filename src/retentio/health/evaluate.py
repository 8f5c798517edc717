"""How well a score predicts churn: AUC with a bootstrap interval, churn per band, lift,
precision / recall of red, calibration by decile.  Plain numpy on (score, band, churned)."""

from __future__ import annotations

from typing import Any

import numpy as np

from retentio.health.scoring import BANDS


def auc(scores: np.ndarray, churned: np.ndarray) -> float | None:
    """Probability that a churner scores lower than a non-churner (ties count half): the
    Mann-Whitney AUC of the risk -score.  None without both outcomes."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(churned, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return None
    from scipy.stats import rankdata

    ranks = rankdata(-s)  # ranks of the risk (-score), ties get their average rank
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auc_interval(scores: np.ndarray, churned: np.ndarray, n_boot: int, seed: int) -> tuple[float | None, float | None]:
    """95 % percentile bootstrap interval of the AUC (account-months resampled with
    replacement, ``n_boot`` times, numpy Generator seeded with ``seed``)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(churned, dtype=bool)
    if n_boot <= 0 or len(s) == 0 or y.all() or (~y).all():
        return None, None
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(s), len(s))
        a = auc(s[idx], y[idx])
        if a is not None:
            vals.append(a)
    if not vals:
        return None, None
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def _rate(c: int, n: int) -> float | None:
    return None if n == 0 else c / n


def report(scores: list[float], bands: list[str], churned: list[bool], *, n_boot: int, seed: int) -> dict[str, Any]:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(churned, dtype=bool)
    b = np.asarray(bands, dtype=object)
    lo, hi = auc_interval(s, y, n_boot, seed)
    per_band = {}
    for name in BANDS:
        m = b == name
        n, c = int(m.sum()), int(y[m].sum())
        per_band[name] = {"account_months": n, "churned": c, "churn_rate": _rate(c, n)}
    red, green = per_band["red"]["churn_rate"], per_band["green"]["churn_rate"]
    lift = None if red is None or not green else red / green
    red_m = b == "red"
    calib = []
    if len(s):
        order = np.argsort(s, kind="mergesort")
        for k, chunk in enumerate(np.array_split(order, min(10, len(s)))):
            if len(chunk) == 0:
                continue
            calib.append({"decile": k + 1, "score_min": float(s[chunk].min()), "score_max": float(s[chunk].max()),
                          "account_months": int(len(chunk)), "churned": int(y[chunk].sum()),
                          "churn_rate": _rate(int(y[chunk].sum()), len(chunk))})
    return {
        "account_months": int(len(s)), "churned": int(y.sum()), "churn_rate": _rate(int(y.sum()), len(s)),
        "auc": auc(s, y), "auc_ci": [lo, hi], "bands": per_band, "lift_red_vs_green": lift,
        "precision_red": _rate(int(y[red_m].sum()), int(red_m.sum())),
        "recall_red": _rate(int(y[red_m].sum()), int(y.sum())),
        "calibration": calib,
    }
