exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
rs = retrievals("base")
rs = copy.deepcopy(rs)
tr = [i for i, (s, _c) in enumerate(NAMED) if s != "sealed"]
te = [i for i, (s, _c) in enumerate(NAMED) if s == "sealed"]
ev.CALIBRATION = ("dev", "test")
f = ev.fit(org, [NAMED[i] for i in tr], retrievals=[rs[i] for i in tr])
mean, scale, w, b = f.abstain
names = assistant.ANSWER_FEATURES
print("coef", {n: round(float(c), 2) for n, c in zip(names, w)})
xs = []
for i in te:
    case = NAMED[i][1]
    r = assistant.rerank(rs[i], list(f.rerank_weights))
    x = assistant.answer_features(r)
    xs.append((case, x))
    p = ev.predict(f.abstain, x[None, :])[0]
    if case.answerable and p < f.threshold:
        z = (x - mean) / scale * w
        worst = sorted(zip(z, names))[:3]
        print(f"WR p={p:.2f} {case.id} {case.question[:100]} | " + ", ".join(f"{n} {v:+.1f}" for v, n in worst), "| unk:", [c.word for c in r.analysis.concepts if assistant.hard_unknown(c)])
# mean feature z per set (answerable)
for which in ("dev", "test", "first", "sealed"):
    X = np.asarray([assistant.answer_features(rs[i]) for i, (s, c) in enumerate(NAMED) if s == which and c.answerable])
    print(which, " ".join(f"{n[:10]}={v:+.2f}" for n, v in zip(names, ((X.mean(0) - mean) / scale))))
