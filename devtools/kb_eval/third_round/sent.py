exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
from kb.visibility import Scope, visible_articles
from django.db import connection
path = CACHE + "/sentvecs.pkl"
if os.path.exists(path):
    SV = pickle.load(open(path, "rb"))
else:
    with connection.cursor() as cur:
        cur.execute("SELECT p.id, a.title, p.heading, p.text FROM kb_passage p JOIN kb_article a ON a.id=p.article_id WHERE p.organization_id=%s AND NOT p.is_question", [org.pk])
        rows = cur.fetchall()
    texts, owners = [], []
    for pk, t, h, x in rows:
        sents = [s for s in assistant._SENTENCE.split(x) if s.strip()]
        for s in sents:
            texts.append(embeddings.passage_text(t, h, s)); owners.append(pk)
    t0 = time.process_time()
    vecs = embeddings.encode_passages(texts)
    print("sentences", len(texts), "passages", len(rows), f"{time.process_time()-t0:.1f} s CPU", flush=True)
    SV = {}
    for pk, v in zip(owners, vecs):
        SV.setdefault(pk, []).append(v)
    SV = {k: np.vstack(v) for k, v in SV.items()}
    pickle.dump(SV, open(path, "wb"))
print("multi-sentence passages", sum(1 for v in SV.values() if len(v) > 1))
def make_dense(alpha):
    def _dense(organization, question, scope):
        visible_sql, params = visible_articles(organization, scope=scope).values("id").query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute(assistant.DENSE_SQL.format(visible=visible_sql), [organization.pk, *params])
            rows = cur.fetchall()
        q = assistant._query_vector(question)
        sims = embeddings.matrix([r[1] for r in rows]) @ q
        smax = np.asarray([float((SV[r[0]] @ q).max()) if r[0] in SV else sims[i] for i, r in enumerate(rows)])
        sims = alpha * sims + (1 - alpha) * smax if alpha >= 0 else np.maximum(sims, smax)
        order = np.argsort(-sims, kind="stable")
        return {rows[i][0]: (float(sims[i]), rank) for rank, i in enumerate(order, 1)}
    return _dense
for alpha in [float(a) for a in sys.argv[1:]]:
    assistant._dense = make_dense(alpha)
    rs = retrievals(f"sent{alpha}")
    report(f"sentence vectors alpha={alpha}", rs)
    holdout(f"sent {alpha}", rs)
