"""Satisfaction ratings (CSAT): asked in the resolution email (signed link, 7 days, no sign-in) and in the
portal; 1 to 5 stars and a comment; one per ticket, changeable 7 days after the first rating; stored
against the assignee at rating time; shown on the agent's ticket page and in the reports per agent."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from factories import TicketFactory, acting
from portal_helpers import patch_portal_tasks, sign_in_as, unique_ip

from crm.models import SatisfactionRating
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import AuditLog
from sla import reports
from tickets import emails
from tickets import services as ticket_services
from tickets.models import CustomerNotification, MessageKind, NotificationKind, Status
from tickets.portal import satisfaction

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def portal_tasks(monkeypatch, client):
    client.defaults["REMOTE_ADDR"] = unique_ip()
    return patch_portal_tasks(monkeypatch)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed(): ...``: the on-commit callbacks (emails queued) run at the end of the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def resolved(world, committed):
    ticket_services.assign(ticket=world.ticket, assignee=world.agent, actor=acting(world.manager))
    with committed():
        ticket_services.change_status(ticket=world.ticket, status=Status.RESOLVED, actor=acting(world.agent))
    world.ticket.refresh_from_db()
    return world.ticket


def rate_url(world):
    return reverse("portal:rate", args=[world.org.slug, world.ticket.number])


# --- the rules (service) ------------------------------------------------------------------------------


def test_rating_is_stored_against_the_assignee(world, resolved):
    rating = satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=5, comment=" Parfait ")
    assert (rating.score, rating.comment, rating.agent_id, rating.organization_id) == (5, "Parfait", world.agent.pk,
                                                                                       world.org.pk)
    assert AuditLog.objects.filter(action="satisfaction.rated", target_id=resolved.pk).exists()


@pytest.mark.parametrize("score", [0, 6, -1, "abc", None, "", 4.5, "5 étoiles"])
def test_only_1_to_5(world, resolved, score):
    with pytest.raises(InvalidInput):
        satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=score)
    assert not SatisfactionRating.objects.exists()


def test_the_database_refuses_a_score_out_of_range(world, resolved):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    with pytest.raises(IntegrityError), transaction.atomic():
        SatisfactionRating.objects.create(organization=world.org, ticket=resolved, customer=world.customer, score=6,
                                          created_at=timezone.now(), updated_at=timezone.now())


@pytest.mark.parametrize("status", [Status.NEW, Status.OPEN, Status.WAITING_CUSTOMER, Status.WAITING_INTERNAL])
def test_not_before_resolution(world, status):
    if status != Status.NEW:
        ticket_services.change_status(ticket=world.ticket, status=status, actor=acting(world.agent))
    with pytest.raises(InvalidInput, match="une fois qu'il sera résolu"):
        satisfaction.rate_ticket(ticket=world.ticket, customer=world.customer, score=4)


def test_closed_tickets_can_be_rated(world, resolved):
    ticket_services.change_status(ticket=resolved, status=Status.CLOSED, actor=acting(world.agent))
    assert satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=3).score == 3


def test_only_the_tickets_customer(world, resolved):
    from factories import CustomerFactory

    other = CustomerFactory(organization=world.org)
    with pytest.raises(NotPermitted):
        satisfaction.rate_ticket(ticket=resolved, customer=other, score=1)


def test_one_rating_per_ticket_changeable_for_7_days_then_final(world, resolved, clock):
    satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=2, comment="Lent")
    clock.advance(days=6, hours=23)
    # Reassigned meanwhile: the change is counted for the agent assigned when the customer rates.
    ticket_services.assign(ticket=resolved, assignee=world.manager, actor=acting(world.manager))
    rating = satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=4, comment="Finalement bien")
    assert SatisfactionRating.objects.count() == 1
    assert (rating.score, rating.comment, rating.agent_id) == (4, "Finalement bien", world.manager.pk)
    assert rating.updated_at > rating.created_at
    assert AuditLog.objects.filter(action="satisfaction.changed", target_id=resolved.pk).get().data["old"] == 2
    clock.advance(hours=1, seconds=1)
    with pytest.raises(InvalidInput, match="ne peut plus être modifiée"):
        satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=1)
    rating.refresh_from_db()
    assert rating.score == 4


def test_reopened_ticket_keeps_its_rating_but_cannot_be_rated_until_resolved_again(world, resolved):
    satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=2)
    ticket_services.add_message(ticket=resolved, kind=MessageKind.CUSTOMER, body="Ça recommence")
    resolved.refresh_from_db()
    assert resolved.status == Status.OPEN
    with pytest.raises(InvalidInput):
        satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=5)
    ticket_services.change_status(ticket=resolved, status=Status.RESOLVED, actor=acting(world.agent))
    assert satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=5).score == 5


# --- the ask in the resolution email -----------------------------------------------------------------


def send_last_email(world, queued_emails, mailoutbox):
    assert queued_emails
    assert emails.send_notification_email(queued_emails[-1])
    return mailoutbox[-1]


def test_resolution_email_keeps_the_guide_text_and_asks_for_a_rating(world, resolved, queued_emails, mailoutbox):
    notification = CustomerNotification.objects.get(ticket=resolved, kind=NotificationKind.RESOLVED)
    assert notification.title == "Ticket de support : Résolu"
    assert notification.body == "Votre ticket 'Facture en double' est maintenant résolu."
    mail = send_last_email(world, queued_emails, mailoutbox)
    assert "Votre ticket 'Facture en double' est maintenant résolu." in mail.body
    assert "/portal/acme/rate/" in mail.body
    html = mail.alternatives[0][0]
    assert html.count("?score=") == 5


def test_rating_from_the_email_link_without_signing_in(client, world, resolved, queued_emails, mailoutbox):
    mail = send_last_email(world, queued_emails, mailoutbox)
    link = next(line for line in mail.body.splitlines() if "/rate/" in line).strip()
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    page = client.get(path + "?score=4")  # a star clicked in the email: preselected, nothing saved on GET
    assert page.status_code == 200
    assert 'value="4" checked' in page.content.decode()
    assert not SatisfactionRating.objects.exists()
    response = client.post(path, {"score": "4", "comment": "Rapide et clair"})
    assert response.status_code == 302
    rating = SatisfactionRating.objects.get(ticket=resolved)
    assert (rating.score, rating.comment, rating.agent_id, rating.customer_id) == (4, "Rapide et clair",
                                                                                   world.agent.pk, world.customer.pk)
    page = client.get(path).content.decode()
    assert "Merci pour votre évaluation" in page and "Modifier mon évaluation" in page
    # The link changes the same rating (one per ticket).
    client.post(path, {"score": "5", "comment": ""})
    assert SatisfactionRating.objects.get().score == 5


def test_email_link_expires_after_7_days(client, world, resolved, queued_emails, mailoutbox, monkeypatch):
    import time

    from django.core import signing

    mail = send_last_email(world, queued_emails, mailoutbox)
    link = next(line for line in mail.body.splitlines() if "/rate/" in line).strip()
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    assert client.get(path).status_code == 200
    real_time = time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() + 7 * 86400 + 60)  # the signature's clock
    assert client.get(path).status_code == 410
    assert client.post(path, {"score": "5"}).status_code == 410
    assert not SatisfactionRating.objects.exists()


def test_forged_or_foreign_links_are_refused(client, world, resolved):
    token = satisfaction.rating_token(resolved)
    assert client.get(reverse("portal:rate_link", args=[world.org.slug, token + "x"])).status_code == 410
    assert client.get(reverse("portal:rate_link", args=[world.other_org.slug, token])).status_code == 410
    other_token = satisfaction.rating_token(world.other_ticket)
    assert client.get(reverse("portal:rate_link", args=[world.org.slug, other_token])).status_code == 410


def test_invalid_score_on_the_link_page_says_so(client, world, resolved):
    url = reverse("portal:rate_link", args=[world.org.slug, satisfaction.rating_token(resolved)])
    response = client.post(url, {"score": "9", "comment": "Mon commentaire"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choisissez une note de 1 à 5 étoiles." in html and "Mon commentaire" in html
    assert not SatisfactionRating.objects.exists()


def test_the_reply_that_resolves_carries_the_ask(world, queued_emails, mailoutbox, committed):
    """One action, one email: the reply's email (status resolved) asks; the status email is web only."""
    with committed():
        ticket_services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, actor=acting(world.agent),
                                    body="C'est réglé.", then_status=Status.RESOLVED)
    assert len(queued_emails) == 1
    mail = send_last_email(world, queued_emails, mailoutbox)
    assert "C'est réglé." in mail.body and "/portal/acme/rate/" in mail.body


