"""``make eval``: the assistant on three question sets.

- ``dev``: half of the 264 customer questions of ``questions/`` (written from the documentation alone),
  the only new set the rerank and the abstention model are fitted and tuned on;
- ``test``: the other half, frozen: run once at the end, never read while tuning;
- ``first``: the assistant's first question set (``first_set.py``), tuned on by earlier sessions.

A citation holds a fact when it contains one of the fact's alternatives (case and accents ignored).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.core.cache import cache

from kb import lexicon
from kb.assistant import Answer, answer_features, ask, percentile, query_cache_key, rerank_features, retrieve
from lumiodesk.models import Organization

from .first_set import HELD_OUT, QUESTIONS

QUESTIONS_DIR = Path(__file__).resolve().parent / "questions"
SETS = ("dev", "test", "first")


@dataclass
class Case:
    question: str
    kinds: list[str]
    facts: list[tuple[str, ...]]
    id: str = ""

    @property
    def answerable(self) -> bool:
        return bool(self.facts)


def cases(which: str) -> list[Case]:
    if which == "first":
        return [Case(q, kinds.split(), [tuple(f) for f in facts]) for q, kinds, facts in QUESTIONS + HELD_OUT]
    if which not in ("dev", "test"):
        raise ValueError(which)
    data = json.loads((QUESTIONS_DIR / f"{which}.json").read_text(encoding="utf-8"))
    return [Case(d["question"], list(d["kinds"]), [tuple(f) for f in d["expect"]], d["id"]) for d in data]


def _norm(text: str) -> str:
    return " ".join(lexicon.fold(text).split())


def holds(text: str, fact: tuple[str, ...]) -> bool:
    folded = _norm(text)
    return any(_norm(s) in folded for s in fact)


def right_first(case: Case, texts: list[str]) -> bool:
    return bool(texts) and any(holds(texts[0], f) for f in case.facts)


def right_three(case: Case, texts: list[str]) -> bool:
    return all(any(holds(t, f) for t in texts[:3]) for f in case.facts)


@dataclass
class Figures:
    n_answerable: int = 0
    n_unanswerable: int = 0
    first: int = 0
    three: int = 0
    abstained_right: int = 0
    abstained_wrong: int = 0
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # this process's CPU time per question (ms), load aside
    failures: list[str] = field(default_factory=list)

    def shares(self) -> dict[str, float]:
        a, u = max(self.n_answerable, 1), max(self.n_unanswerable, 1)
        return {
            "first_citation_right": self.first / a,
            "three_first_right": self.three / a,
            "wrongly_abstained": self.abstained_wrong / a,
            "abstained_on_unanswerable": self.abstained_right / u,
            "p95_ms": percentile(self.times, 95),
            "median_ms": percentile(self.times, 50),
            "cpu_p95_ms": percentile(self.cpu, 95),
        }


def tally(items: list[tuple[Case, bool, list[str]]], times: list[float] | None = None) -> Figures:
    """First / three-first are counted on every answerable question: a wrong refusal counts as wrong."""
    fig = Figures(times=times or [])
    for case, abstained, texts in items:
        if case.answerable:
            fig.n_answerable += 1
            if abstained:
                fig.abstained_wrong += 1
                fig.failures.append(f"ABSTAINED  {case.id} {case.question}")
                continue
            fig.first += right_first(case, texts)
            fig.three += right_three(case, texts)
            if not right_first(case, texts):
                fig.failures.append(f"RANK       {case.id} {case.question}  -> {texts[0][:90] if texts else '-'}")
            elif not right_three(case, texts):
                fig.failures.append(f"THREE      {case.id} {case.question}")
        else:
            fig.n_unanswerable += 1
            fig.abstained_right += abstained
            if not abstained:
                fig.failures.append(f"ANSWERED   {case.id} {case.question}  -> {texts[0][:90] if texts else '-'}")
    return fig


def run_assistant(org: Organization, all_cases: list[Case]) -> tuple[Figures, list[Answer]]:
    for case in all_cases[:5]:  # warm up connections, caches and the model
        ask(org, case.question, rephrase=False)
    # every question's vector computed while answering, as for a new question
    cache.delete_many([query_cache_key(c.question) for c in all_cases])
    answers, cpu = [], []
    for c in all_cases:
        started = time.process_time()
        answers.append(ask(org, c.question, rephrase=False))
        cpu.append((time.process_time() - started) * 1000)
    items = [(c, a.abstained, [x.passage for x in a.citations]) for c, a in zip(all_cases, answers, strict=True)]
    fig = tally(items, [a.elapsed_ms for a in answers])
    fig.cpu = cpu
    return fig, answers


# --- fitting (dev and first sets only) ------------------------------------------------------------------


@dataclass
class Sample:
    case: Case
    rerank_x: np.ndarray  # one row per reranked candidate
    rerank_y: np.ndarray  # 1 where the candidate holds one of the question's facts
    texts: list[str]  # the reranked candidates' passages, in the fused order


def collect(org: Organization, all_cases: list[Case]) -> list[Sample]:
    from kb.assistant import RERANK

    out = []
    for case in all_cases:
        r = retrieve(org, case.question)
        head = sorted(r.ranked[:RERANK], key=lambda c: (-c.fused, c.pk))
        x = rerank_features(head, r.weights)
        y = np.asarray([1.0 if any(holds(c.text, f) for f in case.facts) else 0.0 for c in head])
        out.append(Sample(case, x, y, [c.text for c in head]))
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, iters: int = 3000, sample_weight=None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Standardized features, L2-penalized logistic regression by gradient descent (numpy, deterministic).
    Returns (mean, scale, coef, intercept)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    w = np.zeros(z.shape[1])
    b = 0.0
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    sw = sw / sw.sum()
    lr = 0.5
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        g = p - y
        w -= lr * (z.T @ (g * sw) + l2 * w / len(y))
        b -= lr * float((g * sw).sum())
    return mean, scale, w, b


def fit_listwise(groups: list[tuple[np.ndarray, np.ndarray]], *, l2: float = 0.01, iters: int = 1500,
                 lr: float = 0.3) -> np.ndarray:
    """Linear rerank weights (in raw feature units) maximizing, per question, the softmax probability
    of the candidates that hold a fact (listwise loss, gradient descent, deterministic)."""
    groups = [(x, y) for x, y in groups if len(x) and y.sum() > 0]
    stacked = np.vstack([x for x, _y in groups])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0)
    scale[scale < 1e-9] = 1.0
    normed = [((x - mean) / scale, y / y.sum()) for x, y in groups]
    w = np.zeros(stacked.shape[1])
    for _ in range(iters):
        grad = l2 * w
        for z, target in normed:
            s = z @ w
            p = np.exp(s - s.max())
            grad += z.T @ (p / p.sum() - target) / len(normed)
        w -= lr * grad
    return w / scale


def predict(model: tuple, x: np.ndarray) -> np.ndarray:
    mean, scale, w, b = model
    return 1 / (1 + np.exp(-(((x - mean) / scale) @ w + b)))


def answer_rows(org: Organization, all_cases: list[Case]) -> tuple[np.ndarray, list[Answer]]:
    """The abstention features of each question with the current rerank, and its answer without abstention."""
    rows, answers = [], []
    for case in all_cases:
        rows.append(answer_features(retrieve(org, case.question)))
        answers.append(ask(org, case.question, rephrase=False, checks=False))
    return np.vstack(rows), answers
