"""Every change of state of a ticket goes through one of these functions.

Views, email intake, the widget, the API, imports and Celery tasks all call them,
so each rule (reopen on customer reply, new -> open on the first public reply,
customer notifications, audit) holds on every channel.

One module per concern; this package is their public face (``from tickets import services``):

- ``creation``: ``create_ticket``, ``create_ticket_for_contact``, the monthly quota;
- ``messages``: ``add_message`` (customer messages, replies, notes), ``add_system_note`` and attachments;
- ``status``: the transitions (``TRANSITIONS``) and ``change_status``;
- ``fields``: ``assign``, ``set_priority``, ``set_tags``;
- ``lifecycle``: ``run_lifecycle`` (auto-close, follow-ups; Celery beat) and the organization's delays;
- ``spam``: ``mark_spam`` (closed without notifying, the sender optionally blocked) and ``unmark_spam``;
- ``saved_views``, ``reply_templates``: what agents share;
- ``search_document``: the full-text document saved with the ticket row;
- ``deletion``: ``delete_ticket``, permanent, Admins only, audited (section 18);
- ``retention``: ``purge_expired_attachments`` (the plan's 12/24/36 months; Celery beat, daily);
- ``checks``: validation shared by the above.
"""

from .creation import create_ticket, create_ticket_for_contact, tickets_quota
from .deletion import delete_ticket
from .fields import assign, set_priority, set_tags
from .lifecycle import lifecycle_delays, run_lifecycle
from .messages import add_message, add_system_note
from .reply_templates import delete_reply_template, save_reply_template
from .retention import purge_expired_attachments
from .saved_views import VIEW_FILTER_KEYS, delete_view, save_view
from .search_document import SEARCH_DOCUMENT_SQL, refresh_search_document
from .spam import is_blocked, mark_spam, unmark_spam
from .status import NOTIFIED_STATUSES, REOPENED_BY_CUSTOMER, TRANSITIONS, change_status

__all__ = [
    "NOTIFIED_STATUSES",
    "REOPENED_BY_CUSTOMER",
    "SEARCH_DOCUMENT_SQL",
    "TRANSITIONS",
    "VIEW_FILTER_KEYS",
    "add_message",
    "add_system_note",
    "assign",
    "change_status",
    "create_ticket",
    "create_ticket_for_contact",
    "delete_reply_template",
    "delete_ticket",
    "purge_expired_attachments",
    "delete_view",
    "is_blocked",
    "mark_spam",
    "unmark_spam",
    "lifecycle_delays",
    "refresh_search_document",
    "run_lifecycle",
    "save_reply_template",
    "save_view",
    "set_priority",
    "set_tags",
    "tickets_quota",
]
