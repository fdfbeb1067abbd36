exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
import collections
name = sys.argv[1]
rs = retrievals(name)
f = report(name, rs)
answered = f.oof >= f.threshold
stat = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
for i, (s, c) in enumerate(NAMED):
    for k in set(c.kinds) | {"ALL"}:
        key = ("all" if s != "sealed" else "sealed") + ":" + k
        st = stat[key]
        if c.answerable:
            st[0] += 1; st[1] += f.right_first[i]; st[2] += f.right_three[i]; st[3] += not answered[i]
        else:
            st[4] += 1
for key in sorted(stat):
    n, a, b, wr, u = stat[key]
    if n >= 8:
        print(f"{key:30s} n={n:3d} first {a/n:6.1%} three {b/n:6.1%} wrongref {wr/n:6.1%}")
if len(sys.argv) > 2:
    for i, (s, c) in enumerate(NAMED):
        if s == "sealed" and c.answerable and not f.right_first[i]:
            r = rs[i]
            print("MISS", c.id, c.kinds, c.question[:150])
