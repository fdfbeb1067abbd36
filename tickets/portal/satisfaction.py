"""Satisfaction ratings (CSAT): 1 to 5 stars and a free comment, once a ticket is resolved.

Rules (one place):
- a ticket can be rated while it is resolved or closed, by its customer only;
- one rating per ticket; the customer may change it during ``RATING_CHANGE_DAYS`` (7) after they first
  rated, then it is final (reports stay stable);
- the rating is stored against the ticket's assignee at the moment the customer rates (``agent``);
- the customer is asked in the email that tells them the ticket is resolved (a signed link valid
  ``RATING_LINK_DAYS``, no sign-in needed) and on the ticket's page in the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.db.models import Avg, Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Customer
from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import Organization, user_display_name

from ..models import CustomerNotification, CustomerNotificationKind, Status, Ticket
from .models import SatisfactionRating

RATING_CHANGE_DAYS = 7
RATING_LINK_DAYS = 7
MAX_COMMENT_CHARS = 2_000
RATEABLE_STATUSES = (Status.RESOLVED, Status.CLOSED)
SCORES = (1, 2, 3, 4, 5)
STARS_DESC = tuple(reversed(SCORES))  # the star widget lists them 5 to 1 (CSS shows them 1 to 5)
_SALT = "lumiodesk.satisfaction.link"


@dataclass(frozen=True)
class RatingState:
    """What the customer may do about the rating of one ticket, now."""

    rating: SatisfactionRating | None
    can_rate: bool  # may give or change the rating now
    editable_until: datetime | None  # a given rating can be changed until then

    @property
    def is_final(self) -> bool:
        return self.rating is not None and not self.can_rate


def rating_state(ticket: Ticket, rating: SatisfactionRating | None, *, now: datetime | None = None) -> RatingState:
    """Pure: no query (the caller loads the rating, e.g. ``select_related("satisfaction")``)."""
    now = now or timezone.now()
    if rating is not None:
        until = rating.created_at + timedelta(days=RATING_CHANGE_DAYS)
        return RatingState(rating, ticket.status in RATEABLE_STATUSES and now < until, until)
    return RatingState(None, ticket.status in RATEABLE_STATUSES, None)


def _clean_score(score) -> int:
    """A whole number of stars from 1 to 5 (an int, or its digits in a string); anything else is refused."""
    if isinstance(score, str) and score.strip().isdigit():
        value = int(score.strip())
    elif isinstance(score, int) and not isinstance(score, bool):
        value = score
    else:
        value = 0
    if value not in SCORES:
        raise InvalidInput(_("Choisissez une note de 1 à 5 étoiles."))
    return value


@transaction.atomic
def rate_ticket(
    *, ticket: Ticket, customer: Customer, score, comment: str = "", now: datetime | None = None
) -> SatisfactionRating:
    """Give or change the rating of a resolved ticket (see the module's rules)."""
    score = _clean_score(score)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInput(_("Le commentaire ne peut dépasser %(n)s caractères.") % {"n": MAX_COMMENT_CHARS})
    # The ticket's row lock: two first ratings at once (two tabs) make one rating, not an IntegrityError.
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.customer_id != customer.pk or ticket.organization_id != customer.organization_id:
        raise NotPermitted(_("Ce ticket n'est pas le vôtre."))
    now = now or timezone.now()
    rating = SatisfactionRating.objects.filter(ticket=ticket).first()
    state = rating_state(ticket, rating, now=now)
    if not state.can_rate:
        if rating is not None and ticket.status in RATEABLE_STATUSES:
            raise InvalidInput(
                _("Votre évaluation ne peut plus être modifiée : elle l'était pendant %(n)s jours.")
                % {"n": RATING_CHANGE_DAYS}
            )
        raise InvalidInput(_("Vous pourrez évaluer ce ticket une fois qu'il sera résolu."))
    if rating is None:
        rating = SatisfactionRating.objects.create(
            organization_id=ticket.organization_id, ticket=ticket, customer=customer, agent_id=ticket.assignee_id,
            score=score, comment=comment, created_at=now, updated_at=now,
        )
        action, old = "satisfaction.rated", None
    else:
        old = rating.score
        rating.score, rating.comment, rating.agent_id, rating.updated_at = score, comment, ticket.assignee_id, now
        rating.save(update_fields=["score", "comment", "agent", "updated_at"])
        action = "satisfaction.changed"
    audit.record(
        organization=ticket.organization, actor=None, action=action, target_type="ticket", target_id=ticket.pk,
        score=score, old=old, agent_id=ticket.assignee_id,
    )
    return rating


# --- the signed link in the "resolved" email ------------------------------------------------------------


def rating_token(ticket: Ticket) -> str:
    """Signed (SECRET_KEY) and timestamped: ticket and customer, nothing stored."""
    return signing.dumps([ticket.organization_id, ticket.pk, ticket.customer_id], salt=_SALT)


def ticket_for_rating_token(
    organization: Organization, token: str, *, max_age_days: int = RATING_LINK_DAYS
) -> Ticket | None:
    """The ticket a rating link is for, or None (forged, expired, other organization, customer changed)."""
    try:
        org_id, ticket_id, customer_id = signing.loads(
            token, salt=_SALT, max_age=timedelta(days=max_age_days)
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if org_id != organization.pk:
        return None
    return (
        Ticket.objects.select_related("customer", "organization", "satisfaction")
        .filter(organization=organization, pk=ticket_id, customer_id=customer_id)
        .first()
    )


def rating_url(ticket: Ticket) -> str:
    path = reverse("portal:rate_link", args=[ticket.organization.slug, rating_token(ticket)])
    return settings.SITE_URL.rstrip("/") + path


def ask_in_email(notification: CustomerNotification) -> str | None:
    """The rating link to put in this notification email, or None.

    Hooked into the resolution email itself (tickets.email.outbound): the "Résolu" notification, or the agent's
    reply that resolved the ticket (one action, one email: that reply's email carries the ask). Not asked
    if the ticket was reopened before the email left, or is already rated.
    """
    ticket = notification.ticket
    if ticket.status != Status.RESOLVED or ticket.resolved_at is None:
        return None
    if notification.kind == CustomerNotificationKind.AGENT_REPLY:
        message = notification.message
        if message is None or message.created_at < ticket.resolved_at:
            return None
    elif notification.kind != CustomerNotificationKind.RESOLVED:
        return None
    if SatisfactionRating.objects.filter(ticket=ticket).exists():
        return None
    return rating_url(ticket)


# --- reports ----------------------------------------------------------------------------------------------


def _figures(n: int, average, happy: int) -> dict:
    return {
        "count": n,
        "average": round(float(average), 2) if average is not None else None,
        "happy_share": round(100 * happy / n, 1) if n else None,  # share of 4 and 5 stars, in %
    }


def satisfaction_report(organization: Organization, *, start_at: datetime, end_at: datetime) -> dict:
    """Average, count and share of 4–5 stars, overall and per agent, for the tickets created in
    [start_at, end_at) (the SLA report's period, already in the organization's time zone). Two queries."""
    rows = list(
        SatisfactionRating.objects.filter(
            organization=organization, ticket__created_at__gte=start_at, ticket__created_at__lt=end_at,
            ticket__imported=False,
        )
        .values("agent_id")
        .annotate(n=Count("id"), average=Avg("score"), happy=Count("id", filter=Q(score__gte=4)))
        .order_by()
    )
    total_n = sum(r["n"] for r in rows)
    total_happy = sum(r["happy"] for r in rows)
    total_avg = sum(float(r["average"]) * r["n"] for r in rows) / total_n if total_n else None
    User = get_user_model()
    names = {
        u.pk: user_display_name(u)
        for u in User.objects.filter(pk__in=[r["agent_id"] for r in rows if r["agent_id"]])
    } if rows else {}
    by_agent = sorted(
        (
            {"agent": names.get(r["agent_id"], _("(non assigné)")), **_figures(r["n"], r["average"], r["happy"])}
            for r in rows
        ),
        key=lambda row: row["agent"].lower(),
    )
    return {"total": _figures(total_n, total_avg, total_happy), "by_agent": by_agent}
