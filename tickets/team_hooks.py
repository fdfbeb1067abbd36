"""What ``tickets`` adds to the core's organization administration (registered in ``TicketsConfig.ready``).

- A new organization gets the three starter tags of section 3 (``lumiodesk.organizations.on_created``).
- A deactivated member's open tickets (every status before Résolu) go to the member the Admin chose, or to
  nobody, through ``tickets.services.assign`` as the Admin, inside the deactivation's transaction
  (``lumiodesk.team.on_member_deactivated``): each move runs the ticket pipeline and writes its
  ``ticket.assigned`` audit row like any other assignment.
"""

from __future__ import annotations

from lumiodesk.models import Membership, Organization
from lumiodesk.permissions import MemberActor

from . import services
from .models import OPEN_STATUSES, Tag, Ticket

STARTER_TAGS = ("facturation", "bug", "question-produit")  # section 3 of the LumioDesk documentation


def create_starter_tags(organization: Organization, admin_user) -> None:
    Tag.objects.bulk_create([Tag(organization=organization, name=n) for n in STARTER_TAGS], ignore_conflicts=True)


def reassign_open_tickets(actor: MemberActor, membership: Membership, reassign_to) -> int:
    """Move the member's open tickets; returns how many moved. The tickets are locked in id order."""
    tickets = list(
        Ticket.objects.select_for_update()
        .filter(organization_id=membership.organization_id, assignee_id=membership.user_id, status__in=OPEN_STATUSES)
        .order_by("id")
    )
    for ticket in tickets:
        services.assign(ticket=ticket, assignee=reassign_to, actor=actor)
    return len(tickets)
