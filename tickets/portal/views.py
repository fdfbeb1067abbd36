"""The customer portal (``/portal/<org-slug>/``): views parse, authorize (``access``), call a service, render.

Every page of a signed-in customer goes through ``customer_required``; every ticket through
``selectors.my_ticket`` (their own ticket in their organization, else 404).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.models import Customer, CustomerContactChoice
from lumiodesk.access import public
from lumiodesk.exceptions import DomainError
from lumiodesk.models import Organization
from lumiodesk.ratelimit import client_ip, hit_all

from ..attachments import INLINE_TYPES
from ..models import Ticket
from . import access, link_tokens, satisfaction, selectors, services
from .forms import PreferenceForm, RatingForm, ReplyForm, SignInRequestForm

TICKETS_PER_PAGE = 20
NOTIFICATIONS_PER_PAGE = 30
# Sign-in links asked: per IP and per address (the same whether or not the address is a customer's).
SIGN_IN_LIMITS_IP = (10, 900)  # 10 per 15 minutes
SIGN_IN_LIMITS_EMAIL = (3, 900)  # 3 per 15 minutes
SESSION_NEXT = "lumiodesk_portal_next"
SESSION_EMAIL = "lumiodesk_portal_email"
SESSION_LINK = "lumiodesk_portal_link"  # {organization id: SHA-256 of the opened sign-in link's token}
SESSION_RATING = "lumiodesk_portal_rating"  # {organization id: {ticket number: rating link token}}
PREFERENCE_HELP = {
    CustomerContactChoice.WEB_ONLY: gettext_lazy("Ici, dans votre espace client, sans email."),
    CustomerContactChoice.EMAIL_ONLY: gettext_lazy("Par email seulement."),
    CustomerContactChoice.BOTH: gettext_lazy("Ici et par email."),
    CustomerContactChoice.NONE: gettext_lazy(
        "Aucune notification : vous consultez vos demandes ici quand vous le souhaitez."
    ),
}


def _base(organization: Organization, customer: Customer | None, **extra) -> dict:
    context = {"org": organization, "customer": customer, "portal": True}
    if customer is not None:
        context["unread"] = selectors.unread_count(customer)
    return context | extra


def _decorate(ticket: Ticket) -> Ticket:
    ticket.customer_status, ticket.customer_status_code = selectors.customer_status(ticket.status)
    return ticket


def _rating_of(ticket: Ticket):
    try:
        return ticket.satisfaction
    except Ticket.satisfaction.RelatedObjectDoesNotExist:
        return None


# --- signing in ---------------------------------------------------------------------------------------


@public
@access.public_page
@require_http_methods(["GET", "POST"])
def sign_in_request(request: HttpRequest, organization: Organization) -> HttpResponse:
    if access.signed_in_customer(request, organization) is not None and request.method == "GET":
        return redirect("portal:tickets", org=organization.slug)
    form = SignInRequestForm(request.POST or None)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    context = _base(organization, None, form=form, next=next_url)
    if request.method == "GET":
        return render(request, "portal/sign_in_request.html", context)
    if not form.is_valid():
        return render(request, "portal/sign_in_request.html", context, status=400)
    email = form.cleaned_data["email"].strip().lower()
    limited = hit_all(
        ("portal:link:ip", client_ip(request), *SIGN_IN_LIMITS_IP),
        ("portal:link:email", f"{organization.pk}:{email}", *SIGN_IN_LIMITS_EMAIL),
    )
    if not limited.allowed:
        context["error"] = _(
            "Trop de demandes de lien en peu de temps. Réessayez dans %(minutes)s minute(s) ; "
            "un lien déjà reçu reste valable 30 minutes."
        ) % {"minutes": max(1, round(limited.retry_after / 60))}
        response = render(request, "portal/sign_in_request.html", context, status=429)
        response["Retry-After"] = str(limited.retry_after)
        return response
    services.request_sign_in_link(organization=organization, email=email, ip=client_ip(request))
    # The same answer whether or not the address is a customer's: the page does not say who is one.
    request.session[SESSION_EMAIL] = email
    if _portal_url(organization, next_url):
        request.session[SESSION_NEXT] = next_url
    return redirect("portal:sign_in_sent", org=organization.slug)


@public
@access.public_page
@require_GET
def sign_in_sent(request: HttpRequest, organization: Organization) -> HttpResponse:
    email = request.session.get(SESSION_EMAIL, "")
    return render(request, "portal/sign_in_sent.html", _base(organization, None, email=email,
                                                             minutes=link_tokens.SIGN_IN_LINK_MINUTES))


@public
@never_cache
@access.public_page
@require_GET
def sign_in_link(request: HttpRequest, organization: Organization, token: str) -> HttpResponse:
    """The emailed link. Spends nothing (mail scanners open links): keeps the token's hash in the session
    and redirects to ``login/confirm/``, a URL without the token (access logs, Referer, history)."""
    token_hash, key = link_tokens.hash_token(token), str(organization.pk)
    pending = request.session.get(SESSION_LINK, {})
    if services.find_sign_in_link(organization=organization, token_hash=token_hash):
        request.session[SESSION_LINK] = {**pending, key: token_hash}
    elif key in pending:  # an unknown or spent token: the page says so (410); no session is created for it
        request.session[SESSION_LINK] = {k: v for k, v in pending.items() if k != key}
    return redirect("portal:sign_in", org=organization.slug)


@public
@never_cache
@access.public_page
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest, organization: Organization) -> HttpResponse:
    """GET shows a button for the link kept in the session; POST spends it (once) and signs in."""
    token_hash = request.session.get(SESSION_LINK, {}).get(str(organization.pk), "")
    if request.method == "GET":
        link = services.find_sign_in_link(organization=organization, token_hash=token_hash)
        status = 200 if link else 410
        return render(request, "portal/sign_in.html", _base(organization, None, link=link), status=status)
    try:
        customer = services.redeem_sign_in_link(organization=organization, token_hash=token_hash)
    except DomainError:
        return render(request, "portal/sign_in.html", _base(organization, None, link=None), status=410)
    next_url = request.session.pop(SESSION_NEXT, "")
    access.sign_in(request, customer)
    pending = dict(request.session.get(SESSION_LINK, {}))
    pending.pop(str(organization.pk), None)
    request.session[SESSION_LINK] = pending
    if _portal_url(organization, next_url):
        return redirect(next_url)
    return redirect("portal:tickets", org=organization.slug)


def _portal_url(organization: Organization, url: str) -> bool:
    """A page of this organization's portal (where to go back after signing in), nothing else."""
    prefix = reverse("portal:tickets", args=[organization.slug])
    return bool(url) and url.startswith(prefix) and url_has_allowed_host_and_scheme(url, allowed_hosts=None)


