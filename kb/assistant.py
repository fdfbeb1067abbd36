"""The assistant: answers a question by quoting the passages of the knowledge base that hold the
answer, each cited with a link to its paragraph, or says it has no answer and offers a ticket.

1. ``kb.search.analyze`` turns the question into concepts (content words, their synonyms and
   translations, typo corrections), with their document frequencies;
2. PostgreSQL returns the candidate passages (full text, GIN index) among the *visible* articles
   only (``kb.selectors.visible_articles``), with the collection statistics;
3. each candidate is scored here: BM25 over the passage body (k1=1.2, b=0.75), each concept
   counted once through its best form (a synonym weighs less than the word itself), plus a bonus
   when the article title or section heading carries the concept;
4. the best passage is kept; when the question asks more than it covers (two facts), the passage
   that covers most of what is missing is added;
5. the answer is checked *on the answer*, not on a score: every named thing of the question (a
   plan, a product, a number) must be in the quoted passages, the passages must cover most of the
   question's weight, a word the knowledge base has never seen means it does not hold the answer,
   and a question asking "how much / how many / how long" needs a figure in the answer. If a check
   fails, the assistant abstains.

The answer only ever quotes passages; an optional language model (``kb.llm``, off by default) may
rephrase them, and the citations and their URLs always come from here.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import override

from lumiodesk.models import Organization

from . import lexicon
from .llm import rephrase as llm_rephrase
from .search import Analysis, Clause, Concept, analyze, idf
from .selectors import Scope, visible_articles

K1, B = 1.2, 0.75
TITLE_BONUS = 0.45  # share of a concept's idf earned when the title or heading carries it
SYNONYM_OK = 0.8
MIN_COVERAGE = 0.6
MIN_FIRST_COVERAGE = 0.5
PROXIMITY = 0.3
EARLY = 0.3
MAX_CITATIONS = 3
CANDIDATES = 150
_VECTOR_ITEM = re.compile(r"'((?:[^']|'')+)'(?::([0-9A-D,]+))?")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9ÀÂÉÈÊÎÔÙÛÇ«\"])")
_DIGIT = re.compile(r"\d")
_PRICE = re.compile(r"\d\s*(?:eur|€|euros?)\b|€", re.I)
_ENGLISH = re.compile(
    r"\b(what|how|can|does|do|is|are|which|when|where|why|the|my|i|you|plan|price|cost)\b", re.I
)


@dataclass
class Candidate:
    pk: int
    article_id: int
    anchor: str
    heading: str
    text: str
    n_tokens: int
    title: str
    slug: str
    language: str
    audience: str
    body_pos: dict[str, list[int]] = field(default_factory=dict)
    title_lexemes: set[str] = field(default_factory=set)
    score: float = 0.0
    proximity: float = 0.0
    values: dict[int, float] = field(default_factory=dict)  # concept index -> its share of the score
    where: dict[int, list[int]] = field(default_factory=dict)  # concept index -> positions in the text
    counts: set[int] = field(default_factory=set)  # concepts the passage counts ("30 agents")
    # concept index -> 1.0 when the passage's text carries it, 0.5 when only its title or heading does
    covered: dict[int, float] = field(default_factory=dict)


@dataclass
class Citation:
    article: str
    url: str
    passage: str
    article_id: int = 0
    anchor: str = ""
    score: float = 0.0

    def as_json(self) -> dict:
        return {"article": self.article, "url": self.url, "passage": self.passage}


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    reason: str = ""
    quotes: list[str] = field(default_factory=list)  # what the answer quotes, one per cited passage
    elapsed_ms: float = 0.0
    top_score: float = 0.0

    @property
    def items(self) -> list[tuple[Citation, str | None]]:
        """Each citation with what the answer quotes of it (None: a further passage worth reading)."""
        return [(c, self.quotes[i] if i < len(self.quotes) else None) for i, c in enumerate(self.citations)]

    def as_json(self) -> dict:
        return {
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [c.as_json() for c in self.citations],
        }


CANDIDATES_SQL = """
SELECT p.id, p.article_id, p.anchor, p.heading, p.text, p.n_tokens, p.search_vector::text,
       a.title, a.slug, a.language, a.audience, s.n, s.avgdl
