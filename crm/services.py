"""Writes on CRM customers.

"Customer renamed" hooks: ``crm`` knows nothing of tickets, yet a ticket's search document holds its
customer's name and email. Apps above register ``on_customer_renamed(fn)`` at start-up (``tickets``
refreshes the customers' tickets' search entries). Every writer of a name or email calls
``customers_renamed(customers)`` inside its transaction: ``update_customer`` here, the CSV import and the
merge of two customers in ``tickets``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from lumiodesk import audit, rows
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import AuditLog, Organization
from lumiodesk.permissions import Actor, require

from .models import Company, Customer, CustomerContactChoice

CustomerRenamedHook = Callable[[Sequence[Customer]], None]
_renamed_hooks: list[CustomerRenamedHook] = []
SEARCHED_FIELDS = frozenset({"first_name", "last_name", "email"})  # what the tickets' search documents hold


def on_customer_renamed(fn: CustomerRenamedHook) -> CustomerRenamedHook:
    """Register ``fn(customers)``, run by ``customers_renamed`` after a name or email change."""
    if fn not in _renamed_hooks:
        _renamed_hooks.append(fn)
    return fn


def customers_renamed(customers: Sequence[Customer]) -> None:
    """These customers' first name, last name or email changed (already saved): tell the apps above, once
    for the whole batch. Call it inside the transaction that saved them."""
    if customers:
        for hook in _renamed_hooks:
            hook(customers)


# An internationalized local part (RFC 6531: "josé@exemple.fr", "tomás@…"), which Django's validator refuses:
# dot-separated runs of printable characters other than spaces, quotes and the specials. Linear: the runs
# cannot contain the dot that separates them.
_EAI_LOCAL = re.compile(r'[^\s"(),:;<>@\[\\\].]+(?:\.[^\s"(),:;<>@\[\\\].]+)*')


def _is_internationalized(local: str, domain: str) -> bool:
    if local.isascii() or len(local) > 64 or not local.isprintable() or not _EAI_LOCAL.fullmatch(local):
        return False
    try:
        validate_email(f"x@{domain}")  # the domain is held to the usual rules (IDN allowed)
    except ValidationError:
        return False
    return True


# A domain of one label ("kontakt@redacted", "root@intranet"): what a mail reached us with from inside a network
# or after an archive's redaction. A host name: letters, digits and inner hyphens, at most 63 characters.
_SINGLE_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.I)


def normalize_email(email: str, *, received: bool = False) -> str:
    """The address as stored (domain in lower case, non-ASCII characters in Unicode's composed form NFC, so that
    "tomás" typed with a combining accent and with "á" is one customer); ``InvalidInput`` when it is not an address.

    ``received``: an address a message came from (email intake) may also have a domain of one label: the
    sender is then known and their message becomes a ticket. Nothing is ever sent there: ``undeliverable``
    says why, and the outbound paths ask it before sending."""
    email = composed((email or "").strip())
    local, _at, domain = email.rpartition("@")
    try:
        validate_email(email)
    except ValidationError as exc:
        if not (_is_internationalized(local, domain) or received and _single_label(local, domain)):
            raise InvalidInput(_("Adresse email invalide : %(email)s") % {"email": email or "—"}) from exc
    return f"{local}@{domain.lower()}"


def composed(email: str) -> str:
    """The address with its non-ASCII characters in Unicode's composed form (NFC), as addresses are stored and
    looked up: "tomás" typed with a combining accent and with "á" is one address."""
    return email if email.isascii() else unicodedata.normalize("NFC", email)


def _single_label(local: str, domain: str) -> bool:
    if "." in domain or not _SINGLE_LABEL.fullmatch(domain):
        return False
    try:
        validate_email(f"{local}@{domain}.invalid")  # the local part is held to the usual rules
    except ValidationError:
        return _is_internationalized(local, f"{domain}.invalid")
    return True


# Names that never lead out of a local network (RFC 6761, RFC 6762, RFC 8375, and the usual private suffixes):
# mail to "root@localhost" or "kontakt@redacted" would stay on our own server or go nowhere.
_LOCAL_SUFFIXES = ("localhost", "local", "localdomain", "internal", "invalid", "home.arpa", "lan", "intranet",
                   "corp", "home", "private")


def undeliverable(email: str) -> str:
    """Why nothing may be sent to this address ("" when it may): a domain of one label, an internal or
    reserved name, an address literal ("user@[10.0.0.1]"). Customer emails, acknowledgements and sign-in
    links ask it before sending (issue 22: an address read from a received message is kept as it is)."""
    domain = (email or "").rpartition("@")[2].strip().rstrip(".").lower()
    if not domain or domain.startswith("["):
        return _("l’adresse n’a pas de nom de domaine public")
    if "." not in domain:
        return _("le domaine « %(domain)s » n’a pas de point : une adresse interne, injoignable depuis Internet") % {
            "domain": domain}
    if any(domain == s or domain.endswith("." + s) for s in _LOCAL_SUFFIXES):
        return _("le domaine « %(domain)s » est interne ou réservé, injoignable depuis Internet") % {"domain": domain}
    return ""


def split_name(name: str) -> tuple[str, str]:
    parts = (name or "").strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def get_or_create_customer(
    *, organization: Organization, email: str, name: str = "", company_name: str = "", received: bool = False,
    looked_up: bool = False,
) -> Customer:
    """The customer with this email in the organization, created on first contact. ``received``: the
    address a message came from (``normalize_email``'s leniency for a domain of one label). ``looked_up``:
    the caller has just looked the address up (``Customer.objects.find_by_email``'s lookup) and found no one:
    not read again (a customer created meanwhile by another message is still found, on the unique index)."""
    email = normalize_email(email, received=received)
    customer = None if looked_up else Customer.objects.find_by_email(organization.pk, email)
    if customer is not None:  # the usual case: one statement, no transaction of its own
        return customer
    return _create_customer(organization=organization, email=email, name=name, company_name=company_name)


@transaction.atomic(savepoint=False)  # inside the caller's transaction: no savepoint (the insert cannot conflict)
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
    customer = Customer(organization=organization, email=email, first_name=first, last_name=last, company=company)
    # Another message from the same new sender may win the race: nothing is written then, and theirs is read.
    if rows.insert(customer, on_conflict="(organization_id, lower(email))") is None:
        return Customer.objects.filter(organization=organization).with_email(email).get()
    return customer


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


# --- editing a record (agents; audited with the state before and after) ----------------------------------

CUSTOMER_FIELDS = ("first_name", "last_name", "email", "phone", "company", "notification_preference")
COMPANY_FIELDS = ("name", "domain")


def _shown(value) -> str:
    return "" if value is None else str(value)


@transaction.atomic
def update_customer(*, actor: Actor, customer: Customer, data: dict) -> Customer:
    """Change a customer's details (``data``: any of ``CUSTOMER_FIELDS``; ``company`` a Company or None).
    One audit row with the fields changed, before and after."""
    require(actor, "customers.edit", customer.organization)
    before, after = {}, {}
    if "email" in data:
        data["email"] = normalize_email(data["email"])
        clash = (Customer.objects.filter(organization_id=customer.organization_id).with_email(data["email"])
                 .exclude(pk=customer.pk).exists())
        if clash:
            raise InvalidInput(_("Un autre client a déjà l'adresse %(email)s : fusionnez les deux fiches.")
                               % {"email": data["email"]})
    if "notification_preference" in data and data["notification_preference"] not in CustomerContactChoice.values:
        raise InvalidInput(_("Préférence de notification inconnue : %(p)s") % {"p": data["notification_preference"]})
    company = data.get("company")
    if company is not None and company.organization_id != customer.organization_id:
        raise InvalidInput(_("Entreprise inconnue."))
    for field in CUSTOMER_FIELDS:
        if field not in data:
            continue
        old = getattr(customer, field)
        if old != data[field]:
            before[field], after[field] = _shown(old), _shown(data[field])
            setattr(customer, field, data[field])
    if not after:
        return customer
    customer.save(update_fields=list(after))
    if SEARCHED_FIELDS & set(after):
        customers_renamed([customer])
    audit.record(organization=customer.organization, actor=actor.user, action="customer.updated",
                 target_type="customer", target_id=customer.pk, customer=customer.email, before=before, after=after)
    return customer


@transaction.atomic
def update_company(*, actor: Actor, company: Company, data: dict) -> Company:
    require(actor, "customers.edit", company.organization)
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            raise InvalidInput(_("Le nom de l'entreprise est obligatoire."))
        if (Company.objects.filter(organization_id=company.organization_id, name__iexact=data["name"])
                .exclude(pk=company.pk).exists()):
            raise InvalidInput(_("Une autre entreprise s'appelle déjà %(name)s.") % {"name": data["name"]})
    before, after = {}, {}
    for field in COMPANY_FIELDS:
        if field in data and getattr(company, field) != data[field]:
            before[field], after[field] = getattr(company, field), data[field]
            setattr(company, field, data[field])
    if not after:
        return company
    company.save(update_fields=list(after))
    audit.record(organization=company.organization, actor=actor.user, action="company.updated",
                 target_type="company", target_id=company.pk, company=company.name, before=before, after=after)
    return company


def history(organization: Organization, *, target_type: str, target_id: int, limit: int = 20):
    """The record's changes, newest first (the audit rows of ``update_customer`` / ``update_company`` /
    merges): one query."""
    rows = list(AuditLog.objects.filter(organization=organization, target_type=target_type, target_id=target_id)
                .select_related("actor").order_by("-created_at", "-id")[:limit])
    for row in rows:
        row.label = audit.label_of(row.action)
    return rows
