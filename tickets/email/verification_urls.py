"""``/email/verify/``: the public page of a mailbox address verification link (no sign-in needed: whoever
reads the support address may not have a LumioDesk account)."""

from django.urls import path

from . import verification_views as views

app_name = "mailbox_verification"

urlpatterns = [
    path("", views.confirm, name="confirm"),
    path("<str:token>/", views.link, name="link"),
]
