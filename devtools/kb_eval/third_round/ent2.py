exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
import functools
orig_af = assistant.answer_features
IDX = assistant.ANSWER_FEATURES.index("entity_missing")
def af(r):
    x = orig_af(r)
    concepts, three = r.analysis.concepts, r.ranked[:3]
    covered = {i for c in three for i in c.covered}
    w = r.weights; tot = sum(w) or 1.0
    x[IDX] = sum(w[i] for i, c in enumerate(concepts) if c.entity and not c.number and i not in covered and not assistant._plan_wide(c, three)) / tot
    return x
assistant.answer_features = ev.answer_features = af
mode = sys.argv[1]
if mode == "l2":
    rs = retrievals("base")
    orig = ev.fit_logistic
    for l2 in (3.0, 10.0):
        ev.fit_logistic = functools.partial(orig, l2=l2)
        report(f"share l2={l2}", rs)
        for t in ("sealed", "dev", "test"):
            holdout(f"share l2={l2}", rs, test=t)
else:
    assistant.ENTITY_WEIGHT = float(mode)
    rs = retrievals(f"ew{mode}")
    report(f"share ENTITY_WEIGHT={mode}", rs)
    for t in ("sealed", "dev", "test"):
        holdout(f"share ew={mode}", rs, test=t)
