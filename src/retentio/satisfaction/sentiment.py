"""Offline French / English sentiment of short customer texts (metrics.md §10).

Two scorers, chosen by the setting ``sentiment.model``: "trained" (default), the linear model
of ``sentiment_model.py`` trained by ``train.py``; "lexicon", the explainable scorer below.
Every ``Sentiment`` names the model that produced it.

The lexicon scorer: a VADER-style lexicon scorer, written here so that it has no dependency and never touches
the network: each word of a text found in the language's lexicon contributes its valence
(-4..+4); a booster word just before it (very, très ...) strengthens it, a negation among
the three words before it (not, pas, jamais ...) flips and damps it (x -0.74), words after
"but" / "mais" weigh 1.5 and words before 0.5, each "!" (up to 4) adds 0.292 in the
direction of the sum.  The sum s becomes a score in [-1, 1] with s / sqrt(s^2 + 15)
(VADER's normalisation).  Label: positive when score >= threshold, negative when
<= -threshold, else neutral.

Lexicons (``lexicons/``, MIT, see NOTICE.md): English from vaderSentiment 3.3.2, French
from vaderSentiment-fr 1.3.4.  The language of each text is detected by counting common
function words of each language (plus accented letters for French); see ``detect_language``.
The accuracy measured on labelled samples is in docs/sentiment.md.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Sequence

from retentio.errors import UsageError

LEXICON_MODEL = "lexicon-v1"
# settings sentiment.model -> what scores: the trained linear model or the lexicon scorer.
MODELS = ("trained", "lexicon")
LANGUAGES = ("en", "fr")
# Label thresholds on the score, tuned on the UMSAB train split (docs/sentiment.md).
THRESHOLDS = {"en": 0.2, "fr": 0.15}
NEGATION_SCALAR = -0.74
BOOSTER = 0.293
EXCLAMATION = 0.292
ALPHA = 15.0

NEGATIONS = {
    "en": {"not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without", "cannot", "cant",
           "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "werent", "wont", "wouldnt", "couldnt",
           "shouldnt", "havent", "hasnt", "hadnt", "aint", "n't"},
    "fr": {"pas", "jamais", "rien", "aucun", "aucune", "aucunement", "nullement", "sans", "ni", "personne", "guere"},
}
BOOSTERS = {
    "en": {"very": 1, "really": 1, "extremely": 1, "so": 1, "totally": 1, "absolutely": 1, "incredibly": 1,
           "completely": 1, "super": 1, "highly": 1, "most": 1, "too": 1, "quite": 0.5, "fairly": -0.5,
           "slightly": -1, "somewhat": -1, "barely": -1, "hardly": -1, "kind": -1, "little": -1},
    "fr": {"tres": 1, "vraiment": 1, "trop": 1, "tellement": 1, "extremement": 1, "totalement": 1,
           "absolument": 1, "super": 1, "si": 1, "hyper": 1, "completement": 1, "particulierement": 1,
           "plutot": -0.5, "assez": 0.5, "peu": -1, "legerement": -1, "moyennement": -1},
}
BUT = {"en": {"but", "however", "although"}, "fr": {"mais", "cependant", "pourtant", "toutefois"}}
STOPWORDS = {
    "en": {"the", "is", "and", "i", "a", "an", "of", "to", "for", "it", "this", "that", "with", "on", "you", "we",
           "but", "very", "was", "are", "be", "have", "not", "my", "your", "our", "they", "in", "at", "from",
           "thanks", "thank", "please", "can", "would", "will", "just", "all", "when", "what", "since", "its"},
    "fr": {"le", "la", "les", "des", "est", "et", "je", "pas", "une", "un", "du", "de", "pour", "que", "qui", "tres",
           "avec", "sur", "ce", "il", "nous", "vous", "mais", "merci", "ne", "plus", "au", "aux", "en", "ca",
           "cest", "depuis", "votre", "notre", "nos", "vos", "sont", "mon", "ma", "mes", "on", "elle", "bonjour",
           "dans", "par", "sans", "tout", "rien", "jamais"},
}
_TOKEN = re.compile(r"[a-z0-9]+(?:n't)?|[!?]")
_ACCENTED = re.compile(r"[éèêëàâîïôûùç]")
_LETTERS = re.compile(r"[a-z]+")
_NT = re.compile(r"(\w)n't\b")


class _FoldTable(dict):
    """str.translate table: each character -> its NFKD decomposition without combining marks,
    computed once per character (much faster than decomposing every text)."""

    def __missing__(self, code: int) -> str:
        out = "".join(c for c in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(c))
        self[code] = out
        return out


_FOLD_TABLE = _FoldTable({ord("’"): "'", ord("`"): "'"})


@lru_cache(maxsize=8192)
def _fold(text: str) -> str:
    """Lower case, accents removed, typographic apostrophes made plain.  Cached: a text is
    folded up to three times when scored (language, normalisation, lexicon tokens)."""
    text = text.lower()
    return text if text.isascii() and "`" not in text else text.translate(_FOLD_TABLE)


@lru_cache(maxsize=2)
def lexicon(lang: str) -> dict[str, float]:
    """word (lower case, accents removed) -> valence (-4..+4)."""
    text = resources.files("retentio.satisfaction").joinpath("lexicons", f"{lang}_lexicon.txt").read_text(encoding="utf-8")
    out: dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if lang == "fr":
            word, _, val = line.partition("->")
        else:
            word, val = line.split("\t")[:2]
        try:
            out[_fold(word.strip())] = float(val)
        except ValueError:
            continue
    return out


def _tokens(text: str, lang: str) -> list[str]:
    folded = _fold(text)
    if lang == "fr":
        # Elisions: l'equipe -> l equipe, n'est -> n est
        folded = folded.replace("'", " ")
    else:
        if "n't" in folded:
            folded = _NT.sub(r"\1 n't", folded)
        folded = folded.replace("'", "")
    return _TOKEN.findall(folded)


def language_evidence(text: str) -> tuple[str, str]:
    """(language, how): the language whose common function words occur more often in the text
    (an accented letter counts one for French).  ``how`` is "detected" (evidence for one
    language only), "mixed" (evidence for both: the larger wins) or "fallback" (no evidence,
    or a tie: English is used)."""
    # (an apostrophe is not a letter: the words are those of the text with "'" as a space;
    # an accented letter is never ASCII)
    words = _LETTERS.findall(_fold(text))
    fr = sum(map(STOPWORDS["fr"].__contains__, words))
    if not text.isascii() and _ACCENTED.search(text.lower()):
        fr += 1
    en = sum(map(STOPWORDS["en"].__contains__, words))
    if fr == en:
        return "en", "fallback"
    lo, hi = min(fr, en), max(fr, en)
    return ("fr" if fr > en else "en"), ("mixed" if lo >= 2 and 2 * lo >= hi else "detected")


def detect_language(text: str) -> str:
    """'fr' or 'en' (see ``language_evidence``); a tie (including no evidence) is English."""
    return language_evidence(text)[0]


@dataclass(frozen=True)
class Sentiment:
    label: str  # positive | neutral | negative
    score: float  # -1 .. 1
    language: str
    model: str = LEXICON_MODEL  # the model that produced it (lexicon-v1 | trained-linear-v2)
    language_source: str = "given"  # given | detected | mixed | fallback (see language_evidence)

    def to_dict(self) -> dict:
        return {"label": self.label, "score": self.score, "language": self.language, "model": self.model,
                "language_source": self.language_source}


def raw_score(text: str, lang: str) -> float:
    return score_tokens(_tokens(text, lang), lang)


def score_tokens(toks: list[str], lang: str) -> float:
    """The lexicon score of a text's tokens (``_tokens``), in [-1, 1]."""
    lex = lexicon(lang)
    neg, boost, but = NEGATIONS[lang], BOOSTERS[lang], BUT[lang]
    words = [t for t in toks if t != "!" and t != "?"]
    total = 0.0
    # Only the words with a valence (not boosters, not negations) contribute: visit those alone.
    hits = [i for i, v in enumerate(map(lex.get, words)) if v and words[i] not in boost and words[i] not in neg]
    if not hits:
        return total / math.sqrt(total * total + ALPHA)
    but_at = next((i for i, w in enumerate(words) if w in but), None)
    for i in hits:
        v = lex[words[i]]
        for k, decay in ((1, 1.0), (2, 0.95), (3, 0.9)):
            if i - k >= 0 and words[i - k] in boost:
                v += math.copysign(BOOSTER * boost[words[i - k]] * decay, v)
        if any(i - k >= 0 and words[i - k] in neg for k in (1, 2, 3)):
            v *= NEGATION_SCALAR
        if but_at is not None:
            v *= 0.5 if i < but_at else 1.5 if i > but_at else 1.0
        total += v
    if total:
        total += math.copysign(min(toks.count("!"), 4) * EXCLAMATION, total)
    return total / math.sqrt(total * total + ALPHA)


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise UsageError(f"unknown sentiment model {model!r}", hint="choose one of: " + ", ".join(MODELS))
    return model


