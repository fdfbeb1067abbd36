"""The public contact form (/help/<org-slug>/contact/): a ticket with channel ``form``, honeypot,
rate limits per IP and per email, plan quota, errors next to the fields, nothing half-saved."""

from __future__ import annotations

import pytest
from django.urls import reverse
from factories import upload
from portal_helpers import patch_portal_tasks, run_portal_tasks, unique_ip

from billing import catalogue
from billing.catalogue import Limit
from crm.models import Customer, CustomerContactChoice
from tickets.models import Attachment, Channel, Message, MessageKind, Status, Ticket
from tickets.portal import services

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def portal_tasks(monkeypatch):
    return patch_portal_tasks(monkeypatch)


@pytest.fixture
def ip(client):
    address = unique_ip()
    client.defaults["REMOTE_ADDR"] = address
    return address


def url(org) -> str:
    return reverse("contact:form", args=[org.slug])


def form_data(**overrides) -> dict:
    data = {"name": "Jeanne Martin", "email": "jeanne.martin@example.com", "subject": "Export CSV impossible",
            "message": "Bonjour, le bouton d'export ne fait rien.", "website": ""}
    return data | overrides


def test_get_shows_the_form_in_the_help_center(client, world):
    response = client.get(url(world.org))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="subject"' in html and 'name="attachments"' in html and 'multiple' in html
    assert 'name="website"' in html and 'tabindex="-1"' in html  # the honeypot, out of reach of people
    assert "Acme" in html and reverse("kb_public:home", args=["acme"]) in html


def test_unknown_organization_is_404(client, db):
    assert client.get("/help/nope/contact/").status_code == 404


def test_help_center_links_to_the_form_and_the_portal(client, world):
    html = client.get(reverse("kb_public:home", args=[world.org.slug])).content.decode()
    assert url(world.org) in html
    assert reverse("portal:tickets", args=[world.org.slug]) in html


def test_submission_creates_a_form_ticket_and_confirms_with_its_number(
    client, world, ip, portal_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(world.org), form_data(attachments=[upload("capture.png", PNG)]))
    assert response.status_code == 302
    assert response.url == reverse("contact:sent", args=[world.org.slug])

    ticket = Ticket.objects.get(organization=world.org, subject="Export CSV impossible")
    assert ticket.channel == Channel.FORM and ticket.status == Status.NEW
    assert ticket.customer.email == "jeanne.martin@example.com"
    assert (ticket.customer.first_name, ticket.customer.last_name) == ("Jeanne", "Martin")
    first = Message.objects.get(ticket=ticket)
    assert first.kind == MessageKind.CUSTOMER and first.channel == Channel.FORM
    assert "export ne fait rien" in first.body_text
    assert Attachment.objects.get(message=first).filename == "capture.png"

    page = client.get(response.url)
    html = page.content.decode()
    assert page.status_code == 200
    assert f"#{ticket.number}" in html
    assert "jeanne.martin@example.com" in html  # the acknowledgement goes there

    # The acknowledgement: the number, the subject, the portal and the confirmation link; never the message
    # (issue 15: it relayed it to any address); it opens the ticket's thread.
    assert [name for name, _args in portal_tasks] == ["tickets.portal.tasks.send_contact_acknowledgement"]
    run_portal_tasks(portal_tasks)
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["jeanne.martin@example.com"]
    assert f"[#{ticket.number}]" in mail.subject
    assert "export ne fait rien" not in mail.body and "Jeanne" not in mail.body
    assert "Export CSV impossible" in mail.body
    assert reverse("portal:sign_in_request", args=["acme"]) in mail.body
    assert "/help/acme/contact/confirm/" in mail.body
    assert mail.extra_headers["Message-ID"].startswith(f"<ticket-{world.org.pk}-{ticket.number}-0@")


def test_acknowledgement_is_sent_once_even_if_the_task_runs_twice(world, mailoutbox, portal_tasks,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.submit_contact_form(organization=world.org, name="Léa", email="lea@example.com",
                                              subject="Question", message="Bonjour")
    from tickets.portal.emails import send_contact_acknowledgement

    assert send_contact_acknowledgement(ticket.pk) is True
    assert send_contact_acknowledgement(ticket.pk) is False
    assert len(mailoutbox) == 1


def test_no_acknowledgement_for_a_customer_who_wants_no_email(world, portal_tasks,
                                                             django_capture_on_commit_callbacks):
    world.customer.notification_preference = CustomerContactChoice.WEB_ONLY
    world.customer.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.submit_contact_form(organization=world.org, name="Claire", email=world.customer.email,
                                     subject="Encore moi", message="Bonjour")
    assert portal_tasks == []


def test_existing_customer_is_reused(client, world, ip):
    client.post(url(world.org), form_data(email="CLAIRE.DUPONT@example.com", name="Autre Nom"))
    ticket = Ticket.objects.get(organization=world.org, subject="Export CSV impossible")
    assert ticket.customer_id == world.customer.pk
    assert Customer.objects.filter(organization=world.org).count() == 1


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        # DRF's French catalogue takes precedence over Django's own wording for this message
        ("email", "pas-un-email", "Saisissez une adresse e-mail valide."),
        ("subject", "", "Ce champ est obligatoire."),
        ("message", "", "Ce champ est obligatoire."),
        ("name", "", "Ce champ est obligatoire."),
    ],
)
def test_invalid_field_shows_the_error_next_to_it_and_keeps_the_input(client, world, ip, field, value, error):
    response = client.post(url(world.org), form_data(**{field: value}))
    html = response.content.decode()
    assert response.status_code == 400
    # The error is rendered with its field (and the field marked invalid), not only at the top.
    assert f'<ul class="errorlist" id="id_{field}_error"><li>{error}</li></ul>' in html
    assert 'aria-invalid="true"' in html
    kept = {"name": "Jeanne Martin", "subject": "Export CSV impossible",
            "message": "le bouton d&#x27;export ne fait rien", "email": "jeanne.martin@example.com"}
    for other, text in kept.items():
        if other != field:
            assert text in html, other
    assert not Ticket.objects.filter(organization=world.org, channel=Channel.FORM).exists()
    assert Customer.objects.filter(organization=world.org).count() == 1


