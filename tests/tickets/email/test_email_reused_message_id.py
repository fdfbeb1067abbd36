"""A repeat is the same Message-ID *and* the same sender and Date (issue 22): different messages that reuse a
Message-ID (bulk mailers, misconfigured applications with a constant one) each become a ticket; the same
message delivered again, by another route with more Received headers, or relayed by a mailing list that tags
its subject and adds a footer, stays a duplicate. The digest is computed only when a Message-ID is met again
(the first original of a Message-ID keeps an empty, "unknown", digest: read from its raw bytes then)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from tickets.email import intake
from tickets.email.models import EmailReference, InboundEmail, InboundStatus, Mailbox
from tickets.models import Ticket


@pytest.fixture
def support(world):
    return Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")


def mail(
    *,
    subject="Alerte disque",
    body="Le disque /var est plein à 95 %.",
    sender="monitor@example.net",
    mid="<constant@app.example.net>",
    date="Mon, 03 Mar 2025 10:15:00 +0100",
    headers="",
    extra="",
    line_end="\n",
) -> bytes:
    text = (
        f"{headers}From: Monitor <{sender}>\nTo: support@acme.test\nSubject: {subject}\nDate: {date}\n"
        f"Message-ID: {mid}\n{extra}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{body}\n"
    )
    return text.replace("\n", line_end).encode("utf-8")


def ingest(support, raw: bytes) -> InboundEmail:
    return intake.ingest(mailbox=support, raw=raw, source="file")


def test_different_messages_with_one_message_id_each_become_a_ticket(world, support):
    first = ingest(support, mail())
    second = ingest(support, mail(subject="Alerte mémoire", body="La mémoire est pleine.",
                                  date="Mon, 03 Mar 2025 10:17:00 +0100"))
    third = ingest(support, mail(date="Mon, 03 Mar 2025 11:15:00 +0100"))  # the same alert, an hour later
    fourth = ingest(support, mail(sender="other-monitor@example.org"))  # another sender, the same second
    assert [i.status for i in (first, second, third, fourth)] == [InboundStatus.IMPORTED] * 4
    assert len({first.ticket_id, second.ticket_id, third.ticket_id, fourth.ticket_id}) == 4
    assert Ticket.objects.get(pk=second.ticket_id).subject == "Alerte mémoire"
    assert {i.message_key for i in (first, second, third, fourth)} == {"constant@app.example.net"}
    # A second pass over all four: each is a repeat of its own original.
    again = [ingest(support, mail(**kw)) for kw in (
        {}, {"subject": "Alerte mémoire", "body": "La mémoire est pleine.", "date": "Mon, 03 Mar 2025 10:17:00 +0100"},
        {"date": "Mon, 03 Mar 2025 11:15:00 +0100"}, {"sender": "other-monitor@example.org"})]
    assert [i.status for i in again] == [InboundStatus.DUPLICATE] * 4
    assert [i.duplicate_of_id for i in again] == [first.pk, second.pk, third.pk, fourth.pk]


def relayed_by_a_list(**kw) -> bytes:
    """``mail(**kw)`` as a mailing list redistributes it: a tag in the subject, a footer under the body,
    its own headers and Received lines, CRLF line ends."""
    subject = kw.pop("subject", "Alerte disque")
    body = kw.pop("body", "Le disque /var est plein à 95 %.")
    return mail(
        subject=f"[ops-alerts] {subject}",
        body=f"{body}\n\n-- \nops-alerts mailing list\nhttps://lists.example.net/mailman/listinfo/ops-alerts",
        headers="Received: from lists.example.net by mx.acme.test; Mon, 03 Mar 2025 10:16:02 +0100\n",
        extra="List-Id: <ops-alerts.lists.example.net>\nPrecedence: list\n"
        "List-Unsubscribe: <mailto:ops-alerts-leave@lists.example.net>\n",
        line_end="\r\n",
        **kw,
    )


def test_a_copy_relayed_by_a_mailing_list_is_the_same_message(world, support):
    """Sent to us and to a list we are on: the list's copy (subject tag, footer) is not a second ticket."""
    first = ingest(support, mail())
    assert first.status == InboundStatus.IMPORTED
    copy = ingest(support, relayed_by_a_list())
    assert copy.status == InboundStatus.DUPLICATE
    assert copy.duplicate_of_id == first.pk and copy.ticket_id == first.ticket_id
    # A second pass over both (an IMAP folder read anew): nothing new.
    assert [ingest(support, raw).status for raw in (mail(), relayed_by_a_list())] == [InboundStatus.DUPLICATE] * 2
    assert Ticket.objects.filter(organization=world.org).exclude(pk=world.ticket.pk).count() == 1


