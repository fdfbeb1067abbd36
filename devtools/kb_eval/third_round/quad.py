exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
import functools, itertools
rs = retrievals("ctxw1.0")
orig = assistant.rerank_features
orig_fl = ev.fit_listwise
def rf(cands, weights, pairs):
    x = orig(cands, weights)
    if not len(cands): return np.zeros((0, x.shape[1] + len(pairs)))
    return np.hstack([x] + [x[:, [i]] * x[:, [j]] for i, j in pairs])
allpairs = list(itertools.combinations_with_replacement(range(12), 2))
key = [(0, j) for j in range(12)] + [(5, j) for j in range(5, 12)] + [(3, j) for j in range(3, 12)]
for label, pairs, l2 in [("all pairs l2 .01", allpairs, 0.01), ("all pairs l2 .1", allpairs, 0.1), ("dense/coverage/lexical products l2 .01", key, 0.01), ("dense/coverage/lexical products l2 .1", key, 0.1)]:
    assistant.rerank_features = ev.rerank_features = functools.partial(rf, pairs=pairs)
    ev.fit_listwise = functools.partial(orig_fl, l2=l2)
    report(label, rs)
    holdout(label, rs)
