"""My account > Security (2FA for every member), the sign-in's code step, and the organization's 2FA policy.

The rules live in ``lumiodesk.two_factor``; these views parse, rate-limit code attempts, call it and render.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import two_factor
from .access import public, requires, signed_in
from .exceptions import InvalidInput
from .ratelimit import client_ip, hit_all

CODES_PER_USER = 5  # code attempts per account and window (sign-in step and enrolment)
CODES_PER_IP = 30
CODE_WINDOW = 300  # seconds


def _code_limit(request: HttpRequest):
    return hit_all(("2fa:user", str(request.user.pk), CODES_PER_USER, CODE_WINDOW),
                   ("2fa:ip", client_ip(request), CODES_PER_IP, CODE_WINDOW))


def _too_many(retry_after: int) -> str:
    return _("Trop de codes essayés. Réessayez dans %(minutes)s minutes.") % {"minutes": max(1, retry_after // 60)}


def _security_context(request: HttpRequest, **extra) -> dict:
    user = request.user
    enabled = two_factor.is_enabled(user)
    return {
        "enabled": enabled,
        "device": two_factor.confirmed_totp(user) if enabled else None,
        "codes_left": two_factor.recovery_codes_left(user) if enabled else 0,
        "required": two_factor.is_required_for(user),
        "setup_pending": two_factor.pending(request) == two_factor.SETUP,
        **extra,
    }


@signed_in
@require_http_methods(["GET"])
def account_security(request: HttpRequest) -> HttpResponse:
    return render(request, "lumiodesk/account_security.html", _security_context(request))


@signed_in
@require_http_methods(["GET", "POST"])
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    """GET: the QR code of the pending device. POST ``start``: a new pending device; POST ``code``: confirm it,
    then the ten recovery codes, shown once."""
    user = request.user
    error = ""
    status = 200
    if request.method == "POST" and "start" in request.POST:
        try:
            two_factor.start_enrolment(user=user)
        except InvalidInput as exc:
            messages.error(request, exc.message)
            return redirect("account_security")
        return redirect("two_factor_enrol")
    if request.method == "POST":
        limit = _code_limit(request)
        if not limit.allowed:
            error, status = _too_many(limit.retry_after), 429
        else:
            try:
                codes = two_factor.confirm_enrolment(user=user, code=request.POST.get("code", "")[:20])
            except InvalidInput as exc:
                error, status = exc.message, 400
            else:
                two_factor.complete_setup(request)
                return render(request, "lumiodesk/recovery_codes.html", {"codes": codes, "just_enabled": True})
    device = two_factor.pending_device(user)
    if device is None:
        return redirect("account_security")
    return render(request, "lumiodesk/two_factor_enrol.html", {
        "qr_svg": two_factor.qr_svg(device), "secret": two_factor.secret_for_display(device), "error": error,
        "required": two_factor.is_required_for(user),
    }, status=status)


@signed_in
@require_POST
def two_factor_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes (the old ones stop working), shown once."""
    try:
        codes = two_factor.regenerate_recovery_codes(user=request.user)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("account_security")
    return render(request, "lumiodesk/recovery_codes.html", {"codes": codes, "just_enabled": False})


@signed_in
@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    limit = _code_limit(request)  # the password is guessed here too
    if not limit.allowed:
        return render(request, "lumiodesk/account_security.html",
                      _security_context(request, disable_error=_too_many(limit.retry_after)), status=429)
    try:
        two_factor.disable(user=request.user, password=request.POST.get("password", ""))
    except InvalidInput as exc:
        return render(request, "lumiodesk/account_security.html",
                      _security_context(request, disable_error=exc.message), status=400)
    two_factor.after_disable(request, request.user)
    messages.success(request, _("La double authentification est désactivée."))
    return redirect("account_security")


def _next_url(request: HttpRequest) -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return nxt
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@public  # the user has given a password (or signed in through SSO) but is not in yet
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The sign-in's second step: a code of the authenticator app, or a recovery code."""
    if not request.user.is_authenticated:
        return redirect("login")
    if two_factor.pending(request) != two_factor.VERIFY:
        return redirect(_next_url(request))
    context = {"next": request.POST.get("next") or request.GET.get("next", "")}
    if request.method == "POST":
        if "cancel" in request.POST:
            logout(request)
            return redirect("login")
        limit = _code_limit(request)
        if not limit.allowed:
            context["error"] = _too_many(limit.retry_after)
            response = render(request, "registration/two_factor_verify.html", context, status=429)
            response["Retry-After"] = str(limit.retry_after)
            return response
        if two_factor.verify_code(user=request.user, code=request.POST.get("code", "")[:40]):
            two_factor.complete_verification(request)
            return redirect(_next_url(request))
        context["error"] = _("Code incorrect ou déjà utilisé.")
        return render(request, "registration/two_factor_verify.html", context, status=400)
    return render(request, "registration/two_factor_verify.html", context)


@requires("security.manage")
@require_POST
def two_factor_policy(request: HttpRequest) -> HttpResponse:
    required = request.POST.get("two_factor_required") == "on"
    two_factor.set_policy(actor=request.actor, required=required)
    if required:
        messages.success(request, _("La double authentification est obligatoire : les membres qui ne l'ont pas "
                                    "encore devront l'activer à leur prochaine connexion."))
    else:
        messages.success(request, _("La double authentification n'est plus obligatoire."))
    return redirect("sign_in_security")
