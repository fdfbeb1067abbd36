"""Verification of a mailbox's own address (issue 15, item 5): link emailed through the outbound path,
spent once by a POST, stored hashed, expiring; unique among verified addresses across organizations;
the settings screen shows the state and resends."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import factories as f
import pytest
from conftest import run_queued
from django.core import mail
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone
from factories import acting

from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Role
from tickets.email import intake, verification
from tickets.email.mailboxes import create_mailbox
from tickets.email.models import Mailbox
from tickets.email.outbound import sender_for

LINK = re.compile(r"https?://[^\s\"<>]+/email/verify/[\w-]+/")


def link_from(message) -> str:
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(0)


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def globex_admin(world):
    return f.member(world.other_org, Role.ADMIN, email="gadmin@globex.test")


def unique_address(name: str = "support") -> str:
    """Sends are rate-limited per address in Redis, which outlives a test: each test its own address."""
    return f"{name}-{uuid.uuid4().hex[:8]}@acme.test"


def create(world, queued_tasks, capture, address=None, org=None, actor=None) -> Mailbox:
    address = address or unique_address()
    with capture(execute=True):
        mailbox = create_mailbox(organization=org or world.org, name="Support", address=address,
                                 actor=acting(actor or world.admin))
    run_queued(queued_tasks)
    return mailbox


def test_verification_end_to_end(world, client, queued_tasks, django_capture_on_commit_callbacks):
    mailbox = create(world, queued_tasks, django_capture_on_commit_callbacks)
    assert not mailbox.is_verified
    with pytest.raises(intake.UnknownMailbox):
        intake.find_mailbox(mailbox.address)
    [sent] = mail.outbox
    assert sent.to == [mailbox.address]
    assert mailbox.address not in sent.from_email  # never from the address being verified
    url = link_from(sent)
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert token in sent.alternatives[0][0]  # the HTML part has the same link
    stored = Mailbox.objects.get(pk=mailbox.pk)
    assert stored.verification_token_hash == verification.hash_token(token)  # only the hash is stored
    assert token not in str(Mailbox.objects.filter(pk=mailbox.pk).values().get())

    # Opening the link (GET) keeps it in the session and redirects to a clean URL; nothing is verified yet.
    response = client.get(path_of(url))
    assert response.status_code == 302 and response["Location"] == reverse("mailbox_verification:confirm")
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert token not in html and mailbox.address in html and "Acme" in html
    assert not Mailbox.objects.get(pk=mailbox.pk).is_verified

    done = client.post(reverse("mailbox_verification:confirm"))
    assert done.status_code == 200
    assert Mailbox.objects.get(pk=mailbox.pk).is_verified
    assert intake.find_mailbox(mailbox.address.upper()).pk == mailbox.pk
    # Works once.
    client.get(path_of(url))
    assert client.post(reverse("mailbox_verification:confirm")).status_code == 410


def test_mail_scanner_opening_the_link_verifies_nothing(world, client, queued_tasks,
                                                        django_capture_on_commit_callbacks):
    mailbox = create(world, queued_tasks, django_capture_on_commit_callbacks)
    url = link_from(mail.outbox[0])
    scanner = client.__class__()
    scanner.get(path_of(url), follow=True)
    assert not Mailbox.objects.get(pk=mailbox.pk).is_verified
    # The customer's own click still works afterwards.
    client.get(path_of(url))
    assert client.post(reverse("mailbox_verification:confirm")).status_code == 200
    assert Mailbox.objects.get(pk=mailbox.pk).is_verified


def test_expired_link_is_refused(world, client, queued_tasks, django_capture_on_commit_callbacks):
    mailbox = create(world, queued_tasks, django_capture_on_commit_callbacks)
    url = link_from(mail.outbox[0])
    Mailbox.objects.filter(pk=mailbox.pk).update(
        verification_sent_at=timezone.now() - timedelta(hours=verification.LINK_HOURS, minutes=1)
    )
    client.get(path_of(url))
    assert client.get(reverse("mailbox_verification:confirm")).status_code == 410
    assert client.post(reverse("mailbox_verification:confirm")).status_code == 410
    assert not Mailbox.objects.get(pk=mailbox.pk).is_verified


def test_resend_replaces_the_previous_link(world, client, queued_tasks, django_capture_on_commit_callbacks):
    mailbox = create(world, queued_tasks, django_capture_on_commit_callbacks)
    first = link_from(mail.outbox[0])
    Mailbox.objects.filter(pk=mailbox.pk).update(verification_sent_at=timezone.now() - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        verification.request_verification(mailbox=mailbox, actor=acting(world.admin))
    run_queued(queued_tasks)
    second = link_from(mail.outbox[1])
    assert first != second
    client.get(path_of(first))
    assert client.post(reverse("mailbox_verification:confirm")).status_code == 410
    client.get(path_of(second))
    assert client.post(reverse("mailbox_verification:confirm")).status_code == 200
    # Asked again within a minute: refused with a clear message.
    other = create(world, queued_tasks, django_capture_on_commit_callbacks, address=unique_address("sales"))
    with pytest.raises(InvalidInput, match="minute"):
        verification.request_verification(mailbox=other, actor=acting(world.admin))


def test_tenant_b_cannot_take_a_verified_address(world, client, globex_admin, queued_tasks,
                                                django_capture_on_commit_callbacks):
    acme = create(world, queued_tasks, django_capture_on_commit_callbacks)
    client.get(path_of(link_from(mail.outbox[0])))
    client.post(reverse("mailbox_verification:confirm"))
    mail.outbox.clear()

    claim = create(world, queued_tasks, django_capture_on_commit_callbacks, address=acme.address.upper(),
                   org=world.other_org, actor=globex_admin)
    assert mail.outbox == []  # Acme's support inbox gets no mail on Globex's demand
    with pytest.raises(InvalidInput, match="autre organisation"):
        verification.request_verification(mailbox=claim, actor=acting(globex_admin))
    assert intake.find_mailbox(acme.address).pk == acme.pk
    # The database refuses a second verified copy, whatever the code path.
    with pytest.raises(IntegrityError):
        Mailbox.objects.filter(pk=claim.pk).update(address_verified_at=timezone.now())


def test_race_two_pending_links_second_verification_is_refused(world, client, globex_admin, queued_tasks,
                                                                django_capture_on_commit_callbacks):
    """Both organizations got a link before either verified: the second click is refused, nothing changes."""
    shared = unique_address("help")
    acme = create(world, queued_tasks, django_capture_on_commit_callbacks, address=shared)
    globex = create(world, queued_tasks, django_capture_on_commit_callbacks, address=shared,
                    org=world.other_org, actor=globex_admin)
    acme_link, globex_link = (link_from(m) for m in mail.outbox)
    client.get(path_of(acme_link))
    assert client.post(reverse("mailbox_verification:confirm")).status_code == 200
    other = client.__class__()
    other.get(path_of(globex_link))
    response = other.post(reverse("mailbox_verification:confirm"))
    assert response.status_code in (409, 410)
    assert not Mailbox.objects.get(pk=globex.pk).is_verified
    assert intake.find_mailbox(shared).pk == acme.pk


def test_unverified_mailbox_never_sends_as_that_address(world):
    box = Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")
    from_email, reply_to = sender_for(box, world.org)
    assert "support@acme.test" not in from_email and "Acme" in from_email
    assert reply_to == [box.forwarding_address(intake.inbound_domain())]
    Mailbox.objects.filter(pk=box.pk).update(address_verified_at=timezone.now())
    box.refresh_from_db()
    assert sender_for(box, world.org) == ("Acme <support@acme.test>", ["support@acme.test"])


# --- the settings screen ------------------------------------------------------------------------------------


def test_settings_show_state_and_resend(world, client, queued_tasks, django_capture_on_commit_callbacks):
    box = create(world, queued_tasks, django_capture_on_commit_callbacks)
    Mailbox.objects.filter(pk=box.pk).update(verification_sent_at=timezone.now() - timedelta(minutes=5))
    verified = Mailbox.objects.create(organization=world.org, name="Ventes", address="sales@acme.test",
                                      address_verified_at=timezone.now())
    client.force_login(world.admin)
    html = client.get(reverse("email:mailboxes")).content.decode()
    assert "Non vérifiée" in html and "Vérifiée" in html
    assert reverse("email:mailbox_verify", args=[box.pk]) in html
    assert reverse("email:mailbox_verify", args=[verified.pk]) not in html
    assert "Non vérifiée" in client.get(reverse("email:mailbox_edit", args=[box.pk])).content.decode()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("email:mailbox_verify", args=[box.pk]))
    assert response.status_code == 302
    run_queued(queued_tasks)
    assert [m.to for m in mail.outbox] == [[box.address]]


def test_resend_access(world, client):
    box = Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")
    url = reverse("email:mailbox_verify", args=[box.pk])
    assert client.post(url).status_code == 302 and Mailbox.objects.get(pk=box.pk).verification_sent_at is None
    client.force_login(world.outsider)
    assert client.post(url).status_code in (403, 404)
    client.force_login(world.agent)
    assert client.post(url).status_code == 403
    client.force_login(world.admin)
    assert client.get(url).status_code == 405
    assert Mailbox.objects.get(pk=box.pk).verification_sent_at is None
