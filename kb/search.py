"""Search in PostgreSQL: full text in the French, accent-insensitive configuration ``lumiodesk_fr``,
trigram similarity for typos (against the organization's vocabulary, ``kb.Term``, and on titles),
and a light synonym / English → French map (``kb.lexicon``).

A question is analysed once into *concepts*: each content word with the forms the knowledge base
may use for it (itself, synonyms, translations, the closest known word when it is misspelt), each
resolved to ``lumiodesk_fr`` lexemes with its document frequency. The help center search, the
widget's suggestions and the assistant (``kb.assistant``) all start from there; every one of them
reads only what ``kb.selectors.visible_articles`` lets through.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.utils.html import escape

from lumiodesk.models import Organization

from . import lexicon
from .models import Article
from .visibility import Scope, visible_articles

_SAFE_LEXEME = re.compile(r"^[\w-]+$")
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
COMPOUNDS = {"arriere-plan", "feature-request", "mots-cles", "question-produit", "lundi-vendredi", "au-dela"}
SEL_START, SEL_STOP = "\x02", "\x03"


@dataclass
class Alt:
    phrase: str
    weight: float
    lexemes: tuple[str, ...] = ()
    df: int = 0
    fuzzy: bool = False


@dataclass
class Concept:
    word: str
    alts: list[Alt] = field(default_factory=list)
    entity: bool = False
    number: bool = False

    @property
    def known(self) -> list[Alt]:
        return [a for a in self.alts if a.lexemes and a.df > 0]

    @property
    def oov(self) -> bool:
        return not self.known

    @property
    def df(self) -> int:
        known = self.known
        return min(a.df for a in known) if known else 0


@dataclass
class Clause:
    """One question inside the question ("... et que se passe-t-il si ..."): its concepts and answer type."""

    concepts: list[int]
    quantity: bool = False
    price: bool = False
    duration: bool = False
    how_long: bool = False
    counted: int | None = None  # "combien de X": the concept X, which the answer counts
    contrast: list[int] = field(default_factory=list)  # "différence entre A et B": B's concepts, for A


@dataclass
class Analysis:
    question: str
    concepts: list[Concept]
    clauses: list[Clause] = field(default_factory=list)

    @property
    def lexemes(self) -> list[str]:
        out: list[str] = []
        for c in self.concepts:
            for a in c.known:
                out += [x for x in a.lexemes if x not in out]
        return out


def _split_words(text: str) -> list[str]:
    out = []
    for token in _TOKEN.findall(text):
        if "-" in token and token not in COMPOUNDS and token not in lexicon.SYNONYMS:
            out += [p for p in token.split("-") if p and p != "t"]
        else:
            out.append(token)
    return out


def _capitalized(question: str) -> set[str]:
    """Words written with a capital inside the sentence (names: Gmail, Okta, Starter...)."""
    names = set()
    for i, m in enumerate(re.finditer(r"[\w'-]+", question)):
        word = m.group(0).split("'")[-1]
        if i > 0 and word[:1].isupper():
            names.add(lexicon.fold(word))
    return names


# A match starts only where a run of spaces starts ((?<!\s)) and the runs are taken possessively: the earlier
# ``\s*(?:,?\s+et…|\s*[;?]\s*)`` was searched from every space of a run and tried every way to share it
# between its quantifiers (cubic: 2,000 spaces took two minutes; issue 15).
_CLAUSE_SPLIT = re.compile(
    r"(?<!\s)(?:(?:\s*+,)?\s++(?:et\s++(?=(?:que|qu|quel|quelle|quels|quelles|comment|combien|ou|quand|pourquoi"
    r"|est-ce|a partir)\b)|and\s++(?=(?:what|how|which|when|where|why|is|are|can|do|does|who)\b))|\s*+[;?]\s*+)"
    r"|[;?]\s*+"
)
_CONTRAST = re.compile(r"\b(?:difference|differences|differencier|compare[rz]?)\s+(?:entre|between)\s+(.+?)\s+"
                       r"(?:et|and)\s+(.+)$")
_COUNTED = re.compile(r"\b(?:combien|how many|nombre)\s+(?:de\s+|d\s+|of\s+)?(?:[a-z]+\s+){0,1}?([a-z0-9-]+)")


def _clause_texts(folded: str) -> tuple[list[str], bool]:
    text = re.sub(r"(\w)'(\w)", r"\1 \2", folded)
    contrast = _CONTRAST.search(text.rstrip(" ?.!"))
    if contrast:
        return [contrast.group(1), contrast.group(2)], True
    return [c for c in _CLAUSE_SPLIT.split(text) if c and c.strip(" ,.!")], False


def analyze(organization: Organization, question: str) -> Analysis:
    folded = lexicon.fold(question)
    names = _capitalized(question)
    analysis = Analysis(question=question, concepts=[])
    index: dict[str, int] = {}
    clause_texts, contrast = _clause_texts(folded)
    for text in clause_texts or [folded]:
        clause = Clause(
            concepts=[],
            quantity=bool(lexicon.QUANTITY.search(text)),
            price=bool(lexicon.PRICE.search(text)),
            duration=bool(lexicon.DURATION.search(text)),
            how_long=bool(re.search(r"\b(combien de temps|how long)\b", text)),
        )
        counted = _COUNTED.search(text)
        for word in _split_words(lexicon.rewrite(text)):
            if word in lexicon.STOP_WORDS or len(word) < 2 and not word.isdigit():
                continue
            if word not in index:
                index[word] = len(analysis.concepts)
                alts = [Alt(word, 1.0)] + [Alt(s, 0.85) for s in lexicon.alternatives(word) if s != word]
                alts += [Alt(f, 0.95) for f in lexicon.inflections(word) if f not in {a.phrase for a in alts}]
                analysis.concepts.append(Concept(
                    word=word, alts=alts, number=word.isdigit(),
                    entity=word in lexicon.PLAN_NAMES or word in names or word.isdigit(),
                ))
            if index[word] not in clause.concepts:
                clause.concepts.append(index[word])
        if counted and lexicon.rewrite(counted.group(1)).split():
            first = _split_words(lexicon.rewrite(counted.group(1)))
            clause.counted = index.get(first[0]) if first else None
        if clause.concepts:
            analysis.clauses.append(clause)
    if contrast and len(analysis.clauses) == 2:
        a, b = analysis.clauses
        shared = set(a.concepts) & set(b.concepts)
        a.contrast = [i for i in b.concepts if i not in shared]
        b.contrast = [i for i in a.concepts if i not in shared]
    _resolve(organization, analysis.concepts)
    return analysis


RESOLVE_SQL = """
SELECT w.i, lx.lexeme, t.df, fz.lexeme, fz.df, fz.sim
FROM unnest(%s::text[]) WITH ORDINALITY AS w(phrase, i)
LEFT JOIN LATERAL unnest(to_tsvector('lumiodesk_fr', w.phrase)) AS lx ON true
LEFT JOIN kb_term t ON t.organization_id = %s AND t.lexeme = lx.lexeme
LEFT JOIN LATERAL (
    SELECT k.lexeme, k.df, similarity(k.lexeme, lx.lexeme) AS sim FROM kb_term k
    WHERE t.id IS NULL AND length(lx.lexeme) >= 4 AND k.organization_id = %s AND k.lexeme %% lx.lexeme
    ORDER BY k.lexeme <-> lx.lexeme LIMIT 3
) fz ON true
ORDER BY w.i, fz.sim DESC
"""


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment): a swapped pair of letters costs one."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def close_enough(typed: str, known: str, sim: float) -> bool:
    """A misspelling of ``known``: close by trigrams, or one or two keystrokes away."""
    if sim >= 0.5:
        return True
    return sim >= 0.3 and edit_distance(typed, known) <= (1 if len(typed) < 8 else 2)


def _resolve(organization: Organization, concepts: list[Concept]) -> None:
    """Lexemes and document frequencies of every form, and a correction for unknown words: one query."""
    phrases: list[str] = []
    for c in concepts:
        for a in c.alts:
            if a.phrase not in phrases:
                phrases.append(a.phrase)
    if not phrases:
        return
    found: dict[str, list[tuple[str, int, str | None, int, float]]] = {p: [] for p in phrases}
    with connection.cursor() as cur:
        cur.execute(RESOLVE_SQL, [phrases, organization.pk, organization.pk])
        for i, lexeme, df, fz_lexeme, fz_df, sim in cur.fetchall():
            if not lexeme:
                continue
            rows = found[phrases[i - 1]]
            previous = next((r for r in rows if r[0] == lexeme), None)
            if previous is None:
                good = fz_lexeme if fz_lexeme and close_enough(lexeme, fz_lexeme, sim or 0.0) else None
                rows.append((lexeme, df or 0, good, (fz_df or 0) if good else 0, (sim or 0.0) if good else 0.0))
            elif previous[2] is None and fz_lexeme and close_enough(lexeme, fz_lexeme, sim or 0.0):
                rows[rows.index(previous)] = (lexeme, previous[1], fz_lexeme, fz_df or 0, sim or 0.0)
    for c in concepts:
        extra: list[Alt] = []
        for a in c.alts:
            rows = found.get(a.phrase, [])
            if not rows:
                continue
            a.lexemes = tuple(lx for lx, *_rest in rows)
            dfs = [df for _lx, df, *_rest in rows]
            a.df = min(dfs) if all(dfs) else 0
            if a.df == 0 and len(rows) == 1 and a.weight == 1.0:
                _lx, _df, fz_lexeme, fz_df, sim = rows[0]
                if fz_lexeme and not c.number:
                    weight = 0.85 if edit_distance(_lx, fz_lexeme) <= 1 else max(0.6, 0.9 * sim + 0.1)
                    extra.append(Alt(fz_lexeme, round(weight, 3), (fz_lexeme,), fz_df, fuzzy=True))
        if not c.known:
            c.alts += extra


def _tsquery_text(analysis: Analysis, *, all_concepts: bool, prefix_last: bool = False) -> str:
    parts = []
    for i, c in enumerate(analysis.concepts):
        alts = []
        for a in c.known:
            lexemes = [x for x in a.lexemes if _SAFE_LEXEME.match(x)]
            if not lexemes:
                continue
            star = ":*" if prefix_last and i == len(analysis.concepts) - 1 and not a.fuzzy else ""
            alts.append("(" + " & ".join(f"'{x}'{star}" for x in lexemes) + ")")
        if alts:
            parts.append("(" + " | ".join(alts) + ")")
        elif all_concepts and not c.number:
            return ""  # a word the knowledge base does not know: nothing matches all the words
    return (" & " if all_concepts else " | ").join(parts)


def article_query(text: str) -> SearchQuery | None:
    """The console's article filter: each word as a prefix, all required."""
    tokens = [t for t in _TOKEN.findall(lexicon.fold(text)) if t not in lexicon.STOP_WORDS][:8]
    if not tokens:
        return None
    return SearchQuery(" & ".join(f"'{t}':*" for t in tokens), search_type="raw", config="lumiodesk_fr")


