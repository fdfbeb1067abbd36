"""The public contact form of each organization (``/help/<org-slug>/contact/``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from lumiodesk.access import public
from lumiodesk.exceptions import DomainError
from lumiodesk.models import Organization
from lumiodesk.ratelimit import client_ip, hit, hit_all

from . import services
from .access import public_page
from .forms import ContactForm

SESSION_SENT = "lumiodesk_contact_sent"
# Per IP (every POST counts, also the refused ones) and per email address (valid forms).
IP_LIMITS = ((10, 600), (30, 86400))  # 10 in 10 minutes, 30 a day
EMAIL_LIMIT = (5, 3600)  # 5 an hour, per organization


def _too_many(request: HttpRequest, organization: Organization, form: ContactForm, retry_after: int) -> HttpResponse:
    """429 with the form and everything typed in it: nothing the visitor wrote is lost."""
    minutes = max(1, round(retry_after / 60))
    error = _(
        "Vous avez envoyé beaucoup de messages en peu de temps. Votre message n'est pas encore parti : "
        "réessayez dans %(minutes)s minute(s), il est conservé ci-dessous."
    ) % {"minutes": minutes}
    response = render(request, "portal/contact.html", {"org": organization, "form": form, "error": error}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@public
@public_page
@require_http_methods(["GET", "POST"])
def contact(request: HttpRequest, organization: Organization) -> HttpResponse:
    if request.method == "GET":
        return render(request, "portal/contact.html", {"org": organization, "form": ContactForm()})
    form = ContactForm(request.POST, request.FILES)
    ip = client_ip(request)
    limited = hit_all(*[("contact:ip", ip, n, window) for n, window in IP_LIMITS])
    if form.is_spam():
        # A bot: same answer as a success, nothing created.
        request.session[SESSION_SENT] = {"org": organization.pk, "number": None, "email": ""}
        return redirect("contact:sent", org=organization.slug)
    if not limited.allowed:
        return _too_many(request, organization, form, limited.retry_after)
    if not form.is_valid():
        return render(request, "portal/contact.html", {"org": organization, "form": form}, status=400)
    data = form.cleaned_data
    per_email = hit("contact:email", f"{organization.pk}:{data['email'].lower()}",
                    limit=EMAIL_LIMIT[0], window=EMAIL_LIMIT[1])
    if not per_email.allowed:
        return _too_many(request, organization, form, per_email.retry_after)
    try:
        ticket = services.submit_contact_form(
            organization=organization, name=data["name"], email=data["email"], subject=data["subject"],
            message=data["message"], attachments=data["attachments"],
        )
    except DomainError as exc:
        form.add_error(None, exc.message)
        return render(request, "portal/contact.html", {"org": organization, "form": form}, status=exc.status_code)
    request.session[SESSION_SENT] = {
        "org": organization.pk, "number": ticket.number, "email": ticket.customer.email,
        "acknowledged": ticket.customer.wants_email,
    }
    return redirect("contact:sent", org=organization.slug)


@public
@public_page
@require_GET
def sent(request: HttpRequest, organization: Organization) -> HttpResponse:
    """The confirmation (after the redirect, so a reload does not send the form again)."""
    done = request.session.get(SESSION_SENT)
    if not done or done.get("org") != organization.pk:
        return redirect("contact:form", org=organization.slug)
    return render(request, "portal/contact_sent.html", {"org": organization, "done": done})