def test_no_ask_in_an_ordinary_reply_or_once_reopened_or_already_rated(world, queued_emails, mailoutbox, committed):
    with committed():
        ticket_services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, actor=acting(world.agent),
                                    body="Un instant")
    assert "/rate/" not in send_last_email(world, queued_emails, mailoutbox).body

    with committed():
        ticket_services.change_status(ticket=world.ticket, status=Status.RESOLVED, actor=acting(world.agent))
    resolved_email = queued_emails[-1]
    ticket_services.add_message(ticket=world.ticket, kind=MessageKind.CUSTOMER, body="Non, toujours cassé")
    emails.send_notification_email(resolved_email)  # left after the customer reopened it
    assert "/rate/" not in mailoutbox[-1].body

    with committed():
        ticket_services.change_status(ticket=world.ticket, status=Status.RESOLVED, actor=acting(world.agent))
    world.ticket.refresh_from_db()
    satisfaction.rate_ticket(ticket=world.ticket, customer=world.customer, score=3)
    assert "/rate/" not in send_last_email(world, queued_emails, mailoutbox).body


# --- in the portal ----------------------------------------------------------------------------------------


def test_portal_asks_on_resolved_tickets_and_saves_the_rating(client, world, resolved):
    sign_in_as(client, world.customer)
    listing = client.get(reverse("portal:tickets", args=[world.org.slug])).content.decode()
    assert "Donnez votre avis" in listing
    page = client.get(reverse("portal:ticket", args=[world.org.slug, resolved.number])).content.decode()
    assert "Votre avis nous intéresse" in page and 'name="score"' in page
    response = client.post(rate_url(world), {"score": "5", "comment": "Merci !"})
    assert response.status_code == 302
    page = client.get(reverse("portal:ticket", args=[world.org.slug, resolved.number])).content.decode()
    assert "Votre évaluation" in page and "Merci !" in page and "Vous pouvez modifier votre évaluation jusqu" in page
    listing = client.get(reverse("portal:tickets", args=[world.org.slug])).content.decode()
    assert "Donnez votre avis" not in listing and "★★★★★" in listing