# --- help center search ---------------------------------------------------------------------------------


@dataclass
class SearchHit:
    article: Article
    rank: float
    headline: str  # safe HTML: escaped text with <mark> around the matched words


SEARCH_SQL = """
SELECT a.id, coalesce(ts_rank_cd(a.search_vector, q.query, 1), 0)
           + 0.6 * similarity(kb_unaccent(lower(a.title)), %s) AS rank,
       ts_headline('lumiodesk_fr', left(a.body_text, 20000), q.hl,
                   'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=28, MinWords=12, '
                   || 'MaxFragments=2, FragmentDelimiter=" … "') AS headline
FROM kb_article a, (SELECT to_tsquery('simple', %s) AS query, to_tsquery('simple', %s) AS hl) q
WHERE a.id IN ({visible}) AND (coalesce(a.search_vector @@ q.query, false) OR kb_unaccent(lower(a.title)) %% %s)
ORDER BY rank DESC, a.id
LIMIT %s
"""


def search_articles(organization: Organization, text: str, *, scope: str = Scope.PUBLIC, limit: int = 20
                    ) -> tuple[list[SearchHit], Analysis | None]:
    """Visible articles matching every word (typos corrected), else any word; by rank, highlighted."""
    text = (text or "").strip()[:200]
    if not text:
        return [], None
    analysis = analyze(organization, text)
    folded = lexicon.fold(text)
    any_words = _tsquery_text(analysis, all_concepts=False)
    hits: list[tuple[int, float, str]] = []
    visible_sql, visible_params = visible_articles(organization, scope=scope).values("id").query.sql_with_params()
    for query in (_tsquery_text(analysis, all_concepts=True), any_words):
        if not query and not folded:
            continue
        with connection.cursor() as cur:
            cur.execute(
                SEARCH_SQL.format(visible=visible_sql),
                [folded, query or None, any_words or None, *visible_params, folded, limit],
            )
            hits = cur.fetchall()
        if hits:
            break
    articles = (
        Article.objects.select_related("collection").defer("body", "body_html", "body_text", "search_vector")
        .in_bulk([h[0] for h in hits])
    ) if hits else {}
    return [SearchHit(articles[pk], rank, _mark(headline)) for pk, rank, headline in hits if pk in articles], analysis


def _mark(headline: str) -> str:
    safe = escape(headline or "")
    return safe.replace(SEL_START, "<mark>").replace(SEL_STOP, "</mark>")


def idf(df: int, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))