def test_the_list_copy_first_then_the_direct_one(world, support):
    first = ingest(support, relayed_by_a_list())
    assert ingest(support, mail()).duplicate_of_id == first.pk
    other = ingest(support, mail(date="Tue, 04 Mar 2025 08:00:00 +0100", body="Encore plein."))
    assert other.status == InboundStatus.IMPORTED and other.ticket_id != first.ticket_id
    assert ingest(support, relayed_by_a_list(date="Tue, 04 Mar 2025 08:00:00 +0100")).duplicate_of_id == other.pk


def test_the_digest_is_computed_only_when_a_message_id_comes_again(world, support):
    """The first original of a Message-ID is stored with an empty digest (unknown; the release before
    migration 0021 wrote such rows too): read from its raw bytes when the Message-ID comes again."""
    first = ingest(support, mail())
    unique = ingest(support, mail(mid="<only-once@example.net>"))
    assert InboundEmail.objects.get(pk=first.pk).content_digest == ""
    assert InboundEmail.objects.get(pk=unique.pk).content_digest == ""
    other = ingest(support, mail(date="Mon, 03 Mar 2025 12:00:00 +0100"))
    assert other.status == InboundStatus.IMPORTED
    stored = InboundEmail.objects.get(pk=other.pk)
    assert len(stored.content_digest) == 64
    assert InboundEmail.objects.get(pk=first.pk).content_digest == ""  # still the one every repeat meets
    assert ingest(support, relayed_by_a_list()).duplicate_of_id == first.pk
    assert ingest(support, relayed_by_a_list(date="Mon, 03 Mar 2025 12:00:00 +0100")).duplicate_of_id == other.pk


def test_the_first_original_deleted_the_others_still_catch_their_copies(world, support):
    """A customer's data deleted (tickets.services.deletion) can take the first original of a Message-ID
    away: the originals left still catch their copies."""
    first = ingest(support, mail())
    other = ingest(support, mail(date="Mon, 03 Mar 2025 12:00:00 +0100"))
    InboundEmail.objects.filter(pk=first.pk).delete()
    copy = ingest(support, relayed_by_a_list(date="Mon, 03 Mar 2025 12:00:00 +0100"))
    assert copy.status == InboundStatus.DUPLICATE and copy.duplicate_of_id == other.pk
    anew = ingest(support, mail())  # the deleted one, delivered again: a message of its own again
    assert anew.status == InboundStatus.IMPORTED
    assert ingest(support, mail()).duplicate_of_id == anew.pk


def test_the_same_message_again_by_another_route_is_a_duplicate(world, support):
    first = ingest(support, mail())
    relayed = mail(
        headers="Received: from mx2.example.net by mx.acme.test; Mon, 03 Mar 2025 10:16:00 +0100\n"
        "Received: from relay.example.net by mx2.example.net; Mon, 03 Mar 2025 10:15:30 +0100\n",
        extra="X-Spam-Score: 0.1\n",
        line_end="\r\n",
    )
    again = ingest(support, relayed)
    assert again.status == InboundStatus.DUPLICATE
    assert again.duplicate_of_id == first.pk and again.ticket_id == first.ticket_id
    assert ingest(support, mail()).status == InboundStatus.DUPLICATE  # the very same bytes
    assert Ticket.objects.filter(organization=world.org).exclude(pk=world.ticket.pk).count() == 1


