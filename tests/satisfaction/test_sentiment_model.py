"""The trained sentiment model (issue 15): features, inference, the shipped weights' measured
quality, byte-for-byte retraining, the setting, and `satisfaction sentiment-text`."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from retentio.cli import main as cli_main
from retentio.config import Settings
from retentio.errors import ConfigError, DataError, UsageError
from retentio.metrics.periods import parse_period
from retentio.satisfaction import sentiment as S
from retentio.satisfaction import sentiment_model as M
from retentio.satisfaction.sentiment_eval import evaluate_models, load_support, load_support_train
from retentio.satisfaction.train import folds
from retentio.satisfaction.sentiment_trend import sentiment_by_account

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"  # CI: the repo is cloned with shared/ beside it
NEEDS_DATA = pytest.mark.skipif(not (DATA / "umsab-tweets-en-fr").is_dir(),
                                reason=f"{DATA} absent: the UMSAB/UCI data sets are not shipped with the repository")

cli_main._load_commands()
runner = CliRunner()


# -- features and inference, by hand -----------------------------------------------------
def test_feature_counts_of_a_tiny_text():
    # "ab" -> normalised "ab", padded " ab " (4 characters):
    #   char 2-grams: " a", "ab", "b " = 3; 3-grams: " ab", "ab " = 2; 4-grams: " ab " = 1; 5-grams: 0
    #   words: unigram "ab" = 1, no bigram
    # -> 3 + 2 + 1 + 0 + 1 = 7 hashed occurrences, all of text 0.
    tid, bucket, counts, dense = M.featurize(["ab"], "en", 17)
    assert counts.tolist() == [7] and tid.tolist() == [0] * 7
    assert ((bucket >= 0) & (bucket < 2 ** 17)).all()
    # "ab cd": words ab, cd + bigram "ab cd" = 3; " ab cd " has 7 chars -> 6 + 5 + 4 + 3 = 18 -> 21
    assert M.featurize(["ab cd"], "en", 17)[2].tolist() == [21]


def test_hashing_is_stable_and_batch_independent():
    a = M.featurize(["Great support, merci !"], "fr", 17)[1]
    b = M.featurize(["x", "Great support, merci !"], "fr", 17)
    assert a.tolist() == b[1][b[0] == 1].tolist()  # same buckets alone or in a batch
    # normalisation: accents, case and literal \u escapes do not change the features
    assert M.normalize("Très BIEN l\\u2019équipe") == M.normalize("tres bien l'equipe") == "tres bien l'equipe"


def test_negation_marks_the_next_three_words():
    assert M._words("it is not good at all really", "en") == ["it", "is", "not", "~good", "~at", "~all", "really"]
    # French: the words between "ne"/"n'" and the closing particle are negated as well (at
    # most three), then the particle negates the next three like "not" does ("plus" closes
    # "ne" like "pas"; without "ne" it is not a negation).
    assert M._words("ce n'est pas bon", "fr") == ["ce", "n", "~est", "pas", "~bon"]
    assert M._words("ca ne marche plus du tout, merci", "fr") == ["ca", "ne", "~marche", "plus", "~du", "~tout", "~merci"]
    assert M._words("plus rapide", "fr") == ["plus", "rapide"]


def test_score_is_p_positive_minus_p_negative_on_a_hand_made_model():
    # Every hashed weight 0; the bias gives logits (0, 0, ln 2) -> softmax (1/4, 1/4, 1/2):
    # label positive, score 1/2 - 1/4 = 0.25.
    bits = 4
    w = np.zeros((1, 2 ** bits + len(M.DENSE), 3))
    w[0, -1, 2] = math.log(2)
    model = M.from_arrays({"name": "toy", "bits": bits, "languages": ["en"]}, w.astype(np.float16))
    labels, scores = model.predict(["whatever text"], "en")
    assert labels == ["positive"] and scores[0] == pytest.approx(0.25, abs=1e-3)  # float16 ln 2 = 0.6929


def test_runtime_needs_no_scikit_learn_and_loads_lazily():
    code = ("import sys; import retentio.satisfaction as s; a = 'retentio.satisfaction.sentiment_model' in sys.modules; "
            "r = s.score_text('Great support, thank you!'); "
            "print(a, r.model, r.label, 'sklearn' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}).stdout.split()
    assert out == ["False", M.MODEL_NAME, "positive", "False", "False"]


def test_score_text_names_the_model_and_the_language_source():
    t = S.score_text("Thanks a lot, the fix works perfectly!")
    assert (t.model, t.language, t.language_source, t.label) == (M.MODEL_NAME, "en", "detected", "positive")
    lx = S.score_text("Thanks a lot, the fix works perfectly!", model="lexicon")
    assert lx.model == S.LEXICON_MODEL and lx.label == "positive"
    assert S.score_text("Merci !", "fr").language_source == "given"
    assert S.score_text("12345").language_source == "fallback"  # no evidence: English, said so
    assert S.score_text("   ") is None
    with pytest.raises(UsageError, match="'de'"):
        S.score_text("Hallo", "de")
    with pytest.raises(UsageError, match="'bert'"):
        S.score_text("Hello", model="bert")


def test_language_evidence_mixed():
    # fr clues: "merci", "le", "est" = 3; en clues: "the", "is" = 2 -> French, mixed (2 >= 3 / 2)
    assert S.language_evidence("merci, the export is le problème est") == ("fr", "mixed")
    assert S.language_evidence("Bonjour, l'export ne marche plus") == ("fr", "detected")


# -- the setting ---------------------------------------------------------------------------
def test_setting_sentiment_model(tmp_path):
    assert Settings().sentiment.model == "trained"
    assert Settings.model_validate({"sentiment": {"model": "lexicon"}}).sentiment.model == "lexicon"
    bad = tmp_path / "retentio.toml"
    bad.write_text('[sentiment]\nmodel = "bert"\n')
    with pytest.raises(ConfigError, match="sentiment.model"):
        Settings.load(bad)


def test_sentiment_by_account_uses_the_setting(make_engine):
    rows = [{"ticket_id": "t1", "account_id": "A", "created_at": datetime(2024, 2, 5), "resolved_at": None,
             "topic": None, "subject": "Merci", "body": "Très bon support, merci beaucoup !"}]
    eng = make_engine({"tickets": rows})
    lex = Settings.model_validate({"sentiment": {"model": "lexicon"}})
    a = sentiment_by_account(eng, lex, parse_period("2024-02"), include_texts=True)
    b = sentiment_by_account(eng, Settings(), parse_period("2024-02"), include_texts=True)
    assert a["model"] == S.LEXICON_MODEL and a["texts"][0]["model"] == S.LEXICON_MODEL
    assert b["model"] == M.MODEL_NAME and b["texts"][0]["model"] == M.MODEL_NAME
    # the lexicon's score of this text, by its own formula: tres(booster) bon ... is the lexicon scorer's
    assert a["texts"][0]["score"] == pytest.approx(S.raw_score("Merci. Très bon support, merci beaucoup !", "fr"))


# -- the support-text set and the measured quality ----------------------------------------
def test_support_set_is_documented_and_balanced():
    rows = load_support()
    for lang in ("en", "fr"):
        labels = [g for _, g, lg in rows if lg == lang]
        assert len(labels) >= 150, lang
        assert {c: labels.count(c) for c in ("negative", "neutral", "positive")} == {"negative": 55, "neutral": 55, "positive": 51}
    assert len({t for t, _, _ in rows}) == len(rows)  # no duplicate text


def test_support_training_set_is_separate_from_the_validation_set():
    # data/README.md: 493 French training texts, 168 / 165 / 160; none equal to a validation
    # text once normalised (case, accents, apostrophes, spaces), ids distinct from the
    # validation ids.
    train, val = load_support_train(), load_support()
    assert len(train) == 493 and {lg for _, _, _, lg in train} == {"fr"}
    labels = [g for _, _, g, _ in train]
    assert {c: labels.count(c) for c in ("negative", "neutral", "positive")} == {"negative": 168, "neutral": 165, "positive": 160}
    assert len({i for i, _, _, _ in train}) == 493 and all(i.startswith("fr-t") for i, _, _, _ in train)
    normalised_val = {M.normalize(t) for t, _, _ in val}
    assert not [t for _, t, _, _ in train if M.normalize(t) in normalised_val]
    assert len({M.normalize(t) for _, t, _, _ in train}) == 493


def test_cross_validation_folds_are_stratified_by_label():
    # within each label, in order, the i-th row goes to fold i mod 5
    assert folds(["a", "b", "a", "a", "b", "a", "a", "a", "a"]) == [0, 0, 1, 2, 1, 3, 4, 0, 1]


def test_support_set_scores():
    # docs/sentiment.md, support set (language detected); floors justified at SUPPORT_FLOOR.
    res = evaluate_models(None)
    assert res["trained/support_en"]["macro_f1"] >= SUPPORT_FLOOR["en"]
    assert res["trained/support_fr"]["macro_f1"] >= SUPPORT_FLOOR["fr"]
    assert res["trained/support_en"]["n"] == 161 and res["trained/support_fr"]["n"] == 161


@NEEDS_DATA
def test_shipped_model_validation_scores():
    res = evaluate_models(DATA)
    for lang in ("en", "fr"):
        trained, lexicon = res[f"trained/umsab_val_{lang}"], res[f"lexicon/umsab_val_{lang}"]
        assert trained["n"] == 324
        assert trained["macro_f1"] >= VAL_FLOOR[lang], (lang, trained)
        # and it beats the lexicon scorer it replaces as the default
        assert trained["macro_f1"] > lexicon["macro_f1"] and trained["accuracy"] > lexicon["accuracy"]
        assert sum(map(sum, trained["confusion"])) == 324
        # the issue's goal: support text scores higher than tweets, and than the lexicon on it
        support, support_lexicon = res[f"trained/support_{lang}"], res[f"lexicon/support_{lang}"]
        assert support["macro_f1"] > trained["macro_f1"] and support["macro_f1"] > support_lexicon["macro_f1"], lang


@NEEDS_DATA
@pytest.mark.slow
def test_training_rebuilds_the_shipped_weights_byte_for_byte(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "retentio.satisfaction.train", "--data", str(DATA), "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    shipped = ROOT / "src" / "retentio" / "satisfaction" / "models"
    for name in (M.META_FILE, M.WEIGHTS_FILE):
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes(), name


def test_shipped_weights_are_small():
    shipped = ROOT / "src" / "retentio" / "satisfaction" / "models"
    assert (shipped / M.WEIGHTS_FILE).stat().st_size < 4 * 2 ** 20


# -- CLI -----------------------------------------------------------------------------------
TEXTS = "Thanks a lot, the fix works perfectly!\n\nC'est nul, je suis très déçu, le service ne marche jamais.\n"


def test_cli_sentiment_text_json_from_stdin():
    r = runner.invoke(cli_main.app, ["satisfaction", "sentiment-text", "--format", "json"], input=TEXTS)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["model"] == M.MODEL_NAME and data["texts"] == 2
    assert [(x["line"], x["label"], x["language"]) for x in data["rows"]] == [(1, "positive", "en"), (3, "negative", "fr")]
    assert -1 <= data["rows"][0]["score"] <= 1 and data["counts"] == {"negative": 1, "neutral": 0, "positive": 1}


def test_cli_sentiment_text_csv_from_file_with_lang_and_lexicon(tmp_path):
    f = tmp_path / "texts.txt"
    f.write_text(TEXTS, encoding="utf-8")
    r = runner.invoke(cli_main.app, ["satisfaction", "sentiment-text", str(f), "--lang", "fr", "--model", "lexicon",
                                     "--format", "csv"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert [r_["line"] for r_ in rows] == ["1", "3"]
    assert {r_["language"] for r_ in rows} == {"fr"} and {r_["language_source"] for r_ in rows} == {"given"}
    assert {r_["model"] for r_ in rows} == {S.LEXICON_MODEL}
    assert rows[1]["label"] == "negative"


def test_cli_sentiment_text_table_and_errors(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(TEXTS, encoding="utf-8")
    r = runner.invoke(cli_main.app, ["satisfaction", "sentiment-text", str(f)])
    assert r.exit_code == 0, r.output
    assert "positive" in r.output and "negative" in r.output and "2 texts: 1 negative, 0 neutral, 1 positive" in r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80
    r = runner.invoke(cli_main.app, ["satisfaction", "sentiment-text"], input="12345\n")
    assert r.exit_code == 0 and "en*" in r.output and "the English model was used" in r.output
    # errors reach the console script's handler (exit 1 data, 2 usage) as RetentioErrors
    r = runner.invoke(cli_main.app, ["satisfaction", "sentiment-text", str(tmp_path / "missing.txt")])
    assert isinstance(r.exception, DataError) and "missing.txt" in r.exception.message and r.exception.exit_code == 1
    r = runner.invoke(cli_main.app, ["satisfaction", "sentiment-text", str(f), "--lang", "de"])
    assert isinstance(r.exception, UsageError) and "'de'" in r.exception.message and r.exception.exit_code == 2


# Floors of macro-F1.  The shipped weights and the data are fixed, so the figures are
# deterministic (docs/sentiment.md: UMSAB val EN 0.675, FR 0.685; support EN 0.832, FR 0.919);
# a floor fails a retrained or changed model that loses more than about 0.015-0.02.
# UMSAB val: the issue's goal, 0.66 (5 tweets of 324 below the measured EN figure, 8 below FR).
VAL_FLOOR = {"en": 0.66, "fr": 0.66}
# Support set: EN 0.81 (4 sentences of 161 below 0.832); FR 0.90 (3 sentences of 161 below
# 0.919), well above the issue's goal for French support text (> 0.68, above the tweets) and
# the lexicon's 0.641.  The French figure is measured on sentences written by the same hand
# as the French training sentences, so it is likely optimistic for real tickets
# (docs/sentiment.md); the floor guards against regressions, it is not a claim about them.
SUPPORT_FLOOR = {"en": 0.81, "fr": 0.90}


def test_word_crcs_in_bulk_are_the_crc32_of_the_word_codes_per_text():
    # unigrams "w <word>" then bigrams "b <a> <b>" of each text, in order; none across texts
    crc, counts = M._word_crcs([["a", "b"], [], ["c"]])
    assert crc.tolist() == [zlib.crc32(b"w a"), zlib.crc32(b"w b"), zlib.crc32(b"b a b"), zlib.crc32(b"w c")]
    assert counts.tolist() == [3, 0, 1]


def test_a_text_scores_the_same_alone_and_in_a_batch():
    """Features score many texts in one batch (features.compute._text_features): each score
    must be the bits it has when the text is scored alone."""
    from retentio.satisfaction.sentiment import score_text, score_texts

    texts = ["Great product, the team loves it", "Le support est lent et la facture est fausse",
             "Où change-t-on la devise par défaut ?", "Export fails again, very frustrating", "ok",
             "Merci beaucoup pour votre aide rapide !", "Le tableau de bord ne charge pas depuis lundi",
             "How do I invite a colleague?"] * 7
    alone = [score_text(t) for t in texts]
    batch = score_texts(texts)
    assert [(s.label, s.score) for s in alone] == [(s.label, s.score) for s in batch]
