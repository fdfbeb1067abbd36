exec(open(__file__.rsplit("/", 1)[0] + "/harness.py").read())
rs = retrievals("ctxw1.0")
for which in ("dev","test","first","sealed"):
    k = {1:0,3:0,5:0,10:0,20:0}; n=0; lex1=0; den1=0
    for (s,c), r in zip(NAMED, rs):
        if s!=which or not c.answerable: continue
        n+=1
        head = sorted(r.ranked[:20], key=lambda x:(-x.fused,x.pk))
        pos = next((i for i,x in enumerate(head) if any(ev.holds(x.text,f) for f in c.facts)), 99)
        for kk in k: k[kk]+= pos < kk
        lx = [x for x in r.ranked if x.lex_rank==1]; dn=[x for x in r.ranked if x.dense_rank==1]
        lex1 += bool(lx) and any(ev.holds(lx[0].text,f) for f in c.facts)
        den1 += bool(dn) and any(ev.holds(dn[0].text,f) for f in c.facts)
    print(which, n, "fused@", {kk: f"{v/n:.1%}" for kk,v in k.items()}, f"lex1 {lex1/n:.1%} dense1 {den1/n:.1%}")
