"""Ticket volume alerts (section 9): at 80 %, 100 % and 120 % of the plan's monthly tickets, once each per
organization and calendar month (UTC), to the Admins, in-app and by email (their notification preference);
at 120 % the account owner is also advised to change plan. Reception is never blocked.

Contract:
- ``on_ticket_created`` is a subscriber of the ticket pipeline (``settings.TICKET_PIPELINE``): it does
  nothing in the creating transaction and returns what to run after its commit, so a rolled-back ticket
  alerts nobody and the count it reads includes every committed ticket (two tickets created at once both
  count each other once committed: the threshold is never missed).
- Exactly once: each (organization, month, threshold) is one ``TicketVolumeAlert`` row inserted with
  ``INSERT … ON CONFLICT DO NOTHING``; only the transaction whose insert wrote the row notifies, in the same
  transaction. Concurrent creations cannot both win (the unique index decides).
- The account owner is the organization's first Admin (the oldest active Admin membership).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from lumiodesk.models import Membership, Organization, Role
from lumiodesk.notifications import Draft, notify

from .catalogue import PLANS, TICKET_ALERT_THRESHOLDS, UPGRADE_RECOMMENDATION_THRESHOLD, Limit
from .notification_kinds import BillingNotificationKind
from .proration import month_start, utc_day
from .services import limit_of, plan_of
from .usage import usage_at_most, usage_of

log = logging.getLogger(__name__)

VOLUME = BillingNotificationKind.TICKET_VOLUME
PLAN_ADVICE = BillingNotificationKind.PLAN_ADVICE

_INSERT = """
INSERT INTO billing_ticketvolumealert (organization_id, month, threshold, tickets, "limit", created_at)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (organization_id, month, threshold) DO NOTHING
RETURNING id
"""


def on_ticket_created(change) -> Callable[[], None] | None:
    """Pipeline subscriber: after a ticket's creation commits, check the month's volume."""
    if change.kind != "created" or change.ticket.imported:
        return None
    ticket = change.ticket
    # The organization the service already holds (its plan decides the limit); read once more only when
    # the ticket came without it.
    organization = ticket.organization if type(ticket).organization.is_cached(ticket) else None
    organization_id = ticket.organization_id

    def check() -> None:
        org = organization if organization is not None else Organization.objects.get(pk=organization_id)
        if not _may_cross_a_threshold(org, ticket):
            return
        check_volume(org)

    return check


# Tickets of the month that may still be on their way (created, not yet committed) when the last of them checks:
# a bound this far under the first threshold cannot hide a crossing.
IN_FLIGHT_MARGIN = 100


def _may_cross_a_threshold(organization: Organization, ticket) -> bool:
    """False when the month's tickets are surely under every threshold, known without counting them
    (``usage_at_most``: the ticket numbers say how many there can be at most); True otherwise, and then the
    month is counted (``check_volume``)."""
    allowed = limit_of(organization, Limit.TICKETS_PER_MONTH)
    if not allowed:
        return False
    at_most = usage_at_most(organization, Limit.TICKETS_PER_MONTH, ticket)
    return at_most is None or (at_most + IN_FLIGHT_MARGIN) * 100 >= min(TICKET_ALERT_THRESHOLDS) * allowed


def check_volume(organization: Organization, *, now: datetime | None = None) -> list[int]:
    """Send the alerts of the thresholds crossed this month and not yet sent; returns those sent now."""
    now = now or timezone.now()
    allowed = limit_of(organization, Limit.TICKETS_PER_MONTH)
    if not allowed:
        return []
    used = usage_of(organization, Limit.TICKETS_PER_MONTH)
    percent = used * 100 // allowed
    month = month_start(utc_day(now))
    sent = []
    for threshold in TICKET_ALERT_THRESHOLDS:
        if percent < threshold:
            break
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(_INSERT, [organization.pk, month, threshold, used, allowed, now])
                won = cur.fetchone() is not None
            if won:
                _notify(organization, threshold=threshold, used=used, allowed=allowed, month=month, now=now)
                sent.append(threshold)
    return sent


def account_owner(organization: Organization) -> int | None:
    return (Membership.objects.filter(organization=organization, is_active=True, role=Role.ADMIN)
            .order_by("created_at", "pk").values_list("user_id", flat=True).first())


def _notify(organization: Organization, *, threshold: int, used: int, allowed: int, month, now: datetime) -> None:
    admins = list(Membership.objects.filter(organization=organization, is_active=True, role=Role.ADMIN)
                  .values_list("user_id", flat=True))
    url = reverse("billing:settings")
    key = f"volume:{month:%Y-%m}:{threshold}"
    with translation.override(organization.language):
        title = _("Tickets du mois : %(p)s %% de la limite de votre forfait") % {"p": threshold}
        body = _("%(used)s tickets reçus ce mois-ci (mois calendaire UTC) pour une limite de %(allowed)s sur le "
                 "forfait %(plan)s. La réception n'est jamais bloquée.") % {
                     "used": used, "allowed": allowed, "plan": plan_of(organization).name}
        notify(organization_id=organization.pk, kind=VOLUME, at=now,
               drafts=[Draft(recipient_id=uid, title=title, body=body, url=url, dedup_key=key) for uid in admins])
        owner = account_owner(organization)
        if threshold >= UPGRADE_RECOMMENDATION_THRESHOLD and owner is not None:
            bigger = [p.name for p in PLANS.values()
                      if p.limits[Limit.TICKETS_PER_MONTH] > allowed]
            advice = (_("Passez au forfait %(plan)s pour recevoir jusqu'à %(n)s tickets par mois.")
                      % {"plan": bigger[0], "n": next(p.limits[Limit.TICKETS_PER_MONTH] for p in PLANS.values()
                                                       if p.name == bigger[0])}
                      if bigger else _("Contactez-nous pour un volume au-delà du forfait Scale."))
            notify(organization_id=organization.pk, kind=PLAN_ADVICE, at=now, drafts=[Draft(
                recipient_id=owner, title=_("Recommandation : changer de forfait"),
                body=f"{body} {advice}", url=url, dedup_key=f"plan-advice:{month:%Y-%m}")])