def test_portal_does_not_ask_before_resolution(client, world):
    sign_in_as(client, world.customer)
    page = client.get(reverse("portal:ticket", args=[world.org.slug, world.ticket.number])).content.decode()
    assert 'name="score"' not in page
    response = client.post(rate_url(world), {"score": "5"})
    assert response.status_code == 400
    assert "une fois qu&#x27;il sera résolu" in response.content.decode()


def test_portal_rating_of_someone_elses_ticket_is_404(client, world, resolved):
    from factories import CustomerFactory

    sign_in_as(client, CustomerFactory(organization=world.org))
    assert client.post(rate_url(world), {"score": "1"}).status_code == 404
    assert not SatisfactionRating.objects.exists()


def test_after_the_window_the_portal_shows_the_rating_without_a_form(client, world, resolved, clock):
    satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=4)
    clock.advance(days=8)
    sign_in_as(client, world.customer)
    page = client.get(reverse("portal:ticket", args=[world.org.slug, resolved.number])).content.decode()
    assert "Votre évaluation" in page and 'name="score"' not in page
    response = client.post(rate_url(world), {"score": "1"})
    assert response.status_code == 400 and "ne peut plus être modifiée" in response.content.decode()


# --- the agents' side -------------------------------------------------------------------------------------


def test_agent_ticket_page_shows_the_rating(client, world, resolved):
    client.force_login(world.agent)
    url = reverse("tickets:detail", args=[resolved.number])
    assert "Pas encore de note" in client.get(url).content.decode()
    satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=2, comment="Trop long à répondre")
    html = client.get(url).content.decode()
    assert "Satisfaction client" in html and "2/5" in html and "Trop long à répondre" in html


def test_report_gives_satisfaction_per_agent_in_the_organization_time_zone(world, clock):
    paris = ZoneInfo("Europe/Paris")
    # Created on 1 March at 00:30 in Paris (29 February 23:30 UTC... in 2025: 28 February 23:30 UTC).
    clock.set(datetime(2025, 3, 1, 0, 30, tzinfo=paris))
    inside = [TicketFactory(organization=world.org, customer=world.customer, subject=f"In {i}") for i in range(3)]
    clock.set(datetime(2025, 2, 28, 23, 30, tzinfo=paris))
    outside = TicketFactory(organization=world.org, customer=world.customer, subject="Février")
    clock.set(datetime(2025, 3, 10, 12, 0, tzinfo=paris))
    for ticket, agent, score in [(inside[0], world.agent, 5), (inside[1], world.agent, 3),
                                 (inside[2], world.manager, 4), (outside, world.agent, 1)]:
        ticket_services.assign(ticket=ticket, assignee=agent, actor=acting(world.manager))
        ticket_services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(agent))
        ticket.refresh_from_db()
        satisfaction.rate_ticket(ticket=ticket, customer=world.customer, score=score)

    report = reports.generate_report(organization=world.org, start=date(2025, 3, 1), end=date(2025, 3, 31),
                                     granularity="week", actor=acting(world.manager))
    data = report.data["satisfaction"]
    assert data["total"] == {"count": 3, "average": 4.0, "happy_share": 66.7}
    agathe = next(r for r in data["by_agent"] if r["agent"].startswith("Agathe"))
    marc = next(r for r in data["by_agent"] if r["agent"].startswith("Marc"))
    assert (agathe["count"], agathe["average"], agathe["happy_share"]) == (2, 4.0, 50.0)
    assert (marc["count"], marc["average"], marc["happy_share"]) == (1, 4.0, 100.0)


def test_report_page_shows_the_satisfaction_table(client, world, resolved):
    satisfaction.rate_ticket(ticket=resolved, customer=world.customer, score=5)
    today = resolved.created_at.date()
    report = reports.generate_report(organization=world.org, start=today - timedelta(days=1),
                                     end=today + timedelta(days=1), granularity="day", actor=acting(world.manager))
    client.force_login(world.manager)
    html = client.get(reverse("sla:report", args=[report.pk])).content.decode()
    assert "Satisfaction client par agent" in html and "5,00 / 5" in html


def test_old_reports_without_satisfaction_still_render(client, world):
    report = reports.generate_report(organization=world.org, start=date(2025, 1, 1), end=date(2025, 1, 2),
                                     granularity="day", actor=acting(world.manager))
    report.data.pop("satisfaction")
    report.save(update_fields=["data"])
    client.force_login(world.manager)
    response = client.get(reverse("sla:report", args=[report.pk]))
    assert response.status_code == 200 and "Satisfaction client" not in response.content.decode()
