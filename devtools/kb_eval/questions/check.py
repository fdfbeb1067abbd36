#!/usr/bin/env python3
"""Validate the LumioDesk evaluation question set."""
import json, re, sys, unicodedata
from collections import Counter

DOC = str(__import__("pathlib").Path(__file__).resolve().parents[3] / "kb" / "data" / "lumiodesk_documentation.md")
QF = "devtools/kb_eval/questions/all.json"

def norm(s):
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.lower()
    return re.sub(r"\s+", " ", s).strip()

doc_raw = open(DOC, encoding="utf-8").read()
doc = norm(doc_raw)
qs = json.load(open(QF, encoding="utf-8"))
assert isinstance(qs, list) and qs, "not a non-empty list"

errors, warns = [], []
kinds, langs, primary, sections = Counter(), Counter(), Counter(), Counter()
ids, texts = set(), set()
for q in qs:
    for key in ("id", "question", "lang", "kinds", "expect", "note"):
        assert key in q, f"{q.get('id')}: missing {key}"
    if q["id"] in ids: errors.append(f"duplicate id {q['id']}")
    ids.add(q["id"])
    if norm(q["question"]) in texts: errors.append(f"{q['id']}: duplicate question")
    texts.add(norm(q["question"]))
    if q["lang"] not in ("fr", "en"): errors.append(f"{q['id']}: bad lang")
    prim = [k for k in q["kinds"] if k in ("single", "two", "unanswerable")]
    if len(prim) != 1: errors.append(f"{q['id']}: need exactly one primary kind, got {q['kinds']}")
    for k in q["kinds"]:
        if k not in ("single", "two", "unanswerable", "colloquial", "typo", "english", "paraphrase"):
            errors.append(f"{q['id']}: unknown kind {k}")
    if (q["lang"] == "en") != ("english" in q["kinds"]):
        errors.append(f"{q['id']}: lang/english kind mismatch")
    kinds.update(q["kinds"]); langs[q["lang"]] += 1; primary[prim[0] if prim else "?"] += 1
    exp = q["expect"]
    want = {"single": 1, "two": 2, "unanswerable": 0}.get(prim[0] if prim else "", -1)
    if len(exp) != want: errors.append(f"{q['id']}: {prim} but {len(exp)} facts")
    for fact in exp:
        if not (isinstance(fact, list) and 1 <= len(fact) <= 3):
            errors.append(f"{q['id']}: fact must be list of 1-3 alternatives"); continue
        for alt in fact:
            n = len(alt.split())
            if not 3 <= n <= 12: errors.append(f"{q['id']}: '{alt}' has {n} words")
            if norm(alt) not in doc: errors.append(f"{q['id']}: NOT IN DOC: '{alt}'")
            elif alt not in doc_raw: warns.append(f"{q['id']}: only matches after normalisation: '{alt}'")
    m = re.match(r"§(\d+)", q["note"])
    if m:
        for n in re.findall(r"§(\d+)", q["note"]): sections[int(n)] += 1
        for n in re.findall(r"/§?(\d+)\b", q["note"].split()[0]): sections[int(n)] += 1
    elif prim and prim[0] != "unanswerable":
        warns.append(f"{q['id']}: note has no section number")
    if "FAQ" in q["note"]: sections[20] += 1

print(f"questions: {len(qs)}")
print("primary kinds:", dict(primary))
print("all kind tags:", dict(kinds))
print("languages:", dict(langs))
print("section coverage:", dict(sorted(sections.items())))
missing = [s for s in range(1, 22) if sections[s] == 0]
if missing: errors.append(f"sections not covered: {missing}")
for w in warns: print("WARN", w)
for e in errors: print("ERROR", e)
assert not errors, f"{len(errors)} errors"
assert len(qs) >= 220
print("OK")
