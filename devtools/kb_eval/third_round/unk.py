exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
import functools
from kb import lexicon
rs = retrievals("base")
_SPLIT = re.compile(r"(?<=[.!?;:])\s+")
def interrogative(q):
    parts = [p for p in _SPLIT.split(" ".join(q.split())) if p.strip()]
    qs = [p for p in parts if "?" in p] or parts[-1:]
    return lexicon.fold(" ".join(qs))
orig_af = assistant.answer_features
N = assistant.ANSWER_FEATURES
IE, IU, IA = N.index("entity_missing_share"), N.index("unknown_share"), N.index("unknown_any")
def af(r, mode):
    x = orig_af(r)
    concepts, w = r.analysis.concepts, r.weights
    iq = set(re.findall(r"[a-z0-9]+", interrogative(r.analysis.question)))
    inq = [c.word in iq or any(p in iq for p in c.word.split()) for c in concepts]
    tot = sum(w) or 1.0
    if mode in ("unk", "both"):
        unk = sum(wi for c, wi, q in zip(concepts, w, inq) if assistant.hard_unknown(c) and q)
        x[IU] = unk / tot
        x[IA] = 1.0 if unk else 0.0
    if mode in ("ent", "both"):
        three = r.ranked[:3]
        covered = {i for c in three for i in c.covered}
        x[IE] = sum(w[i] for i, c in enumerate(concepts) if inq[i] and c.entity and not c.number and i not in covered and not assistant._plan_wide(c, three)) / tot
    if mode == "extra":
        unk = sum(wi for c, wi, q in zip(concepts, w, inq) if assistant.hard_unknown(c) and q)
        x = np.append(x, [unk / tot, sum(inq) / max(1, len(inq))])
    return x
for mode in ("base", "unk", "ent", "both", "extra"):
    assistant.answer_features = ev.answer_features = orig_af if mode == "base" else functools.partial(af, mode=mode)
    report(f"interrogative-sentence gate features: {mode}", rs)
    for t in ("sealed", "dev", "test"):
        holdout(mode, rs, test=t)
