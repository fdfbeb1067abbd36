exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
import functools
rs = retrievals("base")
for (s, c), r in zip(NAMED, rs):
    en = 1.0 if assistant.is_english(c.question) else 0.0
    for cand in r.ranked:
        cand.lang_en = en
orig = assistant.rerank_features
def rf(cands, weights, mode):
    x = orig(cands, weights)
    if not len(cands):
        return np.zeros((0, x.shape[1] + len(mode)))
    en = np.asarray([getattr(c, "lang_en", 0.0) for c in cands])[:, None]
    extra = [x[:, [j]] * en for j in mode]
    return np.hstack([x, *extra])
for mode in [(0,), (0, 8), (0, 3, 8), (3, 5)]:
    f = functools.partial(rf, mode=mode)
    assistant.rerank_features = ev.rerank_features = f
    report(f"en x features {mode}", rs)
    holdout(f"en x {mode}", rs)
