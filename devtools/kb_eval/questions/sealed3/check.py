#!/usr/bin/env python3
"""Standalone check of the third sealed question set (questions.json beside this file).

Verifies, against the demo documentation (shared/seeds/000_a8f03ec589036778.txt):
- every expected substring occurs verbatim in the documentation, and has 4-12 words;
- each question has exactly one primary kind and only known style tags;
- the number of facts matches the kind (single 1, two-facts 2, unanswerable 0),
  each fact holding 1-3 alternatives;
- ids and questions are unique; lang is fr/en and `en` is tagged iff lang is en;
- every note starts with its section(s) (or "unanswerable:") and sections 1-21 are all covered.
Prints OK or the list of problems (exit status 1).

Run from anywhere: python3 devtools/kb_eval/questions/sealed3/check.py
"""
import json
import os
import re
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
SEED = "000_a8f03ec589036778.txt"
CANDIDATES = [
    os.path.join(REPO, "..", "shared", "seeds", SEED),
    os.path.join("/work/shared/seeds", SEED),
]
QF = os.path.join(HERE, "questions.json")

PRIMARY = {"single": 1, "two-facts": 2, "unanswerable": 0}
STYLE = {"en", "colloquial", "typo", "sms", "context", "negation", "indirect", "synonym",
         "persona-admin", "persona-agent", "persona-manager", "persona-dev", "persona-customer"}


def load_doc():
    for path in CANDIDATES:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return path, f.read()
    sys.exit("documentation not found: " + " or ".join(CANDIDATES))


def main():
    path, doc = load_doc()
    with open(QF, encoding="utf-8") as f:
        qs = json.load(f)
    errors = []
    ids, texts = Counter(), Counter()
    sections = Counter()
    for q in qs:
        qid = q.get("id", "?")
        ids[qid] += 1
        texts[q.get("question", "").strip().lower()] += 1
        if set(q) != {"id", "question", "lang", "kinds", "expect", "note"}:
            errors.append(f"{qid}: keys {sorted(q)}")
        kinds = q.get("kinds", [])
        prim = [k for k in kinds if k in PRIMARY]
        if len(prim) != 1:
            errors.append(f"{qid}: primary kinds {prim}")
            continue
        bad = [k for k in kinds if k not in PRIMARY and k not in STYLE]
        if bad:
            errors.append(f"{qid}: unknown tags {bad}")
        if len(kinds) != len(set(kinds)):
            errors.append(f"{qid}: duplicate tags")
        if q.get("lang") not in ("fr", "en"):
            errors.append(f"{qid}: lang {q.get('lang')}")
        if ("en" in kinds) != (q.get("lang") == "en"):
            errors.append(f"{qid}: lang {q.get('lang')} vs en tag")
        expect = q.get("expect")
        if not isinstance(expect, list) or len(expect) != PRIMARY[prim[0]]:
            errors.append(f"{qid}: {prim[0]} with {len(expect or [])} facts")
            continue
        for fact in expect:
            if not isinstance(fact, list) or not 1 <= len(fact) <= 3:
                errors.append(f"{qid}: fact must hold 1-3 alternatives: {fact!r}")
                continue
            for alt in fact:
                n = len(alt.split())
                if not 4 <= n <= 12:
                    errors.append(f"{qid}: {n} words: {alt!r}")
                if alt not in doc:
                    errors.append(f"{qid}: not verbatim in documentation: {alt!r}")
        note = q.get("note", "")
        if prim[0] == "unanswerable":
            if not note.startswith("unanswerable:"):
                errors.append(f"{qid}: unanswerable note must start with 'unanswerable:'")
            if not re.search(r"\(near §\d+", note):
                errors.append(f"{qid}: unanswerable note without (near §N)")
        else:
            m = re.match(r"((?:§\d+\s*)+)", note)
            if not m:
                errors.append(f"{qid}: note does not start with §N: {note!r}")
                continue
            for s in re.findall(r"§(\d+)", m.group(1)):
                sections[int(s)] += 1
    errors += [f"duplicate id {i}" for i, c in ids.items() if c > 1]
    errors += [f"duplicate question {t!r}" for t, c in texts.items() if c > 1]
    missing = [s for s in range(1, 22) if not sections[s]]
    if missing:
        errors.append(f"sections not covered: {missing}")
    extra = [s for s in sections if not 1 <= s <= 21]
    if extra:
        errors.append(f"unknown sections: {extra}")

    kinds = Counter((q["kinds"][0] if q["kinds"][0] in PRIMARY else "?", q["lang"]) for q in qs)
    print(f"documentation: {os.path.normpath(path)}")
    print(f"{len(qs)} questions:", ", ".join(f"{k}/{l} {c}" for (k, l), c in sorted(kinds.items())))
    print("sections:", " ".join(f"§{s} {sections[s]}" for s in sorted(sections)))
    if errors:
        print(f"{len(errors)} problem(s):")
        for e in errors:
            print("  " + e)
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