def test_a_part_reencoded_by_a_relay_is_still_the_same_message(world, support):
    first = ingest(support, mail(body="Données reçues."))
    qp = mail(body="Donn=C3=A9es re=C3=A7ues.").replace(
        b"Content-Transfer-Encoding: 8bit", b"Content-Transfer-Encoding: quoted-printable"
    )
    again = ingest(support, qp)
    assert again.status == InboundStatus.DUPLICATE and again.duplicate_of_id == first.pk


def test_a_reply_naming_a_reused_message_id_does_not_thread_to_either_ticket(world, support):
    first = ingest(support, mail(sender="alice@example.org", subject="Commande 12"))
    second = ingest(support, mail(sender="bob@example.org", subject="Commande 13"))
    assert first.ticket_id != second.ticket_id
    ref = EmailReference.objects.get(organization=world.org, message_id="constant@app.example.net")
    assert ref.ambiguous and ref.ticket_id == first.ticket_id
    reply = ingest(
        support,
        mail(
            sender="bob@example.org",
            subject="Re: Commande 13",
            mid="<reply-1@example.org>",
            body="Une précision.",
            extra="In-Reply-To: <constant@app.example.net>\n",
        ),
    )
    assert reply.status == InboundStatus.IMPORTED
    assert reply.ticket_id not in (first.ticket_id, second.ticket_id)  # a new ticket, not Alice's


def test_a_message_id_reused_on_one_thread_keeps_threading(world, support):
    """A reply that threads (by its In-Reply-To) to the ticket its reused Message-ID already names: no
    ambiguity, the next reply threads there too."""
    first = ingest(support, mail(mid="<a1@example.org>"))
    reply = ingest(
        support,
        mail(
            subject="Re: Alerte disque",
            body="Toujours plein.",
            mid="<a1@example.org>",
            date="Mon, 03 Mar 2025 10:40:00 +0100",  # written later (the same second: taken as the same message)
            extra="In-Reply-To: <a1@example.org>\n",
        ),
    )
    assert reply.status == InboundStatus.IMPORTED and reply.ticket_id == first.ticket_id
    assert not EmailReference.objects.get(message_id="a1@example.org").ambiguous
    later = ingest(
        support,
        mail(
            subject="Re: Alerte disque", body="Réglé.", mid="<a3@example.org>", extra="In-Reply-To: <a1@example.org>\n"
        ),
    )
    assert later.ticket_id == first.ticket_id


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_message_at_once_store_one_original(world, support):
    barrier = threading.Barrier(2)
    results: list[InboundEmail] = []
    copies = [mail(), mail(headers="Received: from mx2.example.net by mx.acme.test; Mon, 3 Mar 2025\n")]

    def deliver(raw: bytes):
        try:
            barrier.wait(timeout=10)
            results.append(intake.ingest(mailbox=support, raw=raw, source="smtp", envelope_from="m@example.net"))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(raw,)) for raw in copies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(r.status for r in results) == [InboundStatus.DUPLICATE, InboundStatus.IMPORTED]
    assert InboundEmail.objects.filter(organization=world.org).exclude(status=InboundStatus.DUPLICATE).count() == 1
    assert Ticket.objects.filter(organization=world.org, subject="Alerte disque").count() == 1


def test_migration_0021_is_schema_only():
    """No backfill inside the migration (it would hold the inbound table during a deploy): an empty digest
    means "unknown" and is read from the raw message when needed."""
    from django.db.migrations import RunPython, RunSQL
    from django.db.migrations.loader import MigrationLoader

    migration = MigrationLoader(None, ignore_no_migrations=True).get_migration("tickets", "0021_inbound_content_digest")
    assert not [op for op in migration.operations if isinstance(op, (RunPython, RunSQL))]


