"""The trained FR/EN sentiment model: features and inference (numpy only).

One multinomial logistic regression per language (negative / neutral / positive), trained by
``python -m retentio.satisfaction.train`` (scikit-learn at training time only) and shipped as
two files in ``models/``: ``sentiment_linear.json`` (settings, classes, dense-feature names)
and ``sentiment_linear.npy`` (float16 weights).  Scoring needs numpy alone.

Features of a text (the same code at training and at run time):

- hashed word unigrams and bigrams of the folded text (lower case, accents removed); a word
  within three words after a negation (not, pas, jamais ...) is marked as negated, and in
  French so are the words between "ne" / "n'" and its "pas / plus / jamais / rien ...";
- hashed character 2- to 5-grams of the folded text (punctuation, emoji and emoticons kept);
- the hashed features of a text are binary, divided by the square root of their number;
- dense features from the lexicon scorer of ``sentiment.py``: its score, the sums of positive
  and of negative valences, counts of negations, boosters, "!", "?", and positive / negative
  emoji and emoticons;
- one rule after the model: a question ("?") without any lexicon word is neutral (``predict``).

Hashing: words by crc32 of their UTF-8 bytes, character n-grams by a polynomial hash of
their code points; both mixed by splitmix64 with numpy's wrapping uint64 arithmetic, so the
same text always gives the same buckets, whatever the Python hash seed or the machine.  Score = P(positive) - P(negative) in [-1, 1]; label = the most probable
class.
"""

from __future__ import annotations

import json
import re
import zlib
from itertools import chain, repeat
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Sequence

import numpy as np

from retentio.satisfaction import sentiment as S

MODEL_NAME = "trained-linear-v2"
CLASSES = ("negative", "neutral", "positive")
CHAR_NGRAMS = (2, 3, 4, 5)
BATCH = 2048  # texts featurised at once (bounds the memory of a large batch)

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_URL = re.compile(r"https?://\S+|\bhttp\b|www\.\S+")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")
POS_EMOJI = set("😀😃😄😁😆😊🙂😉😍🥰😘😎🤩👍👏🙌💪❤💕💖💗💙💚💛💜🎉🥳✨🌟⭐💯🙏✅😂🤗☺😻👌")
NEG_EMOJI = set("😡😠🤬😤😞😟😢😭😩😫😖😣😒🙄😔😕🙁☹👎💩😱😨😰🤮🤢❌⚠💔😑😐")
_EMOJI = re.compile("(?P<pos>[" + "".join(re.escape(c) for c in sorted(POS_EMOJI)) + "])|(?P<neg>["
                    + "".join(re.escape(c) for c in sorted(NEG_EMOJI)) + "])")
_EMOTICON = re.compile(r"(?P<pos>[:;=]-?[)\]dp]|\^_?\^|<3)|(?P<neg>[:;=]'?-?[(\[/\\|]|>:?\()")
_EMOTICON_START = ":;=^<>"  # the first characters of the matches of _EMOTICON
DENSE = ("lexicon_score", "valence_pos", "valence_neg", "negations", "boosters", "exclamations", "questions",
         "emoji_pos", "emoji_neg", "bias")

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_P = np.uint64(1_000_003)


