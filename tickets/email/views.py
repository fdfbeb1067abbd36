"""Settings > Channels > Email: mailboxes, forwarding addresses, pause, the inbound log and quarantine."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.catalogue import Feature
from billing.services import has_feature
from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError

from . import intake, mailboxes, verification
from .forms import InboundFilterForm, MailboxCreateForm, MailboxForm, QuarantineImportForm
from .models import InboundEmail, InboundStatus, Mailbox


def _mailboxes_page(request: HttpRequest, **_kw) -> str:
    return reverse("email:mailboxes")


def get_mailbox_for(request: HttpRequest, pk: int) -> Mailbox:
    mailbox = Mailbox.objects.select_related("organization").filter(
        organization=request.organization, pk=pk
    ).first()
    if mailbox is None:
        raise Http404("mailbox")
    return mailbox


def get_inbound_for(request: HttpRequest, pk: int) -> InboundEmail:
    inbound = InboundEmail.objects.filter(organization=request.organization, pk=pk).first()
    if inbound is None:
        raise Http404("inbound")
    return inbound


@requires("mailboxes.manage")
@require_http_methods(["GET", "POST"])
def mailbox_list(request: HttpRequest) -> HttpResponse:
    org = request.organization
    form = MailboxCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            mailbox = mailboxes.create_mailbox(
                organization=org, name=form.cleaned_data["name"], address=form.cleaned_data["address"],
                actor=request.actor,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Boîte %(a)s ajoutée. Configurez maintenant le transfert vers l'adresse "
                                        "LumioDesk indiquée.") % {"a": mailbox.address})
            if mailbox.verification_sent_at:
                messages.info(request, _("Un lien de vérification est parti vers %(a)s : tant qu'elle n'est pas "
                                         "vérifiée, seule l'adresse de transfert reçoit vos emails.")
                              % {"a": mailbox.address})
            return redirect("email:mailboxes")
    boxes = list(Mailbox.objects.filter(organization=org).order_by("address"))
    domain = settings.INBOUND_EMAIL_DOMAIN
    quarantined = InboundEmail.objects.filter(organization=org, status=InboundStatus.QUARANTINED).count()
    return render(request, "email/mailboxes.html", {
        "form": form,
        "mailboxes": [(m, m.forwarding_address(domain)) for m in boxes],
        "quarantined": quarantined,
        "smtp_imap": has_feature(org, Feature.MAILBOX_SMTP_IMAP),
    }, status=400 if request.method == "POST" else 200)


@requires("mailboxes.manage")
@require_http_methods(["GET", "POST"])
def mailbox_edit(request: HttpRequest, pk: int) -> HttpResponse:
    mailbox = get_mailbox_for(request, pk)
    org = mailbox.organization
    initial = {f: getattr(mailbox, f) for f in ("name", *mailboxes.CONNECTION_FIELDS)}
    form = MailboxForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            mailboxes.update_mailbox(
                mailbox=mailbox, actor=request.actor, name=data.pop("name"),
                imap_password=data.pop("imap_password"), smtp_password=data.pop("smtp_password"),
                connection=data,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Boîte enregistrée."))
            return redirect("email:mailboxes")
    return render(request, "email/mailbox_form.html", {
        "form": form, "mailbox": mailbox, "smtp_imap": has_feature(org, Feature.MAILBOX_SMTP_IMAP),
        "forwarding_address": mailbox.forwarding_address(settings.INBOUND_EMAIL_DOMAIN),
        "plan_name": org.get_plan_display(),
    }, status=400 if request.method == "POST" else 200)


@requires("mailboxes.manage", back=_mailboxes_page)
@require_POST
def mailbox_pause(request: HttpRequest, pk: int) -> HttpResponse:
    from . import services as mailbox_services

    mailbox = get_mailbox_for(request, pk)
    if mailbox.is_paused:
        mailbox_services.resume_mailbox(mailbox=mailbox, actor=request.actor)
        messages.success(request, _("Boîte %(a)s réactivée.") % {"a": mailbox.address})
    else:
        mailbox_services.pause_mailbox(mailbox=mailbox, actor=request.actor)
        messages.success(request, _("Boîte %(a)s en pause : les emails reçus pendant la pause ne seront pas "
                                    "importés.") % {"a": mailbox.address})
    return redirect("email:mailboxes")


@requires("mailboxes.manage", back=_mailboxes_page)
@require_POST
def mailbox_verify(request: HttpRequest, pk: int) -> HttpResponse:
    """Send (again) the verification link to the mailbox's own address."""
    mailbox = get_mailbox_for(request, pk)
    try:
        verification.request_verification(mailbox=mailbox, actor=request.actor)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Lien de vérification envoyé à %(a)s. Il est valable %(h)s heures.")
                         % {"a": mailbox.address, "h": verification.LINK_HOURS})
    if request.POST.get("back") == "edit":
        return redirect("email:mailbox_edit", pk=pk)
    return redirect("email:mailboxes")


@requires("mailboxes.manage")
@require_GET
def inbound_list(request: HttpRequest) -> HttpResponse:
    form = InboundFilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    qs = InboundEmail.objects.filter(organization=request.organization).select_related("mailbox", "ticket")
    qs = qs.defer("raw").order_by("-received_at", "-id")
    if status:
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "email/inbound.html", {"page": page, "status": status,
                                                  "statuses": InboundStatus.choices})


@requires("mailboxes.manage")
@require_GET
def inbound_raw(request: HttpRequest, pk: int) -> HttpResponse:
    inbound = get_inbound_for(request, pk)
    response = HttpResponse(bytes(inbound.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="message-{inbound.pk}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@requires("mailboxes.manage")
@require_POST
def inbound_retry(request: HttpRequest, pk: int) -> HttpResponse:
    inbound = get_inbound_for(request, pk)
    form = QuarantineImportForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Adresse email invalide."))
        return redirect(f"{reverse('email:inbound')}?status={InboundStatus.QUARANTINED}")
    result = intake.retry(inbound, actor=request.actor, sender=form.cleaned_data["email"])
    if result.status == InboundStatus.IMPORTED:
        messages.success(request, _("Email importé dans le ticket #%(n)s.") % {
            "n": intake.outcome_of(result).ticket_number})
    else:
        messages.error(request, _("Toujours en quarantaine : %(r)s") % {"r": result.reason})
    return redirect(f"{reverse('email:inbound')}?status={InboundStatus.QUARANTINED}")