FROM kb_passage p
JOIN kb_article a ON a.id = p.article_id
CROSS JOIN (SELECT count(*) AS n, coalesce(avg(n_tokens), 1) AS avgdl
            FROM kb_passage WHERE organization_id = %s) s
WHERE p.organization_id = %s AND NOT p.is_question AND p.article_id IN ({visible})
  AND p.search_vector @@ to_tsquery('simple', %s)
ORDER BY ts_rank(p.search_vector, to_tsquery('simple', %s)) DESC, p.id
LIMIT %s
"""


def _candidates(organization: Organization, analysis: Analysis, scope: str) -> tuple[list[Candidate], int, float]:
    lexemes = [x for x in analysis.lexemes if re.match(r"^[\w-]+$", x)]
    if not lexemes:
        return [], 0, 1.0
    query = " | ".join(f"'{x}'" for x in lexemes)
    visible_sql, params = visible_articles(organization, scope=scope).values("id").query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(
            CANDIDATES_SQL.format(visible=visible_sql),
            [organization.pk, organization.pk, *params, query, query, CANDIDATES],
        )
        rows = cur.fetchall()
    out: list[Candidate] = []
    n, avgdl = (rows[0][11], rows[0][12]) if rows else (0, 1.0)
    for pk, article_id, anchor, heading, text, n_tokens, vector, title, slug, language, audience, *_stats in rows:
        c = Candidate(pk, article_id, anchor, heading, text, n_tokens or 1, title, slug, language, audience)
        for lexeme, positions in _VECTOR_ITEM.findall(vector or ""):
            lexeme = lexeme.replace("''", "'")
            body = []
            for pos in (positions or "").split(","):
                if not pos:
                    continue
                if pos[-1] in "ABC":
                    c.title_lexemes.add(lexeme)
                else:
                    body.append(int(pos))
            if body:
                c.body_pos[lexeme] = body
        out.append(c)
    return out, int(n or 0), float(avgdl or 1.0)


ENTITY_WEIGHT = 1.8


def hard_unknown(c: Concept) -> bool:
    """A word the knowledge base has never seen, long enough not to be a slip of the keyboard."""
    return c.oov and not c.number and (len(c.word) >= 5 or c.entity)


def _concept_idf(c: Concept, n: int) -> float:
    if c.number:
        return 0.0  # a figure of the question ("150 EUR") is compared with one of the answer, not searched
    if c.oov:
        return idf(0, max(n, 1)) if hard_unknown(c) else 1.0
    return idf(c.df, n) * (ENTITY_WEIGHT if c.entity else 1.0)


def _score(cands: list[Candidate], analysis: Analysis, n: int, avgdl: float, weights: list[float]) -> None:
    total_weight = sum(weights) or 1.0
    counted = {c.counted for c in analysis.clauses if c.counted is not None and not c.price}
    for cand in cands:
        norm = K1 * (1 - B + B * cand.n_tokens / avgdl)
        where: dict[int, list[int]] = {}
        numbers = {p for lexeme, positions in cand.body_pos.items() if lexeme.isdigit() for p in positions}
        for i, concept in enumerate(analysis.concepts):
            best, carried, in_body = 0.0, False, False
            for alt in concept.known:
                positions = [cand.body_pos.get(x, []) for x in alt.lexemes]
                tf = min(len(p) for p in positions)
                in_title = all(x in cand.title_lexemes for x in alt.lexemes)
                if not tf and not in_title:
                    continue
                w = alt.weight * idf(alt.df, n) * (ENTITY_WEIGHT if concept.entity else 1.0)
                value = w * (tf * (K1 + 1) / (tf + norm)) if tf else 0.0
                value += w * TITLE_BONUS if in_title else 0.0
                best = max(best, value)
                if alt.weight >= SYNONYM_OK or alt.fuzzy:
                    carried = True
                    if tf:
                        in_body = True
                        where.setdefault(i, []).extend(positions[0])
            if i in counted and any(p - 1 in numbers or p - 2 in numbers for p in where.get(i, [])):
                cand.counts.add(i)  # "combien d'agents" -> "30 agents"
            if best and min(where.get(i, [99])) <= 2:
                best += EARLY * weights[i]  # what the passage is about comes first: "Scale coute 249 EUR"
            if best:
                cand.values[i] = best
                if carried:
                    cand.covered[i] = 1.0 if in_body else 0.5
        cand.where = where
        cand.proximity = _proximity(where, weights)
        coverage = sum(weights[i] * f for i, f in cand.covered.items()) / total_weight
        cand.score = (sum(cand.values.values()) + cand.proximity) * (0.5 + 0.5 * coverage)


def _clause_score(cand: Candidate, clause: Clause, weights: list[float]) -> float:
    total = sum(weights[i] for i in clause.concepts) or 1.0
    coverage = sum(weights[i] * cand.covered.get(i, 0.0) for i in clause.concepts) / total
    near = _proximity({i: p for i, p in cand.where.items() if i in clause.concepts}, weights)
    return (sum(cand.values.get(i, 0.0) for i in clause.concepts) + near) * (0.5 + 0.5 * coverage)


def _proximity(where: dict[int, list[int]], weights: list[float]) -> float:
    """Two words of the question side by side in the passage ("agent supplementaire", "Business coute")."""
    bonus = 0.0
    keys = sorted(where)
    for a_index, a in enumerate(keys):
        for b in keys[a_index + 1:]:
            d = min(abs(x - y) for x in where[a] for y in where[b])
            if d <= 4:
                bonus += PROXIMITY * min(weights[a], weights[b]) / max(d, 1)
    return bonus


def _weights(analysis: Analysis, n: int) -> list[float]:
    return [_concept_idf(c, n) for c in analysis.concepts]


def _select(ranked: list[Candidate], analysis: Analysis, weights: list[float]) -> list[tuple[Candidate, Clause]]:
    """For each clause of the question, its best passage; then, while the question's named things or
    a good part of its weight are still missing, the passage that carries most of them."""
    if not ranked:
        return []
    pool = ranked[:40]
    picks: list[tuple[Candidate, Clause]] = []
    for clause in analysis.clauses:
        options = [c for c in pool if any(i in c.covered for i in clause.concepts)]
        if clause.contrast:  # "A or B": a passage about A that does not also speak of B, if there is one
            pure = [c for c in options if not any(i in c.covered for i in clause.contrast)]
            options = pure or options
        if clause.counted is not None and not clause.price:  # "combien d'agents": a passage that counts them
            options = [c for c in options if clause.counted in c.counts] or options
        if not options:
            continue
        best = max(options, key=lambda c: (_clause_score(c, clause, weights), -c.pk))
        if best not in [p for p, _c in picks]:
            picks.append((best, clause))
    if len(analysis.clauses) > 1:
        picks.sort(key=lambda pc: analysis.clauses.index(pc[1]))
    if not picks:
        return []
    total = sum(weights) or 1.0
    whole = Clause(concepts=list(range(len(weights))))
    while len(picks) < MAX_CITATIONS:
        chosen = [p for p, _c in picks]
        covered = {i for c in chosen for i in c.covered}
        missing = [i for i in range(len(weights)) if i not in covered and not analysis.concepts[i].oov]
        entity_missing = [i for i in missing if analysis.concepts[i].entity and not analysis.concepts[i].number]
        if sum(weights[i] for i in missing) < 0.2 * total and not entity_missing:
            break
        best, best_gain = None, 0.0
        for cand in pool:
            if cand in chosen or cand.score < 0.25 * chosen[0].score:
                continue
            gain = sum(weights[i] * (2 if i in entity_missing else 1) for i in missing if i in cand.covered)
            if gain > best_gain + 1e-9:
                best, best_gain = cand, gain
        if best is None or (best_gain < 0.1 * total and not any(i in best.covered for i in entity_missing)):
            break
        picks.append((best, whole))
    return picks


def _runners_up(ranked: list[Candidate], picks: list[tuple[Candidate, Clause]], weights: list[float]
                ) -> list[Candidate]:
    """Further passages worth reading: each clause's next best, then the next best overall."""
    chosen = [p for p, _c in picks]
    out: list[Candidate] = []
    for pick, clause in picks:
        best = _clause_score(pick, clause, weights)
        options = sorted((c for c in ranked[:40] if c not in chosen and c not in out
                          and any(i in c.covered for i in clause.concepts)),
                         key=lambda c: -_clause_score(c, clause, weights))
        out += [c for c in options[:1] if _clause_score(c, clause, weights) >= 0.5 * best]
    top = ranked[0].score if ranked else 0.0
    out += [c for c in ranked[:10] if c not in chosen and c not in out and c.score >= 0.5 * top]
    return out


