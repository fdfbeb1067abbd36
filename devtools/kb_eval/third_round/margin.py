exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
# the abstention threshold chosen at a lower out-of-fold wrong-refusal rate than 5 %
import functools
rs = retrievals("ctxw1.0")
orig_fit = ev.fit
for limit in [float(x) for x in sys.argv[1:]]:
    ev.fit = functools.partial(orig_fit, max_wrong_refusals=limit)
    report(f"threshold at {limit:.0%} out-of-fold wrong refusals", rs)
    for t in ("sealed", "dev", "test"):
        holdout(f"limit {limit}", rs, test=t)
