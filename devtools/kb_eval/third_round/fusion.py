exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
# fusion constants: RRF_K (reciprocal rank fusion), DENSE_POOL (dense passages joining the lexical ones)
for arg in sys.argv[1:]:
    name, value = arg.split("=")
    old = getattr(assistant, name)
    setattr(assistant, name, int(value))
    rs = retrievals(f"{name}{value}")
    report(f"{name}={value}", rs)
    for t in ("sealed", "dev", "test"):
        holdout(f"{name}={value}", rs, test=t)
    setattr(assistant, name, old)
