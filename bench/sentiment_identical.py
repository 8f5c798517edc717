"""Before/after check that sentiment scoring gives identical results (issue 15).

    PYTHONPATH=<tree>/src python bench/sentiment_identical.py dump OUT.pkl [DATA]   # once per code version
    python bench/sentiment_identical.py compare BEFORE.pkl AFTER.pkl

dump: every label, score, language and its source (trained and lexicon models, language
detected / en / fr) of UMSAB train+val (../shared/data), the support set, 20 000 bench texts
and odd cases, plus the logits and dense features per language; compare: all equal (floats
to 1e-12).
"""
import sys

if sys.argv[1] == "dump":
    sys.argv = sys.argv[1:]
    import pickle
    from pathlib import Path
    from retentio.satisfaction import sentiment as S, sentiment_model as M
    from retentio.satisfaction.sentiment_eval import load_umsab, load_support
    root = Path(__file__).resolve().parents[2] / "shared" / "data" if len(sys.argv) < 3 else Path(sys.argv[2])
    sets = {}
    for lang in ("en", "fr"):
        for split in ("train", "val"):
            sets[f"umsab_{split}_{lang}"] = [t for t, _ in load_umsab(root, lang, split)]
    sets["support"] = [t for t, _, _ in load_support()]
    base = sets["support"]
    sets["bench"] = [f"{base[i % len(base)]} (#{i})" for i in range(20000)]
    # odd cases
    sets["odd"] = ["", " ", None, "?", "!!!", "Ne marche pas :(", "n'est pas bien :-)", "\\u00e9t\\u00e9 génial 😀👍", "http://x.y www.z.com ok",
                   "I can't believe it's not good", "Très TRÈS bien!!!! ❤️", "ça ne marche plus...", "what?", "l’équipe `top`", "😡😡 ❌ >:( :'(", "ﬁne Ⅻ ǅ İstanbul ß", "don‘t like it", "don`t like it!", "isn't good :)", "c'est pas top", "l‘équipe n‘est pas là", "nope http://a.b/c?x bad", "www.site.com is great", "\\u0041 good \\u00e9 bad", "a\u2028b\u00a0c  good\tday"]
    out = {}
    for name, texts in sets.items():
        for lang in (None, "en", "fr"):
            for model in ("trained", "lexicon"):
                r = S.score_texts(texts, lang, model=model)
                out[(name, lang, model)] = [None if s is None else (s.label, s.score, s.language, s.model, s.language_source) for s in r]
        if name != "bench":
            for lang in ("en", "fr"):
                tt = [t for t in texts if t]
                z, d = M.load().logits(tt, lang)
                out[(name, lang, "logits")] = (z.copy(), d.copy())
    pickle.dump(out, open(sys.argv[1], "wb"))
    print(len(out), "entries")
else:
    sys.argv = sys.argv[1:]
    import pickle, sys, numpy as np
    a, b = (pickle.load(open(p, "rb")) for p in sys.argv[1:3])
    assert a.keys() == b.keys()
    bad = 0; n = 0; maxd = 0.0
    for k in a:
        x, y = a[k], b[k]
        if k[2] == "logits":
            for u, v in zip(x, y):
                d = float(np.max(np.abs(u - v))) if u.size else 0.0
                maxd = max(maxd, d); n += u.size
                if d > 1e-12: bad += 1; print("DIFF logits", k, d)
            continue
        for s, t in zip(x, y):
            n += 1
            if (s is None) != (t is None) or (s and (s[0], s[2], s[3], s[4]) != (t[0], t[2], t[3], t[4])):
                bad += 1; print("DIFF", k, s, t)
            elif s:
                d = abs(s[1] - t[1]); maxd = max(maxd, d)
                if d > 1e-12: bad += 1; print("DIFF score", k, s, t)
    print(f"{len(a)} sets, {n} values compared, {bad} differences, max abs diff {maxd:g}")
