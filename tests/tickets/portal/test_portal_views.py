"""The customer portal's pages: my tickets, one ticket's public conversation, replies with attachments,
attachments, web notifications (the titles and messages of 002) and the notification preference.

Every page checks: no session (sign-in page), another customer of the same organization (404), another
organization (404), the customer themself; list pages keep the same query count for 10 and 100 rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import CustomerFactory, TicketFactory, acting, bulk_tickets, upload
from portal_helpers import patch_portal_tasks, sign_in_as, unique_ip

from crm.models import CustomerContactChoice
from tickets import services as ticket_services
from tickets.models import Attachment, CustomerNotification, Message, MessageKind, Status

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def portal_tasks(monkeypatch, client):
    client.defaults["REMOTE_ADDR"] = unique_ip()
    return patch_portal_tasks(monkeypatch)


@pytest.fixture
def neighbour(world):
    """Another customer of the same organization, with a ticket of their own."""
    other = CustomerFactory(organization=world.org, first_name="Bruno", email="bruno@example.com")
    ticket = TicketFactory(organization=world.org, customer=other, subject="Ticket de Bruno")
    return other, ticket


def ticket_url(world, number=None, name="portal:ticket", org=None):
    return reverse(name, args=[(org or world.org).slug, number or world.ticket.number])


# --- my tickets -----------------------------------------------------------------------------------------


def test_list_shows_only_my_tickets_in_customer_words(client, world, neighbour):
    ticket_services.change_status(ticket=world.ticket, status=Status.WAITING_INTERNAL, actor=acting(world.agent))
    sign_in_as(client, world.customer)
    html = client.get(reverse("portal:tickets", args=[world.org.slug])).content.decode()
    assert "Facture en double" in html
    assert "Ticket de Bruno" not in html and "Globex secret" not in html
    assert "En attente interne" not in html  # our business; for the customer it is "in progress"
    assert "En cours" in html


def test_list_sorted_by_latest_activity_the_customer_can_see(client, world, clock):
    older = world.ticket
    clock.advance(hours=1)
    newer = TicketFactory(organization=world.org, customer=world.customer, subject="Plus récent")
    clock.advance(hours=1)
    ticket_services.add_message(ticket=older, kind=MessageKind.REPLY, body="Voici", actor=acting(world.agent))
    clock.advance(hours=1)
    ticket_services.add_message(ticket=newer, kind=MessageKind.NOTE, body="Note", actor=acting(world.agent))
    sign_in_as(client, world.customer)
    html = client.get(reverse("portal:tickets", args=[world.org.slug])).content.decode()
    # The reply on the older ticket is newer activity than the other's creation; an internal note is not.
    assert html.index("Facture en double") < html.index("Plus récent")


def test_list_htmx_variant_is_the_list_partial(client, world):
    sign_in_as(client, world.customer)
    response = client.get(reverse("portal:tickets", args=[world.org.slug]) + "?page=1",
                          HTTP_HX_REQUEST="true", HTTP_HX_TARGET="portal-tickets")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="portal-tickets"' in html and "Facture en double" in html


def test_list_is_paginated(client, world):
    bulk_tickets(world.org, 25, customer=world.customer)
    sign_in_as(client, world.customer)
    page1 = client.get(reverse("portal:tickets", args=[world.org.slug])).content.decode()
    assert "Page 1 sur 2" in page1
    page2 = client.get(reverse("portal:tickets", args=[world.org.slug]) + "?page=2").content.decode()
    assert page2.count('class="row"') == 26 - 20


def count_queries(fn) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def assert_same_count(small, large, what):
    if small[0] != large[0]:
        listing = "\n".join(f"  {i + 1}. {sql}" for i, sql in enumerate(large[1]))
        pytest.fail(f"{what}: {small[0]} queries for 10 rows, {large[0]} for 100.\n{listing}")


def test_ticket_list_query_count_does_not_grow(client, django_user_model):
    from factories import OrganizationFactory

    def run(n):
        org = OrganizationFactory()
        customer = CustomerFactory(organization=org)
        tickets = bulk_tickets(org, n, customer=customer)
        from django.utils import timezone

        from tickets.portal.models import SatisfactionRating

        now = timezone.now()
        for t in tickets[::3]:
            t.status = Status.RESOLVED
            t.save(update_fields=["status"])
        SatisfactionRating.objects.bulk_create([
            SatisfactionRating(organization=org, ticket=t, customer=customer, score=4, created_at=now, updated_at=now)
            for t in tickets[::6]
        ])
        sign_in_as(client, customer)
        url = reverse("portal:tickets", args=[org.slug])
        result = count_queries(lambda: client.get(url))
        assert client.get(url).status_code == 200
        return result

    small, large = run(10), run(100)
    assert_same_count(small, large, "GET /portal/<org>/")
    assert small[0] <= 6  # session, organization, customer, count, page, unread badge, "\n".join(small[1])


def test_notification_list_query_count_does_not_grow(client, world):
    def run(n):
        customer = CustomerFactory(organization=world.org)
        ticket = TicketFactory(organization=world.org, customer=customer)
        CustomerNotification.objects.bulk_create([
            CustomerNotification(organization=world.org, customer=customer, ticket=ticket, kind="agent_reply",
                                 level="info", title=f"T{i}", body="B", web=True)
            for i in range(n)
        ])
        sign_in_as(client, customer)
        url = reverse("portal:notifications", args=[world.org.slug])
        return count_queries(lambda: client.get(url))

    assert_same_count(run(10), run(100), "GET /portal/<org>/notifications/")


def test_ticket_page_query_count_does_not_grow(client, world, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)

    def run(n):
        customer = CustomerFactory(organization=world.org)
        ticket = TicketFactory(organization=world.org, customer=customer, attachments=[upload("a.txt")])
        from factories import bulk_messages

        bulk_messages(ticket, n, author=world.agent)
        sign_in_as(client, customer)
        url = ticket_url(world, ticket.number)
        return count_queries(lambda: client.get(url))

    assert_same_count(run(10), run(100), "GET /portal/<org>/tickets/<n>/")


# --- one ticket -----------------------------------------------------------------------------------------


def test_ticket_page_shows_public_messages_never_internal_notes(client, world):
    ticket_services.add_message(ticket=world.ticket, kind=MessageKind.NOTE, actor=acting(world.agent),
                                body="NOTE-INTERNE-SECRETE le client est pénible")
    ticket_services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, actor=acting(world.agent),
                                body="Nous avons annulé la facture en double.")
    sign_in_as(client, world.customer)
    response = client.get(ticket_url(world))
    html = response.content.decode()
    assert response.status_code == 200
    assert "J&#x27;ai reçu deux fois la facture de mars." in html or "J'ai reçu deux fois la facture de mars." in html
    assert "Nous avons annulé la facture en double." in html
    assert "NOTE-INTERNE-SECRETE" not in html
    assert "Agathe" in html  # the agent's first name


def test_notes_with_attachments_stay_hidden_and_their_files_404(client, world):
    note = ticket_services.add_message(ticket=world.ticket, kind=MessageKind.NOTE, actor=acting(world.agent),
                                       body="interne", attachments=[upload("interne.pdf", b"%PDF-1.4 x")])
    att = Attachment.objects.get(message=note)
    sign_in_as(client, world.customer)
    assert "interne.pdf" not in client.get(ticket_url(world)).content.decode()
    url = reverse("portal:attachment", args=[world.org.slug, world.ticket.number, att.token])
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("who", ["anonymous", "neighbour", "other_org_customer", "agent_only"])
def test_a_ticket_that_is_not_mine_is_404_or_sign_in(client, world, neighbour, who):
    other_customer, other_ticket = neighbour
    url = ticket_url(world)
    if who == "anonymous":
        assert client.get(url).status_code == 302
        return
    if who == "agent_only":
        client.force_login(world.agent)
        assert client.get(url).status_code == 302
        return
    if who == "neighbour":
        sign_in_as(client, other_customer)
    else:
        globex_customer = CustomerFactory(organization=world.other_org, email=world.customer.email)
        sign_in_as(client, globex_customer)
        url = ticket_url(world, world.ticket.number, org=world.other_org)
    assert client.get(url).status_code == 404
    assert client.post(reverse("portal:reply", args=url.split("/")[2:5:2]), {"body": "x"}).status_code == 404


def test_number_of_another_organization_is_404(client, world):
    sign_in_as(client, world.customer)
    assert client.get(ticket_url(world, world.other_ticket.number)).status_code == 404


def test_my_attachment_downloads_only_for_me(client, world, neighbour):
    reply = ticket_services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, actor=acting(world.agent),
                                        body="Voici la facture", attachments=[upload("facture.pdf", b"%PDF-1.4 ok")])
    att = Attachment.objects.get(message=reply)
    url = reverse("portal:attachment", args=[world.org.slug, world.ticket.number, att.token])
    assert client.get(url).status_code == 302  # not signed in
    sign_in_as(client, neighbour[0])
    assert client.get(url).status_code == 404
    sign_in_as(client, world.customer)
    html = client.get(ticket_url(world)).content.decode()
    assert url in html
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 ok"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


# --- replying -------------------------------------------------------------------------------------------


def test_reply_with_attachment_reopens_a_ticket_waiting_on_me(client, world, queued_emails):
    ticket_services.change_status(ticket=world.ticket, status=Status.WAITING_CUSTOMER, actor=acting(world.agent))
    sign_in_as(client, world.customer)
    response = client.post(reverse("portal:reply", args=[world.org.slug, world.ticket.number]),
                           {"body": "Voici la capture demandée.", "attachments": [upload("capture.png", PNG)]})
    assert response.status_code == 302
    assert response.url.endswith("#reply")
    world.ticket.refresh_from_db()
    assert world.ticket.status == Status.OPEN  # the lifecycle of tickets.services
    message = Message.objects.filter(ticket=world.ticket).latest("created_at")
    assert message.kind == MessageKind.CUSTOMER and message.author_customer_id == world.customer.pk
    assert message.attachments.get().filename == "capture.png"
    page = client.get(ticket_url(world)).content.decode()
    assert "Votre message a bien été envoyé." in page and "Voici la capture demandée." in page


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED])
def test_reply_reopens_resolved_and_closed(client, world, status):
    ticket_services.change_status(ticket=world.ticket, status=status, actor=acting(world.agent))
    sign_in_as(client, world.customer)
    client.post(reverse("portal:reply", args=[world.org.slug, world.ticket.number]), {"body": "Toujours cassé"})
    world.ticket.refresh_from_db()
    assert world.ticket.status == Status.OPEN


def test_empty_reply_is_refused_with_a_message(client, world):
    sign_in_as(client, world.customer)
    before = Message.objects.count()
    response = client.post(reverse("portal:reply", args=[world.org.slug, world.ticket.number]), {"body": "  "})
    assert response.status_code == 400
    assert "Écrivez un message ou joignez un fichier." in response.content.decode()
    assert Message.objects.count() == before


def test_refused_file_keeps_the_text_and_saves_nothing(client, world):
    sign_in_as(client, world.customer)
    before = Message.objects.count()
    response = client.post(reverse("portal:reply", args=[world.org.slug, world.ticket.number]),
                           {"body": "Mon texte précieux", "attachments": [upload("x.exe", b"MZ")]})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Type de fichier refusé : x.exe" in html
    assert "Mon texte précieux" in html
    assert Message.objects.count() == before


def test_get_on_reply_is_not_allowed(client, world):
    sign_in_as(client, world.customer)
    assert client.get(reverse("portal:reply", args=[world.org.slug, world.ticket.number])).status_code == 405


# --- notifications and preference ----------------------------------------------------------------------


def test_web_notifications_with_the_titles_of_the_guide_badge_and_mark_read(client, world):
    ticket_services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, actor=acting(world.agent), body="R")
    for status in (Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED):
        ticket_services.change_status(ticket=world.ticket, status=status, actor=acting(world.agent))
    sign_in_as(client, world.customer)
    url = reverse("portal:notifications", args=[world.org.slug])
    html = client.get(url).content.decode()
    for title, body in [
        ("Ticket de support : Nouvelle réponse",
         "Vous avez reçu une réponse à votre ticket &#x27;Facture en double&#x27;."),
        ("Ticket de support : En attente de votre réponse",
         "Votre ticket &#x27;Facture en double&#x27; est maintenant en attente de votre réponse."),
        ("Ticket de support : Résolu", "Votre ticket &#x27;Facture en double&#x27; est maintenant résolu."),
        ("Ticket de support : Fermé", "Votre ticket &#x27;Facture en double&#x27; est maintenant fermé."),
    ]:
        assert title in html and body in html
    assert '<span class="nav-count"' in html and ">4</span>" in html
    # Opening one marks it read and goes to its ticket.
    first = CustomerNotification.objects.filter(customer=world.customer).order_by("created_at").first()
    response = client.get(reverse("portal:notification", args=[world.org.slug, first.pk]))
    assert response.url == ticket_url(world)
    first.refresh_from_db()
    assert first.read_at is not None
    assert ">3</span>" in client.get(url).content.decode()
    # Reading the ticket reads its notifications.
    client.get(ticket_url(world))
    assert not CustomerNotification.objects.filter(customer=world.customer, read_at__isnull=True).exists()
    assert "nav-count" not in client.get(url).content.decode()
    CustomerNotification.objects.filter(customer=world.customer).update(read_at=None)
    # Mark all read.
    assert client.post(reverse("portal:notifications_read", args=[world.org.slug])).status_code == 302
    assert not CustomerNotification.objects.filter(customer=world.customer, read_at__isnull=True).exists()
    assert "nav-count" not in client.get(url).content.decode()


def test_email_only_notifications_are_not_in_the_web_list(client, world):
    world.customer.notification_preference = CustomerContactChoice.EMAIL_ONLY
    world.customer.save()
    ticket_services.change_status(ticket=world.ticket, status=Status.RESOLVED, actor=acting(world.agent))
    sign_in_as(client, world.customer)
    html = client.get(reverse("portal:notifications", args=[world.org.slug])).content.decode()
    assert "Ticket de support : Résolu" not in html
    assert "préférences" in html


def test_someone_elses_notification_is_404(client, world, neighbour):
    ticket_services.change_status(ticket=neighbour[1], status=Status.RESOLVED, actor=acting(world.agent))
    theirs = CustomerNotification.objects.get(customer=neighbour[0])
    sign_in_as(client, world.customer)
    assert client.get(reverse("portal:notification", args=[world.org.slug, theirs.pk])).status_code == 404
    client.post(reverse("portal:notifications_read", args=[world.org.slug]))
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize("preference", [p for p, _label in CustomerContactChoice.choices])
def test_set_notification_preference(client, world, preference):
    sign_in_as(client, world.customer)
    url = reverse("portal:preferences", args=[world.org.slug])
    assert client.get(url).status_code == 200
    response = client.post(url, {"notification_preference": preference})
    assert response.status_code == 302
    world.customer.refresh_from_db()
    assert world.customer.notification_preference == preference
    html = client.get(url).content.decode()
    assert f'value="{preference}" checked' in html


def test_unknown_preference_is_refused(client, world):
    sign_in_as(client, world.customer)
    response = client.post(reverse("portal:preferences", args=[world.org.slug]), {"notification_preference": "push"})
    assert response.status_code == 400
    world.customer.refresh_from_db()
    assert world.customer.notification_preference == CustomerContactChoice.BOTH


def test_preference_then_drives_the_next_notification(client, world):
    sign_in_as(client, world.customer)
    client.post(reverse("portal:preferences", args=[world.org.slug]), {"notification_preference": "none"})
    ticket_services.change_status(ticket=world.ticket, status=Status.RESOLVED, actor=acting(world.agent))
    assert not CustomerNotification.objects.filter(customer=world.customer).exists()