def test_refused_attachment_saves_nothing_and_says_why(client, world, ip):
    response = client.post(url(world.org), form_data(email="nouveau@example.com",
                                                     attachments=[upload("virus.exe", b"MZ...")]))
    html = response.content.decode()
    assert response.status_code == 400
    assert "Type de fichier refusé : virus.exe" in html
    assert "Export CSV impossible" in html  # kept
    assert not Ticket.objects.filter(organization=world.org, channel=Channel.FORM).exists()
    assert not Customer.objects.filter(email="nouveau@example.com").exists()


def test_fake_image_is_refused(client, world, ip):
    response = client.post(url(world.org), form_data(attachments=[upload("photo.png", b"not a png")]))
    assert response.status_code == 400
    assert "ne correspond pas à son extension" in response.content.decode()


def test_honeypot_looks_like_success_but_creates_nothing(client, world, ip, portal_tasks):
    response = client.post(url(world.org), form_data(website="http://spam.example"))
    assert response.status_code == 302
    page = client.get(response.url)
    assert page.status_code == 200
    assert "bien enregistrée" in page.content.decode()
    assert not Ticket.objects.filter(organization=world.org, channel=Channel.FORM).exists()
    assert portal_tasks == []


def test_rate_limit_per_ip_answers_429_and_keeps_the_message(client, world, ip):
    from tickets.portal.contact_views import IP_LIMITS

    limit = IP_LIMITS[0][0]
    for i in range(limit):
        r = client.post(url(world.org), form_data(email=f"visiteur{i}@example.com", subject=f"Sujet {i}"))
        assert r.status_code == 302, i
    response = client.post(url(world.org), form_data(email="encore@example.com", subject="Un de trop"))
    html = response.content.decode()
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "réessayez dans" in html
    assert "Un de trop" in html and "encore@example.com" in html  # nothing the visitor typed is lost
    assert not Ticket.objects.filter(subject="Un de trop").exists()
    # Another address (another visitor) is not affected.
    client.defaults["REMOTE_ADDR"] = unique_ip()
    assert client.post(url(world.org), form_data(email="autre@example.com", subject="Autre")).status_code == 302


def test_rate_limit_per_email_across_addresses(client, world):
    from tickets.portal.contact_views import EMAIL_LIMIT

    for i in range(EMAIL_LIMIT[0]):
        client.defaults["REMOTE_ADDR"] = unique_ip()
        assert client.post(url(world.org), form_data(subject=f"Sujet {i}")).status_code == 302
    client.defaults["REMOTE_ADDR"] = unique_ip()
    response = client.post(url(world.org), form_data(subject="Encore un"))
    assert response.status_code == 429
    assert not Ticket.objects.filter(subject="Encore un").exists()


def test_over_the_monthly_quota_tickets_are_still_accepted(client, world, ip, monkeypatch):
    """Section 9: overage never blocks receiving requests (it alerts at 80/100/120 %)."""
    from billing import usage

    monkeypatch.setattr(usage, "usage_of", lambda org, limit: 5_000)
    response = client.post(url(world.org), form_data())
    assert response.status_code == 302
    assert Ticket.objects.filter(organization=world.org, channel=Channel.FORM).exists()


def test_a_blocking_quota_refuses_with_a_clear_message_and_saves_nothing(client, world, ip, monkeypatch):
    from billing import services as billing_services

    monkeypatch.setattr(billing_services, "BLOCKING_LIMITS", catalogue.BLOCKING_LIMITS | {Limit.TICKETS_PER_MONTH})
    monkeypatch.setattr(billing_services, "usage_of", lambda org, limit: 1_000)
    response = client.post(url(world.org), form_data(email="bloque@example.com"))
    html = response.content.decode()
    assert response.status_code == 402
    assert "Limite atteinte : le forfait Starter permet" in html
    assert "Export CSV impossible" in html
    assert not Customer.objects.filter(email="bloque@example.com").exists()


def test_confirmation_page_without_a_submission_goes_back_to_the_form(client, world):
    response = client.get(reverse("contact:sent", args=[world.org.slug]))
    assert response.status_code == 302 and response.url == url(world.org)


def test_confirmation_of_another_organization_is_not_shown(client, world, ip):
    client.post(url(world.org), form_data())
    response = client.get(reverse("contact:sent", args=[world.other_org.slug]))
    assert response.status_code == 302


def test_page_in_the_organization_language(client, world):
    world.org.language = "en"
    world.org.save()
    html = client.get(url(world.org)).content.decode()
    assert '<html lang="en">' in html
