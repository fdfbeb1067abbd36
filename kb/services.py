"""Every change to the knowledge base goes through these functions (atomic, audited).

Who may do what (section 10: Agent = "traitement des tickets et consultation de la base"), in
``lumiodesk.permissions``: ``kb.edit`` writes drafts (create them, edit them); ``kb.publish`` publishes,
archives, unpublishes and edits a published or archived article; ``kb.collections.manage``;
``tickets.link_article``. The system actor (the documentation import) may do all of it.

A published article's passages and the organization's vocabulary (``Term``) are rebuilt in the
same transaction as the change, so the assistant never quotes a text that is no longer published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import DomainError, InvalidInput, NotPermitted
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, require

from . import markdown_sections, tasks
from .models import (
    Article,
    ArticleLink,
    ArticleRevision,
    ArticleStatus,
    Audience,
    Collection,
    CollectionVisibility,
    Passage,
)

_INDEX_LOCK = 0x6B62  # "kb": first key of the per-organization advisory lock


# --- permissions -------------------------------------------------------------------------------------


def may_edit(actor: Actor | None, article: Article | None = None) -> bool:
    """Pure rule (no query), also used by the views to show or hide buttons: a draft (or a new article)
    needs ``kb.edit``, a published or archived article ``kb.publish``."""
    if actor is None:
        return False
    if actor.can("kb.publish"):
        return True
    return actor.can("kb.edit") and (article is None or article.status == ArticleStatus.DRAFT)


class NotADraft(DomainError):
    """``update_article(drafts_only=True)`` on a published or archived article (the API edits drafts only:
    publishing stays in the console, where it is reviewed)."""

    status_code = 409


def _ensure_edit(organization: Organization, actor: Actor, article: Article | None = None) -> None:
    require(actor, "kb.edit", organization)
    if not may_edit(actor, article):
        raise NotPermitted(_("Un article publié ou archivé est modifié par un Manager ou un Admin."))


# --- articles ----------------------------------------------------------------------------------------


def _unique_slug(organization: Organization, language: str, wanted: str, title: str, exclude: int | None) -> str:
    base = slugify(wanted or title)[:100] or "article"
    taken = set(
        Article.objects.filter(organization=organization, language=language, slug__startswith=base)
        .exclude(pk=exclude)
        .values_list("slug", flat=True)
    )
    slug, n = base, 2
    while slug in taken:
        slug = f"{base}-{n}"
        n += 1
    return slug


def _clean(title: str, body: str, language: str, audience: str, collection: Collection | None,
           organization: Organization) -> tuple[str, str]:
    title, body = (title or "").strip(), (body or "").replace("\r\n", "\n").strip()
    if not title:
        raise InvalidInput(_("Le titre est obligatoire."))
    if len(title) > 200:
        raise InvalidInput(_("Le titre fait au plus 200 caractères."))
    if language not in {code for code, _name in _languages()}:
        raise InvalidInput(_("Langue inconnue."))
    if audience not in Audience.values:
        raise InvalidInput(_("Audience inconnue."))
    if collection is not None and collection.organization_id != organization.pk:
        raise InvalidInput(_("Collection inconnue."))
    return title, body


def _languages():
    return settings.LANGUAGES


def _render_into(article: Article) -> markdown_sections.Rendered:
    rendered = markdown_sections.render(article.body, title=article.title)
    article.body_html, article.body_text = rendered.html, rendered.text
    return rendered


def _add_revision(article: Article, actor: Actor) -> ArticleRevision:
    last = article.revisions.order_by("-number").values_list("number", flat=True).first() or 0
    return ArticleRevision.objects.create(
        organization_id=article.organization_id, article=article, number=last + 1, title=article.title,
        body=article.body, author=actor.user,
    )


ARTICLE_VECTOR_SQL = """
UPDATE kb_article a SET search_vector =
    setweight(to_tsvector('lumiodesk_fr', a.title), 'A')
    || setweight(to_tsvector('lumiodesk_fr',
         coalesce((SELECT c.name FROM kb_collection c WHERE c.id = a.collection_id), '')), 'C')
    || setweight(to_tsvector('lumiodesk_fr', left(a.body_text, 500000)), 'D')