def normalize(text: str) -> str:
    """Lower case, accents removed, literal \\uXXXX escapes decoded, URLs as one token."""
    # Each step is skipped when it cannot change the text (same result, less time): an escape
    # needs "\\u", a URL "http" or "www."; str.split() splits on exactly the characters of
    # the regex \s (both use str.isspace), so the join equals sub(r"\s+", " ").strip().
    if "\\u" in text:
        text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = S._fold(text)
    if not text.isascii():
        text = text.replace("‘", "'")
    if "http" in text or "www." in text:
        text = _URL.sub(" http ", text)
    return " ".join(text.split())


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64, wrapping)."""
    h = h ^ (h >> np.uint64(30))  # a new array: the steps below work in place on it
    h *= _M1
    h ^= h >> np.uint64(27)
    h *= _M2
    h ^= h >> np.uint64(31)
    return h


# French "ne ... pas / plus / jamais / rien ...": the words between "ne" (or "n'") and the
# closing particle are negated too ("ne marche pas" -> "ne ~marche pas"), and "plus" closes a
# "ne" like "pas" does ("ne marche plus").
FR_NE = frozenset({"ne", "n"})
FR_NE_CLOSE = frozenset({"pas", "plus", "jamais", "rien", "guere", "aucun", "aucune", "personne", "point"})
FR_NE_SCOPE = True
# The words that can start a negation scope, per language (``_words``'s fast path).
_NOT_MARKING = {lang: frozenset(neg | (FR_NE if lang == "fr" and FR_NE_SCOPE else set()))
                for lang, neg in S.NEGATIONS.items()}


def _words(norm: str, lang: str) -> list[str]:
    """Word tokens with negation marking ("not good" -> "not", "~good"; in French also the
    words between "ne" and "pas": "ne marche pas" -> "ne", "~marche", "pas")."""
    return _mark_negations(_word_tokens(norm, lang), norm, lang)


def _word_tokens(norm: str, lang: str) -> list[str]:
    """The word tokens of a normalised text, before negation marking."""
    return _WORD.findall(norm.replace("'", " ") if lang == "fr" else norm)


def _mark_negations(toks: list[str], norm: str, lang: str) -> list[str]:
    """``_words`` from the tokens of ``_word_tokens`` (a new list; ``toks`` is not changed)."""
    neg = S.NEGATIONS[lang]
    # Fast path: no negation, no "n't" and (French) no "ne": nothing is marked.
    if _NOT_MARKING[lang].isdisjoint(toks) and (lang == "fr" or "n't" not in norm):
        return list(toks)
    ne_scope = lang == "fr" and FR_NE_SCOPE
    out, left, ne = [], 0, 0
    for t in toks:
        if ne_scope and t in FR_NE:
            out.append(t)
            ne, left = 3, 0
        elif t in neg or t.endswith("n't") or (ne and t in FR_NE_CLOSE):
            out.append(t)
            ne, left = 0, 3
        elif t in ("!", "?"):
            out.append(t)
            ne = left = 0
        elif ne:
            out.append("~" + t)
            ne -= 1
        elif left:
            out.append("~" + t)
            left -= 1
        else:
            out.append(t)
    return out


def _same_tokens(text: str, norm: str, lang: str) -> bool:
    """True when the lexicon tokens of ``text`` (``S._tokens``) are the word tokens of ``norm``
    before negation marking (``_WORD`` on ``norm``, apostrophes as spaces in French): no
    \\uXXXX escape and no URL (which ``normalize`` changes), and in English no apostrophe
    (which the two tokenisers treat differently).  Then both regexes match [a-z0-9]+ and
    [!?] of the same folded text, whose runs of spaces do not matter."""
    return ("\\u" not in text and "http" not in norm and "www." not in norm
            and (lang == "fr" or "'" not in norm))


def dense_features(text: str, norm: str, lang: str, tokens: list[str] | None = None) -> list[float]:
    """``tokens``: the lexicon tokens of ``text`` when the caller has them (``featurize``)."""
    lex = S.lexicon(lang)
    words = S._tokens(text, lang) if tokens is None else tokens
    pos = neg = 0.0
    negations, boosters = S.NEGATIONS[lang], S.BOOSTERS[lang]
    for v in map(lex.get, words):  # same sums in the same order as word by word
        if v:
            if v > 0:
                pos += v
            else:
                neg -= v
    negs = sum(map(negations.__contains__, words))
    boost = sum(map(boosters.__contains__, words))
    if not negations.isdisjoint(boosters):  # a word counts as a negation before a booster
        boost = sum(1 for w in words if w in boosters and w not in negations)
    e_pos = e_neg = 0
    if norm.isascii():
        # every emoticon starts with one of these characters: without them, no regex scan
        found = _EMOTICON.finditer(norm) if any(c in norm for c in _EMOTICON_START) else ()
    else:
        found = (*_EMOJI.finditer(norm), *_EMOTICON.finditer(norm))
    for m in found:
        if m.lastgroup == "pos":
            e_pos += 1
        else:
            e_neg += 1
    return [S.score_tokens(words, lang), min(pos, 12.0) / 4, min(neg, 12.0) / 4, min(negs, 3) / 3, min(boost, 3) / 3,
            min(text.count("!"), 4) / 4, min(text.count("?"), 2) / 2, min(e_pos, 3) / 3, min(e_neg, 3) / 3, 1.0]


def _word_codes(words: list[str]) -> list[str]:
    """Unigrams and bigrams as strings to hash."""
    return ["w " + w for w in words] + ["b " + a + " " + b for a, b in zip(words, words[1:])]


def _bucket(h: np.ndarray, bits: int) -> np.ndarray:
    return (_mix(h) >> np.uint64(64 - bits)).astype(np.int64)


_CRC_W, _CRC_B = zlib.crc32(b"w "), zlib.crc32(b"b ")


def _word_crcs(words: Sequence[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """crc32 of the ``_word_codes`` of every text, in that order (per text its unigrams then
    its bigrams), and their number per text; computed in bulk over the batch:
    crc32(prefix + s) = crc32(s, crc32(prefix)), so no prefixed string is built, and the
    bigrams are formed over the flat word list, those across two texts dropped."""
    n = len(words)
    nw = np.fromiter(map(len, words), dtype=np.int64, count=n)
    flat = list(chain.from_iterable(words))
    uni = np.fromiter(map(zlib.crc32, map(str.encode, flat), repeat(_CRC_W)), dtype=np.uint64, count=len(flat))
    bi = np.fromiter(map(zlib.crc32, map(str.encode, map("%s %s".__mod__, zip(flat, flat[1:]))), repeat(_CRC_B)),
                     dtype=np.uint64, count=max(len(flat) - 1, 0))
    nb = np.maximum(nw - 1, 0)
    wl = nw + nb
    # flat pair j joins flat[j] and flat[j + 1]: kept when both are words of the same text
    ends = np.cumsum(nw)
    in_text = np.ones(bi.size, dtype=bool)
    last = ends[nw > 0] - 1  # the last word of each text with words starts no pair of its own
    in_text[last[last < bi.size]] = False
    bi = bi[in_text]
    out = np.empty(int(wl.sum()), dtype=np.uint64)
    start = np.cumsum(wl) - wl  # where each text's codes begin
    text_u = np.repeat(np.arange(n), nw)
    out[start[text_u] + (np.arange(len(flat)) - (ends - nw)[text_u])] = uni
    text_b = np.repeat(np.arange(n), nb)
    out[start[text_b] + nw[text_b] + (np.arange(bi.size) - (np.cumsum(nb) - nb)[text_b])] = bi
    return out, wl


def hashed_features(norms: Sequence[str], words: Sequence[list[str]], bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(text index, bucket) of every hashed feature occurrence of a batch, and the number of
    occurrences per text."""
    n = len(norms)
    # -- words: crc32 of the UTF-8 string, salted by a different constant than char n-grams
    crc, wl = _word_crcs(words)
    w_tid = np.repeat(np.arange(n, dtype=np.int64), wl)
    w_b = _bucket(crc + np.uint64(0x9E3779B97F4A7C15), bits)
    # -- character n-grams over " text " of every text joined by NUL separators
    buf = "\x00".join(" " + t + " " for t in norms)
    cp = np.frombuffer(buf.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lens = np.fromiter((len(t) + 3 for t in norms), dtype=np.int64, count=n)  # text + 2 spaces + separator
    tid_at = np.repeat(np.arange(n, dtype=np.int64), lens)[: cp.size]
    is_sep = np.concatenate([[0], np.cumsum(cp == 0)])
    tids, buckets = [w_tid], [w_b]
    # polynomial hash of the k-gram at i: h_k[i] = h_(k-1)[i] * P + cp[i + k - 1] (wrapping),
    # so each length extends the previous one
    h = cp
    for k in range(2, max(CHAR_NGRAMS) + 1):
        m = cp.size - k + 1
        if m <= 0:
            break
        h = h[:m] * _P
        h += cp[k - 1:m + k - 1]
        if k not in CHAR_NGRAMS:
            continue
        ok = (is_sep[k:m + k] - is_sep[:m]) == 0
        tids.append(tid_at[:m][ok])
        buckets.append(_bucket(h[ok] + np.uint64((k * 0x632BE59BD9B4E019) % (1 << 64)), bits))
    tid = np.concatenate(tids)
    bucket = np.concatenate(buckets)
    counts = np.bincount(tid, minlength=n)
    return tid, bucket, counts


def featurize(texts: Sequence[str], lang: str, bits: int):
    """Everything the model needs for a batch of texts of one language."""
    norms = [normalize(t) for t in texts]
    words, rows = [], []
    for t, nm in zip(texts, norms):
        toks = _word_tokens(nm, lang)
        words.append(_mark_negations(toks, nm, lang))
        rows.append(dense_features(t, nm, lang, toks if _same_tokens(t, nm, lang) else None))
    dense = np.array(rows, dtype=np.float64).reshape(len(texts), len(DENSE))
    tid, bucket, counts = hashed_features(norms, words, bits)
    return tid, bucket, counts, dense


@dataclass(frozen=True)
class LinearModel:
    """Per language: hashed weights (2**bits x 3) and dense weights (len(DENSE) x 3)."""
    name: str
    bits: int
    hashed: dict[str, np.ndarray]
    dense: dict[str, np.ndarray]

    def _hashed_by_class(self, lang: str) -> np.ndarray:
        """The hashed weights of a language as (3 x 2**bits) float64, one contiguous row per
        class, computed once: gathering from a row is faster than from a column, and
        float32 -> float64 is exact and is what np.bincount did to the gathered weights."""
        cache = self.__dict__.setdefault("_by_class", {})
        if lang not in cache:
            cache[lang] = np.ascontiguousarray(self.hashed[lang].T, dtype=np.float64)
        return cache[lang]

    def logits(self, texts: Sequence[str], lang: str) -> tuple[np.ndarray, np.ndarray]:
        """Class logits (n x 3) and the dense features (n x len(DENSE)) of texts of one language."""
        n = len(texts)
        if n == 0:
            return np.zeros((0, len(CLASSES))), np.zeros((0, len(DENSE)))
        tid, bucket, counts, dense = featurize(texts, lang, self.bits)
        w = self._hashed_by_class(lang)
        scale = 1.0 / np.sqrt(np.maximum(counts, 1))
        # the dense part summed feature by feature, in order, for each text: the same bits
        # whether a text is scored alone or in a batch (a BLAS product of a matrix sums in
        # another order than that of one row: scores differed in the last bit)
        out = (dense[:, :, None] * self.dense[lang][None, :, :]).sum(axis=1)
        for c in range(len(CLASSES)):
            out[:, c] += np.bincount(tid, weights=w[c].take(bucket), minlength=n) * scale
        return out, dense

    def predict(self, texts: Sequence[str], lang: str) -> tuple[list[str], np.ndarray]:
        """Labels and scores (P(positive) - P(negative)) of texts of one language.

        The question rule: a text with a "?" and no word of the lexicon (no valence at all)
        is neutral with score 0 - a how-to question to support, which tweets (where questions
        are mostly rhetorical and negative) taught the model to read as negative."""
        parts = [self.logits(texts[i:i + BATCH], lang) for i in range(0, len(texts), BATCH)] or [self.logits([], lang)]
        z, dense = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        labels = [CLASSES[i] for i in p.argmax(axis=1)]
        scores = p[:, 2] - p[:, 0]
        no_valence = (dense[:, 1] == 0) & (dense[:, 2] == 0)
        for i, t in enumerate(texts):
            if no_valence[i] and "?" in t:
                labels[i], scores[i] = "neutral", 0.0
        return labels, scores


MODEL_DIR = "models"
META_FILE = "sentiment_linear.json"
WEIGHTS_FILE = "sentiment_linear.npy"


def save(path, meta: dict, weights: np.ndarray) -> None:
    """Write the two model files into folder ``path`` (deterministic bytes)."""
    from pathlib import Path

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    with open(path / WEIGHTS_FILE, "wb") as f:
        np.save(f, weights.astype(np.float16), allow_pickle=False)


def from_arrays(meta: dict, weights: np.ndarray) -> LinearModel:
    """weights: (languages, 2**bits + len(DENSE), 3), languages in meta["languages"] order."""
    nh = 1 << meta["bits"]
    w = weights.astype(np.float32)
    hashed = {lang: np.ascontiguousarray(w[i, :nh]) for i, lang in enumerate(meta["languages"])}
    dense = {lang: w[i, nh:].astype(np.float64) for i, lang in enumerate(meta["languages"])}
    return LinearModel(meta["name"], meta["bits"], hashed, dense)


@lru_cache(maxsize=1)
def load() -> LinearModel:
    """The shipped model, read once (lazily, on first use)."""
    root = resources.files("retentio.satisfaction").joinpath(MODEL_DIR)
    meta = json.loads(root.joinpath(META_FILE).read_text(encoding="utf-8"))
    with root.joinpath(WEIGHTS_FILE).open("rb") as f:
        weights = np.load(f, allow_pickle=False)
    return from_arrays(meta, weights)
