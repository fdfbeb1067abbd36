"""Settings > Email > inbound log: a quarantined message with no readable sender becomes a ticket once an
admin gives the customer's address (found or created); issue 22. Anonymous, another organization, a
non-admin, a bad address, the allowed admin."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm.models import Customer
from tickets.email import intake
from tickets.email.models import InboundEmail, InboundStatus, Mailbox
from tickets.models import Ticket

CORPUS = Path(__file__).parent / "email_corpus"


@pytest.fixture
def quarantined(world) -> InboundEmail:
    support = Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")
    inbound = intake.ingest(mailbox=support, raw=(CORPUS / "missing_from.eml").read_bytes(), source="file")
    assert inbound.status == InboundStatus.QUARANTINED
    return inbound


def url(inbound: InboundEmail) -> str:
    return f"/settings/channels/email/inbound/{inbound.pk}/retry/"


def test_anonymous_is_sent_to_sign_in(client, quarantined):
    response = client.post(url(quarantined), {"email": "x@example.com"})
    assert response.status_code == 302 and "login" in response["Location"]


def test_other_organization_gets_404(client, world, quarantined):
    import factories as f

    from lumiodesk.models import Role

    client.force_login(f.member(world.other_org, Role.ADMIN, first_name="Gina", email="gina@globex.test"))
    assert client.post(url(quarantined), {"email": "x@example.com"}).status_code == 404


def test_non_admin_is_refused(client, world, quarantined):
    client.force_login(world.agent)
    assert client.post(url(quarantined), {"email": "x@example.com"}).status_code == 403
    quarantined.refresh_from_db()
    assert quarantined.status == InboundStatus.QUARANTINED


def test_get_is_not_allowed(client, world, quarantined):
    client.force_login(world.admin)
    assert client.get(url(quarantined)).status_code == 405


def test_bad_address_leaves_it_in_quarantine(client, world, quarantined):
    client.force_login(world.admin)
    response = client.post(url(quarantined), {"email": "pas une adresse"})
    assert response.status_code == 302
    quarantined.refresh_from_db()
    assert quarantined.status == InboundStatus.QUARANTINED
    assert not Customer.objects.filter(organization=world.org, email="pas une adresse").exists()


def test_admin_gives_the_customer_and_the_ticket_is_made(client, world, quarantined):
    client.force_login(world.admin)
    response = client.post(url(quarantined), {"email": "Inconnu@Example.com"})
    assert response.status_code == 302
    quarantined.refresh_from_db()
    assert quarantined.status == InboundStatus.IMPORTED
    ticket = Ticket.objects.get(pk=quarantined.ticket_id)
    assert ticket.subject == "Qui suis-je ?" and ticket.customer.email == "inconnu@example.com"


def test_admin_picks_an_existing_customer(client, world, quarantined):
    client.force_login(world.admin)
    client.post(url(quarantined), {"email": world.customer.email})
    quarantined.refresh_from_db()
    assert Ticket.objects.get(pk=quarantined.ticket_id).customer_id == world.customer.pk


def test_htmx_post_answers_like_a_form(client, world, quarantined):
    client.force_login(world.admin)
    response = client.post(url(quarantined), {"email": "h@example.com"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 302
