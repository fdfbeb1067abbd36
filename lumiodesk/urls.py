from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from tickets.chat import public_views as chat_public_views

from . import notification_views, views
from .sso.forms import SsoAwareAuthenticationForm

notification_patterns = [
    path("", notification_views.notification_center, name="center"),
    path("badge/", notification_views.badge, name="badge"),
    path("read/", notification_views.mark_all_read, name="mark_all_read"),
    path("preferences/", notification_views.preferences, name="preferences"),
    path("<int:pk>/", notification_views.open_notification, name="open"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="tickets:list", permanent=False)),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html",
                                                authentication_form=SsoAwareAuthenticationForm,
                                                redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organization/switch/", views.switch_organization_view, name="switch_organization"),
    path("settings/security/", views.sign_in_security, name="sign_in_security"),
    path("settings/security/<int:user_id>/unlock/", views.unlock_member, name="unlock_member"),
    path("", include("lumiodesk.sso.urls")),  # settings/sso/, sso/ (choose), sso/<org>/login|acs|metadata/
    path("i18n/", include("django.conf.urls.i18n")),
    path("health/", views.health, name="health"),
    path("tickets/", include("tickets.urls")),
    path("notifications/", include((notification_patterns, "notifications"))),
    path("", include("sla.urls")),
    path("", include("automations.urls")),  # automations: settings/automations/, settings/webhooks/, journal
    path("settings/channels/email/", include("tickets.email.urls")),
    path("settings/import/", include("tickets.imports.urls")),
    path("email/verify/", include("tickets.email.verification_urls")),  # the address verification link
    path("", include("tickets.chat.urls")),  # settings/channels/chat/, chat/ (the console's chat inbox)
    path("widget.js", chat_public_views.widget_js, name="widget_js"),  # the chat widget, on customers' sites
    path("widget/", include("tickets.chat.public_urls")),
    path("kb/", include("kb.urls")),
    path("help/<slug:org>/contact/", include("tickets.portal.contact_urls")),  # the contact form
    path("help/", include("kb.public_urls")),
    path("portal/<slug:org>/", include("tickets.portal.urls")),  # the customer portal
    path("settings/billing/", include("billing.urls")),  # billing: Settings > Billing, refunds to approve
    path("admin/", admin.site.urls),
]
