exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
rs = retrievals("base")
rs = copy.deepcopy(rs)
from kb import model_weights
import collections
ranks = collections.Counter()
for (s, c), r in zip(NAMED, rs):
    if len(c.facts) < 2: continue
    r = assistant.rerank(r, None)
    texts = [x.text for x in assistant._citations(r)]
    if ev.right_three(c, texts): continue
    for f in c.facts:
        if any(ev.holds(t, f) for t in texts[:3]): continue
        pos = next((k for k, x in enumerate(r.ranked) if ev.holds(x.text, f)), -1)
        ranks[pos if pos < 10 else "10+" if pos >= 0 else "absent"] += 1
        if s == "sealed": print(s, c.id, c.question[:110], "| missing fact at", pos, "| clauses", len(r.analysis.clauses))
print(ranks)
