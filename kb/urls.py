from django.urls import path

from . import views

app_name = "kb"

urlpatterns = [
    path("", views.article_list, name="list"),
    path("articles/new/", views.article_create, name="create"),
    path("articles/<int:pk>/", views.article_detail, name="detail"),
    path("articles/<int:pk>/edit/", views.article_edit, name="edit"),
    path("articles/<int:pk>/status/", views.article_status, name="status"),
    path("articles/<int:pk>/revisions/<int:number>/", views.revision_detail, name="revision"),
    path("collections/", views.collection_list, name="collections"),
    path("collections/new/", views.collection_edit, name="collection_create"),
    path("collections/<int:pk>/", views.collection_edit, name="collection_edit"),
    path("assistant/", views.assistant, name="assistant"),
    path("search/", views.agent_search, name="search"),
    path("tickets/<int:number>/links/<int:pk>/", views.ticket_link, name="ticket_link"),
    path("tickets/<int:number>/insert/<int:pk>/", views.ticket_insert, name="ticket_insert"),
]