def _coverage(chosen: list[Candidate], weights: list[float], only: list[int] | None = None) -> float:
    indexes = range(len(weights)) if only is None else only
    total = sum(weights[i] for i in indexes) or 1.0
    return sum(weights[i] * max((c.covered.get(i, 0.0) for c in chosen), default=0.0) for i in indexes) / total


def _check(analysis: Analysis, picks: list[tuple[Candidate, Clause]], weights: list[float]) -> str:
    """Why the chosen passages do not answer the question ("" when they do)."""
    if not picks:
        return "no-passage"
    chosen = [p for p, _c in picks]
    unknown = [i for i, c in enumerate(analysis.concepts) if hard_unknown(c)]
    if unknown:
        # One ordinary word the knowledge base does not use ("conseillé") is forgiven when the first
        # passage carries, in its text, at least three other words of the question and all of them;
        # a name (capital letter) or two unknown words never are ("payer en bitcoin", "Okta").
        known = [i for i, c in enumerate(analysis.concepts) if not c.oov and not c.number]
        word = analysis.concepts[unknown[0]]
        forgiven = (len(unknown) == 1 and not word.entity and len(known) >= 3
                    and all(chosen[0].covered.get(i) == 1.0 for i in known))
        if not forgiven:
            return f"unknown-word:{word.word}"
        weights = [0.0 if i in unknown else w for i, w in enumerate(weights)]
    covered = {i for c in chosen for i in c.covered}
    for i, concept in enumerate(analysis.concepts):
        if concept.entity and not concept.number and i not in covered and not _plan_wide(concept, chosen):
            return f"missing-entity:{concept.word}"
    coverage = _coverage(chosen, weights)
    if coverage < MIN_COVERAGE:
        return f"coverage:{coverage:.2f}"
    for clause in analysis.clauses:
        clause_picks = [p for p, c in picks if c is clause] or chosen
        first = _coverage(clause_picks[:1], weights, clause.concepts)
        if first < MIN_FIRST_COVERAGE:
            return f"clause-coverage:{first:.2f}"
        reason = _check_figure(analysis, clause, chosen, weights)
        if reason:
            return reason
    return ""


