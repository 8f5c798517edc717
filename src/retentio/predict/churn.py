"""The churn model: label, time-based split, LightGBM vs a regularised logistic baseline,
calibration, evaluation and per-account contributions (docs/prediction.md).

Label: an account that is a customer at the end of month m is a churner when it has a
churn movement (metrics.md §3, ``metrics.movements.account_movements``) in one of the
months m+1 .. m+horizon.  Month ends whose label window is not complete by the last
complete month are unlabelled (they are the ones scored).

Everything here is deterministic for a given seed: LightGBM runs single-threaded with
``deterministic=True``; ties in rankings are broken by account id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from retentio.config import Settings
from retentio.engine import Engine
from retentio.errors import DataError
from retentio.metrics.periods import month_end, month_label

# Chosen once for small, noisy books (shallow trees, L2, slow learning); the same
# parameters run the Telco benchmark (docs/prediction.md shows the settings compared).
LGB_ROUNDS = 300


def lgb_params(seed: int, scale_pos_weight: float) -> dict[str, Any]:
    return {
        "objective": "binary",
        "learning_rate": 0.03,
        "num_leaves": 7,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 5.0,
        "scale_pos_weight": scale_pos_weight,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": 1,
        "verbose": -1,
    }


# -- labels and the dataset ----------------------------------------------------------------
def churn_labels(engine: Engine, settings: Settings, first: int, last: int, horizon: int) -> pl.DataFrame:
    """account_id, month, label for every account that is a customer at the end of a month
    m in [first, last - horizon]: 1 when it has a churn movement in m+1 .. m+horizon."""
    from retentio.metrics.movements import account_movements
    from retentio.metrics.mrr import account_months

    A = account_months(engine, settings, first, last)
    mv = engine.collect(account_movements(engine, settings, A, first + 1, last).select("account_id", "month", "kind"))
    cust = engine.collect(A.select("account_id", "month")).filter(pl.col("month") <= last - horizon)
    churn_months = mv.filter(pl.col("kind") == "churn").select("account_id", pl.col("month").alias("cm"))
    hit = (
        cust.join(churn_months, on="account_id", how="inner")
        .filter((pl.col("cm") > pl.col("month")) & (pl.col("cm") <= pl.col("month") + horizon))
        .select("account_id", "month").unique().with_columns(pl.lit(1, pl.Int8).alias("label"))
    )
    return cust.join(hit, on=["account_id", "month"], how="left").with_columns(pl.col("label").fill_null(0))


@dataclass
class Dataset:
    frame: pl.DataFrame  # account_id, day, month, label (null = unlabelled), features
    first: int  # first month end with features
    last: int  # the last complete month (scored)
    horizon: int

    @property
    def labelled_last(self) -> int:
        return self.last - self.horizon


def build_dataset(engine: Engine, settings: Settings, as_of: date, horizon: int) -> Dataset:
    from retentio.clock import last_complete_month
    from retentio.metrics.mrr import history_first_month
    from retentio.predict.features import account_features

    y, m = last_complete_month(as_of)
    last = y * 12 + m - 1
    start = history_first_month(engine)
    if start is None:
        raise DataError("no paid subscription line in this workspace", hint="import subscriptions first")
    first = start + settings.predict.min_history_months
    if first > last:
        raise DataError(f"too little history before {month_label(last)} to build features",
                        hint="import more months of subscriptions or pass a later as_of")
    # in the engine's bounded cache (a Polars frame: nothing of the engine's to release)
    feats = engine.cached(
        ("predict_features", settings.model_dump_json(), first, last),
        lambda: account_features(engine, settings, [month_end(i) for i in range(first, last + 1)]),
        lambda _frame: [],
    )
    feats = feats.with_columns(
        (pl.col("day").dt.year().cast(pl.Int64) * 12 + pl.col("day").dt.month().cast(pl.Int64) - 1).alias("month")
    )
    labels = churn_labels(engine, settings, start, last, horizon)
    frame = feats.join(labels, on=["account_id", "month"], how="left")
    frame = frame.select("account_id", "day", "month", "label", *[c for c in feats.columns if c not in ("account_id", "day", "month")])
    return Dataset(frame.sort("month", "account_id"), first, last, horizon)


@dataclass(frozen=True)
class Split:
    fit: tuple[int, int]
    calibration: tuple[int, int]
    test: tuple[int, int] | None


def time_split(ds: Dataset, settings: Settings, *, with_test: bool) -> Split:
    """Test = the last ``test_months`` labelled month ends; training month ends end
    ``horizon`` months before the test starts (gap = horizon, so no training label window
    overlaps the test months); the last ``calibration_months`` of training calibrate."""
    p = settings.predict
    lab_last = ds.labelled_last
    if with_test:
        test = (lab_last - p.test_months + 1, lab_last)
        train_last = test[0] - ds.horizon
    else:
        test = None
        train_last = lab_last
    cal = (train_last - p.calibration_months + 1, train_last)
    fit = (ds.first, cal[0] - 1)
    if fit[1] < fit[0]:
        need = p.min_history_months + p.calibration_months + 1 + (p.test_months + ds.horizon if with_test else 0) + ds.horizon
        raise DataError(
            f"not enough history to train: month ends {month_label(ds.first)}..{month_label(ds.last)} "
            f"(horizon {ds.horizon}, {p.test_months} test and {p.calibration_months} calibration months)",
            hint=f"a book needs at least about {need} months; lower predict.test_months or the horizon",
        )
    return Split(fit, cal, test)


def rows_in(frame: pl.DataFrame, months: tuple[int, int]) -> pl.DataFrame:
    return frame.filter((pl.col("month") >= months[0]) & (pl.col("month") <= months[1]) & pl.col("label").is_not_null())


# -- encoding ------------------------------------------------------------------------------
@dataclass
class Encoding:
    """How a frame becomes a matrix: numeric columns as is (NaN for missing), categorical
    columns as integer codes of a vocabulary learnt on the training rows (unseen = NaN)."""

    numeric: list[str]
    categorical: list[str]
    vocab: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def learn(cls, frame: pl.DataFrame, exclude: list[str] | tuple[str, ...] = ()) -> "Encoding":
        from retentio.predict.features import feature_columns

        num, cat = feature_columns(frame.drop("month", "label", *exclude, strict=False))
        vocab = {c: sorted(v for v in frame[c].unique().to_list() if v is not None) for c in cat}
        return cls(num, cat, vocab)

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        cols = []
        for c in self.numeric:
            if c in frame.columns:
                cols.append(frame[c].cast(pl.Float64).fill_nan(None).to_numpy().astype(float))
            else:
                cols.append(np.full(frame.height, np.nan))
        for c in self.categorical:
            idx = {v: i for i, v in enumerate(self.vocab[c])}
            vals = frame[c].to_list() if c in frame.columns else [None] * frame.height
            cols.append(np.array([idx.get(v, np.nan) if v is not None else np.nan for v in vals], dtype=float))
        return np.column_stack(cols) if cols else np.zeros((frame.height, 0))

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": self.numeric, "categorical": self.categorical, "vocab": self.vocab}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Encoding":
        return cls(list(d["numeric"]), list(d["categorical"]), {k: list(v) for k, v in d["vocab"].items()})


# -- calibration ---------------------------------------------------------------------------
def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


@dataclass
class Calibrator:
    """Maps a model's raw score (log-odds) to a probability: Platt (a sigmoid a*s + b) or
    isotonic (a step function of the score); learnt on the calibration months."""

    method: str
    a: float = 1.0
    b: float = 0.0
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, method: str, score: np.ndarray, label: np.ndarray) -> "Calibrator":
        if len(np.unique(label)) < 2:
            raise DataError("the calibration months hold no churner (or only churners)",
                            hint="use more calibration months (predict.calibration_months) or a longer history")
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(score, label)
            return cls(method, x=[float(v) for v in iso.X_thresholds_], y=[float(v) for v in iso.y_thresholds_])
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, max_iter=1000).fit(score.reshape(-1, 1), label)
        return cls(method, a=float(lr.coef_[0][0]), b=float(lr.intercept_[0]))

    def __call__(self, score: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.interp(score, np.array(self.x), np.array(self.y))
        return 1.0 / (1.0 + np.exp(-(self.a * score + self.b)))

    def to_dict(self) -> dict[str, Any]:
        if self.method == "isotonic":
            return {"method": self.method, "x": self.x, "y": self.y}
        return {"method": self.method, "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Calibrator":
        return cls(d["method"], d.get("a", 1.0), d.get("b", 0.0), list(d.get("x", [])), list(d.get("y", [])))


# -- models ----------------------------------------------------------------------------------
def class_balance(label: np.ndarray) -> dict[str, Any]:
    pos = int(label.sum())
    neg = int(len(label) - pos)
    return {"rows": int(len(label)), "churned": pos, "rate": pos / len(label) if len(label) else None,
            "scale_pos_weight": (neg / pos) if pos else 1.0}


def fit_lgb(X: np.ndarray, y: np.ndarray, enc: Encoding, seed: int):
    import lightgbm as lgb

    bal = class_balance(y)
    if bal["churned"] == 0:
        raise DataError("no churner in the training months", hint="a churn model needs accounts that churned; use a longer history")
    data = lgb.Dataset(X, label=y, feature_name=[_safe(c) for c in enc.features],
                       categorical_feature=list(range(len(enc.numeric), len(enc.features))) or "auto",
                       free_raw_data=True, params={"verbose": -1})
    return lgb.train(lgb_params(seed, bal["scale_pos_weight"]), data, num_boost_round=LGB_ROUNDS)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)


@dataclass
class Baseline:
    """Regularised (L2) logistic regression on standardised numeric features (missing =
    training median, plus a missing flag) and one-hot categories; classes weighted."""

    enc: Encoding
    medians: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    model: Any

    @staticmethod
    def _design(X: np.ndarray, enc: Encoding, medians: np.ndarray) -> np.ndarray:
        n_num = len(enc.numeric)
        num = X[:, :n_num]
        miss = np.isnan(num)
        num = np.where(miss, medians, num)
        # heavy-tailed amounts and counts: a signed log keeps them on a comparable scale
        num = np.sign(num) * np.log1p(np.abs(num))
        parts = [num, miss.astype(float)]
        for j, c in enumerate(enc.categorical):
            codes = X[:, n_num + j]
            oh = np.zeros((X.shape[0], len(enc.vocab[c])))
            ok = ~np.isnan(codes)
            oh[np.nonzero(ok)[0], codes[ok].astype(int)] = 1.0
            parts.append(oh)
        return np.column_stack(parts)

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, enc: Encoding, seed: int, C: float = 0.5) -> "Baseline":
        from sklearn.linear_model import LogisticRegression

        n_num = len(enc.numeric)
        import warnings

        with warnings.catch_warnings():  # a column without any value has no median: 0 below
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(X[:, :n_num], axis=0) if n_num else np.zeros(0)
        med = np.where(np.isnan(med), 0.0, med)
        D = cls._design(X, enc, med)
        mean, scale = D.mean(axis=0), D.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        lr = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed)
        lr.fit((D - mean) / scale, y)
        return cls(enc, med, mean, scale, lr)

    def score(self, X: np.ndarray) -> np.ndarray:
        D = (self._design(X, self.enc, self.medians) - self.mean) / self.scale
        return self.model.decision_function(D)


# -- evaluation --------------------------------------------------------------------------
def lift_top_decile(y: np.ndarray, p: np.ndarray, ids: list[str] | None = None) -> float | None:
    """Churn rate among the 10 % riskiest (ceil) divided by the overall churn rate."""
    n = len(y)
    if n == 0 or y.sum() == 0:
        return None
    order = _rank_order(p, ids)
    k = max(1, math.ceil(0.1 * n))
    return float(y[order[:k]].mean() / y.mean())


def _rank_order(p: np.ndarray, ids: list[str] | None) -> np.ndarray:
    ids = ids if ids is not None else [f"{i:012d}" for i in range(len(p))]
    return np.array(sorted(range(len(p)), key=lambda i: (-p[i], ids[i])), dtype=int)


def reliability_table(y: np.ndarray, p: np.ndarray, ids: list[str] | None = None, bins: int = 10) -> list[dict[str, Any]]:
    """Rows ranked by predicted risk cut into ``bins`` groups of equal size: predicted mean vs
    observed churn rate in each."""
    order = _rank_order(p, ids)[::-1]  # lowest risk first
    out = []
    for i, chunk in enumerate(np.array_split(order, bins)):
        if len(chunk) == 0:
            continue
        out.append({"bin": i + 1, "rows": int(len(chunk)), "predicted": float(p[chunk].mean()),
                    "observed": float(y[chunk].mean()), "churned": int(y[chunk].sum())})
    return out


def scores(y: np.ndarray, p: np.ndarray, ids: list[str] | None = None) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    both = len(np.unique(y)) == 2
    return {
        "auc": float(roc_auc_score(y, p)) if both else None,
        "pr_auc": float(average_precision_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p)) if len(y) else None,
        "lift_top_decile": lift_top_decile(y, p, ids),
    }


@dataclass
class Fitted:
    enc: Encoding
    booster: Any
    calibrator: Calibrator
    baseline: Baseline
    baseline_calibrator: Calibrator
    balance: dict[str, Any]

    def raw(self, X: np.ndarray) -> np.ndarray:
        return self.booster.predict(X, raw_score=True)

    def risk(self, X: np.ndarray) -> np.ndarray:
        return self.calibrator(self.raw(X))

    def baseline_risk(self, X: np.ndarray) -> np.ndarray:
        return self.baseline_calibrator(self.baseline.score(X))


def fit_models(frame: pl.DataFrame, split: Split, settings: Settings, *, labels: np.ndarray | None = None) -> Fitted:
    """Fit LightGBM and the baseline on the fit months, calibrate both on the calibration months."""
    p = settings.predict
    fit_rows = rows_in(frame, split.fit)
    cal_rows = rows_in(frame, split.calibration)
    enc = Encoding.learn(fit_rows, p.exclude_features)
    Xf, yf = enc.matrix(fit_rows), fit_rows["label"].to_numpy().astype(int)
    Xc, yc = enc.matrix(cal_rows), cal_rows["label"].to_numpy().astype(int)
    booster = fit_lgb(Xf, yf, enc, p.seed)
    cal = Calibrator.fit(p.calibration, booster.predict(Xc, raw_score=True), yc)
    base = Baseline.fit(Xf, yf, enc, p.seed)
    bcal = Calibrator.fit(p.calibration, base.score(Xc), yc)
    bal = class_balance(yf)
    bal["calibration_rows"] = int(len(yc))
    bal["calibration_churned"] = int(yc.sum())
    bal["handling"] = (f"LightGBM weights churners by scale_pos_weight = {bal['scale_pos_weight']:.2f} "
                       "(non-churners / churners); the baseline uses class_weight=balanced; both are "
                       f"then recalibrated ({p.calibration}) on the calibration months, so risks are probabilities")
    return Fitted(enc, booster, cal, base, bcal, bal)


def evaluate(ds: Dataset, settings: Settings) -> dict[str, Any]:
    """The pinned evaluation of issue 14 on a time-based split."""
    split = time_split(ds, settings, with_test=True)
    fitted = fit_models(ds.frame, split, settings)
    test = rows_in(ds.frame, split.test)
    X, y = fitted.enc.matrix(test), test["label"].to_numpy().astype(int)
    ids = [f"{a}|{m}" for a, m in zip(test["account_id"].to_list(), test["month"].to_list())]
    risk = fitted.risk(X)
    base = fitted.baseline_risk(X)
    return {
        "horizon_months": ds.horizon,
        "train_months": [month_label(split.fit[0]), month_label(split.calibration[1])],
        "test_months": [month_label(split.test[0]), month_label(split.test[1])],
        "model": {**scores(y, risk, ids), "name": "lightgbm"},
        "baseline": {**scores(y, base, ids), "name": "logistic_regression_l2"},
        "test_account_months": int(len(y)),
        "test_churned": int(y.sum()),
        "calibration": reliability_table(y, risk, ids),
        "calibration_method": settings.predict.calibration,
        "calibration_months": [month_label(split.calibration[0]), month_label(split.calibration[1])],
        "class_balance": fitted.balance,
        "features": fitted.enc.features,
    }


def contributions(booster, X: np.ndarray) -> np.ndarray:
    """TreeSHAP values (log-odds) of each feature for each row; the last column is the bias."""
    return booster.predict(X, pred_contrib=True)

