from django.contrib import admin

from .models import Article, ArticleLink, ArticleRevision, Collection


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "visibility", "position")
    list_filter = ("visibility",)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """Read-mostly: articles are written in the console, through kb.services (revisions, passages, audit)."""

    list_display = ("title", "organization", "collection", "status", "audience", "language", "updated_at")
    list_filter = ("status", "audience", "language")
    search_fields = ("title", "slug")
    readonly_fields = [f.name for f in Article._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ArticleRevision)
class ArticleRevisionAdmin(admin.ModelAdmin):
    list_display = ("article", "number", "author", "created_at")
    readonly_fields = ("organization", "article", "number", "title", "body", "author", "created_at")


admin.site.register(ArticleLink)
