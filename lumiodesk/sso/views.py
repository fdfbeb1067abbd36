"""SSO screens: Settings > SSO (Admins), and the public SAML endpoints of each organization (``/sso/<org>/``)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .. import plans
from ..access import SESSION_KEY, SSO_SCOPE_KEY, public, requires
from ..exceptions import DomainError
from ..models import Organization
from ..ratelimit import client_ip, hit_all
from . import saml, services
from .forms import SsoChooserForm, SsoSettingsForm

RESUBMIT_FIELD = "lumiodesk_resubmitted"
REQUESTS_KEY = "lumiodesk_sso_requests"  # session: organization id -> {"id": request id, "next": path}
START_LIMITS = ((20, 60), (200, 3600))  # per client address: (requests, seconds)
ACS_LIMITS = ((20, 60), (200, 3600))


def _limited(request: HttpRequest, scope: str, limits) -> HttpResponse | None:
    ip = client_ip(request)
    result = hit_all(*[(scope, ip, n, window) for n, window in limits])
    if result.allowed:
        return None
    response = render(request, "lumiodesk/sso_error.html", {
        "message": _("Trop de tentatives de connexion SSO depuis votre adresse. Réessayez dans quelques minutes."),
    }, status=429)
    response["Retry-After"] = str(result.retry_after)
    return response


def _error(request: HttpRequest, message: str, status: int, organization: Organization | None = None):
    return render(request, "lumiodesk/sso_error.html", {"message": message, "organization": organization},
                  status=status)


# --- Settings > SSO ---------------------------------------------------------------------------------------------


@requires("sso.manage")
@require_http_methods(["GET", "POST"])
def sso_settings(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    config = services.get_config(actor=request.actor)
    included = plans.has_feature(organization, services.FEATURE)
    if request.method == "POST":
        form = SsoSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.save_config(actor=request.actor, **form.cleaned_data)
            except saml.InvalidMetadata as exc:
                form.add_error("metadata_xml" if form.cleaned_data["metadata_xml"] else "metadata_url", str(exc))
            except DomainError as exc:
                if exc.status_code == 403:
                    raise
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Configuration SSO enregistrée."))
                return redirect("sso:settings")
        status = 400
    else:
        form = SsoSettingsForm(initial={field: getattr(config, field) for field in services.EDITABLE})
        status = 200
    unavailable = None
    if not included:
        try:
            plans.require_feature(organization, services.FEATURE)
        except DomainError as exc:
            unavailable = exc.message
    return render(request, "lumiodesk/sso_settings.html", {
        "form": form, "config": config, "unavailable": unavailable, "active": services.is_active(config),
        "entity_id": saml.sp_entity_id(organization.slug), "acs_url": saml.acs_url(organization.slug),
        "metadata_url": saml.sp_entity_id(organization.slug), "login_url": saml.login_url(organization.slug),
        "default_email_attributes": saml.DEFAULT_EMAIL_ATTRIBUTES,
        "default_name_attributes": saml.DEFAULT_NAME_ATTRIBUTES,
    }, status=status)


# --- public endpoints -------------------------------------------------------------------------------------------


@public
@require_http_methods(["GET", "POST"])
def choose(request: HttpRequest) -> HttpResponse:
    """"Se connecter avec SSO": the organization's identifier or an email address, then its IdP."""
    form = SsoChooserForm(request.POST or None)
    if request.method == "POST":
        if (limited := _limited(request, "sso:choose", START_LIMITS)) is not None:
            return limited
        if form.is_valid():
            organization = services.organization_for(form.cleaned_data["identifier"])
            if organization is not None:
                target = redirect("sso:login", org=organization.slug)
                nxt = request.POST.get("next", "")
                if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
                    target["Location"] += "?" + urlencode({"next": nxt})
                return target
            form.add_error("identifier", _("Aucune organisation avec SSO ne correspond : saisissez l'identifiant de "
                                           "votre organisation (il figure dans l'adresse de votre espace)."))
    return render(request, "lumiodesk/sso_choose.html", {"form": form, "next": request.GET.get("next", "")},
                  status=400 if form.errors else 200)


@public
def sp_metadata(request: HttpRequest, org: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org)
    return HttpResponse(saml.sp_metadata(organization.slug), content_type="application/samlmetadata+xml")


@public
def start(request: HttpRequest, org: str) -> HttpResponse:
    """SP-initiated sign-in: remember the request's ID in this session, send the browser to the IdP."""
    organization = get_object_or_404(Organization, slug=org)
    if (limited := _limited(request, "sso:start", START_LIMITS)) is not None:
        return limited
    try:
        request_id, location = services.begin(organization)
    except services.SsoUnavailable as exc:
        return _error(request, exc.message, 403, organization)
    nxt = request.GET.get("next", "")
    if not (nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()},
                                                    require_https=request.is_secure())):
        nxt = ""
    pending = dict(request.session.get(REQUESTS_KEY, {}))
    pending[str(organization.pk)] = {"id": request_id, "next": nxt}
    request.session[REQUESTS_KEY] = pending
    return redirect(location)


@public
@csrf_exempt  # the IdP's form posts here from another site; the signed, solicited SAML response is the proof
@require_POST
def acs(request: HttpRequest, org: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org)
    if (limited := _limited(request, "sso:acs", ACS_LIMITS)) is not None:
        return limited
    if settings.SESSION_COOKIE_NAME not in request.COOKIES and RESUBMIT_FIELD not in request.POST:
        # Posted from the IdP's site: the browser withheld our SameSite=Lax session cookie. Post the same response
        # again from our own page, where the cookie (and the request ID it holds) comes along.
        return render(request, "lumiodesk/sso_resubmit.html", {
            "action": request.path, "saml_response": request.POST.get("SAMLResponse", ""),
            "field": RESUBMIT_FIELD})
    pending = dict(request.session.get(REQUESTS_KEY, {}))
    outstanding = pending.pop(str(organization.pk), None) or {}
    request.session[REQUESTS_KEY] = pending  # a request ID answers once
    try:
        result = services.complete(organization, saml_response=request.POST.get("SAMLResponse", ""),
                                   request_id=outstanding.get("id", ""), ip_address=client_ip(request))
    except services.SsoUnavailable as exc:
        return _error(request, exc.message, 403, organization)
    except services.SsoSignInRefused as exc:
        return _error(request, exc.message, 403, organization)
    login(request, result.membership.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SSO_SCOPE_KEY] = organization.pk
    request.session[SESSION_KEY] = organization.pk
    if result.created_membership:
        messages.success(request, _("Bienvenue ! Votre accès à %(org)s a été créé par votre fournisseur d'identité.")
                         % {"org": organization.name})
    return redirect(outstanding.get("next") or "tickets:list")