WHERE a.id = %s
"""


def _index(article: Article, rendered: markdown_sections.Rendered | None = None, *, same_title: bool = True) -> None:
    """The article's search vector; its passages and the vocabulary when it is published. A passage
    whose heading and text did not change keeps its dense vector; the others get theirs from a task
    queued after commit (``kb.tasks.embed_article_passages``)."""
    with connection.cursor() as cur:
        cur.execute(ARTICLE_VECTOR_SQL, [article.pk])
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_INDEX_LOCK, article.organization_id])
        cur.execute(
            """UPDATE kb_term t SET df = t.df - s.n
               FROM (SELECT u.lexeme, count(*) AS n FROM kb_passage p, unnest(p.search_vector) u
                     WHERE p.article_id = %s GROUP BY u.lexeme) s
               WHERE t.organization_id = %s AND t.lexeme = s.lexeme""",
            [article.pk, article.organization_id],
        )
        kept: dict[tuple[str, str], bytes] = {}
        if same_title:
            cur.execute("SELECT heading, text, embedding FROM kb_passage WHERE article_id = %s "
                        "AND embedding IS NOT NULL", [article.pk])
            kept = {(h, t): e for h, t, e in cur.fetchall()}
        cur.execute("DELETE FROM kb_passage WHERE article_id = %s", [article.pk])
        if article.status == ArticleStatus.PUBLISHED:
            rendered = rendered or markdown_sections.render(article.body, title=article.title)
            passages = [
                Passage(
                    organization_id=article.organization_id, article=article, position=p.position,
                    anchor=p.anchor, heading=p.heading if p.heading != article.title else "", text=p.text,
                    n_tokens=len(re.findall(r"\w+", p.text)), is_question=p.is_question,
                )
                for p in rendered.passages
            ]
            for p in passages:
                p.embedding = kept.get((p.heading, p.text))
            Passage.objects.bulk_create(passages)
            if any(p.embedding is None for p in passages):
                article_id = article.pk
                transaction.on_commit(lambda: tasks.embed_article_passages.delay(article_id))
            cur.execute(
                """UPDATE kb_passage SET search_vector =
                       setweight(to_tsvector('lumiodesk_fr', %s), 'A')
                       || setweight(to_tsvector('lumiodesk_fr', heading), 'B')
                       || setweight(to_tsvector('lumiodesk_fr', text), 'D')
                   WHERE article_id = %s""",
                [article.title, article.pk],
            )
            cur.execute(
                """INSERT INTO kb_term (organization_id, lexeme, df)
                   SELECT %s, u.lexeme, count(*) FROM kb_passage p, unnest(p.search_vector) u
                   WHERE p.article_id = %s GROUP BY u.lexeme
                   ON CONFLICT (organization_id, lexeme) DO UPDATE SET df = kb_term.df + EXCLUDED.df""",
                [article.organization_id, article.pk],
            )
        cur.execute("DELETE FROM kb_term WHERE organization_id = %s AND df <= 0", [article.organization_id])


@transaction.atomic
def create_article(
    *, actor: Actor, organization: Organization, title: str, body: str, collection: Collection | None = None,
    language: str | None = None, audience: str = Audience.PUBLIC, slug: str = "", publish: bool = False,
) -> Article:
    _ensure_edit(organization, actor)
    if publish:
        require(actor, "kb.publish", organization)
    language = language or organization.language
    title, body = _clean(title, body, language, audience, collection, organization)
    now = timezone.now()
    user = actor.user
    article = Article(
        organization=organization, collection=collection, title=title, body=body, language=language,
        audience=audience, slug=_unique_slug(organization, language, slug, title, None),
        status=ArticleStatus.PUBLISHED if publish else ArticleStatus.DRAFT,
        published_at=now if publish else None, created_by=user, updated_by=user, created_at=now, updated_at=now,
    )
    rendered = _render_into(article)
    article.save()
    _add_revision(article, actor)
    _index(article, rendered)
    audit.record(organization=organization, actor=actor.user, action="kb.article.created", target_type="article",
                 target_id=article.pk, title=title, status=article.status)
    return article


@transaction.atomic
def update_article(
    *, actor: Actor, article: Article, title: str, body: str, collection: Collection | None = None,
    language: str | None = None, audience: str | None = None, slug: str | None = None, drafts_only: bool = False,
) -> Article:
    """``drafts_only``: refuse (``NotADraft``) unless the article is a draft, checked under the row's lock, so
    an article published meanwhile is never changed by a caller that edits drafts only (the API)."""
    article = Article.objects.select_for_update().get(pk=article.pk)
    organization = article.organization
    if drafts_only:
        require(actor, "kb.edit", organization)
        if article.status != ArticleStatus.DRAFT:
            raise NotADraft(_("L'API ne modifie que les brouillons : cet article est publié ou archivé."))
    _ensure_edit(organization, actor, article)
    language = language or article.language
    audience = audience or article.audience
    title, body = _clean(title, body, language, audience, collection, organization)
    changed_text = (title, body) != (article.title, article.body)
    same_title = title == article.title
    article.title, article.body, article.collection, article.language, article.audience = (
        title, body, collection, language, audience
    )
    if slug is not None and slug.strip() and slugify(slug) != article.slug:
        article.slug = _unique_slug(organization, language, slug, title, article.pk)
    article.updated_at = timezone.now()
    article.updated_by = actor.user
    rendered = _render_into(article)
    article.save()
    if changed_text:
        _add_revision(article, actor)
    _index(article, rendered, same_title=same_title)
    audit.record(organization=organization, actor=actor.user, action="kb.article.updated", target_type="article",
                 target_id=article.pk, title=title, new_revision=changed_text)
    return article


@transaction.atomic
def change_article_status(*, actor: Actor, article: Article, status: str) -> Article:
    """Publish, archive, or send back to draft (Managers and Admins)."""
    article = Article.objects.select_for_update().get(pk=article.pk)
    require(actor, "kb.publish", article.organization)
    if status not in ArticleStatus.values:
        raise InvalidInput(_("Statut inconnu."))
    old = article.status
    if status == old:
        return article
    now = timezone.now()
    article.status = status
    if status == ArticleStatus.PUBLISHED:
        article.published_at = article.published_at or now
        article.archived_at = None
    elif status == ArticleStatus.ARCHIVED:
        article.archived_at = now
    article.updated_at = now
    article.save(update_fields=["status", "published_at", "archived_at", "updated_at"])
    _index(article)
    audit.record(organization=article.organization, actor=actor.user, action="kb.article.status", target_type="article",
                 target_id=article.pk, old=old, new=status)
    return article


def publish_article(*, actor: Actor, article: Article) -> Article:
    return change_article_status(actor=actor, article=article, status=ArticleStatus.PUBLISHED)


def archive_article(*, actor: Actor, article: Article) -> Article:
    return change_article_status(actor=actor, article=article, status=ArticleStatus.ARCHIVED)


# --- collections -------------------------------------------------------------------------------------


@transaction.atomic
def save_collection(
    *, actor: Actor, organization: Organization, name: str, visibility: str = CollectionVisibility.PUBLIC,
    description: str = "", slug: str = "", position: int | None = None, collection: Collection | None = None,
) -> Collection:
    require(actor, "kb.collections.manage", organization)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Donnez un nom à la collection."))
    if visibility not in CollectionVisibility.values:
        raise InvalidInput(_("Visibilité inconnue."))
    if collection is not None and collection.organization_id != organization.pk:
        raise InvalidInput(_("Collection inconnue."))
    others = Collection.objects.filter(organization=organization).exclude(pk=getattr(collection, "pk", None))
    if others.filter(name__iexact=name).exists():
        raise InvalidInput(_("Une collection porte déjà ce nom."))
    base = slugify(slug or name)[:70] or "collection"
    taken = set(others.filter(slug__startswith=base).values_list("slug", flat=True))
    final, n = base, 2
    while final in taken:
        final, n = f"{base}-{n}", n + 1
    if collection is None:
        collection = Collection(organization=organization)
        if position is None:
            position = Collection.objects.filter(organization=organization).count()
    collection.name, collection.slug, collection.visibility = name[:120], final, visibility
    collection.description = (description or "").strip()[:300]
    if position is not None:
        collection.position = position
    collection.save()
    audit.record(organization=organization, actor=actor.user, action="kb.collection.saved", target_type="collection",
                 target_id=collection.pk, name=collection.name, visibility=visibility)
    return collection


# --- articles and tickets ----------------------------------------------------------------------------


@transaction.atomic
def link_article(*, actor: Actor, ticket, article: Article) -> ArticleLink:
    if article.organization_id != ticket.organization_id:
        raise InvalidInput(_("Article inconnu."))
    require(actor, "tickets.link_article", ticket.organization)
    link, created = ArticleLink.objects.get_or_create(
        ticket=ticket, article=article,
        defaults={"organization_id": ticket.organization_id,
                  "linked_by": actor.user},
    )
    if created:
        audit.record(organization=ticket.organization, actor=actor.user, action="kb.article.linked",
                     target_type="ticket",
                     target_id=ticket.pk, article_id=article.pk, title=article.title)
    return link


@transaction.atomic
def unlink_article(*, actor: Actor, ticket, article: Article) -> None:
    require(actor, "tickets.link_article", ticket.organization)
    deleted, _count = ArticleLink.objects.filter(ticket=ticket, article=article).delete()
    if deleted:
        audit.record(organization=ticket.organization, actor=actor.user, action="kb.article.unlinked",
                     target_type="ticket", target_id=ticket.pk, article_id=article.pk, title=article.title)


# --- the LumioDesk documentation as a demo knowledge base ---------------------------------------------

DOCUMENTATION = Path(__file__).parent / "data" / "lumiodesk_documentation.md"

# slug, name, visibility, description
DEMO_COLLECTIONS = [
    ("premiers-pas", "Premiers pas", "public", "Présentation, concepts et mise en route."),
    ("canaux", "Canaux", "public", "Email et widget chat."),
    ("tickets", "Tickets", "public", "Statuts, priorités et bonnes pratiques de traitement."),
    ("automatisations", "Automatisations", "public", "Règles, limites et ordre d'évaluation."),
    ("base-de-connaissance", "Base de connaissance", "public", "Articles, statuts et suggestions."),
    ("facturation", "Facturation", "public", "Forfaits, agents supplémentaires, dépassements et factures."),
    ("securite", "Sécurité", "public", "Rôles, SSO, double authentification et journaux d'audit."),
    ("donnees", "Données", "public", "Import, export, migration et conservation."),
    ("api", "API", "public", "API REST et webhooks."),
    ("sla", "SLA et notifications", "public", "Objectifs de réponse, horaires et notifications."),
    ("depannage", "Dépannage", "public", "Quand quelque chose ne fonctionne pas."),
    ("faq", "FAQ", "public", "Les questions les plus fréquentes."),
    ("demonstration", "Démonstration", "hidden", "Questions de démonstration de l'assistant (équipe uniquement)."),
]
# section number -> (title, slug, collection slug)
DEMO_SECTIONS = {
    1: ("Présentation de LumioDesk", "presentation", "premiers-pas"),
    2: ("Concepts clés", "concepts-cles", "premiers-pas"),
    3: ("Création du compte et onboarding", "creation-du-compte-et-onboarding", "premiers-pas"),
    4: ("Connexion email", "connexion-email", "canaux"),
    5: ("Widget chat", "widget-chat", "canaux"),
    6: ("Gestion des tickets", "gestion-des-tickets", "tickets"),
    7: ("Automatisations", "automatisations", "automatisations"),
    8: ("Base de connaissance", "base-de-connaissance", "base-de-connaissance"),
    9: ("Facturation et forfaits", "facturation-et-forfaits", "facturation"),
    10: ("Sécurité et accès", "securite-et-acces", "securite"),
    11: ("Import et export des données", "import-et-export-des-donnees", "donnees"),
    12: ("API et webhooks", "api-et-webhooks", "api"),
    13: ("SLA et rapports", "sla-et-rapports", "sla"),
    14: ("Dépannage courant", "depannage-courant", "depannage"),
    15: ("Playbooks support recommandés", "playbooks-support-recommandes", "tickets"),
    16: ("Migration depuis un autre outil", "migration-depuis-un-autre-outil", "donnees"),
    17: ("Notifications", "notifications", "sla"),
    18: ("Conservation et suppression des données", "conservation-et-suppression-des-donnees", "donnees"),
    19: ("Glossaire opérationnel", "glossaire-operationnel", "premiers-pas"),
    20: ("FAQ support", "faq-support", "faq"),
    21: ("Questions de démonstration recommandées", "questions-de-demonstration", "demonstration"),
}
PASSWORD_RESET = (
    "Réinitialiser son mot de passe",
    "reinitialiser-son-mot-de-passe",
    "securite",
    """Si vous avez oublié votre mot de passe, cliquez sur « Mot de passe oublié ? » sur la page de connexion, \
