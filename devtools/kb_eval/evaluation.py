"""``make eval``: the assistant on four question sets.

- ``dev``: half of the 264 customer questions of ``questions/`` (written from the documentation alone);
- ``test``: the other half; its figure was reported once (RESULTS.md, 4ac4774), so it is now development
  data too;
- ``first``: the assistant's first question set (``first_set.py``), tuned on by earlier sessions;
- ``sealed``: 262 questions written later by another engineer (``questions/sealed/``); its figure was
  reported once (RESULTS.md, 772dc5e), so it is now development data too;
- ``sealed2``: 300 questions by another engineer (``questions/sealed2/``); its figure was reported once
  (RESULTS.md, third round, 40a6ffe), so it is now development data too;
- ``sealed3``: the held-out set (``questions/sealed3/questions.json``, loaded when the file exists):
  never fitted on, never read while tuning, run once on frozen code.

The rerank and the abstention model are fitted on dev + test + first + sealed + sealed2 (``DEVELOPMENT``),
with 5-fold cross-validation for every figure quoted from them.

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
SEALED3 = QUESTIONS_DIR / "sealed3" / "questions.json"
SETS = ("dev", "test", "first", "sealed", "sealed2", "sealed3")
DEVELOPMENT = ("dev", "test", "first", "sealed", "sealed2")  # what --fit reads; never "sealed3"
HELD_OUT_SETS = ("sealed3",)


def available_sets() -> tuple[str, ...]:
    """The sets ``make eval`` runs: the held-out ``sealed3`` only once its file exists."""
    return tuple(s for s in SETS if s != "sealed3" or SEALED3.exists())


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
    if which not in ("dev", "test", "sealed", "sealed2", "sealed3"):
        raise ValueError(which)
    path = QUESTIONS_DIR / which / "questions.json" if which.startswith("sealed") else QUESTIONS_DIR / f"{which}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
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


# --- fitting (dev, test, first, sealed and sealed2 only) ------------------------------------------------


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, iters: int = 3000, sample_weight=None
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


def fit_listwise(
    groups: list[tuple[np.ndarray, np.ndarray]], *, l2: float = 0.01, iters: int = 1500, lr: float = 0.3
) -> np.ndarray:
    """Linear rerank weights (in raw feature units) maximizing, per question, the softmax probability
    of the candidates that hold a fact (listwise loss, gradient descent, deterministic)."""
    groups = [(x, y) for x, y in groups if len(x) and y.sum() > 0]
    stacked = np.vstack([x for x, _y in groups])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0)
    scale[scale < 1e-9] = 1.0
    width = max(len(x) for x, _y in groups)
    z = np.zeros((len(groups), width, stacked.shape[1]))
    target = np.zeros((len(groups), width))
    mask = np.full((len(groups), width), -np.inf)
    for g, (x, y) in enumerate(groups):
        z[g, : len(x)] = (x - mean) / scale
        target[g, : len(x)] = y / y.sum()
        mask[g, : len(x)] = 0.0
    w = np.zeros(stacked.shape[1])
    for _ in range(iters):
        s = z @ w + mask
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        grad = l2 * w + np.einsum("gk,gkf->f", p - target, z) / len(groups)
        w -= lr * grad
    return w / scale


def predict(model: tuple, x: np.ndarray) -> np.ndarray:
    mean, scale, w, b = model
    return 1 / (1 + np.exp(-(((x - mean) / scale) @ w + b)))


def folds(n: int, k: int = 5, seed: int = 20261207) -> list[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


@dataclass
class Fitted:
    """What ``fit`` returns: the final models and the cross-validated figures behind them."""

    rerank_weights: np.ndarray
    abstain: tuple  # (mean, scale, coef, intercept)
    threshold: float
    oof: np.ndarray  # out-of-fold probability of answering, per question
    answerable: np.ndarray
    right_first: np.ndarray  # with the out-of-fold rerank, before abstention
    right_three: np.ndarray
    sets: list[str]


# the customers' questions: the abstention threshold is chosen on these
CALIBRATION = ("dev", "test", "sealed", "sealed2")


def fit(
    org: Organization,
    named: list[tuple[str, Case]],
    *,
    max_wrong_refusals: float = 0.05,
    k: int = 5,
    retrievals: list | None = None,
    parts: list[np.ndarray] | None = None,
) -> Fitted:
    """Fits the rerank (listwise) and the abstention (logistic regression) on the questions given, with
    k-fold cross-validation: each question is reranked by weights fitted without it, its abstention
    features are read from that rerank, and its probability of answering comes from a model fitted
    without it (``parts``: the folds, by default k random ones; one part alone is a train / test split).
    The threshold keeps the out-of-fold wrong refusals under ``max_wrong_refusals`` on the
    ``CALIBRATION`` sets: the first set's questions use the documentation's own words and are refused
    less often, so pooling them would let the customers' questions be refused more."""
    from kb.assistant import RERANK, _citations, rerank

    if any(s in HELD_OUT_SETS for s, _c in named):
        raise ValueError("the held-out set is never fitted on")
    all_cases = [c for _s, c in named]
    if retrievals is None:
        retrievals = [retrieve(org, c.question) for c in all_cases]
    groups = []
    for case, r in zip(all_cases, retrievals, strict=True):
        head = sorted(r.ranked[:RERANK], key=lambda c: (-c.fused, c.pk))
        y = np.asarray([1.0 if any(holds(c.text, f) for f in case.facts) else 0.0 for c in head])
        groups.append((rerank_features(head, r.weights), y))
    n = len(all_cases)
    parts = folds(n, k) if parts is None else parts
    x_abs = np.zeros((n, len(answer_features(retrievals[0]))))
    first, three = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for part in parts:
        held = set(part.tolist())
        w = fit_listwise([g for i, g in enumerate(groups) if i not in held and all_cases[i].answerable])
        for i in part:
            r = rerank(retrievals[i], list(w))
            x_abs[i] = answer_features(r)
            texts = [c.text for c in _citations(r)]
            first[i], three[i] = right_first(all_cases[i], texts), right_three(all_cases[i], texts)
    y = np.asarray([1.0 if c.answerable else 0.0 for c in all_cases])
    oof = np.zeros(n)
    for part in parts:
        train = np.setdiff1d(np.arange(n), part)
        balance = np.where(y[train] > 0, 1.0, y[train].sum() / max(1.0, (1 - y[train]).sum()))
        oof[part] = predict(fit_logistic(x_abs[train], y[train], sample_weight=balance), x_abs[part])
    calibration = np.asarray([s in CALIBRATION for s, _c in named])
    answerable = np.sort(oof[(y > 0) & calibration])
    limit = int(np.floor(max_wrong_refusals * len(answerable)))  # at most this many answerable below it
    threshold = float(answerable[limit] - 1e-6) if limit < len(answerable) else 0.0
    weights = fit_listwise([g for g, c in zip(groups, all_cases, strict=True) if c.answerable])
    balance = np.where(y > 0, 1.0, y.sum() / max(1.0, (1 - y).sum()))
    abstain = fit_logistic(x_abs, y, sample_weight=balance)
    return Fitted(weights, abstain, threshold, oof, y > 0, first, three, [s for s, _c in named])