def _check_figure(analysis: Analysis, clause: Clause, chosen: list[Candidate], weights: list[float]) -> str:
    """The figure a clause asks for must be in a passage that also names what the clause names and
    carries most of what it asks about."""
    entities = [i for i in clause.concepts if analysis.concepts[i].entity and not analysis.concepts[i].number]
    plain = [i for i in clause.concepts if not analysis.concepts[i].entity and not analysis.concepts[i].number]
    for wanted, pattern in (("price", _PRICE), ("quantity", _DIGIT)):
        if not getattr(clause, wanted):
            continue
        if not any(
            pattern.search(c.text)
            and all(i in c.covered or _plan_wide(analysis.concepts[i], [c]) for i in entities)
            and (not plain or _coverage([c], weights, plain) >= 0.5)
            for c in chosen
        ):
            return f"no-{wanted}"
    return ""


def _plan_wide(concept: Concept, chosen: list[Candidate]) -> bool:
    """"Disponible sur tous les forfaits" answers a question about one plan."""
    return concept.word in lexicon.PLAN_NAMES and any(lexicon.PLAN_WIDE.search(lexicon.fold(c.text)) for c in chosen)


def _quote(cand: Candidate, analysis: Analysis) -> str:
    """The passage, or its sentences that carry the question when it is long."""
    if len(cand.text) <= 320:
        return cand.text
    sentences = _SENTENCE.split(cand.text)
    words = [{a.phrase for a in c.alts} for c in analysis.concepts]
    keep = [s for s in sentences if any(any(w in lexicon.fold(s) for w in forms) for forms in words)]
    if not keep or len(keep) > 3:
        return cand.text
    return " … ".join(keep) if len(keep) < len(sentences) else cand.text


