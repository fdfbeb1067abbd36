exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
from kb.visibility import Scope, visible_articles
from django.db import connection
_SPLIT = re.compile(r"(?<=[.!?;:])\s+")

def sentences(q):
    parts = [p.strip() for p in _SPLIT.split(" ".join(q.split())) if len(p.split()) >= 2]
    return parts

def interrogative(q):
    parts = sentences(q)
    qs = [p for p in parts if "?" in p]
    if not qs:
        qs = parts[-1:]
    return " ".join(qs)

def make_dense(combine):
    def _dense(organization, question, scope):
        visible_sql, params = visible_articles(organization, scope=scope).values("id").query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute(assistant.DENSE_SQL.format(visible=visible_sql), [organization.pk, *params])
            rows = cur.fetchall()
        if not rows:
            return {}
        m = embeddings.matrix([r[1] for r in rows])
        sims = combine(m, question)
        order = np.argsort(-sims, kind="stable")
        return {rows[i][0]: (float(sims[i]), rank) for rank, i in enumerate(order, 1)}
    return _dense

qv = assistant._query_vector
def c_max(m, q):
    s = m @ qv(q)
    iq = interrogative(q)
    if iq and iq != " ".join(q.split()):
        s = np.maximum(s, m @ qv(iq))
    return s
def c_mean(m, q):
    s = m @ qv(q)
    iq = interrogative(q)
    if iq and iq != " ".join(q.split()):
        s = 0.5 * (s + m @ qv(iq))
    return s
def c_sentmax(m, q):
    s = m @ qv(q)
    parts = sentences(q)
    if len(parts) > 1:
        for p in parts:
            s = np.maximum(s, m @ qv(p))
    return s
def c_sentmean(m, q):
    s = m @ qv(q)
    parts = sentences(q)
    if len(parts) > 1:
        s = 0.5 * s + 0.5 * np.max([m @ qv(p) for p in parts], axis=0)
    return s
def c_qonly(m, q):
    iq = interrogative(q)
    return m @ qv(iq or q)

VARIANTS = {"ctxmax": c_max, "ctxmean": c_mean, "sentmax": c_sentmax, "sentmean": c_sentmean, "qonly": c_qonly}
n_multi = sum(1 for _s, c in NAMED if len(sentences(c.question)) > 1)
print("questions with >1 sentence:", n_multi, {s: sum(1 for w, c in NAMED if w == s and len(sentences(c.question)) > 1) for s in ev.DEVELOPMENT})
for name in sys.argv[1:]:
    assistant._dense = make_dense(VARIANTS[name])
    rs = retrievals(name)
    report(name, rs)
    holdout(name, rs)
