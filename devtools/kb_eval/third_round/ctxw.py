exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
from kb import lexicon
_SPLIT = re.compile(r"(?<=[.!?;:])\s+")
def interrogative(q):
    parts = [p for p in _SPLIT.split(" ".join(q.split())) if p.strip()]
    if len(parts) < 2: return None
    qs = [p for p in parts if "?" in p] or parts[-1:]
    return set(re.findall(r"[a-z0-9]+", lexicon.fold(" ".join(qs))))
orig_w = assistant._weights
def make(factor):
    def _weights(analysis, n):
        w = orig_w(analysis, n)
        iq = interrogative(analysis.question)
        if iq is None: return w
        return [wi if (c.word in iq or any(p in iq for p in c.word.split())) else wi * factor for c, wi in zip(analysis.concepts, w)]
    return _weights
for f in [float(x) for x in sys.argv[1:]]:
    assistant._weights = make(f)
    rs = retrievals(f"ctxw{f}")
    report(f"context-sentence concepts weight x{f}", rs)
    for t in ("sealed", "dev", "test"):
        holdout(f"ctxw {f}", rs, test=t)
