exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
import functools
rs = retrievals("base")
orig_af = assistant.answer_features
IDX = assistant.ANSWER_FEATURES.index("entity_missing")
def af(r, mode):
    x = orig_af(r)
    concepts, three = r.analysis.concepts, r.ranked[:3]
    covered = {i for c in three for i in c.covered}
    miss = [c for i, c in enumerate(concepts) if c.entity and not c.number and i not in covered and not assistant._plan_wide(c, three)]
    known = [c for c in miss if not c.oov]
    unknown = [c for c in miss if c.oov]
    if mode == "known":
        x[IDX] = 1.0 if known else 0.0
    elif mode == "split":
        x[IDX] = 1.0 if known else 0.0
        x = np.append(x, 1.0 if unknown else 0.0)
    elif mode == "drop":
        x[IDX] = 0.0
    elif mode == "share":
        w = r.weights; tot = sum(w) or 1.0
        x[IDX] = sum(w[i] for i, c in enumerate(concepts) if c in miss) / tot
    elif mode == "plans":
        x[IDX] = 1.0 if any(c.word in lexicon.PLAN_NAMES for c in known) else 0.0
    return x
from kb import lexicon
for mode in ["base", "known", "split", "drop", "share", "plans"]:
    assistant.answer_features = ev.answer_features = (orig_af if mode == "base" else functools.partial(af, mode=mode))
    report(f"entity {mode}", rs)
    holdout(f"entity {mode}", rs)
    for t in ("dev", "test"):
        holdout(f"entity {mode}", rs, test=t)
