"""What email intake reads and writes on every message, in fewer statements (issue 22, throughput): each fast
path gives exactly what the queryset it replaces gave.

- ``lumiodesk.rows``: the ticket locked with its customer (``add_message``), the auto-assignment setting, the
  sender's customer read with the references (``intake._references``): every field, converters applied;
- a new customer is inserted with ON CONFLICT DO NOTHING (no savepoint): a customer created meanwhile is found;
- the Message-ID reference is written by the statement that finishes the inbound row;
- the volume alert counts the month's tickets only when the ticket numbers say a threshold may be near.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from factories import SYSTEM, CustomerFactory, OrganizationFactory, bulk_tickets

from billing import alerts
from billing.models import TicketVolumeAlert
from crm.models import Customer
from crm.services import get_or_create_customer
from lumiodesk import audit, rows
from lumiodesk.models import AuditLog
from tickets import services
from tickets.assignment.models import AutoAssignment
from tickets.assignment.pipeline import _SETTING_SQL
from tickets.email import intake
from tickets.email.models import EmailReference, InboundStatus, Mailbox
from tickets.email.parsing import parse_email
from tickets.models import Message, MessageKind, Ticket
from tickets.selectors import tickets_created_this_month, tickets_created_this_month_at_most
from tickets.services.messages import _locked_ticket


def _same(a, b, model) -> None:
    for f in model._meta.concrete_fields:
        assert getattr(a, f.attname) == getattr(b, f.attname), f.attname


def test_the_locked_ticket_is_the_one_the_queryset_reads(world):
    ticket = world.ticket
    Customer.objects.filter(pk=ticket.customer_id).update(attributes={"contrat": ["A", 1]})
    fast = _locked_ticket(ticket.pk)
    slow = Ticket.objects.select_for_update().select_related("customer").get(pk=ticket.pk)
    _same(fast, slow, Ticket)
    _same(fast.customer, slow.customer, Customer)
    assert fast.customer.attributes == {"contrat": ["A", 1]}
    assert fast.get_deferred_fields() == set() and not fast._state.adding and fast._state.db == "default"


def test_a_missing_ticket_raises_as_get_does(world):
    try:
        _locked_ticket(10**9)
    except Ticket.DoesNotExist:
        pass
    else:  # pragma: no cover
        raise AssertionError("no DoesNotExist")


def test_the_auto_assignment_setting_is_read_whole_and_only_when_on(world):
    AutoAssignment.objects.create(organization=world.org, enabled=True, roles=["agent", "manager"], load_limit=7)
    with connection.cursor() as cur:
        cur.execute(_SETTING_SQL, [world.org.pk])
        fast = rows.instance(AutoAssignment, cur.fetchone())
    _same(fast, AutoAssignment.objects.get(pk=world.org.pk), AutoAssignment)
    AutoAssignment.objects.filter(pk=world.org.pk).update(enabled=False)
    with connection.cursor() as cur:
        cur.execute(_SETTING_SQL, [world.org.pk])
        assert cur.fetchone() is None


def test_the_senders_customer_comes_with_the_references(world):
    customer = Customer.objects.create(organization=world.org, email="Jo@Example.org", first_name="Jo",
                                       attributes={"vip": True})
    raw = b"From: jo@example.org\r\nTo: support@acme.test\r\nSubject: s\r\nMessage-ID: <k@x>\r\n\r\nhello\r\n"
    known = intake._references(world.org.pk, parse_email(raw), "jo@example.org")
    _same(known.customer, Customer.objects.get(pk=customer.pk), Customer)
    assert intake._references(world.org.pk, parse_email(raw), "other@example.org").customer is None


def test_a_new_customer_is_created_once_even_when_another_message_created_it_meanwhile(world):
    existing = Customer.objects.create(organization=world.org, email="lea@example.org", first_name="Léa")
    # The caller looked the address up before the other message's customer was committed: found all the same.
    again = get_or_create_customer(organization=world.org, email="LEA@example.org", name="Autre", looked_up=True)
    assert again.pk == existing.pk and again.first_name == "Léa"
    new = get_or_create_customer(organization=world.org, email="max@example.org", name="Max Dupont",
                                 looked_up=True)
    _same(new, Customer.objects.get(pk=new.pk), Customer)
    assert (new.first_name, new.last_name, new.attributes) == ("Max", "Dupont", {})


def test_intake_records_the_reference_with_the_outcome(world):
    mailbox = Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")
    raw = (b"From: Jo <jo@example.org>\r\nTo: support@acme.test\r\nSubject: Bonjour\r\n"
           b"Message-ID: <first@example.org>\r\n\r\nhello\r\n")
    with CaptureQueriesContext(connection) as queries:
        inbound = intake.ingest(mailbox=mailbox, raw=raw, source="file")
    assert inbound.status == InboundStatus.IMPORTED
    ref = EmailReference.objects.get(organization=world.org, message_id="first@example.org")
    assert ref.ticket_id == inbound.ticket_id and not ref.outbound and not ref.ambiguous
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum(s.startswith("SAVEPOINT") for s in sql) == 1  # process()'s own (in a test transaction): none more
    # the customer read with the references only: no ORM query of crm_customer (the ORM quotes the table's name)
    assert not any(s.startswith("SELECT") and 'FROM "crm_customer"' in s for s in sql)
    # A reply threads by the reference written with the outcome.
    reply = (b"From: jo@example.org\r\nTo: support@acme.test\r\nSubject: Re: Bonjour\r\n"
             b"Message-ID: <second@example.org>\r\nIn-Reply-To: <first@example.org>\r\n\r\nencore\r\n")
    assert intake.ingest(mailbox=mailbox, raw=reply, source="file").ticket_id == inbound.ticket_id


@pytest.mark.django_db
def test_the_volume_is_counted_only_near_a_threshold(django_capture_on_commit_callbacks):
    org = OrganizationFactory(plan="starter")  # 1 000 tickets a month: the first alert at 800
    customer = CustomerFactory(organization=org)

    def create() -> list[str]:
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            services.create_ticket(organization=org, customer=customer, subject="Question", body="x",
                                   actor=SYSTEM, channel="manual")
        return [q["sql"] for q in queries.captured_queries if 'AS "__count" FROM "tickets_ticket"' in q["sql"]]

    create()  # reads the month's first number (once per process and month)
    assert create() == []  # 2 tickets: far from 800, nothing counted
    bulk_tickets(org, 700)
    assert create() != []  # 703 (+ the margin for tickets in flight): counted
    assert not TicketVolumeAlert.objects.filter(organization=org).exists()
    bulk_tickets(org, 96)
    create()  # 800
    assert list(TicketVolumeAlert.objects.filter(organization=org).values_list("threshold", flat=True)) == [80]
    assert alerts.check_volume(org) == []


def test_the_bound_is_never_under_the_count(world):
    org = world.org
    bulk_tickets(org, 30)
    ticket = services.create_ticket(organization=org, customer=world.customer, subject="s", body="x",
                                    actor=SYSTEM, channel="manual")
    assert tickets_created_this_month_at_most(org, ticket) >= tickets_created_this_month(org)
    Ticket.objects.filter(organization=org).exclude(pk=ticket.pk).order_by("number")[:1].get().delete()
    later = services.create_ticket(organization=org, customer=world.customer, subject="s", body="x",
                                   actor=SYSTEM, channel="manual")
    assert tickets_created_this_month_at_most(org, later) >= tickets_created_this_month(org)


def test_a_row_inserted_by_a_fixed_statement_reads_back_as_it_was_built(world):
    message = rows.insert(Message(organization=world.org, ticket=world.ticket, kind=MessageKind.NOTE,
                                  author_user=world.agent, body_text="é", body_html="<p>é</p>"))
    assert not message._state.adding and message.pk
    _same(message, Message.objects.get(pk=message.pk), Message)
    entry = audit.record(organization=world.org, actor=world.agent, action="ticket.test", target_type="ticket",
                         target_id=world.ticket.pk, ip_address="10.0.0.1", détail={"a": [1, "é"]})
    _same(entry, AuditLog.objects.get(pk=entry.pk), AuditLog)
    assert AuditLog.objects.get(pk=entry.pk).data == {"détail": {"a": [1, "é"]}}


def test_a_model_with_a_save_receiver_is_saved_by_the_orm(world):
    """rows.insert never skips a signal: with a post_save receiver on the model, the ORM saves it."""
    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.pk, created))

    post_save.connect(receiver, sender=AuditLog)
    try:
        row = rows.insert(AuditLog(organization=world.org, action="test.signal", target_type="", data={}))
    finally:
        post_save.disconnect(receiver, sender=AuditLog)
    assert seen == [(row.pk, True)]
    row = rows.insert(AuditLog(organization=world.org, action="test.signal", target_type="", data={}))
    assert seen == [(seen[0][0], True)] and AuditLog.objects.filter(action="test.signal").count() == 2


def test_messages_and_audit_rows_take_the_fixed_statement(world):
    """No receiver listens to these today: their inserts take rows.insert's fixed statement (the intake's speed:
    ``RETURNING "id"``, where the ORM's INSERT returns ``"table"."id"``)."""
    assert not any(signal.has_listeners(model) for signal in (pre_save, post_save) for model in (Message, AuditLog))
    with CaptureQueriesContext(connection) as queries:
        rows.insert(Message(organization=world.org, ticket=world.ticket, kind=MessageKind.NOTE, body_text="x"))
        rows.insert(AuditLog(organization=world.org, action="test.fixed", target_type="", data={}))
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == 2 and all(s.startswith("INSERT INTO") and s.endswith('RETURNING "id"') for s in sql), sql
