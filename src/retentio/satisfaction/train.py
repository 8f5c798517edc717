"""Train the shipped FR/EN sentiment model (docs/sentiment.md).

Run: ``python -m retentio.satisfaction.train [--data DIR] [--out DIR]`` with DIR the project's
``shared/data`` (default ``../shared/data``); the model files are written into ``--out``
(default: the package's ``models/`` folder, i.e. the shipped weights are rebuilt byte for byte).

Training data, per language: the UMSAB ``train`` split (3 classes); for English, the UCI
Amazon and IMDb review sentences (2 classes, sample weight ``SETTINGS["uci_weight"]``); for
French, the project's support-text TRAINING sentences of ``data/support_train.csv`` (sample
weight ``SETTINGS["project_weight"]["fr"]``).  The settings were chosen on the UMSAB ``val``
split and on a 5-fold cross-validation over ``support_train.csv`` (``--select en,fr`` reruns
that search); the UMSAB ``val`` split and the support-text VALIDATION set
``data/support_sentences.csv`` are never trained on, and the latter never chose a setting
(but the question rule of ``sentiment_model.LinearModel.predict`` was added after reading its
errors: docs/sentiment.md).

Needs scikit-learn (the ``dev`` extra); scoring does not.  The solver (lbfgs) is
deterministic, runs on one BLAS thread here, and the weights are rounded to float16, so the
files come out the same on every run.  OpenBLAS picks its kernels by CPU, and two kernels sum
in different orders: on an AVX-512 machine its own choice moved one weight in seven by one
float16 step.  The shipped weights were built with the Haswell kernels (AVX2, which every
x86_64 machine this runs on has), so training asks for them unless OPENBLAS_CORETYPE is set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# Before numpy loads OpenBLAS (see above): the kernels the shipped weights were built with.
os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

import numpy as np  # noqa: E402

from retentio.satisfaction import sentiment_model as M  # noqa: E402
from retentio.satisfaction.sentiment_eval import load_support_train, load_uci, load_umsab  # noqa: E402

LANGS = ("en", "fr")
# English: chosen on the UMSAB validation split (model v1).  French (v2): C and the weight of the
# support_train.csv rows chosen by --select (UMSAB val + 5-fold cross-validation on support_train.csv;
# the best mean of the two macro-F1s with UMSAB val >= 0.66), docs/sentiment.md.
SETTINGS = {"bits": 17, "C": {"en": 0.25, "fr": 8.0}, "dense_scale": {"en": 3.0, "fr": 1.0}, "uci_weight": 0.2,
            "project_weight": {"en": 0.0, "fr": 3.0}}
SEED = 15
FOLDS = 5  # cross-validation folds of the project training sentences (select)


def training_rows(root: Path, lang: str, uci_weight: float, project_weight: float = 0.0,
                  skip_ids=frozenset()) -> tuple[list[str], list[str], list[float]]:
    """Texts, labels and sample weights: UMSAB ``train`` (weight 1), for English the UCI
    sentences (``uci_weight``), and the project's support-text training sentences of
    ``data/support_train.csv`` (``project_weight``; rows whose id is in ``skip_ids`` left out,
    for cross-validation)."""
    rows = [(t, y, 1.0) for t, y in load_umsab(root, lang, "train")]
    if lang == "en" and uci_weight > 0:
        for name in ("amazon_cells", "imdb"):
            rows += [(t, y, uci_weight) for t, y in load_uci(root, name)]
    if project_weight > 0:
        rows += [(t, y, project_weight) for i, t, y, _ in load_support_train(lang) if i not in skip_ids]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def design(texts, lang: str, bits: int, dense_scale: float = 1.0):
    """Sparse design matrix: hashed features (scaled by 1/sqrt(occurrences)), then the dense
    features times ``dense_scale`` (a larger scale regularises the lexicon features less)."""
    from scipy import sparse

    tid, bucket, counts, dense = M.featurize(texts, lang, bits)
    dense = dense * dense_scale
    scale = 1.0 / np.sqrt(np.maximum(counts, 1))
    x = sparse.csr_matrix((scale[tid], (tid, bucket)), shape=(len(texts), 1 << bits))
    x.sum_duplicates()
    return sparse.hstack([x, sparse.csr_matrix(dense)], format="csr")


def fit(texts, labels, weights, lang: str, bits: int, c: float, dense_scale: float = 1.0) -> np.ndarray:
    """(2**bits + len(DENSE), 3) weights for unscaled features; the intercept is folded into
    the 'bias' dense weight."""
    return fit_design(design(texts, lang, bits, dense_scale), labels, weights, c, dense_scale)


def fit_design(x, labels, weights, c: float, dense_scale: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    y = np.array([M.CLASSES.index(v) for v in labels])
    clf = LogisticRegression(C=c, max_iter=3000, tol=1e-6, random_state=SEED)
    clf.fit(x, y, sample_weight=np.asarray(weights))
    w = clf.coef_.T.copy()  # (features, 3)
    w[-len(M.DENSE):] *= dense_scale
    w[-1] += clf.intercept_
    return w


def train(root: Path, settings: dict = SETTINGS) -> tuple[dict, np.ndarray]:
    bits = settings["bits"]
    ws = []
    for lang in LANGS:
        texts, labels, weights = training_rows(root, lang, settings["uci_weight"], settings["project_weight"][lang])
        ws.append(fit(texts, labels, weights, lang, bits, settings["C"][lang], settings["dense_scale"][lang]))
    trained_on = {"en": "UMSAB english train (1839) + UCI amazon_cells, imdb (2000, weight %g)" % settings["uci_weight"],
                  "fr": "UMSAB french train (1839)"}
    for lang in LANGS:
        n, pw = len(load_support_train(lang)), settings["project_weight"][lang]
        if n and pw:
            trained_on[lang] += " + project support_train.csv %s (%d, weight %g)" % (lang, n, pw)
    meta = {
        "name": M.MODEL_NAME, "bits": bits, "languages": list(LANGS), "classes": list(M.CLASSES),
        "dense_features": list(M.DENSE), "char_ngrams": list(M.CHAR_NGRAMS), "settings": settings, "seed": SEED,
        "trained_on": trained_on,
    }
    return meta, np.stack(ws).astype(np.float16)


def _limit_threads() -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


def folds(labels: list[str], k: int = FOLDS) -> list[int]:
    """Fold of each project training row: within each label, in file order, row i goes to fold
    i mod k (deterministic, stratified)."""
    seen: dict[str, int] = {}
    out = []
    for y in labels:
        out.append(seen.get(y, 0) % k)
        seen[y] = seen.get(y, 0) + 1
    return out


def select(root: Path, langs=LANGS, cs=(2.0, 8.0), scales=(1.0,), ucis=(0.2,), pws=(1.0, 3.0),
           bits=17) -> list[dict]:
    """Grid search (printed, and returned): per setting, macro-F1 on the UMSAB validation split
    (trained on everything) and the cross-validated macro-F1 on the project's support-text
    TRAINING sentences (FOLDS folds: trained on the tweets and the other folds, predictions
    pooled).  The shipped support-text validation set is never used here.  SETTINGS holds
    the choice (docs/sentiment.md says how it was made)."""
    from scipy import sparse

    from retentio.satisfaction.sentiment_eval import CLASSES3, accuracy_macro_f1

    out = []
    for lang in langs:
        val = load_umsab(root, lang, "val")
        proj = load_support_train(lang)
        p_texts, p_labels = [r[1] for r in proj], [r[2] for r in proj]
        fold = np.array(folds(p_labels), dtype=np.int64)
        for uw in (ucis if lang == "en" else (0.0,)):
            b_texts, b_labels, b_weights = training_rows(root, lang, uw)
            for scale in scales:
                xb = design(b_texts, lang, bits, scale)
                xp = design(p_texts, lang, bits, scale) if proj else None
                for pw in pws:
                    for c in cs:
                        meta = {"name": "x", "bits": bits, "languages": [lang]}

                        def model_of(keep):
                            x = sparse.vstack([xb, xp[keep]], format="csr") if keep.any() and pw > 0 else xb
                            ys = b_labels + ([p_labels[i] for i in np.flatnonzero(keep)] if pw > 0 else [])
                            ws = b_weights + ([pw] * int(keep.sum()) if pw > 0 else [])
                            return M.from_arrays(meta, fit_design(x, ys, ws, c, scale)[None].astype(np.float16))

                        full = model_of(np.ones(len(proj), dtype=bool))
                        pred, _ = full.predict([t for t, _ in val], lang)
                        v_f1 = accuracy_macro_f1([g for _, g in val], pred, CLASSES3)[1]
                        cv_pred = [""] * len(proj)
                        for k in range(FOLDS if pw > 0 else 1) if proj else ():
                            m = model_of(fold != k) if pw > 0 else full
                            idx = np.flatnonzero(fold == k) if pw > 0 else np.arange(len(proj))
                            labels, _ = m.predict([p_texts[i] for i in idx], lang)
                            for i, lab in zip(idx, labels):
                                cv_pred[i] = lab
                        c_f1 = accuracy_macro_f1(p_labels, cv_pred, CLASSES3)[1] if proj else None
                        row = {"lang": lang, "uci": uw, "dense_scale": scale, "project_weight": pw, "C": c,
                               "val_macro_f1": round(v_f1, 4),
                               "cv_macro_f1": None if c_f1 is None else round(c_f1, 4)}
                        out.append(row)
                        print(json.dumps(row), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m retentio.satisfaction.train", description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data", help="the shared/data folder (UMSAB and UCI)")
    ap.add_argument("--out", default=None, help="output folder (default: the package's models/ folder)")
    ap.add_argument("--select", default=None, help="print the grid search of these languages (en,fr) "
                    "instead of training (UMSAB val and cross-validation on support_train.csv)")
    ap.add_argument("--grid-c", default="2,8", help="--select: values of C (comma-separated)")
    ap.add_argument("--grid-project-weight", default="1,3", help="--select: sample weights of support_train.csv rows")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _limit_threads()
    root = Path(args.data)
    if not (root / "umsab-tweets-en-fr").is_dir():
        print(f"{root}: no umsab-tweets-en-fr folder here; pass --data with the shared/data folder", file=sys.stderr)
        return 2
    if args.select:
        select(root, tuple(args.select.split(",")), cs=tuple(float(v) for v in args.grid_c.split(",")),
               pws=tuple(float(v) for v in args.grid_project_weight.split(",")))
        return 0
    out = Path(args.out) if args.out else Path(__file__).resolve().parent / M.MODEL_DIR
    meta, weights = train(root)
    M.save(out, meta, weights)
    print(json.dumps({"out": str(out), "shape": list(weights.shape)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
