"""The public help center of each organization, and the JSON endpoints of the chat widget."""

from django.urls import path

from . import public_views as views

app_name = "kb_public"

urlpatterns = [
    path("<slug:org>/", views.home, name="home"),
    path("<slug:org>/search/", views.search, name="search"),
    path("<slug:org>/ask/", views.ask, name="ask"),
    path("<slug:org>/c/<slug:slug>/", views.collection, name="collection"),
    path("<slug:org>/a/<slug:slug>/", views.article, name="article"),
    path("<slug:org>/api/suggest", views.api_suggest, name="api_suggest"),
    path("<slug:org>/api/ask", views.api_ask, name="api_ask"),
]
