exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
import functools
rs = retrievals("base")
orig_c = assistant._citations
def cit(r, window=10, diverse=None):
    ranked, analysis, weights = r.ranked, r.analysis, r.weights
    out = ranked[:3]
    if diverse is not None and len(ranked) > 3:
        heads = {(c.article_id, c.heading) for c in out[:2]}
        if out[2].article_id == out[0].article_id and out[2].heading == out[0].heading:
            for c in ranked[3:6]:
                if (c.article_id, c.heading) not in heads and c.final >= out[2].final - diverse:
                    out = out[:2] + [c]
                    break
    if len(analysis.clauses) > 1:
        for clause in analysis.clauses:
            if any(assistant._clause_score(c, clause, weights) > 0 and all(i in c.covered for i in clause.concepts if weights[i] > 0) for c in out):
                continue
            best = max(ranked[:window], key=lambda c: (assistant._clause_score(c, clause, weights), -c.pk))
            if best not in out and assistant._clause_score(best, clause, weights) > 0:
                out = out[:1] + [best] + [c for c in out[1:] if c is not best]
                out = out[:3]
    return out
for label, fn in [("window 20", functools.partial(cit, window=20)), ("window 5", functools.partial(cit, window=5)), ("diverse 1", functools.partial(cit, diverse=1.0)), ("diverse 3", functools.partial(cit, diverse=3.0))]:
    assistant._citations = fn
    f = report(label, rs)
    holdout(label, rs)