def test_the_subject_tells_apart_only_what_a_relay_cannot_have_made(world, support):
    """Same sender, Date and Message-ID: a subject a relay added to (a tag anywhere, a spam filter's prefix)
    is the same message; another subject, or a subject where there was none, is another message."""
    first = ingest(support, mail(subject="Re: Alerte disque"))
    tagged = ingest(support, mail(subject="Re: [ops-alerts] Alerte disque", body="Le disque.\n-- \npied de liste"))
    flagged = ingest(support, mail(subject="*****SPAM***** Re: Alerte disque"))
    assert [tagged.duplicate_of_id, flagged.duplicate_of_id] == [first.pk, first.pk]
    other = ingest(support, mail(subject="Questionnaire", body="Autre chose."))
    empty = ingest(support, mail(subject="", body="Sans sujet."))
    assert [other.status, empty.status] == [InboundStatus.IMPORTED] * 2
    assert len({first.ticket_id, other.ticket_id, empty.ticket_id}) == 3
    assert ingest(support, mail(subject="[ops-alerts] Questionnaire")).duplicate_of_id == other.pk
    assert ingest(support, mail(subject="[ops-alerts]")).duplicate_of_id == empty.pk


def _synchronous_commit_while_processing(support) -> list[str]:
    seen: list[str] = []

    def spy(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('INSERT INTO "tickets_message"'):
            with connection.cursor() as cur:
                cur.execute("SHOW synchronous_commit")
                seen.append(cur.fetchone()[0])
        return result

    with connection.execute_wrapper(spy):
        assert ingest(support, mail(mid=f"<sync-{len(seen)}-{id(seen)}@example.net>")).status == InboundStatus.IMPORTED
    return seen


@pytest.fixture
def durable_session(db):
    """The session's default as in production (``on``): the test settings turn it off for every connection
    (tests/conftest.py), which would hide what the intake sets for its own transaction."""
    with connection.cursor() as cur:
        cur.execute("SHOW synchronous_commit")
        before = cur.fetchone()[0]
        cur.execute("SET synchronous_commit = on")
    yield
    with connection.cursor() as cur:
        cur.execute("SELECT set_config('synchronous_commit', %s, false)", [before])


@pytest.mark.django_db(transaction=True)
def test_the_processing_transaction_does_not_wait_for_the_disk(world, support, durable_session):
    """Its durability is the receipt's (committed synchronously before): a crash before the WAL flush leaves
    the message "received", taken up again by process_stale. The setting ends with the transaction."""
    assert _synchronous_commit_while_processing(support) == ["off"]
    with connection.cursor() as cur:
        cur.execute("SHOW synchronous_commit")
        assert cur.fetchone()[0] == "on"


def test_processing_inside_a_callers_transaction_keeps_its_durability(world, support, durable_session):
    assert _synchronous_commit_while_processing(support) == ["on"]  # the test's transaction is the caller's


def undated(body: str, *, received: str = "") -> bytes:
    """A message with no Date header (an application's, sent straight to the mailbox) and a constant Message-ID."""
    return (
        f"{received}From: Monitor <monitor@example.net>\nTo: support@acme.test\nSubject: Alerte\n"
        f"Message-ID: <constant@app.example.net>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{body}\n"
    ).encode()


def test_without_a_date_the_text_tells_messages_apart_and_a_copy_is_still_a_duplicate(world, support):
    # Nothing but the text differs between two alerts of an application that sets no Date and reuses one
    # Message-ID: each is a message of its own, not a duplicate of the first (the second would never be seen).
    first = ingest(support, undated("Le disque /var est plein à 95 %."))
    second = ingest(support, undated("La mémoire est pleine."))
    assert [first.status, second.status] == [InboundStatus.IMPORTED] * 2
    assert first.ticket_id != second.ticket_id
    # The first again, by another route (a Received header more, CRLF line ends): the same message.
    again = ingest(support, undated("Le disque /var est plein à 95 %.", received="Received: from relay.example\n")
                   .replace(b"\n", b"\r\n"))
    assert again.status == InboundStatus.DUPLICATE and again.duplicate_of_id == first.pk
