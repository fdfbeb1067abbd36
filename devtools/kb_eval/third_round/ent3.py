exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
from kb import search, lexicon
orig_an = search.analyze
def an(org_, q):
    a = orig_an(org_, q)
    for c in a.concepts:
        c.entity = c.word in lexicon.PLAN_NAMES or c.word.isdigit()
    return a
assistant.analyze = an
rs = retrievals("planonly")
report("share, entity = plans only", rs)
for t in ("sealed", "dev", "test"):
    holdout("planonly", rs, test=t)
