"""The ticket's full-text search document (subject, number, customer, message text), kept with the row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection

from ..models import Ticket

# ``{assignments}``: other columns saved in the same UPDATE (``save_with_search_document``).
_SEARCH_DOCUMENT_TEMPLATE = """
UPDATE tickets_ticket t SET {assignments}search_vector =
    setweight(to_tsvector('lumiodesk_fr', t.subject || ' ' || t.number::text), 'A')
    || setweight(to_tsvector('lumiodesk_fr',
         coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '') || ' ' || c.email || ' '
         || translate(c.email, '@.', '  ')), 'B')
    || setweight(to_tsvector('lumiodesk_fr', left(coalesce(
         (SELECT string_agg(m.body_text, ' ' ORDER BY m.created_at) FROM tickets_message m
          WHERE m.ticket_id = t.id), ''), 200000)), 'C')
FROM crm_customer c
WHERE c.id = t.customer_id AND t.id = ANY(%s)
"""
SEARCH_DOCUMENT_SQL = _SEARCH_DOCUMENT_TEMPLATE.format(assignments="")
# The same document for every ticket of these customers (one organization).
_CUSTOMER_SQL = SEARCH_DOCUMENT_SQL.replace("t.id = ANY(%s)", "t.organization_id = %s AND t.customer_id = ANY(%s)")


def refresh_search_document(ticket_ids: Sequence[int]) -> None:
    """Recompute the search vector (subject, number, customer, message text) of these tickets."""
    with connection.cursor() as cur:
        cur.execute(SEARCH_DOCUMENT_SQL, [list(ticket_ids)])


def refresh_customer_search_documents(customers) -> None:
    """Customers' names or emails changed (``crm.services.customers_renamed``): their tickets' search
    documents follow, in one UPDATE per organization (the ids read through ``ticket_customer_idx``)."""
    by_organization: dict[int, list[int]] = {}
    for customer in customers:
        by_organization.setdefault(customer.organization_id, []).append(customer.pk)
    with connection.cursor() as cur:
        for organization_id, customer_ids in by_organization.items():
            cur.execute(_CUSTOMER_SQL, [organization_id, customer_ids])


def save_with_search_document(ticket: Ticket, fields: Iterable[str]) -> None:
    """Save these fields of the ticket and recompute its search document in one UPDATE: two would write the
    row, and an entry in each of its indexes, twice (what a message costs every channel)."""
    names = sorted(fields)
    if not names or {"subject", "customer", "number"} & set(names):
        # The document reads the row as it was before the UPDATE: a new subject or customer needs it saved first.
        if names:
            ticket.save(update_fields=names)
        refresh_search_document([ticket.pk])
        return
    assignments, params = [], []
    for name in names:
        field = Ticket._meta.get_field(name)
        assignments.append(f"{connection.ops.quote_name(field.column)} = %s")
        params.append(field.get_db_prep_save(getattr(ticket, field.attname), connection))
    sql = _SEARCH_DOCUMENT_TEMPLATE.format(assignments="".join(f"{a}, " for a in assignments))
    with connection.cursor() as cur:
        cur.execute(sql, [*params, [ticket.pk]])
