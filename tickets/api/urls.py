from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from lumiodesk.access import public

from . import views

# No app_name: DRF and drf-spectacular name the schema view "schema" for the documentation page.
urlpatterns = [
    path("v1/tickets/", views.TicketListView.as_view(), name="api_tickets"),
    path("v1/tickets/<int:number>/", views.TicketDetailView.as_view(), name="api_ticket"),
    path("v1/tickets/<int:number>/replies/", views.TicketReplyView.as_view(), name="api_ticket_reply"),
    path("v1/tickets/<int:number>/notes/", views.TicketNoteView.as_view(), name="api_ticket_note"),
    path("v1/customers/", views.CustomerListView.as_view(), name="api_customers"),
    path("v1/customers/<int:pk>/", views.CustomerDetailView.as_view(), name="api_customer"),
    path("v1/companies/", views.CompanyListView.as_view(), name="api_companies"),
    path("v1/companies/<int:pk>/", views.CompanyDetailView.as_view(), name="api_company"),
    path("v1/tags/", views.TagListView.as_view(), name="api_tags"),
    path("v1/articles/", views.ArticleListView.as_view(), name="api_articles"),
    path("v1/articles/<int:pk>/", views.ArticleDetailView.as_view(), name="api_article"),
    path("v1/time-entries/", views.TimeEntryListView.as_view(), name="api_time_entries"),
    path("v1/satisfaction/", views.SatisfactionListView.as_view(), name="api_satisfaction"),
    # The schema and its documentation page (Swagger UI from drf-spectacular-sidecar: our static files).
    path("schema/", public(SpectacularAPIView.as_view()), name="api_schema"),
    path("docs/", public(SpectacularSwaggerView.as_view(url_name="api_schema")), name="api_docs"),
    re_path(r"^", views.not_found, name="api_not_found"),  # last: every other URL under /api/ is a JSON 404
]
