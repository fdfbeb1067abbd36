"""Reply templates: placeholders for the customer's first name, the subject, the agent's first name."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

PLACEHOLDERS = {
    "{prenom_client}": "customer_first_name",
    "{customer_first_name}": "customer_first_name",
    "[Prénom]": "customer_first_name",
    "{sujet}": "subject",
    "{ticket_subject}": "subject",
    "[sujet]": "subject",
    "{prenom_agent}": "agent_first_name",
    "{agent_first_name}": "agent_first_name",
    "[Votre prénom]": "agent_first_name",
    "{numero}": "number",
    "{ticket_number}": "number",
}

_PLACEHOLDER_RE = re.compile("|".join(re.escape(token) for token in PLACEHOLDERS))

HELP = _(
    "Variables : {prenom_client} (prénom du client), {sujet} (sujet du ticket), "
    "{prenom_agent} (votre prénom), {numero} (numéro du ticket). "
    "Les formes [Prénom], [sujet] et [Votre prénom] du guide support fonctionnent aussi."
)


def render_reply_template(body: str, *, ticket, agent) -> str:
    values = {
        "customer_first_name": ticket.customer.first_name or ticket.customer.display_name,
        "subject": ticket.subject,
        "agent_first_name": getattr(agent, "first_name", "") or getattr(agent, "email", ""),
        "number": str(ticket.number),
    }
    # One pass: a value that looks like a placeholder (a subject "{prenom_agent}") is not expanded again.
    return _PLACEHOLDER_RE.sub(lambda m: values[PLACEHOLDERS[m.group(0)]], body)
