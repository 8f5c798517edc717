"""Measure the sentiment scorer on labelled samples (docs/sentiment.md).

Run: ``python -m retentio.satisfaction.sentiment_eval [DATA_DIR]`` with DATA_DIR the
project's ``shared/data`` folder (default ``../shared/data``): both models (trained and
lexicon) on the UMSAB validation split and the support-text set (``evaluate_models``);
add ``--lexicon-candidates`` for the lexicon scorer's original measurement (``evaluate``).
Samples:

- UMSAB tweets (cardiffnlp/xlm-t), 3 classes, French and English: thresholds are chosen on
  the ``train`` split, accuracy and macro-F1 are measured on the held-out ``val`` split.
- UCI Sentiment Labelled Sentences (Amazon, IMDb), 2 classes, English: accuracy of the sign
  of the score (a score of exactly 0 counts as a miss).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from retentio.satisfaction import sentiment as S

CLASSES3 = ("negative", "neutral", "positive")
UMSAB_LABELS = {"0": "negative", "1": "neutral", "2": "positive"}


def load_umsab(root: Path, lang: str, split: str) -> list[tuple[str, str]]:
    folder = root / "umsab-tweets-en-fr" / ("english" if lang == "en" else "french")
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / f"{split}_labels.txt").read_text(encoding="utf-8").splitlines()
    return [(t, UMSAB_LABELS[lab.strip()]) for t, lab in zip(texts, labels)]


def load_uci(root: Path, name: str) -> list[tuple[str, str]]:
    out = []
    with open(root / "uci-sentiment-sentences-en" / f"{name}_labelled.txt", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 2:
                out.append((row[0], "positive" if row[1].strip() == "1" else "negative"))
    return out


def accuracy_macro_f1(gold: list[str], pred: list[str], classes) -> tuple[float, float]:
    acc = sum(g == p for g, p in zip(gold, pred)) / len(gold)
    f1s = []
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        fp = sum(g != c and p == c for g, p in zip(gold, pred))
        fn = sum(g == c and p != c for g, p in zip(gold, pred))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return acc, sum(f1s) / len(f1s)


def label(score: float, th: float) -> str:
    return "positive" if score >= th else "negative" if score <= -th else "neutral"


def evaluate(root: Path) -> dict:
    res: dict = {}
    for lang in ("en", "fr"):
        train = load_umsab(root, lang, "train")
        val = load_umsab(root, lang, "val")
        tr = [S.raw_score(t, lang) for t, _ in train]
        ths = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
        best = max(ths, key=lambda th: accuracy_macro_f1([g for _, g in train], [label(s, th) for s in tr], CLASSES3)[1])
        va = [S.raw_score(t, lang) for t, _ in val]
        acc, f1 = accuracy_macro_f1([g for _, g in val], [label(s, best) for s in va], CLASSES3)
        # The product path: language detected, shipped threshold.
        auto = S.score_texts([t for t, _ in val], model="lexicon")
        acc_a, f1_a = accuracy_macro_f1([g for _, g in val], [a.label if a else "neutral" for a in auto], CLASSES3)
        detected = sum(a is not None and a.language == lang for a in auto) / len(val)
        res[f"umsab_{lang}"] = {
            "train_n": len(train), "val_n": len(val), "threshold_tuned_on_train": best,
            "val_accuracy": acc, "val_macro_f1": f1,
            "val_accuracy_detected_language": acc_a, "val_macro_f1_detected_language": f1_a,
            "language_detected_correctly": detected,
        }
    for name in ("amazon_cells", "imdb"):
        s = load_uci(root, name)
        sc = [S.raw_score(t, "en") for t, _ in s]
        pred = ["positive" if x > 0 else "negative" if x < 0 else "none" for x in sc]
        acc, f1 = accuracy_macro_f1([g for _, g in s], pred, ("negative", "positive"))
        res[f"uci_{name}"] = {"n": len(s), "accuracy_sign": acc, "macro_f1_sign": f1,
                              "nonzero_share": sum(x != 0 for x in sc) / len(sc)}
    return res


def load_support(lang: str | None = None) -> list[tuple[str, str, str]]:
    """The project's labelled support-ticket and survey-comment sentences (data/README.md):
    (text, label, lang) rows, optionally of one language."""
    from importlib import resources

    text = resources.files("retentio.satisfaction").joinpath("data", "support_sentences.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return [(r["text"], r["label"], r["lang"]) for r in rows if lang is None or r["lang"] == lang]


def load_support_train(lang: str | None = None) -> list[tuple[str, str, str, str]]:
    """The project's support-text TRAINING sentences (``data/support_train.csv``, written
    separately from the validation set above, data/README.md): (id, text, label, lang) rows,
    optionally of one language."""
    from importlib import resources

    text = resources.files("retentio.satisfaction").joinpath("data", "support_train.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return [(r["id"], r["text"], r["label"], r["lang"]) for r in rows if lang is None or r["lang"] == lang]


def confusion(gold: list[str], pred: list[str], classes=CLASSES3) -> list[list[int]]:
    """Rows = true class, columns = predicted class, in ``classes`` order."""
    return [[sum(g == a and p == b for g, p in zip(gold, pred)) for b in classes] for a in classes]


def measure(texts: list[str], gold: list[str], lang: str | None, model: str) -> dict:
    """Accuracy, macro-F1 and confusion matrix of one model on labelled texts (language given,
    or detected when ``lang`` is None)."""
    pred = [s.label if s else "neutral" for s in S.score_texts(texts, lang, model=model)]
    acc, f1 = accuracy_macro_f1(gold, pred, CLASSES3)
    return {"n": len(gold), "accuracy": round(acc, 4), "macro_f1": round(f1, 4), "confusion": confusion(gold, pred)}


def evaluate_models(root: Path | None) -> dict:
    """Both models (trained, lexicon) per language on the UMSAB validation split (never trained
    on; language given and detected) and on the support-text set (language detected)."""
    res: dict = {}
    for model in ("trained", "lexicon"):
        for lang in ("en", "fr"):
            if root is not None and (root / "umsab-tweets-en-fr").is_dir():
                val = load_umsab(root, lang, "val")
                texts, gold = [t for t, _ in val], [g for _, g in val]
                res[f"{model}/umsab_val_{lang}"] = measure(texts, gold, lang, model)
                res[f"{model}/umsab_val_{lang}_detected"] = measure(texts, gold, None, model)
                test = root / "umsab-tweets-en-fr" / ("english" if lang == "en" else "french") / "test_text.txt"
                if test.exists():
                    t = load_umsab(root, lang, "test")
                    res[f"{model}/umsab_test_{lang}"] = measure([x for x, _ in t], [g for _, g in t], lang, model)
            sup = load_support(lang)
            res[f"{model}/support_{lang}"] = measure([t for t, _, _ in sup], [g for _, g, _ in sup], None, model)
    return res


if __name__ == "__main__":  # pragma: no cover
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data")
    if len(sys.argv) > 2 and sys.argv[2] == "--lexicon-candidates":
        print(json.dumps(evaluate(root), indent=1))
    else:
        print(json.dumps(evaluate_models(root), indent=1))
