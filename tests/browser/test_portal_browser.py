"""End to end in a real browser: a visitor writes through the contact form, signs in to the portal with the
link from the email, reads the agent's answer (never the internal note), replies with a file, and rates
the resolved ticket. Screenshots of each main screen, on a desktop and at phone width (390 px)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from factories import acting
from portal_helpers import sign_in_link_from

from tickets import emails
from tickets import services as ticket_services
from tickets.models import MessageKind, Status, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(autouse=True)
def tasks_run_now(monkeypatch):
    """The portal's emails go out at once (the live server runs in this process: the locmem outbox is shared)."""
    from tickets.portal import tasks

    for task in (tasks.send_sign_in_link, tasks.send_contact_acknowledgement):
        monkeypatch.setattr(task, "delay", lambda *args, _task=task: _task(*args))


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def both_widths(page, screenshot, name: str) -> None:
    page.set_viewport_size(DESKTOP)
    screenshot(page, name, full_page=True)
    page.set_viewport_size(PHONE)
    screenshot(page, f"{name}-phone", full_page=True)
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1, name
    page.set_viewport_size(DESKTOP)


def test_contact_form_portal_reply_and_rating(live_server, page, world, screenshot, tmp_path, queued_emails):
    base = live_server.url
    mail.outbox.clear()

    # 1. The contact form, from the help center.
    page.goto(f"{base}/help/acme/")
    page.get_by_role("link", name="Nous contacter").first.click()
    page.wait_for_url("**/help/acme/contact/")
    both_widths(page, screenshot, "portal-contact-form")
    page.fill("#id_name", "Claire Dupont")
    page.fill("#id_email", world.customer.email)
    page.fill("#id_subject", "Export CSV vide")
    page.fill("#id_message", "Bonjour,\nl'export CSV de mars ne contient aucune ligne.\nMerci !")
    capture = tmp_path / "capture.png"
    capture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    page.set_input_files("#id_attachments", str(capture))
    page.get_by_role("button", name="Envoyer ma demande").click()
    page.wait_for_url("**/help/acme/contact/sent/")
    ticket = Ticket.objects.get(organization=world.org, subject="Export CSV vide")
    assert f"#{ticket.number}" in page.inner_text("main")
    both_widths(page, screenshot, "portal-contact-confirmation")
    assert any(f"[#{ticket.number}]" in m.subject for m in mail.outbox)  # the acknowledgement

    # The team answers, with an internal note the customer must never see.
    ticket_services.assign(ticket=ticket, assignee=world.agent, actor=acting(world.manager))
    ticket_services.add_message(ticket=ticket, kind=MessageKind.NOTE, actor=acting(world.agent),
                                body="NOTE INTERNE : bug connu, voir l'équipe technique.")
    ticket_services.add_message(ticket=ticket, kind=MessageKind.REPLY, actor=acting(world.agent),
                                body="Bonjour Claire,\n\nPouvez-vous nous envoyer une capture de vos filtres ?"
                                     "\n\nAgathe",
                                then_status=Status.WAITING_CUSTOMER)

    # 2. Sign in by a link sent by email.
    page.goto(f"{base}/portal/acme/")
    page.wait_for_url("**/portal/acme/login/**")
    both_widths(page, screenshot, "portal-sign-in")
    page.fill("#id_email", world.customer.email)
    page.get_by_role("button", name="Recevoir mon lien de connexion").click()
    page.wait_for_url("**/portal/acme/login/sent/")
    screenshot(page, "portal-sign-in-sent")
    link = sign_in_link_from(next(m for m in reversed(mail.outbox) if "connexion" in m.subject))
    page.goto(base + path_of(link))
    page.get_by_role("button", name="Ouvrir mon espace client").click()
    page.wait_for_url(f"{base}/portal/acme/")

    # 3. My tickets.
    page.get_by_text("Export CSV vide").wait_for()
    assert "En attente de votre réponse" in page.inner_text("main")
    assert "Facture en double" in page.inner_text("main")
    both_widths(page, screenshot, "portal-ticket-list")

    # 4. The ticket: the agent's reply, never the note.
    page.get_by_text("Export CSV vide").click()
    page.wait_for_url(f"**/portal/acme/tickets/{ticket.number}/")
    text = page.inner_text("main")
    assert "Pouvez-vous nous envoyer une capture" in text
    assert "NOTE INTERNE" not in page.content()
    both_widths(page, screenshot, "portal-ticket")

    # 5. Reply with a file: the ticket goes back to the team.
    page.fill("#id_body", "Voici la capture de mes filtres.")
    page.set_input_files("#id_attachments", str(capture))
    page.get_by_role("button", name="Envoyer", exact=True).click()
    page.get_by_text("Votre message a bien été envoyé.").wait_for()
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert "Voici la capture de mes filtres." in page.inner_text("main")

    # 6. Resolved: the portal asks for a rating; notifications list and badge.
    ticket_services.add_message(ticket=ticket, kind=MessageKind.REPLY, actor=acting(world.agent),
                                body="C'est corrigé : l'export contient de nouveau vos lignes.",
                                then_status=Status.RESOLVED)
    page.goto(f"{base}/portal/acme/notifications/")
    assert "Ticket de support : Nouvelle réponse" in page.inner_text("main")
    both_widths(page, screenshot, "portal-notifications")
    page.goto(f"{base}/portal/acme/tickets/{ticket.number}/")
    page.get_by_text("Votre avis nous intéresse").wait_for()
    both_widths(page, screenshot, "portal-rating")
    page.locator("label[for=star-4]").click()
    page.fill("#id_comment", "Rapide, merci Agathe.")
    page.get_by_role("button", name="Envoyer mon évaluation").click()
    page.get_by_text("Merci pour votre évaluation !").wait_for()
    screenshot(page, "portal-rated", full_page=True)
    rating = ticket.satisfaction.__class__.objects.get(ticket=ticket)
    assert (rating.score, rating.comment, rating.agent_id) == (4, "Rapide, merci Agathe.", world.agent.pk)

    # 7. The rating link of the resolution email works without signing in.
    assert queued_emails
    emails.send_notification_email(queued_emails[-1])
    resolved_mail = mail.outbox[-1]
    rate_link = re.search(r"https?://\S+/portal/acme/rate/\S+/", resolved_mail.body)
    assert rate_link is None  # already rated: the email no longer asks
    other = world.ticket
    ticket_services.assign(ticket=other, assignee=world.agent, actor=acting(world.manager))
    queued_emails.clear()
    ticket_services.change_status(ticket=other, status=Status.RESOLVED, actor=acting(world.agent))
    emails.send_notification_email(queued_emails[-1])
    rate_link = re.search(r"https?://\S+/portal/acme/rate/\S+/", mail.outbox[-1].body).group(0)
    fresh = page.context.browser.new_context(locale="fr-FR", viewport=PHONE)
    phone = fresh.new_page()
    phone.goto(base + path_of(rate_link) + "?score=5")
    phone.get_by_text("Votre avis sur notre réponse").wait_for()
    screenshot(phone, "portal-rate-link-phone", full_page=True)
    phone.get_by_role("button", name="Envoyer mon évaluation").click()
    phone.get_by_text("Merci pour votre évaluation !").wait_for()
    fresh.close()
    assert other.satisfaction.__class__.objects.get(ticket=other).score == 5

    # 8. The agent sees the rating on the ticket page.
    from conftest import browser_login

    page.context.clear_cookies()
    browser_login(page, base, world.agent.email)
    page.goto(f"{base}/tickets/{ticket.number}/")
    page.get_by_text("Satisfaction client").wait_for()
    assert "4/5" in page.inner_text("aside")
    screenshot(page.locator("aside"), "portal-agent-sidebar-rating")
