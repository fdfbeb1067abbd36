exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
import functools
from django.db import connection
with connection.cursor() as cur:
    cur.execute("SELECT id, embedding FROM kb_passage WHERE organization_id=%s AND embedding IS NOT NULL", [org.pk])
    PV = {pk: np.frombuffer(bytes(e), dtype="<f4") for pk, e in cur.fetchall()}
rs = retrievals("ctxw1.0")
_Q = re.compile(r"[^?]+\?")
def parts(q):
    segs = [s.strip() for s in _Q.findall(" ".join(q.split())) if len(s.split()) >= 3]
    return segs if len(segs) >= 2 else []
n = 0
for r in rs:
    ps = parts(r.analysis.question)
    r.part_vecs = [assistant._query_vector(p) for p in ps]
    n += bool(ps)
print("questions with 2+ question parts:", n)
orig_c = assistant._citations
def cit(r, window, margin):
    out = orig_c(r)
    if not getattr(r, "part_vecs", None):
        return out
    head = r.ranked[:window]
    for qv in r.part_vecs:
        sims = [float(PV[c.pk] @ qv) if c.pk in PV else -1 for c in head]
        best = head[int(np.argmax(sims))]
        if best in out:
            continue
        if max(sims) - max(float(PV[c.pk] @ qv) if c.pk in PV else -1 for c in out) < margin:
            continue
        out = out[:1] + [best] + [c for c in out[1:] if c is not best]
        out = out[:3]
    return out
for window, margin in [(10, 0.0), (10, -1), (5, 0.0), (10, 0.01)]:
    assistant._citations = functools.partial(cit, window=window, margin=margin)
    report(f"per-question-part dense citation window={window} margin={margin}", rs)
    holdout("mfd", rs)
