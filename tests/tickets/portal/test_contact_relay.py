"""The contact form is not a mail relay (issue 15, item 6).

Before: anyone could make an organization's support address send its acknowledgement, with the name and
message they typed, to any address; the ticket joined that existing customer and showed in their portal.
Now: the acknowledgement carries the number, a short neutral subject, the portal link and a confirmation
link; the ticket is "adresse non vérifiée" and stays out of the customer's portal until they confirm."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse
from factories import acting
from portal_helpers import patch_portal_tasks, run_portal_tasks, sign_in_as, unique_ip

from lumiodesk.html_sanitizer import neutral_subject
from tickets import services as ticket_services
from tickets.models import CustomerNotification, MessageKind, Ticket
from tickets.portal import link_tokens, services
from tickets.tasks import send_customer_notification_email

pytestmark = pytest.mark.django_db

CONFIRM = re.compile(r"https?://[^\s\"<>]+(/help/[\w-]+/contact/confirm/[^\s\"<>/]+/)")
ATTACK = {
    "name": "Gagnant http://evil.example/claim",
    "subject": "Colis bloqué : payez sur http://evil.example/pay avant ce soir sinon retour à l'expéditeur",
    "message": "PAYLOAD-7731 Cliquez ici : http://evil.example/pay pour débloquer votre colis.",
}


@pytest.fixture(autouse=True)
def portal_tasks(monkeypatch):
    return patch_portal_tasks(monkeypatch)


@pytest.fixture
def ip(client):
    client.defaults["REMOTE_ADDR"] = unique_ip()


def submit(client, org, portal_tasks, capture, **fields) -> Ticket:
    """Post the form, then send what it queued (the acknowledgement)."""
    with capture(execute=True):
        ticket = _post(client, org, **fields)
    run_portal_tasks(portal_tasks)
    return ticket


def _post(client, org, **fields) -> Ticket:
    data = {"name": "Jeanne Martin", "email": "jeanne@example.com", "subject": "Export CSV impossible",
            "message": "Le bouton d'export ne fait rien.", "website": ""} | fields
    response = client.post(reverse("contact:form", args=[org.slug]), data)
    assert response.status_code == 302, response.content.decode()
    return Ticket.objects.filter(organization=org).order_by("-pk").first()


def confirm_path(message) -> str:
    found = CONFIRM.search(message.body)
    assert found, message.body
    return found.group(1)


def test_acknowledgement_never_echoes_what_was_typed(client, world, ip, portal_tasks,
                                                   django_capture_on_commit_callbacks):
    ticket = submit(client, world.org, portal_tasks, django_capture_on_commit_callbacks,
                    email=world.customer.email, **ATTACK)
    [ack] = mail.outbox
    html = ack.alternatives[0][0]
    assert ack.to == [world.customer.email]
    for part in (ack.subject, ack.body, html):
        assert "PAYLOAD-7731" not in part
        assert "evil.example" not in part and "Gagnant" not in part
    assert f"#{ticket.number}" in ack.subject and str(ticket.number) in ack.body
    short = neutral_subject(ticket.subject)
    assert short in ack.body and len(short) <= 40 and "[…]" in short
    assert reverse("portal:sign_in_request", args=[world.org.slug]) in ack.body
    assert confirm_path(ack) in html
    # Nothing is lost: the ticket has all of it.
    assert ticket.messages.get().body_text.startswith("PAYLOAD-7731")


def test_neutral_subject():
    assert neutral_subject("Facture en double") == "Facture en double"
    assert neutral_subject("voir www.evil.example ou a@b.fr, evil.example!") == "voir […] ou […] […]"
    assert neutral_subject("x" * 300) == "x" * 39 + "…"
    assert neutral_subject("a\r\nBcc: victim@example.com") == "a Bcc: […]"
    assert neutral_subject("." * 100_000)  # linear, no backtracking


def test_unverified_ticket_stays_out_of_the_existing_customers_portal(client, world, ip, portal_tasks,
                                                                      django_capture_on_commit_callbacks):
    ticket = submit(client, world.org, portal_tasks, django_capture_on_commit_callbacks,
                    email=world.customer.email, **ATTACK)
    assert ticket.customer_id == world.customer.pk and ticket.sender_unverified

    customer = client.__class__()
    sign_in_as(customer, world.customer)
    tickets_page = customer.get(reverse("portal:tickets", args=[world.org.slug])).content.decode()
    assert "Colis" not in tickets_page and f"#{ticket.number}" not in tickets_page
    assert customer.get(reverse("portal:ticket", args=[world.org.slug, ticket.number])).status_code == 404

    # Agents see it, marked.
    client.force_login(world.agent)
    assert "adresse non vérifiée" in client.get(reverse("tickets:list")).content.decode()
    detail = client.get(reverse("tickets:detail", args=[ticket.number])).content.decode()
    assert "adresse non vérifiée" in detail and "PAYLOAD-7731" in detail

    # The real customer confirms from the email: GET keeps the token and redirects to a clean URL; the POST confirms.
    path = confirm_path(mail.outbox[0])
    response = customer.get(path)
    clean = reverse("contact:confirm", args=[world.org.slug, ticket.number])
    assert response.status_code == 302 and response["Location"] == clean
    page = customer.get(clean)
    assert page.status_code == 200 and path not in page.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).sender_unverified  # opening the page changes nothing
    assert customer.post(clean).status_code == 200
    assert not Ticket.objects.get(pk=ticket.pk).sender_unverified
    assert customer.get(reverse("portal:ticket", args=[world.org.slug, ticket.number])).status_code == 200


def test_mail_scanner_opening_the_confirmation_link_confirms_nothing(client, world, ip, portal_tasks,
                                                                    django_capture_on_commit_callbacks):
    ticket = submit(client, world.org, portal_tasks, django_capture_on_commit_callbacks,
                    email=world.customer.email)
    scanner = client.__class__()
    assert scanner.get(confirm_path(mail.outbox[0]), follow=True).status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).sender_unverified


def test_forged_or_foreign_confirmation_link_is_refused(client, world, ip, portal_tasks,
                                                        django_capture_on_commit_callbacks):
    ticket = submit(client, world.org, portal_tasks, django_capture_on_commit_callbacks,
                    email=world.customer.email)
    token = link_tokens.contact_confirmation_token(ticket)
    assert client.get(reverse("contact:confirm_link", args=[world.org.slug, token + "x"])).status_code == 410
    assert client.get(reverse("contact:confirm_link", args=[world.other_org.slug, token])).status_code == 410
    # The clean URL without the session's token.
    clean = reverse("contact:confirm", args=[world.org.slug, ticket.number])
    assert client.post(clean).status_code == 410
    assert Ticket.objects.get(pk=ticket.pk).sender_unverified


def test_signed_in_customer_writing_from_their_own_address_is_verified(client, world, ip, portal_tasks,
                                                                       django_capture_on_commit_callbacks):
    sign_in_as(client, world.customer)
    ticket = submit(client, world.org, portal_tasks, django_capture_on_commit_callbacks,
                    email=world.customer.email.upper())
    assert not ticket.sender_unverified
    assert "/contact/confirm/" not in mail.outbox[0].body
    assert client.get(reverse("portal:ticket", args=[world.org.slug, ticket.number])).status_code == 200
    # Signed in as Claire but typing another address: that address has proved nothing.
    other = submit(client, world.org, portal_tasks, django_capture_on_commit_callbacks,
                   email="someone.else@example.com")
    assert other.sender_unverified


def test_agent_reply_to_an_unverified_ticket(client, world, ip, portal_tasks, queued_emails,
                                             django_capture_on_commit_callbacks):
    """Decision: an agent's reply still goes by email (a person wrote it, seeing the mark); it repeats neither
    the typed subject nor the typed name; the web notification waits for the confirmation."""
    ticket = submit(client, world.org, portal_tasks, django_capture_on_commit_callbacks,
                    email="new.person@example.com", **ATTACK)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="Nous regardons.",
                                    actor=acting(world.agent))
    [notification_id] = queued_emails
    assert send_customer_notification_email(notification_id)
    [sent] = mail.outbox
    assert sent.to == ["new.person@example.com"] and "Nous regardons." in sent.body
    for part in (sent.subject, sent.body, sent.alternatives[0][0]):
        assert "evil.example" not in part and "Gagnant" not in part and "PAYLOAD" not in part
    assert f"[#{ticket.number}]" in sent.subject

    customer = client.__class__()
    sign_in_as(customer, ticket.customer)
    assert CustomerNotification.objects.filter(ticket=ticket, web=True).exists()
    assert customer.get(reverse("portal:notifications", args=[world.org.slug])).content.decode().count(
        "Nous regardons") == 0
    services.confirm_contact_ticket(ticket=ticket)
    assert customer.get(reverse("portal:ticket", args=[world.org.slug, ticket.number])).status_code == 200
