"""Who may do what: the one permission table, the typed actor, and ``require``.

Contract:
- ``CAPABILITIES`` is the only place that says which role may do what. Services ask it through
  ``require(actor, capability, organization)``; views declare a capability per URL
  (``lumiodesk.access.requires``); templates read it through the ``can`` object
  (``lumiodesk.context_processors.workspace``). Nothing else tests a role.
- An actor is typed: a ``MemberActor`` (an active membership: user, organization, role), an
  ``ApiKeyActor`` (an organization's API key, acting with the role it was created with: the same table) or a
  ``SystemActor`` (tasks, email intake, the widget, the customer side, commands; it carries a reason).
  ``None`` or anything else is refused: no service treats a missing actor as allowed.
- A member or a key acts only in their own organization: ``require`` refuses another organization's object.

Adding a capability is one line in ``CAPABILITIES``; the URL × role test (tests/test_permissions.py)
then tells which views must declare it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from .exceptions import NotPermitted, OrganizationReadOnly
from .models import Membership, Organization, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.db.models import QuerySet

A, M, G, V = Role.ADMIN, Role.MANAGER, Role.AGENT, Role.VIEWER
ALL = frozenset({A, M, G, V})
WORKERS = frozenset({A, M, G})  # everyone but the read-only Viewer
MANAGERS = frozenset({A, M})
ADMINS = frozenset({A})

# capability -> roles that have it. One line per capability.
CAPABILITIES: dict[str, frozenset[str]] = {
    # tickets (the console)
    "tickets.view": ALL,  # list, ticket page, attachments, reply templates (read), automation journal
    "tickets.create": WORKERS,
    "tickets.reply": WORKERS,
    "tickets.note": WORKERS,
    "tickets.change_status": WORKERS,
    "tickets.change_priority": WORKERS,
    "tickets.assign": WORKERS,
    "tickets.tag": WORKERS,
    "tickets.link_article": WORKERS,  # link a KB article to a ticket, insert it in a reply
    "tickets.mark_spam": WORKERS,  # close as spam without notifying (and block the sender), or undo it
    "tickets.be_assigned": WORKERS,  # may be assigned a ticket; the "team" lists and ticket notifications
    # permanent deletion, confirmed, audited (section 18); not in WRITES: a read-only organization may delete data
    "tickets.delete": ADMINS,
    "views.manage": MANAGERS,  # shared views of the ticket list
    "reply_templates.manage": MANAGERS,
    # channels
    "mailboxes.manage": ADMINS,  # Settings > Channels > Email, the inbound log and quarantine
    "chat.answer": WORKERS,  # counts as present in the chat inbox (presence beat)
    "chat.manage": ADMINS,  # Settings > Channels > Chat (the widget)
    # knowledge base
    "kb.view": ALL,  # the console's articles, collections, revisions, the team's assistant and search
    "kb.edit": WORKERS,  # create articles, edit drafts
    "kb.publish": MANAGERS,  # publish, archive, unpublish; edit a published or archived article
    "kb.collections.manage": MANAGERS,
    # SLA, reports, automations
    "sla.manage": MANAGERS,  # Settings > Hours and SLA, the preview
    "reports.view": frozenset({A, M, V}),  # SLA reports: not Agents (section 10)
    "reports.generate": MANAGERS,  # also the dashboard's PDF report for a period, the weekly report by email
    "dashboard.view": frozenset({A, M, V}),  # Reports > Tableau de bord (read; Viewers too, not Agents)
    "rules.manage": MANAGERS,
    "webhooks.manage": MANAGERS,
    # notifications
    "notifications.own": ALL,  # one's own notification center, bell and preferences
    "notifications.team": MANAGERS,  # SLA breaches of the team, daily digest, rules' "notify managers"
    "notifications.admin": ADMINS,  # a webhook endpoint disabled after repeated failures
    # sign-in protection (lumiodesk.signin)
    "security.manage": ADMINS,  # Settings > Sign-in security: make 2FA mandatory for all members (lumiodesk.two_factor)
    "members.unlock": ADMINS,  # Settings > Sign-in security: see and unlock members locked out by failed sign-ins
    "imports.manage": ADMINS,  # Settings > Import: CSV import of customers, companies, tags, historical tickets
    "exports.create": MANAGERS,  # Reports > Exports: tickets as CSV (monthly quota), list and download them
    "exports.archive": ADMINS,  # ... the full archive with attachments (Business, Scale; before cancelling)
    "sso.manage": ADMINS,  # Settings > SSO: the organization's SAML IdP, JIT members, "SSO only" (lumiodesk.sso)
    "api.manage": ADMINS,  # Settings > API: create, see and revoke the organization's API keys (tickets.api)
    # billing (section 9, 15)
    "billing.manage": ADMINS,  # Settings > Billing: plan, cancellation, invoices (download, mark paid)
    "refunds.request": WORKERS,  # ask a commercial refund on a ticket
    "refunds.approve": MANAGERS,  # approve or reject another member's refund under 100 EUR
    "refunds.approve_large": ADMINS,  # ... and from 100 EUR (billing.refunds)
    # organization administration (lumiodesk.team, lumiodesk.organizations, the audit log)
    "team.view": MANAGERS,  # Settings > Team: members, roles, seats, pending invitations (read)
    "team.manage": ADMINS,  # invite, resend, revoke, change roles, deactivate with reassignment, reactivate
    "teams.view": MANAGERS,  # Settings > Équipes: the teams of members ("Niveau 1", "Facturation") and who is in them
    "teams.manage": ADMINS,  # create, rename, describe, delete teams, set their members (lumiodesk.teams)
    "organization.manage": ADMINS,  # Settings > Organization: name, time zone, language, delays, logo
    "audit.view": MANAGERS,  # Settings > Audit log (read-only for everyone: nobody edits it)
    # customers, time and the cost of support (001 §1, §2, "BUDGET"; crm, tickets.costs)
    "customers.view": ALL,  # customer and company records: details, tickets, time, cost and budget to date
    "customers.edit": WORKERS,  # edit a customer's or a company's details (audited)
    "customers.merge": MANAGERS,  # merge two customers (same person, two addresses): tickets moved
    "rates.view": MANAGERS,  # Settings > Hourly costs (read)
    "rates.manage": ADMINS,  # set an agent's hourly cost from a date
    "time.log": WORKERS,  # log time on a ticket (manual entry, timer); edit one's own entries
    "time.manage": MANAGERS,  # edit or delete anyone's time entries
    "budgets.manage": MANAGERS,  # create, change, delete budgets of companies and customers
    "costs.view": frozenset({A, M, V}),  # the cost dashboard and its exports (Viewers read)
    # assignment by availability (001 §2 option; tickets.assignment)
    "assignment.view": MANAGERS,  # Settings > Assignment: the setting, who is available now and their load (read)
    "assignment.manage": ADMINS,  # turn assignment by availability on or off, the load limit, the eligible roles
}

# Capabilities refused while the organization is read-only (its trial ended without a plan, or it cancelled):
# members still read everything, export and change billing, but neither work tickets nor publish nor change
# rules (FAQ 4). Only members are refused: the system actor keeps them, so incoming mail and chat are still
# received and kept. Billing says whether an organization is read-only (``register_read_only``).
WRITES = frozenset({
    "tickets.create", "tickets.reply", "tickets.note", "tickets.change_status", "tickets.change_priority",
    "tickets.assign", "tickets.tag", "tickets.link_article", "tickets.mark_spam", "views.manage",
    "reply_templates.manage", "mailboxes.manage", "chat.manage", "kb.edit", "kb.publish", "kb.collections.manage",
    "sla.manage", "rules.manage", "webhooks.manage", "refunds.request", "refunds.approve", "refunds.approve_large",
    "imports.manage",
    "customers.edit", "customers.merge", "rates.manage", "time.log", "time.manage", "budgets.manage",
    "assignment.manage",
})


ReadOnlyReason = Callable[[Organization], "str | None"]
_read_only_reason: ReadOnlyReason | None = None


def register_read_only(reason: ReadOnlyReason) -> None:
    """Billing registers, at start-up, what says why an organization is read-only (None: it is not)."""
    global _read_only_reason
    _read_only_reason = reason


def read_only_reason(organization: Organization | None) -> str | None:
    """Why ``organization`` is read-only (the banner's text), or None."""
    if organization is None or _read_only_reason is None:
        return None
    return _read_only_reason(organization)


def refuse_if_read_only(actor: Actor | None, capability: str, organization: Organization | None = None) -> None:
    """Raise ``OrganizationReadOnly`` when a member asks a write capability of a read-only organization."""
    if capability in WRITES and isinstance(actor, MemberActor | ApiKeyActor):
        reason = read_only_reason(organization if organization is not None else actor.organization)
        if reason:
            raise OrganizationReadOnly(reason)


def members_with(capability: str, **filters) -> QuerySet[Membership]:
    """The active memberships whose role has ``capability``, narrowed by ``filters``
    (``members_with("tickets.be_assigned", organization=org)``: who works tickets, who takes a seat)."""
    return Membership.objects.filter(is_active=True, role__in=roles_with(capability), **filters)


def roles_with(capability: str) -> frozenset[str]:
    """The roles that have ``capability`` (for queries: ``role__in=roles_with("notifications.team")``)."""
    try:
        return CAPABILITIES[capability]
    except KeyError:
        raise KeyError(f"unknown capability {capability!r}: add it to lumiodesk.permissions.CAPABILITIES") from None


def role_can(role: str | None, capability: str) -> bool:
    return role in roles_with(capability)


@dataclass(frozen=True)
class MemberActor:
    """A signed-in member acting in their organization (``request.actor`` in the console)."""

    membership: Membership

    @property
    def user(self) -> AbstractBaseUser:
        return self.membership.user

    @property
    def organization(self) -> Organization:
        return self.membership.organization

    @property
    def organization_id(self) -> int:
        return self.membership.organization_id

    @property
    def role(self) -> str:
        return self.membership.role

    def can(self, capability: str) -> bool:
        return self.membership.is_active and role_can(self.membership.role, capability)

    @classmethod
    def of(cls, organization: Organization, user) -> MemberActor:
        """The user's active membership in ``organization`` as an actor; NotPermitted if there is none."""
        membership = (
            Membership.objects.filter(organization=organization, user=user, is_active=True)
            .select_related("organization", "user")
            .first()
        )
        if membership is None:
            raise NotPermitted(_("Vous n'êtes pas membre de cette organisation."))
        return cls(membership)


@dataclass(frozen=True)
class SystemActor:
    """The product itself: a Celery task, email intake, the widget, the customer portal, a command.

    It may do anything a service allows; the reason says who acted (for logs and tests).
    """

    reason: str
    user = None  # nobody signed in: audit rows and messages carry no user

    def can(self, capability: str) -> bool:
        roles_with(capability)  # an unknown capability is a bug, for the system too
        return True


@dataclass(frozen=True)
class ApiKeyActor:
    """An organization's API key (``tickets.api``): it acts with the role it was created with, through the same
    table as a member of that role; read-only organizations refuse its writes as they refuse a member's.

    ``user`` is the member who created the key: replies, notes and audit rows written through the key name
    them; the API adds the key's prefix to those audit rows (``lumiodesk.audit.bind_data``)."""

    organization: Organization
    role: str
    key_id: int
    user: AbstractBaseUser | None = None

    @property
    def organization_id(self) -> int:
        return self.organization.pk

    def can(self, capability: str) -> bool:
        return role_can(self.role, capability)


Actor = MemberActor | SystemActor | ApiKeyActor


def require(actor: Actor | None, capability: str, organization: Organization | None = None) -> None:
    """Raise NotPermitted unless ``actor`` may do ``capability`` (in ``organization``, when given)."""
    if not isinstance(actor, MemberActor | SystemActor | ApiKeyActor):
        raise NotPermitted(_("Action refusée : aucun acteur identifié."))
    if (isinstance(actor, MemberActor | ApiKeyActor) and organization is not None
            and actor.organization_id != organization.pk):
        raise NotPermitted(_("Cet objet appartient à une autre organisation."))
    if not actor.can(capability):
        if isinstance(actor, ApiKeyActor):  # the key's role, not the caller's: they may be an Admin
            raise NotPermitted(_("Le rôle de cette clé d'API ne permet pas cette action."))
        raise NotPermitted(_("Votre rôle ne permet pas cette action."))
    refuse_if_read_only(actor, capability, organization)


def member_may(organization: Organization, user, capability: str) -> bool:
    """Whether another user (an assignee, a mention) is an active member with ``capability``: one query."""
    return Membership.objects.filter(
        organization=organization, user=user, is_active=True, role__in=roles_with(capability)
    ).exists()


class Can:
    """The permissions object templates receive as ``can``: ``{% if can.rules_manage %}``.

    It answers for the role only: a read-only organization still shows its screens (the banner says why,
    and ``require`` refuses the write with that reason).

    A capability's dots become underscores; an unknown name raises (a typo must not hide a menu silently).
    """

    def __init__(self, actor: Actor | None):
        self._actor = actor

    def __getattr__(self, name: str) -> bool:
        if name.startswith("_"):
            raise AttributeError(name)
        capability = _BY_ATTRIBUTE.get(name)
        if capability is None:
            raise AttributeError(f"unknown capability {name!r}")
        return self._actor is not None and self._actor.can(capability)

    def __getitem__(self, name: str) -> bool:
        return getattr(self, name.replace(".", "_"))


_BY_ATTRIBUTE = {cap.replace(".", "_"): cap for cap in CAPABILITIES}
