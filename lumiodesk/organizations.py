"""Creating an organization, and its settings (Settings > Organization).

Contract:
- ``create_organization`` is the one way the product creates a tenant (sign-up; seeds and tests may still
  use ``Organization.objects.create``): a unique slug from the name, the time zone and language checked, the
  first Admin's membership, an ``organization.created`` audit row, then every "organization created" hook,
  all in one transaction: a hook that fails undoes the sign-up.
- Hooks: the core cannot import the apps above it, so they register here at start-up with ``on_created(fn)``;
  ``fn(organization, admin_user)`` runs inside the transaction, in registration order (``INSTALLED_APPS``
  order of the ``ready()`` calls). Today: ``tickets`` creates the three starter tags (section 3:
  facturation, bug, question-produit). ``sla`` creates its default policies and opening hours on every
  organization's ``post_save`` (``sla.receivers``, so seeds and the admin get them too). Billing registers the
  14-day trial start here (section 20).
- ``update_organization`` (Admins: ``organization.manage``) writes name, time zone, language, the lifecycle
  delays and the logo, audited with the values before and after. SLA reports keep the time zone they were
  generated in (``sla.models.SlaReport.time_zone``): changing it here never rewrites them.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from . import audit
from .exceptions import InvalidInput
from .models import Membership, Organization, Role
from .permissions import MemberActor, require

OrganizationCreatedHook = Callable[[Organization, object], None]
_created_hooks: list[OrganizationCreatedHook] = []

SLUG_MAX = 50
LOGO_MAX_BYTES = 512 * 1024
# Accepted logo formats by their first bytes (no SVG: it can carry scripts).
LOGO_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpg",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
}


def on_created(fn: OrganizationCreatedHook) -> OrganizationCreatedHook:
    """Register ``fn(organization, admin_user)``, run inside ``create_organization``'s transaction."""
    if fn not in _created_hooks:
        _created_hooks.append(fn)
    return fn


def created_hooks() -> tuple[OrganizationCreatedHook, ...]:
    return tuple(_created_hooks)


def check_time_zone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise InvalidInput(_("Fuseau horaire inconnu : %(tz)s") % {"tz": value})
    return value


def check_language(value: str) -> str:
    if value not in dict(settings.LANGUAGES):
        raise InvalidInput(_("Langue non proposée : %(lang)s") % {"lang": value})
    return value


def _slug_candidates(name: str):
    base = (slugify(name) or "organisation")[:SLUG_MAX].strip("-") or "organisation"
    yield base
    for n in range(2, 1000):
        suffix = f"-{n}"
        yield f"{base[:SLUG_MAX - len(suffix)]}{suffix}"


def unique_slug(name: str) -> str:
    """The first free slug among ``acme``, ``acme-2``, ``acme-3``… (one query)."""
    candidates = list(_slug_candidates(name))
    taken = set(Organization.objects.filter(slug__in=candidates).values_list("slug", flat=True))
    for slug in candidates:
        if slug not in taken:
            return slug
    raise InvalidInput(_("Choisissez un autre nom d'entreprise."))


@transaction.atomic
def create_organization(*, name: str, admin_user, time_zone: str = "Europe/Paris", language: str = "fr",
                        ) -> Organization:
    """The organization, its first Admin and everything the hooks add, in one transaction."""
    name = name.strip()
    if not name:
        raise InvalidInput(_("Indiquez le nom de l'entreprise."))
    check_time_zone(time_zone)
    check_language(language)
    for _attempt in range(3):  # two sign-ups with the same name at once: the second takes the next slug
        try:
            with transaction.atomic():
                organization = Organization.objects.create(
                    name=name[:200], slug=unique_slug(name), time_zone=time_zone, language=language
                )
            break
        except IntegrityError:
            continue
    else:
        raise InvalidInput(_("Choisissez un autre nom d'entreprise."))
    Membership.objects.create(organization=organization, user=admin_user, role=Role.ADMIN)
    audit.record(organization=organization, actor=admin_user, action="organization.created",
                 target_type="organization", target_id=organization.pk, name=organization.name,
                 slug=organization.slug, time_zone=time_zone, language=language)
    for hook in _created_hooks:
        hook(organization, admin_user)
    return organization


# --- Settings > Organization --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganizationSettings:
    name: str
    time_zone: str
    language: str
    auto_close_resolved_days: int
    first_followup_days: int
    second_followup_days: int
    close_waiting_days: int
    # Tickets made from automatic mail (monitoring, no-reply senders, lists) run no SLA clock (issue 22).
    automatic_mail_out_of_sla: bool = True


SETTING_FIELDS = tuple(OrganizationSettings.__dataclass_fields__)


def validate_logo(upload) -> str:
    """The logo's extension from its signature; InvalidInput for anything else or too large."""
    if upload.size > LOGO_MAX_BYTES:
        raise InvalidInput(_("Le logo dépasse %(kb)s Ko.") % {"kb": LOGO_MAX_BYTES // 1024})
    head = upload.read(16)
    upload.seek(0)
    for signature, ext in LOGO_SIGNATURES.items():
        if head.startswith(signature):
            return ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    raise InvalidInput(_("Le logo doit être une image PNG, JPEG, GIF ou WebP."))


@transaction.atomic
def update_organization(*, actor: MemberActor, values: OrganizationSettings, logo=None,
                        remove_logo: bool = False) -> Organization:
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    require(actor, "organization.manage", organization)
    if not values.name.strip():
        raise InvalidInput(_("Indiquez le nom de l'organisation."))
    check_time_zone(values.time_zone)
    check_language(values.language)
    days = (values.auto_close_resolved_days, values.first_followup_days, values.second_followup_days,
            values.close_waiting_days)
    if any(d < 1 or d > 365 for d in days):
        raise InvalidInput(_("Les délais vont de 1 à 365 jours."))
    if not values.first_followup_days < values.second_followup_days < values.close_waiting_days:
        raise InvalidInput(_(
            "La première relance doit précéder la deuxième, qui doit précéder la fermeture faute de réponse."
        ))
    before = {f: getattr(organization, f) for f in SETTING_FIELDS}
    after = {f: getattr(values, f) for f in SETTING_FIELDS}
    after["name"] = after["name"].strip()[:200]
    changed = {f: [before[f], after[f]] for f in SETTING_FIELDS if before[f] != after[f]}
    for f in SETTING_FIELDS:
        setattr(organization, f, after[f])
    update_fields = list(SETTING_FIELDS)
    if logo is not None:
        ext = validate_logo(logo)
        old = organization.logo.name
        organization.logo.save(f"{organization.slug}.{ext}", logo, save=False)
        changed["logo"] = [old, organization.logo.name]
        update_fields.append("logo")
    elif remove_logo and organization.logo:
        changed["logo"] = [organization.logo.name, ""]
        organization.logo = ""
        update_fields.append("logo")
    organization.save(update_fields=update_fields)
    if changed:
        audit.record(organization=organization, actor=actor.user, action="organization.updated",
                     target_type="organization", target_id=organization.pk,
                     before={f: v[0] for f, v in changed.items()}, after={f: v[1] for f, v in changed.items()})
    return organization
