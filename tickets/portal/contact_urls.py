"""``/help/<org-slug>/contact/``: the contact form sits in the organization's help center."""

from django.urls import path

from . import contact_views as views

app_name = "contact"

urlpatterns = [
    path("", views.contact, name="form"),
    path("sent/", views.sent, name="sent"),
    path("confirm/<int:number>/", views.confirm, name="confirm"),
    path("confirm/<str:token>/", views.confirm_link, name="confirm_link"),
]
