"""Fourth round's scratch script, as run (RESULTS.md, "Fourth round"): USE multilingual v3 as a second dense
signal, CV figures (evaluation.fit, 5 folds over the five development sets) per variant, on the same
retrievals. Run from the repository root: DATABASE_URL=<eval db> .venv/bin/python
devtools/kb_eval/fourth_round/use_ablation.py [variant ...]. Not part of the product nor of the lint."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "third_round"))
os.environ.setdefault("KB_THIRD_ROUND_CACHE", "/tmp/kb_fourth_round")
from harness import *  # noqa

N_RR, N_ABS = 3, 5  # the USE columns, last in each feature list
real_rr, real_abs, real_fuse = assistant.rerank_features, assistant.answer_features, assistant.fuse


def fuse_without_use(cands, dense, use=None):
    out = real_fuse(cands, dense, use)
    for c in out:
        c.fused = sum(1 / (assistant.RRF_K + r) for r in (c.lex_rank, c.dense_rank) if r)
    return sorted(out, key=lambda c: (-c.fused, c.pk))


def patch(rr_use: bool, abs_use: bool):
    rr = real_rr if rr_use else (lambda c, w: real_rr(c, w)[:, :-N_RR])
    ab = real_abs if abs_use else (lambda r: real_abs(r)[:-N_ABS])
    assistant.rerank_features = ev.rerank_features = rr
    ev.answer_features = ab


variants = sys.argv[1:] or ["none", "all", "rerank", "gate", "fusion"]
for v in variants:
    if v in ("fusion-none", "nofusion-all"):
        assistant.fuse = fuse_without_use
        old_pool, assistant.USE_POOL = assistant.USE_POOL, 0
        rs = retrievals("nofusion")
        assistant.fuse, assistant.USE_POOL = real_fuse, old_pool
    else:
        rs = retrievals("fused")
    rr_use = v in ("all", "rerank", "nofusion-all")
    abs_use = v in ("all", "gate", "nofusion-all")
    patch(rr_use, abs_use)
    report(f"{v} (USE in fusion: {not v.startswith(('fusion-none', 'nofusion'))}, rerank: {rr_use}, gate: {abs_use})", rs)
    patch(True, True)
