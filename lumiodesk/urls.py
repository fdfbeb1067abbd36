from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from tickets.chat import public_views as chat_public_views

from . import account_views, notification_views, security_views, settings_views, teams_views, views

notification_patterns = [
    path("", notification_views.notification_center, name="center"),
    path("badge/", notification_views.badge, name="badge"),
    path("read/", notification_views.mark_all_read, name="mark_all_read"),
    path("preferences/", notification_views.preferences, name="preferences"),
    path("<int:pk>/", notification_views.open_notification, name="open"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="tickets:list", permanent=False)),
    path("login/", account_views.sign_in, name="login"),  # Django's LoginView: unverified and SSO-only refused
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organization/switch/", views.switch_organization_view, name="switch_organization"),
    path("settings/security/", views.sign_in_security, name="sign_in_security"),
    path("settings/security/<int:user_id>/unlock/", views.unlock_member, name="unlock_member"),
    path("settings/security/two-factor/", security_views.two_factor_policy, name="two_factor_policy"),
    # 2FA (lumiodesk.two_factor): every member's Security page, and the sign-in's code step
    path("account/security/", security_views.account_security, name="account_security"),
    path("account/security/two-factor/", security_views.two_factor_enrol, name="two_factor_enrol"),
    path("account/security/recovery-codes/", security_views.two_factor_codes, name="two_factor_codes"),
    path("account/security/two-factor/disable/", security_views.two_factor_disable, name="two_factor_disable"),
    path("login/verify/", security_views.two_factor_verify, name="two_factor_verify"),
    path("", include("lumiodesk.sso.urls")),  # settings/sso/, sso/ (choose), sso/<org>/login|acs|metadata/
    # sign-up, verification, invitations, password reset (lumiodesk.accounts, lumiodesk.team)
    path("signup/", account_views.signup, name="signup"),
    path("signup/done/", account_views.signup_done, name="signup_done"),
    path("signup/verify/resend/", account_views.resend_verification, name="resend_verification"),
    path("signup/verify/", account_views.verify_email, name="verify_email"),
    path("signup/verify/<str:token>/", account_views.verify_email_link, name="verify_email_link"),
    path("invitation/", account_views.accept_invitation, name="accept_invitation"),
    path("invitation/<str:token>/", account_views.invitation_link, name="invitation_link"),
    path("password/reset/", account_views.password_reset, name="password_reset"),
    path("password/reset/sent/", account_views.password_reset_done, name="password_reset_done"),
    # "confirm/" before the token: lumiodesk.log_redaction hides what follows it in request logs.
    path("password/reset/<uidb64>/confirm/<token>/", account_views.password_reset_confirm,
         name="password_reset_confirm"),
    path("password/reset/done/", account_views.password_reset_complete, name="password_reset_complete"),
    # Settings > Team, Organization, Audit log
    path("settings/team/", settings_views.team_page, name="team"),
    path("settings/team/invite/", settings_views.team_invite, name="team_invite"),
    path("settings/team/invitations/<int:pk>/resend/", settings_views.invitation_resend, name="invitation_resend"),
    path("settings/team/invitations/<int:pk>/revoke/", settings_views.invitation_revoke, name="invitation_revoke"),
    path("settings/team/<int:pk>/role/", settings_views.member_role, name="member_role"),
    path("settings/team/<int:pk>/deactivate/", settings_views.member_deactivate, name="member_deactivate"),
    path("settings/team/<int:pk>/reactivate/", settings_views.member_reactivate, name="member_reactivate"),
    # Settings > Équipes: teams of members (lumiodesk.teams)
    path("settings/teams/", teams_views.teams_page, name="teams"),
    path("settings/teams/new/", teams_views.team_create, name="team_create"),
    path("settings/teams/<int:pk>/", teams_views.team_edit, name="team_edit"),
    path("settings/teams/<int:pk>/members/", teams_views.team_members, name="team_members"),
    path("settings/teams/<int:pk>/delete/", teams_views.team_delete, name="team_delete"),
    path("settings/organization/", settings_views.organization_settings, name="organization_settings"),
    path("settings/organization/logo/", settings_views.organization_logo, name="organization_logo"),
    path("settings/audit/", settings_views.audit_log, name="audit_log"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("health/", views.health, name="health"),
    path("tickets/", include("tickets.urls")),
    path("customers/", include("tickets.costs.customer_urls")),  # customer and company records (001 §1)
    path("", include("tickets.costs.urls")),  # time on tickets, hourly costs, budgets, the cost dashboard
    path("", include("tickets.assignment.urls")),  # Settings > Assignment, the presence heartbeat, "Absent"
    path("notifications/", include((notification_patterns, "notifications"))),
    path("", include("sla.urls")),
    path("", include("automations.urls")),  # automations: settings/automations/, settings/webhooks/, journal
    path("settings/channels/email/", include("tickets.email.urls")),
    path("settings/import/", include("tickets.imports.urls")),
    path("reports/exports/", include("tickets.exports.urls")),  # Reports > Exports (tickets.exports)
    path("settings/api/", include("tickets.api.settings_urls")),  # Settings > API: the keys
    path("api/", include("tickets.api.urls")),  # the REST API (/api/v1/), its schema and documentation
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
