"""The knowledge base: collections, articles and their revisions, the passages the assistant
quotes, the vocabulary it corrects typos against, and the links between articles and tickets.

Who sees what is decided in one place, ``kb.selectors.visible_articles``; the models only hold
fields, constraints and pure helpers.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import Organization


class Unaccented(models.Func):
    """``kb_unaccent(text)``: PostgreSQL's unaccent, declared IMMUTABLE (migration 0001) so it can be indexed."""

    function = "kb_unaccent"
    output_field = models.TextField()


class CollectionVisibility(models.TextChoices):
    PUBLIC = "public", _("Visible dans le centre d'aide")
    HIDDEN = "hidden", _("Masquée (équipe uniquement)")


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    PUBLISHED = "published", _("Publié")
    ARCHIVED = "archived", _("Archivé")


class Audience(models.TextChoices):
    PUBLIC = "public", _("Public")
    INTERNAL = "internal", _("Interne (équipe uniquement)")


class Collection(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("nom"), max_length=120)
    slug = models.SlugField(_("identifiant"), max_length=80)
    description = models.CharField(_("description"), max_length=300, blank=True)
    visibility = models.CharField(
        _("visibilité"), max_length=10, choices=CollectionVisibility.choices, default=CollectionVisibility.PUBLIC
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("collection")
        verbose_name_plural = _("collections")
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="kb_collection_unique_slug"),
            models.UniqueConstraint("organization", Lower("name"), name="kb_collection_unique_name"),
            models.CheckConstraint(
                condition=models.Q(visibility__in=CollectionVisibility.values), name="kb_collection_visibility_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.visibility == CollectionVisibility.PUBLIC


class Article(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles",
        verbose_name=_("collection"),
    )
    title = models.CharField(_("titre"), max_length=200)
    slug = models.SlugField(_("identifiant"), max_length=120)
    language = models.CharField(_("langue"), max_length=8, choices=settings.LANGUAGES, default="fr")
    status = models.CharField(_("statut"), max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT)
    audience = models.CharField(_("audience"), max_length=10, choices=Audience.choices, default=Audience.PUBLIC)
    body = models.TextField(_("texte (Markdown)"), blank=True)
    # Derived from ``body`` by kb.markdown_sections on every save: sanitized HTML with an id on each passage,
    # and the plain text (search, highlights).
    body_html = models.TextField(blank=True, editable=False)
    body_text = models.TextField(blank=True, editable=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    updated_at = models.DateTimeField(_("mis à jour le"), default=timezone.now)
    published_at = models.DateTimeField(_("publié le"), null=True, blank=True)
    archived_at = models.DateTimeField(_("archivé le"), null=True, blank=True)
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        constraints = [
            models.UniqueConstraint(fields=["organization", "language", "slug"], name="kb_article_unique_slug"),
            models.CheckConstraint(condition=~models.Q(title=""), name="kb_article_title_not_empty"),
            models.CheckConstraint(condition=models.Q(status__in=ArticleStatus.values), name="kb_article_status_valid"),
            models.CheckConstraint(condition=models.Q(audience__in=Audience.values), name="kb_article_audience_valid"),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "audience", "collection"], name="kb_article_visible_idx"),
            models.Index(fields=["organization", "-updated_at"], name="kb_article_updated_idx"),
            GinIndex(fields=["search_vector"], name="kb_article_search_idx"),
            GinIndex(OpClass(Unaccented(Lower("title")), name="gin_trgm_ops"), name="kb_article_title_trgm_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.status == ArticleStatus.PUBLISHED


class ArticleRevision(models.Model):
    """What an article said at each save of its title or text."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("révision")
        verbose_name_plural = _("révisions")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="kb_revision_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} r{self.number}"


class Passage(models.Model):
    """One paragraph (or list item) of a published article: what the assistant ranks and quotes.

    Rebuilt from the article's text each time a published article changes; ``anchor`` is the id
    of the same block in the article's HTML, so a citation links to the exact paragraph.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="passages")
    position = models.PositiveIntegerField()
    anchor = models.CharField(max_length=40)
    heading = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    n_tokens = models.PositiveIntegerField(default=0)
    # A passage that only asks questions (a list of demo questions) answers nothing.
    is_question = models.BooleanField(default=False)
    search_vector = SearchVectorField(null=True, editable=False)
    # The passage's dense vector (kb.embeddings: float32 bytes), filled after commit by a Celery task;
    # NULL until then, and the passage is found by full text only meanwhile.
    embedding = models.BinaryField(null=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "position"], name="kb_passage_unique_position"),
        ]
        indexes = [
            models.Index(fields=["organization", "article"], name="kb_passage_org_idx"),
            GinIndex(fields=["search_vector"], name="kb_passage_search_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.article_id}#{self.anchor}"


class Term(models.Model):
    """The organization's vocabulary: each lexeme of its published passages and in how many it occurs.

    Gives the assistant its document frequencies (BM25) and the words a typo is corrected to
    (trigram similarity). Kept up to date, in the same transaction, when passages are rebuilt.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    lexeme = models.CharField(max_length=100)
    df = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "lexeme"], name="kb_term_unique_lexeme"),
        ]
        indexes = [GinIndex(OpClass("lexeme", name="gin_trgm_ops"), name="kb_term_trgm_idx")]

    def __str__(self) -> str:
        return f"{self.lexeme} ({self.df})"


class ArticleLink(models.Model):
    """An article an agent linked to a ticket."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="ticket_links")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "article"], name="kb_articlelink_unique"),
        ]
        indexes = [models.Index(fields=["organization", "article"], name="kb_articlelink_article_idx")]

    def __str__(self) -> str:
        return f"{self.article_id} ↔ {self.ticket_id}"
