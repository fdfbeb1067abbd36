"""Monthly invoices (section 9): issued on the 1st at 00:00 UTC by beat, one per organization and month.

Contract:
- ``issue_invoice(organization, period)`` makes the invoice of the month starting ``period``, or returns
  the one already made (unique ``(organization, period)``, checked under the subscription's row lock):
  running it twice makes one invoice. Numbers are sequential per organization without gaps: the counter
  lives on the subscription row, taken ``FOR UPDATE`` in the same transaction as the invoice.
- Lines a customer understands: the plan for the coming month; the extra agents of the past month (per
  day, prorated); each plan change of the past month, prorated (``billing.proration``). Amounts in
  ``Decimal`` EUR; VAT at ``settings.BILLING_VAT_PERCENT``.
- After the commit, a task renders the PDF (WeasyPrint, from ``billing/invoice_pdf.html``, fonts embedded,
  in the organization's language) and emails it to the Admins: both steps are safe to run twice.
- No card data is ever handled: payment stays outside; a ``PaymentProvider`` plugs in later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import TransitionNotAllowed
from lumiodesk.models import Membership, Organization, Role
from lumiodesk.permissions import Actor, require

from .catalogue import PLANS, Limit
from .models import Invoice, InvoiceLine, InvoiceStatus, PlanChange, SeatDay, Subscription, SubscriptionStatus
from .proration import days_in_month, extra_agents_cost, money, month_start, next_month, previous_month, utc_day
from .subscriptions import end_trials, seats_used, subscription_of

log = logging.getLogger(__name__)
FONTS = Path(__file__).resolve().parent / "fonts"


class PaymentProvider(Protocol):
    """Where a payment service plugs in later (card data stays with it: LumioDesk never handles any).
    It is told of each issued invoice and calls ``mark_paid`` when the money arrives."""

    def invoice_issued(self, invoice: Invoice) -> None: ...


@dataclass(frozen=True)
class Line:
    description: str
    detail: str
    amount: Decimal


def _month_label(day: date) -> str:
    return formats.date_format(day, "F Y")


def _seat_days(organization: Organization, month: date) -> list[tuple[int, str]]:
    """(seats, plan) of each day of ``month``. A day without a record takes the last one before it; days
    before the first record are not billed (seats were not counted then: the customer's benefit); with no
    record at all (the hourly count never ran), every day takes today's seats and plan."""
    start, end = month, next_month(month)
    rows = dict(
        (r.day, (r.seats, r.plan)) for r in SeatDay.objects.filter(organization=organization, day__lt=end)
         .order_by("-day")[:62]
    )
    if not rows:
        sub = Subscription.objects.filter(organization=organization).first()
        today = (seats_used(organization), sub.plan if sub and sub.status == SubscriptionStatus.ACTIVE else "")
        return [today] * (end - start).days
    earlier = [d for d in rows if d < start]
    current = rows[max(earlier)] if earlier else (0, "")
    out = []
    day = start
    while day < end:
        current = rows.get(day, current)
        out.append(current)
        day += timedelta(days=1)
    return out


def lines_for(organization: Organization, sub: Subscription, period: date) -> tuple[list[Line], list[int]]:
    """The lines of the invoice of ``period`` (a 1st of month), and the plan changes it bills."""
    lines: list[Line] = []
    past = previous_month(period)
    if sub.status == SubscriptionStatus.ACTIVE and sub.plan:
        spec = PLANS[sub.plan]
        lines.append(Line(_("Forfait %(plan)s — %(month)s") % {"plan": spec.name, "month": _month_label(period)},
                          _("abonnement mensuel, payable d'avance"), money(spec.monthly_price_eur)))
    by_plan: dict[str, list[tuple[int, int, Decimal]]] = {}
    for seats, plan in _seat_days(organization, past):
        if plan:
            spec = PLANS[plan]
            by_plan.setdefault(plan, []).append((seats, spec.limits[Limit.AGENTS_INCLUDED], spec.extra_agent_eur))
    total_days = days_in_month(past)
    for plan, days in by_plan.items():
        amount, agent_days = extra_agents_cost(days, total_days)
        if amount:
            spec = PLANS[plan]
            lines.append(Line(
                _("Agents supplémentaires — %(month)s") % {"month": _month_label(past)},
                _("%(n)s jours-agent au-delà des %(included)s agents inclus dans %(plan)s, à %(price)s EUR par "
                  "agent et par mois, au prorata des %(days)s jours du mois")
                % {"n": agent_days, "included": spec.limits[Limit.AGENTS_INCLUDED], "plan": spec.name,
                   "price": formats.number_format(spec.extra_agent_eur, 2), "days": total_days},
                amount))
    changes = list(PlanChange.objects.filter(organization=organization, invoice__isnull=True,
                                             at__lt=datetime(period.year, period.month, 1, tzinfo=UTC))
                   .order_by("at", "pk"))
    for c in changes:
        to = PLANS[c.to_plan].name
        when = formats.date_format(utc_day(c.at), "SHORT_DATE_FORMAT")
        if c.from_plan:
            title = _("Changement de forfait le %(date)s : %(old)s → %(new)s") % {
                "date": when, "old": PLANS[c.from_plan].name, "new": to}
            old_price = PLANS[c.from_plan].monthly_price_eur
        else:
            title = _("Forfait %(plan)s à partir du %(date)s (fin de l'essai)") % {"plan": to, "date": when}
            old_price = Decimal(0)
        detail = _("prorata : %(days)s/%(total)s jours × (%(new)s − %(old)s) EUR") % {
            "days": c.days, "total": c.days_in_month,
            "new": formats.number_format(PLANS[c.to_plan].monthly_price_eur, 2),
            "old": formats.number_format(old_price, 2)}
        lines.append(Line(title, detail, c.amount))
    return lines, [c.pk for c in changes]


def totals(lines: list[Line]) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    subtotal = money(sum((line.amount for line in lines), Decimal(0)))
    rate = Decimal(str(settings.BILLING_VAT_PERCENT))
    vat = money(subtotal * rate / 100)
    return subtotal, rate, vat, subtotal + vat


def estimate(organization: Organization, *, now: datetime | None = None) -> tuple[list[Line], Decimal]:
    """The next invoice as it stands now (the days to come counted at today's seats)."""
    now = now or timezone.now()
    sub = subscription_of(organization)
    with translation.override(organization.language):
        lines, _ids = lines_for(organization, sub, next_month(utc_day(now)))
    return lines, totals(lines)[3]


def issue_invoice(
    organization: Organization, *, period: date, now: datetime | None = None, finish: bool = True,
) -> Invoice | None:
    """The invoice of the month starting ``period``: made once (idempotent), None when nothing is due.
    ``finish=False`` (the demo seed): no task queued; the PDF is made when first downloaded, no email."""
    now = now or timezone.now()
    period = month_start(period)
    with transaction.atomic():
        sub = subscription_of(organization, lock=True)  # serializes numbering and the "already made?" check
        existing = Invoice.objects.filter(organization=organization, period=period).first()
        if existing is not None:
            return existing
        with translation.override(organization.language):
            lines, change_ids = lines_for(organization, sub, period)
        if not lines:
            return None
        subtotal, rate, vat, total = totals(lines)
        sub.last_invoice_number += 1
        sub.save(update_fields=["last_invoice_number", "updated_at"])
        invoice = Invoice.objects.create(
            organization=organization, number=sub.last_invoice_number, period=period, issued_at=now,
            language=organization.language, subtotal=subtotal, vat_rate=rate, vat=vat, total=total,
        )
        InvoiceLine.objects.bulk_create([
            InvoiceLine(invoice=invoice, position=i, description=line.description[:300], detail=line.detail[:300],
                        amount=line.amount) for i, line in enumerate(lines, 1)
        ])
        PlanChange.objects.filter(pk__in=change_ids).update(invoice=invoice)
        audit.record(organization=organization, actor=None, action="billing.invoice.issued", target_type="invoice",
                     target_id=invoice.pk, number=invoice.number, total=str(total), period=period.isoformat())
        pk = invoice.pk
        if finish:  # robust: the broker down loses no invoice (the PDF is also made at download)
            transaction.on_commit(lambda: finish_invoice.delay(pk), robust=True)
    return invoice


def issue_monthly_invoices(*, now: datetime | None = None) -> int:
    """Beat, the 1st at 00:00 UTC: the month's invoice of every organization that owes something. Safe to
    run again (later that month too): invoices already made are left as they are."""
    now = now or timezone.now()
    end_trials(now=now)
    period = month_start(utc_day(now))
    made = 0
    for organization in Organization.objects.filter(
        pk__in=Subscription.objects.values("organization_id")
    ).order_by("pk"):
        if issue_invoice(organization, period=period, now=now) is not None:
            made += 1
    return made


# --- the PDF and the email -------------------------------------------------------------------------------


def render_pdf(invoice: Invoice) -> bytes:
    from weasyprint import HTML  # heavy (cairo, pango): loaded when a PDF is made, not at start-up

    organization = invoice.organization
    with translation.override(invoice.language):
        html = render_to_string("billing/invoice_pdf.html", {
            "invoice": invoice, "organization": organization, "lines": list(invoice.lines.all()),
            "font_regular": (FONTS / "DejaVuSans.ttf").as_uri(), "font_bold": (FONTS / "DejaVuSans-Bold.ttf").as_uri(),
            "issuer": settings.BILLING_ISSUER, "period_label": _month_label(invoice.period),
        })
    return HTML(string=html, base_url=str(FONTS)).write_pdf()


def admins_emails(organization: Organization) -> list[str]:
    return list(Membership.objects.filter(organization=organization, is_active=True, role=Role.ADMIN)
                .exclude(user__email="").order_by("user_id").values_list("user__email", flat=True))


def finish(invoice_id: int) -> None:
    """Render the PDF if it is missing, then email it to the Admins once (at least once: a crash between
    sending and marking may send it twice, never zero times)."""
    invoice = Invoice.objects.select_related("organization").get(pk=invoice_id)
    if not invoice.pdf:
        pdf = render_pdf(invoice)
        Invoice.objects.filter(pk=invoice.pk).update(pdf=pdf)
        invoice.pdf = pdf
    if invoice.emailed_at is None:
        to = admins_emails(invoice.organization)
        if to:
            with translation.override(invoice.language):
                mail = EmailMessage(
                    subject=_("[%(org)s] Facture %(ref)s")
                    % {"org": invoice.organization.name, "ref": invoice.reference},
                    body=render_to_string("billing/invoice_email.txt", {"invoice": invoice,
                                                                       "period_label": _month_label(invoice.period),
                                                                       "site_url": settings.SITE_URL}),
                    from_email=settings.DEFAULT_FROM_EMAIL, to=to,
                    headers={"Auto-Submitted": "auto-generated"},
                )
            mail.attach(f"{invoice.reference}.pdf", bytes(invoice.pdf), "application/pdf")
            mail.send()
        Invoice.objects.filter(pk=invoice.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())


@shared_task(name="billing.tasks.finish_invoice", autoretry_for=(OSError,), retry_backoff=30, max_retries=8)
def finish_invoice(invoice_id: int) -> None:
    finish(invoice_id)


def pdf_of(invoice: Invoice) -> bytes:
    """The stored PDF, rendered now if the task has not run yet."""
    if not invoice.pdf:
        invoice.pdf = render_pdf(invoice)
        Invoice.objects.filter(pk=invoice.pk).update(pdf=invoice.pdf)
    return bytes(invoice.pdf)


@transaction.atomic
def mark_paid(*, actor: Actor, invoice: Invoice, now: datetime | None = None) -> Invoice:
    require(actor, "billing.manage", invoice.organization)
    now = now or timezone.now()
    invoice = Invoice.objects.select_for_update().select_related("organization").get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.ISSUED:
        raise TransitionNotAllowed(_("Seule une facture émise peut être marquée payée."))
    invoice.status, invoice.paid_at, invoice.paid_by = InvoiceStatus.PAID, now, actor.user
    invoice.save(update_fields=["status", "paid_at", "paid_by"])
    audit.record(organization=invoice.organization, actor=actor.user, action="billing.invoice.paid",
                 target_type="invoice", target_id=invoice.pk, number=invoice.number)
    return invoice


@transaction.atomic
def void_invoice(*, actor: Actor, invoice: Invoice) -> Invoice:
    """An issued invoice cancelled (its number stays used: no gap)."""
    require(actor, "billing.manage", invoice.organization)
    invoice = Invoice.objects.select_for_update().select_related("organization").get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.ISSUED:
        raise TransitionNotAllowed(_("Seule une facture émise peut être annulée."))
    invoice.status = InvoiceStatus.VOID
    invoice.save(update_fields=["status"])
    audit.record(organization=invoice.organization, actor=actor.user, action="billing.invoice.void",
                 target_type="invoice", target_id=invoice.pk, number=invoice.number)
    return invoice


__all__ = ["PaymentProvider", "issue_invoice", "issue_monthly_invoices", "mark_paid", "finish_invoice"]
