"""Issue 17 / section 18: permanent deletion of a ticket, by an Admin only, behind a confirmation page (type the
ticket's number), audited in the organization's audit log (which survives it); the raw email copies, the
attachments' files and the search entry go with it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from factories import SYSTEM, TicketFactory, acting, member, upload
from helpers import assert_login_redirect

from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import AgentNotification, AuditLog, Role
from tickets import services
from tickets.agent_notifications import TicketNotificationKind
from tickets.email import mailboxes
from tickets.email.models import InboundEmail
from tickets.models import Attachment, Message, Ticket
from tickets.selectors import search_query

pytestmark = pytest.mark.django_db


def search(org, word: str) -> list[int]:
    return list(Ticket.objects.filter(organization=org, search_vector=search_query(word))
                .values_list("number", flat=True))


@pytest.fixture
def doomed(world):
    """A ticket with two attachments, the raw email that made it (and a duplicate of it), a notification."""
    ticket = TicketFactory(organization=world.org, customer=world.customer, subject="Zorglub confidentiel",
                           body="Mon numéro de carte zorglub", attachments=[upload("scan.pdf", b"%PDF-1.4 a"),
                                                                             upload("notes.txt", b"notes")])
    services.refresh_search_document([ticket.pk])
    mailbox = mailboxes.create_mailbox(organization=world.org, name="Support", address="support@acme.test",
                                       actor=SYSTEM)
    original = InboundEmail.objects.create(organization=world.org, mailbox=mailbox, source="file", raw=b"raw a",
                                           size=5, digest="a" * 64, message_key="<a@x>", ticket=ticket,
                                           message=ticket.first_message)
    duplicate = InboundEmail.objects.create(organization=world.org, mailbox=mailbox, source="file", raw=b"raw a",
                                            size=5, digest="a" * 64, message_key="<a@x>", status="duplicate",
                                            duplicate_of=original)
    kept = InboundEmail.objects.create(organization=world.org, mailbox=mailbox, source="file", raw=b"raw b", size=5,
                                       digest="b" * 64, message_key="<b@x>", ticket=world.ticket)
    page = reverse("tickets:detail", args=[ticket.number])
    AgentNotification.objects.create(organization=world.org, recipient=world.agent, url=f"{page}#m1",
                                     kind=TicketNotificationKind.MENTION, title="Zorglub", dedup_key="d1")
    AgentNotification.objects.create(organization=world.org, recipient=world.agent,
                                     url=reverse("tickets:detail", args=[world.ticket.number]),
                                     kind=TicketNotificationKind.MENTION, title="autre", dedup_key="d2")
    files = [a.file.name for a in Attachment.objects.filter(message__ticket=ticket)]
    return ticket, files, {"original": original, "duplicate": duplicate, "kept": kept}


def test_only_an_admin_reaches_the_confirmation_page(client, world, doomed):
    ticket, _files, _raw = doomed
    url = reverse("tickets:delete", args=[ticket.number])
    assert_login_redirect(client.get(url), url)
    for user in (world.manager, world.agent, world.viewer):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"confirmation": str(ticket.number)}).status_code == 403
        detail = client.get(reverse("tickets:detail", args=[ticket.number])).content.decode()
        assert url not in detail  # no link for them
    client.force_login(member(world.other_org, Role.ADMIN))
    assert client.get(url).status_code == 404  # another organization's Admin: not their number
    client.force_login(world.admin)
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and "Zorglub confidentiel" in html and "2 pièces jointes" in html
    assert url in client.get(reverse("tickets:detail", args=[ticket.number])).content.decode()
    assert Ticket.objects.filter(pk=ticket.pk).exists()  # GET changes nothing
    with pytest.raises(NotPermitted):
        services.delete_ticket(actor=acting(world.manager), ticket=ticket, confirmation=str(ticket.number))


def test_a_wrong_number_deletes_nothing(client, world, doomed):
    ticket, files, _raw = doomed
    client.force_login(world.admin)
    response = client.post(reverse("tickets:delete", args=[ticket.number]), {"confirmation": str(world.ticket.number)})
    assert response.status_code == 400 and "pour confirmer" in response.content.decode()
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert not AuditLog.objects.filter(action="ticket.deleted").exists()
    with pytest.raises(InvalidInput):
        services.delete_ticket(actor=acting(world.admin), ticket=ticket, confirmation="")


def test_deletion_takes_raw_copies_files_and_search_entry_and_is_audited(
    client, world, doomed, django_capture_on_commit_callbacks
):
    ticket, files, raw = doomed
    storage = Attachment._meta.get_field("file").storage
    assert all(storage.exists(name) for name in files) and search(world.org, "zorglub") == [ticket.number]
    client.force_login(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tickets:delete", args=[ticket.number]),
                               {"confirmation": f"#{ticket.number}"})
    assert response.status_code == 302 and response["Location"] == reverse("tickets:list")

    assert not Ticket.objects.filter(pk=ticket.pk).exists()
    assert not Message.objects.filter(ticket_id=ticket.pk).exists()
    assert not Attachment.objects.filter(file__in=files).exists()
    assert not any(storage.exists(name) for name in files)
    assert not InboundEmail.objects.filter(pk__in=[raw["original"].pk, raw["duplicate"].pk]).exists()
    assert InboundEmail.objects.filter(pk=raw["kept"].pk).exists()
    assert search(world.org, "zorglub") == []
    assert list(AgentNotification.objects.filter(organization=world.org).values_list("title", flat=True)) == ["autre"]
    assert client.get(reverse("tickets:detail", args=[ticket.number])).status_code == 404
    assert Ticket.objects.filter(pk=world.ticket.pk).exists()  # the others stay

    row = AuditLog.objects.get(organization=world.org, action="ticket.deleted")
    assert row.actor_id == world.admin.pk and row.target_id == ticket.pk and row.ip_address
    assert row.data == {"number": ticket.number, "messages": 1, "attachments": 2, "raw_emails": 2}
    assert "Zorglub" not in str(row.data)  # the audit keeps no content
    log = client.get(reverse("audit_log")).content.decode()
    assert "Ticket supprimé définitivement" in log


def test_files_leave_the_storage_only_after_the_commit(world, doomed, django_capture_on_commit_callbacks):
    ticket, files, _raw = doomed
    storage = Attachment._meta.get_field("file").storage
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.delete_ticket(actor=acting(world.admin), ticket=ticket, confirmation=str(ticket.number))
    assert len(callbacks) >= 1
    assert all(storage.exists(name) for name in files)  # deleted only after the commit
