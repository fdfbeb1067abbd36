exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
import functools
name = sys.argv[1]
rs = retrievals(name)
orig = ev.fit_logistic
orig_af = assistant.answer_features
ALL = assistant.ANSWER_FEATURES
for l2, drop in [(1.0, ()), (10.0, ()), (30.0, ()), (1.0, ("n_concepts",)), (1.0, ("n_concepts", "unknown_share", "unknown_any")), (1.0, ("lexical_rank_top", "n_concepts", "final_top"))]:
    ev.fit_logistic = functools.partial(orig, l2=l2)
    keep = [i for i, f in enumerate(ALL) if f not in drop]
    assistant.answer_features = lambda r, keep=keep: orig_af(r)[keep]
    ev.answer_features = assistant.answer_features
    label = f"{name} l2={l2} drop={drop}"
    report(label, rs)
    holdout(label, rs)
