"""The assistant: answers a question by quoting the passages of the knowledge base that hold the
answer, each cited with a link to its paragraph, or says it has no answer, what is missing, and offers
a ticket. The help center's Ask, the widget's and the ticket page's suggestions and ``manage.py ask``
all rank passages with ``retrieve``:

1. ``kb.search.analyze`` turns the question into concepts (content words, their synonyms and
   translations, typo corrections), with their document frequencies;
2. the question's vector (``kb.embeddings``, multilingual-e5-small, of the folded question) is compared
   with every visible passage's stored vector (numpy, one query): the dense ranking;
3. PostgreSQL returns the lexical candidates (full text, GIN index) plus the dense ranking's first
   passages, among the *visible* articles only (``kb.selectors.visible_articles``); each is scored
   here by BM25 over the passage (k1=1.2, b=0.75), each concept counted once through its best form;
4. the lexical and dense rankings are fused by reciprocal rank, and the first RERANK candidates are
   reranked by a linear model over their features (``kb.model_weights``, fitted on the development
   questions, dev + test + first + sealed, by ``manage.py kb_eval --fit``);
5. whether to answer is decided by a logistic regression over the retrieval's features (scores,
   margins, agreement of the two rankings, coverage of the question's words, unknown words), with the
   threshold that keeps the cross-validated wrong refusals under 5 % on the development questions
   (``manage.py kb_eval --fit``). Nothing else refuses.

The answer only ever quotes passages; an optional language model (``kb.llm``, off by default) may
rephrase them, and the citations and their URLs always come from here.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import override

from lumiodesk.models import Organization

from . import embeddings, lexicon
from . import model_weights as model
from .llm import rephrase as llm_rephrase
from .models import Article, ArticleStatus
from .search import Analysis, Clause, Concept, analyze, idf
from .visibility import Scope, visible_articles

K1, B = 1.2, 0.75
TITLE_BONUS = 0.45  # share of a concept's idf earned when the title or heading carries it
SYNONYM_OK = 0.8
PROXIMITY = 0.3
EARLY = 0.3
MAX_CITATIONS = 3
CANDIDATES = 150
_VECTOR_ITEM = re.compile(r"'((?:[^']|'')+)'(?::([0-9A-D,]+))?")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9ÀÂÉÈÊÎÔÙÛÇ«\"])")
_DIGIT = re.compile(r"\d")
_PRICE = re.compile(r"\d\s*(?:eur|€|euros?)\b|€", re.I)
_ENGLISH = re.compile(r"\b(what|how|can|does|do|is|are|which|when|where|why|the|my|i|you|plan|price|cost)\b", re.I)


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
    dense: float = 0.0  # cosine between the question's and the passage's vectors
    lex_rank: int = 0  # 1-based rank by the lexical score (0: no lexical match)
    dense_rank: int = 0  # 1-based rank by the dense cosine among all visible passages (0: no vector)
    fused: float = 0.0  # reciprocal rank fusion of the two
    final: float = 0.0  # after the rerank of the first RERANK candidates


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
    missing: list[str] = field(default_factory=list)  # abstention: the question's words no passage covers

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
  AND (p.id = ANY(%s) OR p.search_vector @@ to_tsquery('simple', %s))
ORDER BY p.id = ANY(%s) DESC, ts_rank(p.search_vector, to_tsquery('simple', %s)) DESC, p.id
LIMIT %s
"""
# Every visible passage's vector: at a few hundred passages per organization a numpy product is
# faster than any index; an organization with tens of thousands would move this to an ANN index.
DENSE_SQL = """
SELECT p.id, p.embedding FROM kb_passage p
WHERE p.organization_id = %s AND NOT p.is_question AND p.embedding IS NOT NULL AND p.article_id IN ({visible})
"""


def _dense(organization: Organization, question: str, scope: str) -> dict[int, tuple[float, int]]:
    """passage id -> (cosine with the question, rank) for every visible passage that has a vector."""
    visible_sql, params = visible_articles(organization, scope=scope).values("id").query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(DENSE_SQL.format(visible=visible_sql), [organization.pk, *params])
        rows = cur.fetchall()
    if not rows:
        return {}
    sims = embeddings.matrix([r[1] for r in rows]) @ _query_vector(question)
    order = np.argsort(-sims, kind="stable")
    return {rows[i][0]: (float(sims[i]), rank) for rank, i in enumerate(order, 1)}


