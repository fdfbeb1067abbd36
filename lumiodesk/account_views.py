"""Public account pages: sign-up, email verification, accepting an invitation, password reset.

Each public form is rate-limited per client address (``lumiodesk.ratelimit``); none tells whether an address
has an account, except sign-up itself (which must say "this address already has an account").
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import accounts, audit, team
from .access import SESSION_KEY as ORG_SESSION_KEY
from .access import public
from .exceptions import InvalidInput
from .forms import NewAccountForm, SignInForm, SignUpForm
from .models import Membership, UnverifiedEmail
from .ratelimit import client_ip, hit_all

SIGNUPS_PER_HOUR_PER_IP = 5
RESENDS_PER_HOUR = 5
RESETS_PER_HOUR = 5


def _too_many(request: HttpRequest, template: str, context: dict, retry_after: int) -> HttpResponse:
    context["error"] = _("Trop de tentatives depuis votre connexion. Réessayez dans %(minutes)s minutes.") % {
        "minutes": max(1, retry_after // 60)}
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@public
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect("tickets:list")
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        limit = hit_all(("signup:ip", client_ip(request), SIGNUPS_PER_HOUR_PER_IP, 3600))
        if not limit.allowed:
            return _too_many(request, "registration/signup.html", {"form": form}, limit.retry_after)
        if form.is_robot:  # the honeypot: answer as if it worked, create nothing
            return redirect("signup_done")
        if form.is_valid():
            d = form.cleaned_data
            try:
                accounts.sign_up(accounts.SignUp(
                    company=d["company"], first_name=d["first_name"], last_name=d["last_name"], email=d["email"],
                    password=d["password"], time_zone=d["time_zone"], language=d["language"],
                ))
            except InvalidInput as exc:
                form.add_error(None, exc.message)
            else:
                request.session["signup_email"] = accounts.normalize_email(d["email"])
                return redirect("signup_done")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


@public
def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_done.html", {"email": request.session.get("signup_email", "")})


VERIFY_SESSION_KEY = "lumiodesk_verify_token"
INVITATION_SESSION_KEY = "lumiodesk_invitation_token"


@public
@require_GET
def verify_email_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the email: the token moves into the session, the address bar (and logs) lose it."""
    request.session[VERIFY_SESSION_KEY] = token[:500]
    return redirect("verify_email")


@public
@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest) -> HttpResponse:
    """GET shows a button (a mail scanner opening the link changes nothing); POST verifies."""
    token = request.session.get(VERIFY_SESSION_KEY, "")
    try:
        user = accounts.user_for_token(token)
    except accounts.VerificationLinkInvalid as exc:
        return render(request, "registration/verify_email.html", {"error": exc.message}, status=400)
    if request.method == "POST":
        accounts.verify_email(token=token)
        request.session.pop(VERIFY_SESSION_KEY, None)
        messages.success(request, _("Votre adresse est vérifiée. Connectez-vous pour commencer."))
        return redirect(f"{reverse('login')}?email={user.email}")
    already = not UnverifiedEmail.objects.filter(user=user).exists()
    return render(request, "registration/verify_email.html", {"email": user.email, "already": already})


@public
@require_POST
def resend_verification(request: HttpRequest) -> HttpResponse:
    email = request.POST.get("email", "")[:254]
    limit = hit_all(("verify:resend:ip", client_ip(request), RESENDS_PER_HOUR * 4, 3600),
                    ("verify:resend:email", email.strip().lower(), RESENDS_PER_HOUR, 3600))
    if not limit.allowed:
        messages.error(request, _("Trop de demandes. Réessayez dans %(minutes)s minutes.")
                       % {"minutes": max(1, limit.retry_after // 60)})
    else:
        accounts.resend_verification(email=email)
        messages.success(request, _("Si un compte non vérifié existe pour cette adresse, un nouveau lien vient de "
                                    "partir. Pensez à regarder dans les indésirables."))
    return redirect("login")


class SignInView(auth_views.LoginView):
    """The sign-in page; an unverified account is refused with the "resend" form (``SignInForm``)."""

    template_name = "registration/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_initial(self):
        return {"username": self.request.GET.get("email", "")[:254]}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context.get("form")
        context["unverified"] = bool(form is not None and form.is_bound
                                     and any(e.code == "unverified" for e in form.non_field_errors().as_data()))
        return context


sign_in = public(SignInView.as_view())


# --- invitations --------------------------------------------------------------------------------------------


@public
@require_GET
def invitation_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the email: the token moves into the session, the address bar (and logs) lose it."""
    request.session[INVITATION_SESSION_KEY] = token[:500]
    return redirect("accept_invitation")


@public
@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest) -> HttpResponse:
    token = request.session.get(INVITATION_SESSION_KEY, "")
    invitation = team.find_invitation(token)
    if invitation is None:
        return render(request, "registration/invitation.html", {"invalid": True}, status=404)
    signed_in_as_invitee = (request.user.is_authenticated
                            and request.user.email.lower() == invitation.email.lower())
    has_account = team.account_exists(invitation.email)
    form = NewAccountForm(request.POST or None) if not has_account else None
    error = ""
    if request.method == "POST":
        if not hit_all(("invite:accept:ip", client_ip(request), 20, 3600)).allowed:
            return _too_many(request, "registration/invitation.html",
                             {"invitation": invitation, "form": form}, 3600)
        if form is None or form.is_valid():
            try:
                user = team.accept_invitation(
                    token=token, user=request.user if signed_in_as_invitee else None,
                    new_account=team.NewAccount(**form.cleaned_data) if form is not None else None,
                )
            except InvalidInput as exc:
                error = exc.message
            else:
                if not request.user.is_authenticated:
                    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                request.session.pop(INVITATION_SESSION_KEY, None)
                request.session[ORG_SESSION_KEY] = invitation.organization_id
                messages.success(request, _("Bienvenue dans l'équipe %(org)s.") % {"org": invitation.organization.name})
                return redirect("tickets:list")
    return render(request, "registration/invitation.html", {
        "invitation": invitation, "form": form, "error": error, "has_account": has_account,
        "signed_in_as_invitee": signed_in_as_invitee,
        "login_url": f"{reverse('login')}?next={request.path}&email={invitation.email}",
    }, status=400 if error or (form is not None and form.errors) else 200)


# --- password reset (Django's views, our templates, rate-limited) ------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Same answer whether the address has an account or not (Django's); counted per client address and per
    address asked, so nobody can flood a mailbox."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    html_email_template_name = "registration/password_reset_email.html"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        limit = hit_all(("reset:ip", client_ip(self.request), RESETS_PER_HOUR * 4, 3600),
                        ("reset:email", form.cleaned_data["email"].strip().lower(), RESETS_PER_HOUR, 3600))
        if not limit.allowed:
            return _too_many(self.request, self.template_name, {"form": form}, limit.retry_after)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.user
        UnverifiedEmail.objects.filter(user=user).delete()  # the link reached the address
        for membership in Membership.objects.filter(user=user, is_active=True).select_related("organization"):
            audit.record(organization=membership.organization, actor=user, action="password.reset",
                         target_type="user", target_id=user.pk)
        return response


password_reset = public(PasswordResetView.as_view())
password_reset_done = public(auth_views.PasswordResetDoneView.as_view(
    template_name="registration/password_reset_done.html"))
password_reset_confirm = public(PasswordResetConfirmView.as_view())
password_reset_complete = public(auth_views.PasswordResetCompleteView.as_view(
    template_name="registration/password_reset_complete.html"))
