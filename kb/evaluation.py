"""``make eval``: the assistant on its question set (kb/eval/questions.py), against a plain BM25.

Prints the four shares of the issue and the p95 answer time, then the same figures for
- a plain BM25 over whole sections (one document per article, no stemming, no synonyms), and
- the assistant's own ranking with a raw score cut-off instead of the answer checks, at the best
  cut-off for this very set (an optimistic bound for a threshold).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from lumiodesk.models import Organization

from . import lexicon
from .assistant import Answer, ask, percentile
from .eval.questions import HELD_OUT, QUESTIONS
from .models import Article, ArticleStatus
from .selectors import visible_articles


@dataclass
class Case:
    question: str
    kinds: list[str]
    facts: list[tuple[str, ...]]

    @property
    def answerable(self) -> bool:
        return bool(self.facts)


def cases(which: str = "dev") -> list[Case]:
    source = {"dev": QUESTIONS, "held-out": HELD_OUT, "all": QUESTIONS + HELD_OUT}[which]
    return [Case(q, kinds.split(), list(facts)) for q, kinds, facts in source]


def _holds(text: str, fact: tuple[str, ...]) -> bool:
    folded = _norm(text)
    return any(_norm(s) in folded for s in fact)


def _norm(text: str) -> str:
    return " ".join(lexicon.fold(text).split())


def right_first(case: Case, texts: list[str]) -> bool:
    return bool(texts) and any(_holds(texts[0], f) for f in case.facts)


def right_three(case: Case, texts: list[str]) -> bool:
    return all(any(_holds(t, f) for t in texts[:3]) for f in case.facts)


@dataclass
class Figures:
    n_answerable: int = 0
    n_unanswerable: int = 0
    first: int = 0
    three: int = 0
    abstained_right: int = 0
    abstained_wrong: int = 0
    times: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def shares(self) -> dict[str, float]:
        a, u = max(self.n_answerable, 1), max(self.n_unanswerable, 1)
        return {
            "first_citation_right": self.first / a,
            "three_first_right": self.three / a,
            "abstained_on_unanswerable": self.abstained_right / u,
            "wrongly_abstained": self.abstained_wrong / a,
            "p95_ms": percentile(self.times, 95),
        }


def tally(items: list[tuple[Case, bool, list[str]]], times: list[float] | None = None) -> Figures:
    fig = Figures(times=times or [])
    for case, abstained, texts in items:
        if case.answerable:
            fig.n_answerable += 1
            if abstained:
                fig.abstained_wrong += 1
                fig.failures.append(f"ABSTAINED  {case.question}")
                continue
            fig.first += right_first(case, texts)
            fig.three += right_three(case, texts)
            if not right_first(case, texts):
                fig.failures.append(f"RANK       {case.question}  -> {texts[0][:90] if texts else '-'}")
            elif not right_three(case, texts):
                fig.failures.append(f"THREE      {case.question}  -> {' | '.join(t[:40] for t in texts[:3])}")
        else:
            fig.n_unanswerable += 1
            fig.abstained_right += abstained
            if not abstained:
                fig.failures.append(f"ANSWERED   {case.question}  -> {texts[0][:90] if texts else '-'}")
    return fig


def run_assistant(org: Organization, all_cases: list[Case]) -> tuple[Figures, list[Answer]]:
    for case in all_cases[:5]:  # warm up connections and caches
        ask(org, case.question, rephrase=False)
    answers = [ask(org, c.question, rephrase=False) for c in all_cases]
    items = [(c, a.abstained, [x.passage for x in a.citations]) for c, a in zip(all_cases, answers, strict=True)]
    return tally(items, [a.elapsed_ms for a in answers]), answers


def run_threshold(org: Organization, all_cases: list[Case]) -> tuple[Figures, float]:
    """Same ranking, abstaining only when the top score is under a cut-off (best cut-off for this set)."""
    raw = [ask(org, c.question, rephrase=False, checks=False) for c in all_cases]
    best: tuple[tuple, Figures, float] | None = None
    for cut in sorted({round(a.top_score, 3) for a in raw} | {0.0}):
        items = [(c, a.abstained or a.top_score < cut, [x.passage for x in a.citations])
                 for c, a in zip(all_cases, raw, strict=True)]
        fig = tally(items)
        s = fig.shares()
        key = (s["wrongly_abstained"] <= 0.05, s["abstained_on_unanswerable"], -s["wrongly_abstained"])
        if best is None or key > best[0]:
            best = (key, fig, cut)
    return best[1], best[2]


_WORDS = re.compile(r"[a-z0-9]+")


def run_bm25_sections(org: Organization, all_cases: list[Case]) -> Figures:
    """Plain BM25 over whole sections (articles), words as they are: the issue's baseline."""
    articles = list(visible_articles(org).filter(status=ArticleStatus.PUBLISHED).values_list("body_text", flat=True))
    docs = [Counter(_WORDS.findall(lexicon.fold(t))) for t in articles]
    lengths = [sum(d.values()) for d in docs]
    avgdl = sum(lengths) / max(len(lengths), 1)
    df = Counter(w for d in docs for w in d)
    n = len(docs)
    items = []
    for case in all_cases:
        q = _WORDS.findall(lexicon.fold(case.question))
        scores = []
        for i, d in enumerate(docs):
            s = 0.0
            for w in q:
                tf = d.get(w, 0)
                if tf:
                    s += math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5)) * tf * 2.2 / (
                        tf + 1.2 * (0.25 + 0.75 * lengths[i] / avgdl))
            scores.append((s, i))
        ranked = [articles[i] for s, i in sorted(scores, reverse=True) if s > 0]
        items.append((case, False, ranked))
    return tally(items)


def evaluation_org_ready(org: Organization) -> int:
    return Article.objects.filter(organization=org, status=ArticleStatus.PUBLISHED).count()