def _check_lang(lang: str | None) -> str | None:
    if lang is not None and lang not in LANGUAGES:
        raise UsageError(f"unsupported language {lang!r} for sentiment", hint="choose fr or en, or leave it empty to detect it")
    return lang


def score_text(text: str | None, lang: str | None = None, *, model: str = "trained") -> Sentiment | None:
    """Sentiment of one text; None for an empty text.  ``lang`` None = detect it.  ``model``:
    "trained" (default, sentiment_model.py) or "lexicon" (the explainable lexicon scorer)."""
    return score_texts([text], lang, model=model)[0]


def score_texts(texts: Sequence[str | None], lang: str | None = None, *, model: str = "trained") -> list[Sentiment | None]:
    """Sentiment of many texts (None for empty ones); the trained model scores them in batches
    per language, which is much faster than one by one."""
    _check_model(model)
    _check_lang(lang)
    out: list[Sentiment | None] = [None] * len(texts)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, t in enumerate(texts):
        if t is None or not str(t).strip():
            continue
        key = (lang, "given") if lang else language_evidence(str(t))
        groups.setdefault(key, []).append(i)
    for (lg, how), idx in groups.items():
        if model == "lexicon":
            th = THRESHOLDS[lg]
            for i in idx:
                s = raw_score(str(texts[i]), lg)
                label = "positive" if s >= th else "negative" if s <= -th else "neutral"
                out[i] = Sentiment(label, s, lg, LEXICON_MODEL, how)
        else:
            from retentio.satisfaction import sentiment_model

            m = sentiment_model.load()
            labels, scores = m.predict([str(texts[i]) for i in idx], lg)
            for i, lab, sc in zip(idx, labels, scores.tolist()):
                out[i] = Sentiment(lab, sc, lg, m.name, how)
    return out