saisissez l'adresse email de votre compte LumioDesk, puis suivez le lien de réinitialisation reçu par email.

Le lien de réinitialisation ne sert qu'une fois. Si vous ne recevez pas l'email, vérifiez vos courriers \
indésirables, puis demandez un nouveau lien.

Choisissez un mot de passe que vous n'utilisez nulle part ailleurs. Si l'authentification à deux facteurs est \
activée sur votre compte, le code vous est encore demandé après la réinitialisation.

Un agent qui n'a plus accès à son adresse email demande à un Admin de son organisation de mettre à jour son \
adresse depuis Paramètres > Equipe.""",
)
_SECTION_HEADING = re.compile(r"^#{1,6}\s+(\d+)\.\s+(.+?)\s*$", re.M)


def documentation_sections(text: str | None = None) -> list[tuple[int, str, str]]:
    """(number, heading, body) of each numbered section of the documentation."""
    text = text if text is not None else DOCUMENTATION.read_text(encoding="utf-8")
    matches = list(_SECTION_HEADING.finditer(text))
    out = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        out.append((int(m.group(1)), m.group(2).strip(), markdown_sections.rejoin(text[m.end():end])))
    return out


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0  # edited by a person since the import: left alone


@transaction.atomic
def import_lumiodesk_documentation(*, organization: Organization, actor: Actor) -> ImportResult:
    """The whole LumioDesk documentation as the organization's knowledge base: one published article
    per section, in collections. Idempotent: run it again and nothing changes; a section whose text
    changed is updated (new revision); an article a person edited since is left as it is."""
    result = ImportResult()
    collections = {}
    for position, (slug, name, visibility, description) in enumerate(DEMO_COLLECTIONS):
        found = Collection.objects.filter(organization=organization, slug=slug).first()
        if found is None:
            found = save_collection(actor=actor, organization=organization, name=name, visibility=visibility,
                                    description=description, slug=slug, position=position)
        collections[slug] = found
    items = [
        (DEMO_SECTIONS[number][0], DEMO_SECTIONS[number][1], DEMO_SECTIONS[number][2], body, number)
        for number, _heading, body in documentation_sections() if number in DEMO_SECTIONS
    ]
    title, slug, coll, body = PASSWORD_RESET
    items.append((title, slug, coll, body, 100))
    for title, slug, coll_slug, body, position in items:
        collection = collections[coll_slug]
        audience = Audience.INTERNAL if coll_slug == "demonstration" else Audience.PUBLIC
        article = Article.objects.filter(organization=organization, language="fr", slug=slug).first()
        if article is None:
            article = create_article(actor=actor, organization=organization, title=title, body=body,
                                     collection=collection, language="fr", audience=audience, slug=slug,
                                     publish=True)
            Article.objects.filter(pk=article.pk).update(position=position)
            result.created += 1
            continue
        if article.updated_by_id is not None:
            result.kept += 1
            continue
        same = (article.title, article.body, article.collection_id, article.audience, article.status) == (
            title, body, collection.pk, audience, ArticleStatus.PUBLISHED
        )
        if same:
            result.unchanged += 1
            continue
        update_article(actor=actor, article=article, title=title, body=body, collection=collection,
                       audience=audience)
        if article.status != ArticleStatus.PUBLISHED:
            change_article_status(actor=actor, article=article, status=ArticleStatus.PUBLISHED)
        result.updated += 1
    return result
