"""Migration tickets 0008 (issue 15, item 5): existing mailboxes. An address held by one mailbox across all
organizations is marked verified (its mail kept arriving: nothing changes); an address held by several stays
unverified for each (the receiver already refused it as ambiguous: nothing changes either)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("tickets", "0008_automatic_mail_and_bounces")]
AFTER = [("tickets", "0009_mailbox_verification_contact_unverified")]


@pytest.mark.slow  # migrates the whole schema back to tickets 0008 and forward again
@pytest.mark.django_db(transaction=True)
def test_existing_mailboxes_verified_only_when_their_address_is_unique(world):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            for org, address in [(world.org, "support@acme.test"), (world.org, "shared@x.test"),
                                 (world.other_org, "SHARED@x.test"), (world.other_org, "help@globex.test")]:
                cursor.execute(
                    "INSERT INTO tickets_mailbox (organization_id, name, address, forward_token, is_active, "
                    "imap_port, imap_ssl, imap_user, imap_host, imap_password_encrypted, imap_folder, imap_last_uid, "
                    "imap_last_error, smtp_host, smtp_port, smtp_user, smtp_password_encrypted, smtp_starttls, "
                    "created_at) VALUES (%s, 'x', %s, left(md5(random()::text), 10), true, 993, true, '', '', '', "
                    "'INBOX', 0, '', '', 587, '', '', true, now())",
                    [org.pk, address],
                )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(AFTER)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT address, address_verified_at FROM tickets_mailbox")
            verified = dict(cursor.fetchall())
        assert verified["support@acme.test"] is not None and verified["help@globex.test"] is not None
        assert verified["shared@x.test"] is None and verified["SHARED@x.test"] is None
    finally:
        # Going back to 0008 unapplied every later migration of every app: the next tests of this worker need
        # the whole schema again, not only tickets up to 0009.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