def score_lines(lines: Sequence[str], lang: str | None = None, model: str = "trained") -> dict:
    """Sentiment of each line of a text (``satisfaction sentiment-text``): one row per
    non-empty line, numbered from 1, with label, score, language (and how it was chosen)
    and the model; plus the count per label."""
    lines = [ln.rstrip("\r\n") for ln in lines]
    scored = score_texts(lines, lang, model=model)
    rows = [{"line": i, **s.to_dict(), "text": ln} for i, (ln, s) in enumerate(zip(lines, scored), 1) if s is not None]
    counts = {c: sum(r["label"] == c for r in rows) for c in ("negative", "neutral", "positive")}
    name = LEXICON_MODEL if model == "lexicon" else _trained_name()
    return {"model": name, "language": lang or "detected", "texts": len(rows), "counts": counts, "rows": rows}


def _trained_name() -> str:
    from retentio.satisfaction.sentiment_model import MODEL_NAME

    return MODEL_NAME


__all__ = ["ALPHA", "BOOSTER", "BOOSTERS", "BUT", "EXCLAMATION", "NEGATIONS", "NEGATION_SCALAR", "STOPWORDS",
           "Sentiment", "THRESHOLDS", "detect_language", "lexicon", "raw_score", "score_lines", "score_text",
           "score_texts"]
