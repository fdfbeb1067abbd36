#!/usr/bin/env python3
"""Validate all.json for the second KB question set (LumioDesk)."""
import json, re, sys, unicodedata
from collections import Counter
from pathlib import Path

DOC = Path(__file__).resolve().parents[4] / "kb" / "data" / "lumiodesk_documentation.md"
QF = Path(__file__).with_name("questions.json")
BASE = {"single", "two", "unanswerable"}
STYLE = {"context", "indirect", "negation", "typo", "sms", "en", "calc", "multi-fact",
         "persona-shop", "persona-it", "persona-agent", "persona-accounting",
         "persona-manager", "persona-dev"}

def norm(s):
    s = unicodedata.normalize("NFD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.replace("\u2019", "'").lower()
    return re.sub(r"\s+", " ", s).strip()

def main():
    doc = norm(DOC.read_text(encoding="utf-8"))
    data = json.loads(QF.read_text(encoding="utf-8"))
    errs = []
    assert isinstance(data, list), "top level must be a list"
    ids, qs = set(), set()
    kinds_c, lang_c = Counter(), Counter()
    sections = set()
    for i, it in enumerate(data):
        tag = it.get("id", f"#{i}")
        for k in ("id", "question", "lang", "kinds", "expect", "note"):
            if k not in it:
                errs.append(f"{tag}: missing {k}")
        if set(it) - {"id", "question", "lang", "kinds", "expect", "note"}:
            errs.append(f"{tag}: extra keys {set(it)-{'id','question','lang','kinds','expect','note'}}")
        if not re.fullmatch(r"r\d{3}", str(it.get("id", ""))):
            errs.append(f"{tag}: bad id")
        if it.get("id") in ids:
            errs.append(f"{tag}: duplicate id")
        ids.add(it.get("id"))
        q = it.get("question", "")
        if not isinstance(q, str) or len(q.strip()) < 8:
            errs.append(f"{tag}: question too short")
        if norm(q) in qs:
            errs.append(f"{tag}: duplicate question")
        qs.add(norm(q))
        if it.get("lang") not in ("fr", "en"):
            errs.append(f"{tag}: bad lang")
        kinds = it.get("kinds", [])
        base = [k for k in kinds if k in BASE]
        if len(base) != 1 or kinds[0] not in BASE:
            errs.append(f"{tag}: kinds must start with exactly one of {BASE}")
        for k in kinds[1:]:
            if k not in STYLE:
                errs.append(f"{tag}: unknown style tag {k}")
        if it.get("lang") == "en" and "en" not in kinds:
            errs.append(f"{tag}: english question lacks 'en' tag")
        if "en" in kinds and it.get("lang") != "en":
            errs.append(f"{tag}: 'en' tag on non-en question")
        exp = it.get("expect")
        if not isinstance(exp, list):
            errs.append(f"{tag}: expect not a list"); continue
        if kinds and kinds[0] == "unanswerable":
            if exp:
                errs.append(f"{tag}: unanswerable must have expect []")
        else:
            if not exp:
                errs.append(f"{tag}: answerable with empty expect")
            if kinds and kinds[0] == "two" and len(exp) < 2:
                errs.append(f"{tag}: 'two' needs >=2 facts")
            for fact in exp:
                if not isinstance(fact, list) or not 1 <= len(fact) <= 3:
                    errs.append(f"{tag}: fact must be list of 1-3 alternatives"); continue
                for s in fact:
                    n = len(s.split())
                    if not 3 <= n <= 12:
                        errs.append(f"{tag}: substring has {n} words: {s!r}")
                    if norm(s) not in doc:
                        errs.append(f"{tag}: NOT IN DOC: {s!r}")
        note = it.get("note", "")
        m = re.match(r"§(\d+)", note)
        if not m:
            errs.append(f"{tag}: note must start with §N")
        for sec in re.findall(r"§(\d+)", note):
            if not 1 <= int(sec) <= 21:
                errs.append(f"{tag}: bad section {sec}")
            if kinds and kinds[0] != "unanswerable":
                sections.add(int(sec))
        if kinds:
            kinds_c[kinds[0]] += 1
        lang_c[it.get("lang")] += 1
    missing = set(range(1, 22)) - sections
    if missing:
        errs.append(f"sections not covered: {sorted(missing)}")
    n = len(data)
    if n < 200:
        errs.append(f"only {n} questions (<200)")
    ua = kinds_c["unanswerable"] / max(n, 1)
    if not 0.10 <= ua <= 0.15:
        errs.append(f"unanswerable share {ua:.1%} outside 10-15%")
    if errs:
        print("\n".join(errs)); print(f"FAIL: {len(errs)} errors"); sys.exit(1)
    print(f"OK: {n} questions; kinds={dict(kinds_c)} lang={dict(lang_c)} "
          f"unanswerable={ua:.1%}; sections covered=21")

if __name__ == "__main__":
    main()