@public
@access.public_page
@require_POST
def sign_out(request: HttpRequest, organization: Organization) -> HttpResponse:
    access.sign_out(request, organization)
    messages.success(request, _("Vous êtes déconnecté(e) de l'espace client."))
    return redirect("portal:sign_in_request", org=organization.slug)


# --- my tickets -----------------------------------------------------------------------------------------


@public
@access.customer_required
@require_GET
def ticket_list(request: HttpRequest, organization: Organization, customer: Customer) -> HttpResponse:
    page = Paginator(selectors.my_tickets(customer), TICKETS_PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    tickets = [_decorate(t) for t in page.object_list]
    for t in tickets:
        t.rating_state = satisfaction.rating_state(t, _rating_of(t), now=now)
    context = _base(organization, customer, page=page, tickets=tickets)
    if request.htmx and request.htmx.target == "portal-tickets":
        return render(request, "portal/tickets.html#ticket-list", context)
    return render(request, "portal/tickets.html", context)


def _ticket_context(organization: Organization, customer: Customer, ticket: Ticket, *,
                    reply_form: ReplyForm | None = None, rating_form: RatingForm | None = None) -> dict:
    rating = _rating_of(ticket)
    if rating_form is None:
        rating_form = RatingForm(initial={"score": rating.score, "comment": rating.comment} if rating else None)
    return _base(
        organization, customer, ticket=_decorate(ticket), conversation=selectors.conversation(ticket),
        rating_state=satisfaction.rating_state(ticket, rating), stars_desc=satisfaction.STARS_DESC,
        change_days=satisfaction.RATING_CHANGE_DAYS, rating_form=rating_form,
        reply_form=reply_form if reply_form is not None else ReplyForm(),
        rate_action=reverse("portal:rate", args=[organization.slug, ticket.number]),
    )


def _my_ticket_or_404(customer: Customer, number: int) -> Ticket:
    ticket = selectors.my_ticket(customer, number)
    if ticket is None:
        raise Http404("ticket")
    return ticket


@public
@access.customer_required
@require_GET
def ticket_detail(request: HttpRequest, organization: Organization, customer: Customer, number: int) -> HttpResponse:
    ticket = _my_ticket_or_404(customer, number)
    # Reading the ticket reads what it was notified about (one UPDATE, before the badge is counted).
    services.mark_notifications_read(customer=customer, ticket=ticket)
    return render(request, "portal/ticket.html", _ticket_context(organization, customer, ticket))


@public
@access.customer_required
@require_POST
def ticket_reply(request: HttpRequest, organization: Organization, customer: Customer, number: int) -> HttpResponse:
    ticket = _my_ticket_or_404(customer, number)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.reply_as_customer(
                ticket=ticket, customer=customer, body=form.cleaned_data["body"],
                attachments=form.cleaned_data["attachments"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Votre message a bien été envoyé."))
            return redirect(reverse("portal:ticket", args=[organization.slug, number]) + "#reply")
    # The message stays in the box; only the files have to be chosen again (browsers do not keep them).
    context = _ticket_context(organization, customer, ticket, reply_form=form)
    return render(request, "portal/ticket.html", context, status=400)


@public
@access.customer_required
@require_POST
def ticket_rate(request: HttpRequest, organization: Organization, customer: Customer, number: int) -> HttpResponse:
    ticket = _my_ticket_or_404(customer, number)
    form = RatingForm(request.POST)
    if form.is_valid():
        try:
            satisfaction.rate_ticket(ticket=ticket, customer=customer, score=form.cleaned_data["score"],
                                     comment=form.cleaned_data["comment"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Merci pour votre évaluation !"))
            return redirect(reverse("portal:ticket", args=[organization.slug, number]) + "#rating")
    ticket = _my_ticket_or_404(customer, number)
    return render(request, "portal/ticket.html", _ticket_context(organization, customer, ticket, rating_form=form),
                  status=400)


@public
@access.customer_required
@require_GET
def attachment(request: HttpRequest, organization: Organization, customer: Customer, number: int,
               token: str) -> FileResponse:
    att = selectors.my_attachment(customer, number, token)
    if att is None:
        raise Http404("attachment")
    if att.expired_at is not None:
        return HttpResponse(_("Pièce jointe expirée : elle a été supprimée à la fin de la durée de conservation."),
                            status=410)
    inline = att.content_type in INLINE_TYPES and request.GET.get("download") is None
    response = FileResponse(att.file.open("rb"), as_attachment=not inline, filename=att.filename,
                            content_type=att.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- rating from the email link (no sign-in) ------------------------------------------------------------


@public
@never_cache
@access.public_page
@require_GET
def rate_link(request: HttpRequest, organization: Organization, token: str) -> HttpResponse:
    """The signed link of the "resolved" email (7 days, no sign-in). Keeps the token in the session and
    redirects to ``rate/ticket/<number>/``, without it; a star clicked in the email stays preselected."""
    ticket = satisfaction.ticket_for_rating_token(organization, token)
    if ticket is None:
        return render(request, "portal/rate_link.html", _base(organization, None, ticket=None), status=410)
    access.keep_link_token(request, SESSION_RATING, organization, ticket.number, token)
    target = reverse("portal:rate_ticket", args=[organization.slug, ticket.number])
    preset = request.GET.get("score", "")
    if preset.isdigit() and int(preset) in satisfaction.SCORES:
        target += f"?score={int(preset)}"
    return redirect(target)


@public
@never_cache
@access.public_page
@require_http_methods(["GET", "POST"])
def rate_ticket(request: HttpRequest, organization: Organization, number: int) -> HttpResponse:
    """Rate the ticket of a rating link opened in this browser: GET shows the form, POST rates."""
    token = access.kept_link_token(request, SESSION_RATING, organization, number)
    ticket = satisfaction.ticket_for_rating_token(organization, token) if token else None
    if ticket is None or ticket.number != number:
        return render(request, "portal/rate_link.html", _base(organization, None, ticket=None), status=410)
    rating = _rating_of(ticket)
    if request.method == "POST":
        form = RatingForm(request.POST)
        if form.is_valid():
            try:
                satisfaction.rate_ticket(ticket=ticket, customer=ticket.customer, score=form.cleaned_data["score"],
                                         comment=form.cleaned_data["comment"])
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Merci pour votre évaluation !"))
                return redirect("portal:rate_ticket", org=organization.slug, number=number)
        status = 400
    else:
        initial = {"score": rating.score, "comment": rating.comment} if rating else {}
        preset = request.GET.get("score", "")
        if preset.isdigit() and int(preset) in satisfaction.SCORES:
            initial["score"] = int(preset)
        form = RatingForm(initial=initial)
        status = 200
    ticket = satisfaction.ticket_for_rating_token(organization, token)
    context = _base(
        organization, None, ticket=_decorate(ticket), rating_form=form, stars_desc=satisfaction.STARS_DESC,
        rating_state=satisfaction.rating_state(ticket, _rating_of(ticket)), change_days=satisfaction.RATING_CHANGE_DAYS,
        rate_action=reverse("portal:rate_ticket", args=[organization.slug, number]),
    )
    return render(request, "portal/rate_link.html", context, status=status)


# --- notifications and preference -----------------------------------------------------------------------


@public
@access.customer_required
@require_GET
def notification_list(request: HttpRequest, organization: Organization, customer: Customer) -> HttpResponse:
    page = Paginator(selectors.web_notifications(customer), NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "portal/notifications.html",
                  _base(organization, customer, page=page, items=list(page.object_list)))


@public
@access.customer_required
@require_GET
def notification_open(request: HttpRequest, organization: Organization, customer: Customer, pk: int) -> HttpResponse:
    """Mark one notification read and go to its ticket (like the agents' notification center)."""
    n = selectors.web_notifications(customer).filter(pk=pk).first()
    if n is None:
        raise Http404("notification")
    services.mark_notifications_read(customer=customer, ids=[n.pk])
    return redirect("portal:ticket", org=organization.slug, number=n.ticket.number)


@public
@access.customer_required
@require_POST
def notifications_read(request: HttpRequest, organization: Organization, customer: Customer) -> HttpResponse:
    services.mark_notifications_read(customer=customer)
    return redirect("portal:notifications", org=organization.slug)


@public
@access.customer_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, organization: Organization, customer: Customer) -> HttpResponse:
    form = PreferenceForm(request.POST or None,
                          initial={"notification_preference": customer.notification_preference})
    if request.method == "POST" and form.is_valid():
        services.set_preference(customer=customer, preference=form.cleaned_data["notification_preference"])
        messages.success(request, _("Vos préférences de notification sont enregistrées."))
        return redirect("portal:preferences", org=organization.slug)
    choices = [(value, label, PREFERENCE_HELP[value]) for value, label in CustomerContactChoice.choices]
    context = _base(organization, customer, form=form, choices=choices)
    return render(request, "portal/preferences.html", context, status=400 if request.method == "POST" else 200)
