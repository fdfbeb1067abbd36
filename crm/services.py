"""Writes on CRM customers."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, require

from .models import Company, Customer, CustomerContactChoice


def normalize_email(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput(_("Adresse email invalide : %(email)s") % {"email": email or "—"}) from exc
    local, _at, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def split_name(name: str) -> tuple[str, str]:
    parts = (name or "").strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def get_or_create_customer(
    *, organization: Organization, email: str, name: str = "", company_name: str = ""
) -> Customer:
    """The customer with this email in the organization, created on first contact."""
    email = normalize_email(email)
    customer = Customer.objects.find_by_email(organization.pk, email)
    if customer is not None:  # the usual case: one statement, no transaction of its own
        return customer
    return _create_customer(organization=organization, email=email, name=name, company_name=company_name)


@transaction.atomic
def _create_customer(*, organization: Organization, email: str, name: str, company_name: str) -> Customer:
    first, last = split_name(name)
    company = None
    if company_name:
        company = Company.objects.filter(organization=organization, name__iexact=company_name).first()
        if company is None:
            try:
                with transaction.atomic():
                    company = Company.objects.create(organization=organization, name=company_name)
            except IntegrityError:
                company = Company.objects.get(organization=organization, name__iexact=company_name)
    try:
        with transaction.atomic():  # savepoint: another message from the same new sender may win the race
            return Customer.objects.create(
                organization=organization, email=email, first_name=first, last_name=last, company=company
            )
    except IntegrityError:
        return Customer.objects.filter(organization=organization).with_email(email).get()


def add_customer(
    *, actor: Actor, organization: Organization, email: str, name: str = "", company_name: str = ""
) -> tuple[Customer, bool]:
    """A customer added by hand or by an integration (the REST API): the organization's customer with this
    email if there is one (``False``), else a new one (``True``). Whoever may open a ticket may add the
    customer it is for (``tickets.create``; refused while the organization is read-only)."""
    require(actor, "tickets.create", organization)
    email = normalize_email(email)
    existing = Customer.objects.find_by_email(organization.pk, email)
    if existing is not None:
        return existing, False
    return _create_customer(organization=organization, email=email, name=name, company_name=company_name), True


def set_notification_preference(*, customer: Customer, preference: str) -> Customer:
    if preference not in CustomerContactChoice.values:
        raise InvalidInput(_("Préférence de notification inconnue : %(p)s") % {"p": preference})
    customer.notification_preference = preference
    customer.save(update_fields=["notification_preference"])
    return customer