def query_cache_key(question: str) -> str:
    digest = hashlib.sha1(question.encode()).hexdigest()
    return f"kb:qvec:{embeddings.MODEL}:{embeddings.QUERY_FORM}:{digest}"


def _query_vector(question: str) -> np.ndarray:
    """The question's vector, kept an hour in the cache (a ticket page shown again, a widget question
    typed again, the same question asked by many)."""
    key = query_cache_key(question)
    blob = cache.get(key)
    if blob is None:
        blob = embeddings.to_bytes(embeddings.encode_query(question))
        cache.set(key, blob, 3600)
    return np.frombuffer(blob, dtype="<f4")


def _candidates(
    organization: Organization, analysis: Analysis, scope: str, dense_ids: list[int]
) -> tuple[list[Candidate], int, float]:
    lexemes = [x for x in analysis.lexemes if re.match(r"^[\w-]+$", x)]
    if not lexemes and not dense_ids:
        return [], 0, 1.0
    query = " | ".join(f"'{x}'" for x in lexemes) or None
    visible_sql, params = visible_articles(organization, scope=scope).values("id").query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(
            CANDIDATES_SQL.format(visible=visible_sql),
            [organization.pk, organization.pk, *params, dense_ids, query, dense_ids, query, CANDIDATES],
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


RRF_K = 60  # reciprocal rank fusion: 1 / (RRF_K + rank) from each list
DENSE_POOL = 30  # the dense list's first passages join the lexical candidates
RERANK = 20  # the fused list's first passages are reranked


@dataclass
class Retrieval:
    """The question's analysis and its candidate passages, best first."""

    analysis: Analysis
    ranked: list[Candidate]
    weights: list[float]
    n: int
    dense_mean: float = 0.0  # the question's mean cosine over every visible passage, and its spread
    dense_std: float = 1.0
    has_dense: bool = True  # False while no visible passage has its vector yet (Celery has not run)


def retrieve(organization: Organization, question: str, *, scope: str = Scope.PUBLIC) -> Retrieval:
    """Full text (lexicon, typos) and dense vectors, fused by reciprocal rank, the first RERANK reranked.
    The help center's Ask, the widget's suggestions, the ticket page's suggestions and ``manage.py ask``
    all rank passages here."""
    analysis = analyze(organization, question)
    dense = _dense(organization, question, scope)
    dense_ids = [pk for pk, (_sim, rank) in dense.items() if rank <= DENSE_POOL]
    cands, n, avgdl = _candidates(organization, analysis, scope, dense_ids)
    weights = _weights(analysis, n)
    _score(cands, analysis, n, avgdl, weights)
    ranked = fuse(cands, dense)
    sims = np.asarray([sim for sim, _rank in dense.values()]) if dense else np.zeros(1)
    return rerank(
        Retrieval(analysis, ranked, weights, n, float(sims.mean()), float(sims.std()) or 1.0, has_dense=bool(dense))
    )


def rerank(retrieval: Retrieval, rerank_weights: list[float] | None = None) -> Retrieval:
    """The first RERANK passages of the fused order reranked by the linear model (``kb.model_weights``, or
    the weights given: the evaluation's cross-validation); the retrieval, reordered in place."""
    head = sorted(retrieval.ranked[:RERANK], key=lambda c: (-c.fused, c.pk))
    _rerank(head, retrieval.weights, rerank_weights)
    retrieval.ranked = sorted(head, key=lambda c: (-c.final, c.pk)) + retrieval.ranked[RERANK:]
    return retrieval


def fuse(cands: list[Candidate], dense: dict[int, tuple[float, int]]) -> list[Candidate]:
    """Reciprocal rank fusion: each candidate earns 1 / (RRF_K + rank) from the lexical ranking (its
    ``score``, when positive) and from the dense one (``dense``: passage id -> (cosine, rank)); best first,
    ties by id."""
    lexical = sorted((c for c in cands if c.score > 0), key=lambda c: (-c.score, c.pk))
    for rank, c in enumerate(lexical, 1):
        c.lex_rank = rank
    for c in cands:
        c.dense, c.dense_rank = dense.get(c.pk, (0.0, 0))
        c.fused = (1 / (RRF_K + c.lex_rank) if c.lex_rank else 0.0) + (
            1 / (RRF_K + c.dense_rank) if c.dense_rank else 0.0
        )
    return sorted(cands, key=lambda c: (-c.fused, c.pk))


def suggest_articles(
    organization: Organization, text: str, *, scope: str = Scope.PUBLIC, limit: int = 5
) -> list[Candidate]:
    """The articles of the best passages for a question (the widget's and help center's suggestions,
    the ticket page's): the same retrieval as ``ask``, one entry per article, best first."""
    text = " ".join((text or "").split())[:300]
    if not text:
        return []
    retrieval = retrieve(organization, text, scope=scope)
    # Passages sharing a word (or a synonym, a translation, a corrected typo) with the text, in the fused
    # and reranked order: a suggestion shown while typing must visibly relate to what is typed.
    out: list[Candidate] = []
    for c in retrieval.ranked[:RERANK]:
        if c.lex_rank and c.article_id not in {o.article_id for o in out}:
            out.append(c)
        if len(out) >= limit:
            break
    return out


TICKET_TEXT_SQL = """
SELECT left(coalesce((SELECT m.body_text FROM tickets_message m WHERE m.ticket_id = %s AND m.kind = 'customer'
                      ORDER BY m.created_at, m.id LIMIT 1), ''), 600)
"""


@dataclass
class TicketSuggestion:
    """An article offered on a ticket page (``ticket_suggestions``; ``kb.selectors.suggestions_for_ticket``)."""

    article: Article
    linked: bool
    suggested: bool
    is_public: bool


def ticket_suggestions(ticket, *, limit: int = 5) -> list[TicketSuggestion]:
    """The ticket page's articles: those linked to the ticket, then the publicly visible articles that the
    assistant's retrieval finds for the subject and the customer's first message."""
    linked = list(
        Article.objects.filter(organization_id=ticket.organization_id, ticket_links__ticket=ticket)
        .only("id", "organization_id", "title", "slug", "language", "audience", "status", "collection_id")
        .order_by("title", "id")
    )
    visible = (
        set(visible_articles(ticket.organization).filter(pk__in=[a.pk for a in linked]).values_list("pk", flat=True))
        if linked
        else set()
    )
    out = [TicketSuggestion(article=a, linked=True, suggested=False, is_public=a.pk in visible) for a in linked]
    with connection.cursor() as cur:
        cur.execute(TICKET_TEXT_SQL, [ticket.pk])
        first_message = cur.fetchone()[0]
    seen = {a.pk for a in linked}
    for c in suggest_articles(ticket.organization, f"{ticket.subject}. {first_message}", limit=limit + len(seen)):
        if c.article_id in seen or len(out) - len(linked) >= limit:
            continue
        article = Article(
            pk=c.article_id,
            organization_id=ticket.organization_id,
            title=c.title,
            slug=c.slug,
            language=c.language,
            audience=c.audience,
            status=ArticleStatus.PUBLISHED,
        )
        out.append(TicketSuggestion(article=article, linked=False, suggested=True, is_public=True))
    return out


def rerank_features(cands: list[Candidate], weights: list[float]) -> np.ndarray:
    """One row per candidate (``model.RERANK_FEATURES``): what the rerank reads."""
    if not cands:
        return np.zeros((0, len(model.RERANK_FEATURES)))
    top_lex = max((c.score for c in cands), default=0.0) or 1.0
    denses = np.asarray([c.dense for c in cands])
    spread = float(denses.std()) or 1.0
    total = sum(weights) or 1.0
    rows = []
    for c in cands:
        coverage = sum(weights[i] * f for i, f in c.covered.items()) / total
        in_text = sum(weights[i] for i, f in c.covered.items() if f == 1.0) / total
        rows.append(
            [
                c.dense,
                (c.dense - float(denses.max())) / spread,
                (c.dense - float(denses.mean())) / spread,
                c.score / top_lex,
                c.score / total,
                coverage,
                in_text,
                RRF_K / (RRF_K + c.lex_rank) if c.lex_rank else 0.0,
                RRF_K / (RRF_K + c.dense_rank) if c.dense_rank else 0.0,
                1.0 if "?" in c.text[:200] else 0.0,
                math.log(1 + c.n_tokens),
                c.proximity / total,
            ]
        )
    return np.asarray(rows, dtype=np.float64)


def _rerank(cands: list[Candidate], weights: list[float], rerank_weights: list[float] | None = None) -> None:
    if not cands:
        return
    scores = rerank_features(cands, weights) @ np.asarray(
        model.RERANK_WEIGHTS if rerank_weights is None else rerank_weights
    )
    for c, value in zip(cands, scores, strict=True):
        c.final = float(value)


ANSWER_FEATURES = [
    "dense_top",
    "dense_margin",
    "final_margin",
    "lexical_top",
    "coverage_top",
    "coverage_three",
    "lex_agrees",
    "dense_agrees",
    "unknown_share",
    "entity_missing_share",
    "unknown_any",
    "figure_missing",
    "dense_standout",
    "final_top",
    "uncovered_max",
    "uncovered_share",
    "n_concepts",
    "dense_above_mean",
    "lexical_rank_top",
]


def answer_features(retrieval: Retrieval) -> np.ndarray:
    """What the abstention model reads: how strong and how consistent the retrieval of the best passages is."""
    ranked, weights, concepts = retrieval.ranked, retrieval.weights, retrieval.analysis.concepts
    if not ranked:
        return np.zeros(len(ANSWER_FEATURES))
    top, three = ranked[0], ranked[:MAX_CITATIONS]
    total = sum(weights) or 1.0
    denses = sorted((c.dense for c in ranked), reverse=True) + [0.0, 0.0]
    finals = [c.final for c in ranked[:2]] + [0.0]
    unknown = sum(w for c, w in zip(concepts, weights, strict=True) if hard_unknown(c))
    covered = {i for c in three for i in c.covered}
    # the weight share of the names (plans, capitalized words) that no cited passage carries: a share, not a
    # yes / no, so that a city or a former tool named in a sentence of context does not refuse on its own
    entity_missing = sum(
        w
        for i, (c, w) in enumerate(zip(concepts, weights, strict=True))
        if c.entity and not c.number and i not in covered and not _plan_wide(c, three)
    )
    figure_missing = any(
        (clause.price and not any(_PRICE.search(c.text) for c in three))
        or (clause.quantity and not any(_DIGIT.search(c.text) for c in three))
        for clause in retrieval.analysis.clauses
    )
    # the question's words that none of the first passages' texts carries: the heaviest one, and their share
    in_text = {i for c in three for i, f in c.covered.items() if f == 1.0}
    uncovered = [w for i, w in enumerate(weights) if i not in in_text]
    return np.asarray(
        [
            top.dense,
            denses[0] - denses[1],
            finals[0] - finals[1],
            top.score / total,
            _coverage([top], weights),
            _coverage(three, weights),
            1.0 if top.lex_rank == 1 else 0.0,
            1.0 if top.dense_rank == 1 else 0.0,
            unknown / total,
            entity_missing / total,
            1.0 if unknown else 0.0,
            1.0 if figure_missing else 0.0,
            (denses[0] - retrieval.dense_mean) / retrieval.dense_std,
            top.final,
            max(uncovered, default=0.0) / (max(weights, default=0.0) or 1.0),
            sum(uncovered) / total,
            float(len(weights)),
            top.dense - retrieval.dense_mean,
            math.log(1 + top.lex_rank) if top.lex_rank else 5.0,
        ],
        dtype=np.float64,
    )


# What the dense vectors decide: while no passage has its vector yet, these features are read as their
# development mean (neutral), and full text alone decides.
DENSE_FEATURES = (
    "dense_top",
    "dense_margin",
    "final_margin",
    "dense_agrees",
    "dense_standout",
    "final_top",
    "dense_above_mean",
)


def answer_confidence(retrieval: Retrieval) -> float:
    """Probability that the first passages answer the question (logistic regression, kb.model_weights)."""
    if not retrieval.ranked:
        return 0.0
    mean = np.asarray(model.ABSTAIN_MEAN)
    features = answer_features(retrieval)
    if not retrieval.has_dense:
        for name in DENSE_FEATURES:
            features[ANSWER_FEATURES.index(name)] = mean[ANSWER_FEATURES.index(name)]
    x = (features - mean) / np.asarray(model.ABSTAIN_SCALE)
    z = float(x @ np.asarray(model.ABSTAIN_COEF) + model.ABSTAIN_INTERCEPT)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def missing_words(retrieval: Retrieval) -> list[str]:
    """The question's content words that none of the first passages carries (unknown words first)."""
    concepts, three = retrieval.analysis.concepts, retrieval.ranked[:MAX_CITATIONS]
    covered = {i for c in three for i in c.covered}
    unknown = [c.word for c in concepts if hard_unknown(c)]
    rest = [
        c.word
        for i, c in enumerate(concepts)
        if i not in covered and not c.number and c.word not in unknown and len(c.word) >= 4
    ]
    return (unknown + rest)[:3]


def _citations(retrieval: Retrieval) -> list[Candidate]:
    """The first passages; for a question in several parts, each part's best passage among the first ten
    is cited within the first three."""
    ranked, analysis, weights = retrieval.ranked, retrieval.analysis, retrieval.weights
    out = ranked[:MAX_CITATIONS]
    if len(analysis.clauses) > 1:
        for clause in analysis.clauses:
            if any(
                _clause_score(c, clause, weights) > 0 and all(i in c.covered for i in clause.concepts if weights[i] > 0)
                for c in out
            ):
                continue
            best = max(ranked[:10], key=lambda c: (_clause_score(c, clause, weights), -c.pk))
            if best not in out and _clause_score(best, clause, weights) > 0:
                out = out[:1] + [best] + [c for c in out[1:] if c is not best]
                out = out[:MAX_CITATIONS]
    return out


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
        for b in keys[a_index + 1 :]:
            d = min(abs(x - y) for x in where[a] for y in where[b])
            if d <= 4:
                bonus += PROXIMITY * min(weights[a], weights[b]) / max(d, 1)
    return bonus


def _weights(analysis: Analysis, n: int) -> list[float]:
    return [_concept_idf(c, n) for c in analysis.concepts]


def _coverage(chosen: list[Candidate], weights: list[float], only: list[int] | None = None) -> float:
    indexes = range(len(weights)) if only is None else only
    total = sum(weights[i] for i in indexes) or 1.0
    return sum(weights[i] * max((c.covered.get(i, 0.0) for c in chosen), default=0.0) for i in indexes) / total


def _plan_wide(concept: Concept, chosen: list[Candidate]) -> bool:
    """ "Disponible sur tous les forfaits" answers a question about one plan."""
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
    organization: Organization,
    question: str,
    *,
    scope: str = Scope.PUBLIC,
    url_for: Callable[[Candidate], str] | None = None,
    language: str | None = None,
    rephrase: bool = True,
    checks: bool = True,
) -> Answer:
    """``checks=False`` skips the answer checks (the evaluation compares them with a score cut-off)."""
    started = time.perf_counter()
    question = " ".join((question or "").split())[:500]
    language = language or ("en" if is_english(question) else "fr")
    url_for = url_for or default_url(organization, scope)
    if not question:
        return _abstain(question, language, "empty", started)
    retrieval = retrieve(organization, question, scope=scope)
    analysis, ranked = retrieval.analysis, retrieval.ranked
    confidence = answer_confidence(retrieval)
    if checks and confidence < model.ABSTAIN_THRESHOLD or not ranked:
        answer = _abstain(
            question, language, "low-confidence" if ranked else "no-passage", started, missing=missing_words(retrieval)
        )
        answer.top_score = confidence
        return answer
    chosen = _citations(retrieval)
    citations = [
        Citation(
            article=c.title,
            url=url_for(c),
            passage=c.text,
            article_id=c.article_id,
            anchor=c.anchor,
            score=round(c.final, 3),
        )
        for c in chosen
    ]
    quotes = [_quote(c, analysis) for c in chosen]
    with override(language):
        lines = [_("D'après la base de connaissance :")]
        lines += [f"« {q} » [{i}]" for i, q in enumerate(quotes, 1)]
    text = "\n".join(lines)
    if rephrase:
        text = llm_rephrase(question, quotes, language) or text
    return Answer(question, text, False, citations, "", quotes, _ms(started), confidence)


def _abstain(question: str, language: str, reason: str, started: float, missing: list[str] | None = None) -> Answer:
    with override(language):
        if missing:
            text = _(
                "Je ne trouve pas la réponse à cette question dans la base de connaissance : aucun article "
                "ne parle de %(missing)s. Ouvrez un ticket : notre équipe vous répondra."
            ) % {"missing": ", ".join(f"« {w} »" for w in missing)}
        else:
            text = _(
                "Je ne trouve pas la réponse à cette question dans la base de connaissance. "
                "Ouvrez un ticket : notre équipe vous répondra."
            )
    return Answer(question, text, True, [], reason, [], _ms(started), missing=missing or [])


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