def is_english(question: str) -> bool:
    return len(_ENGLISH.findall(question)) >= 2


def default_url(organization: Organization, scope: str) -> Callable[[Candidate], str]:
    def url(cand: Candidate) -> str:
        if scope == Scope.TEAM and cand.audience != "public":
            return reverse("kb:detail", args=[cand.article_id]) + f"#{cand.anchor}"
        return reverse("kb_public:article", args=[organization.slug, cand.slug]) + f"#{cand.anchor}"

    return url


def ask(
    organization: Organization, question: str, *, scope: str = Scope.PUBLIC,
    url_for: Callable[[Candidate], str] | None = None, language: str | None = None, rephrase: bool = True,
    checks: bool = True,
) -> Answer:
    """``checks=False`` skips the answer checks (the evaluation compares them with a score cut-off)."""
    started = time.perf_counter()
    question = " ".join((question or "").split())[:500]
    language = language or ("en" if is_english(question) else "fr")
    url_for = url_for or default_url(organization, scope)
    if not question:
        return _abstain(question, language, "empty", started)
    analysis = analyze(organization, question)
    if not analysis.concepts:
        return _abstain(question, language, "no-content-word", started)
    cands, n, avgdl = _candidates(organization, analysis, scope)
    weights = _weights(analysis, n)
    _score(cands, analysis, n, avgdl, weights)
    ranked = sorted(cands, key=lambda c: (-c.score, c.pk))
    picks = _select(ranked, analysis, weights)
    chosen = [p for p, _clause in picks]
    reason = _check(analysis, picks, weights) if checks else ("no-passage" if not picks else "")
    top = ranked[0].score if ranked else 0.0
    if reason:
        answer = _abstain(question, language, reason, started)
        answer.top_score = top
        answer.citations = []
        return answer
    extra = _runners_up(ranked, picks, weights)[: MAX_CITATIONS - len(chosen)]
    citations = [
        Citation(article=c.title, url=url_for(c), passage=c.text, article_id=c.article_id, anchor=c.anchor,
                 score=round(c.score, 3))
        for c in chosen + extra
    ]
    quotes = [_quote(c, analysis) for c in chosen]
    with override(language):
        lines = [_("D'après la base de connaissance :")]
        lines += [f"« {q} » [{i}]" for i, q in enumerate(quotes, 1)]
    text = "\n".join(lines)
    if rephrase:
        text = llm_rephrase(question, quotes, language) or text
    return Answer(question, text, False, citations, "", quotes, _ms(started), top)


def _abstain(question: str, language: str, reason: str, started: float) -> Answer:
    with override(language):
        text = _(
            "Je ne trouve pas la réponse à cette question dans la base de connaissance. "
            "Ouvrez un ticket : notre équipe vous répondra."
        )
    return Answer(question, text, True, [], reason, [], _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def ask_many(organization: Organization, questions: list[str], **kwargs) -> list[Answer]:
    return [ask(organization, q, **kwargs) for q in questions]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]
