"""The customer's satisfaction rating on the agent's ticket page (one indexed query)."""

from django import template

from tickets.portal.models import SatisfactionRating

register = template.Library()


@register.inclusion_tag("portal/agent_satisfaction.html")
def ticket_satisfaction(ticket) -> dict:
    rating = SatisfactionRating.objects.filter(ticket_id=ticket.pk).select_related("agent").first()
    return {"rating": rating, "ticket": ticket}
