"""Third round's scratch harness, as run (RESULTS.md, "Third round"): retrievals per variant pickled in
$KB_THIRD_ROUND_CACHE (delete them after a code change), CV figures per set through evaluation.fit,
and ``holdout``: fit on the other sets (threshold from their own out-of-fold figures), apply to one set.
Run a script from the repository root: DATABASE_URL=<eval db> .venv/bin/python devtools/kb_eval/third_round/X.py
Not part of the product nor of the lint (pyproject's ruff exclude)."""
import os, sys, pickle, time, re
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__ if "__file__" in dir() else sys.argv[0])), "../../.."))
sys.path.insert(0, ROOT)
os.chdir(ROOT)
CACHE = os.environ.get("KB_THIRD_ROUND_CACHE", "/tmp/kb_third_round")  # retrievals pickled per variant
os.makedirs(CACHE, exist_ok=True)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lumiodesk.settings")
import django
django.setup()
import numpy as np
from devtools.kb_eval import evaluation as ev
from kb import assistant, embeddings, indexing
from kb.services import import_lumiodesk_documentation
from lumiodesk.models import Organization
from lumiodesk.permissions import SystemActor

org, _ = Organization.objects.get_or_create(slug="kb-eval", defaults={"name": "KB evaluation"})
import_lumiodesk_documentation(organization=org, actor=SystemActor("kb_eval"))
n = indexing.embed_pending(organization=org)
if n: print("embedded", n)

NAMED = [(w, c) for w in ev.DEVELOPMENT for c in ev.cases(w)]

def retrievals(variant, make=None):
    path = f"{CACHE}/ret_{variant}.pkl"
    if os.path.exists(path):
        return pickle.load(open(path, "rb"))
    t = time.process_time()
    rs = [assistant.retrieve(org, c.question) for _s, c in NAMED]
    print(f"[{variant}] retrieved {len(rs)} in {time.process_time()-t:.1f} s CPU", flush=True)
    pickle.dump(rs, open(path, "wb"))
    return rs

import copy
def report(label, rs, named=NAMED):
    rs = copy.deepcopy(rs)
    f = ev.fit(org, named, retrievals=rs)
    sets = np.asarray(f.sets)
    answered = f.oof >= f.threshold
    out = [f"== {label}  threshold {f.threshold:.3f}"]
    for which in (*ev.DEVELOPMENT, "all"):
        m = np.ones(len(sets), bool) if which == "all" else sets == which
        a, u = m & f.answerable, m & ~f.answerable
        out.append(f"  {which:6s} first {f.right_first[a].mean():6.1%}  three {f.right_three[a].mean():6.1%}  | wrong refusals {(~answered[a]).mean():5.1%}  unanswerable refused {(~answered[u]).mean():6.1%}  first {(f.right_first & answered)[a].mean():6.1%}  three {(f.right_three & answered)[a].mean():6.1%}")
    print("\n".join(out), flush=True)
    return f

def holdout(label, rs, test="sealed"):
    """fit (with its own CV threshold) on the other sets, apply to `test`."""
    rs = copy.deepcopy(rs)
    tr = [i for i, (s, _c) in enumerate(NAMED) if s != test]
    te = [i for i, (s, _c) in enumerate(NAMED) if s == test]
    old = ev.CALIBRATION
    ev.CALIBRATION = tuple(x for x in old if x != test)
    try:
        f = ev.fit(org, [NAMED[i] for i in tr], retrievals=[rs[i] for i in tr])
    finally:
        ev.CALIBRATION = old
    fr = th = 0; wr = ur = na = nu = fa = ta = 0
    for i in te:
        case = NAMED[i][1]
        r = assistant.rerank(rs[i], list(f.rerank_weights))
        p = ev.predict(f.abstain, assistant.answer_features(r)[None, :])[0]
        texts = [c.text for c in assistant._citations(r)]
        ok1, ok3 = ev.right_first(case, texts), ev.right_three(case, texts)
        if case.answerable:
            na += 1; fr += ok1; th += ok3; wr += p < f.threshold
            fa += ok1 and p >= f.threshold; ta += ok3 and p >= f.threshold
        else:
            nu += 1; ur += p < f.threshold
    print(f"  holdout {test}: first {fr/na:6.1%}  three {th/na:6.1%}  | wrong refusals {wr/na:5.1%}  unanswerable refused {ur/nu:6.1%}  first {fa/na:6.1%}  three {ta/na:6.1%}", flush=True)
