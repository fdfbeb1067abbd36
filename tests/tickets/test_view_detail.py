"""GET /tickets/<number>/ — the ticket page."""

import pytest
from django.urls import reverse
from factories import UserFactory, acting, member, upload
from helpers import assert_full_page, assert_login_redirect, assert_partial, htmx

from lumiodesk.models import Role
from tickets import services
from tickets.models import MessageKind, Status

pytestmark = pytest.mark.django_db


def url(number):
    return reverse("tickets:detail", args=[number])


def test_anonymous_is_sent_to_login(client, world):
    assert_login_redirect(client.get(url(1)), url(1))


def test_another_organizations_ticket_is_404(client, world):
    client.force_login(world.agent)
    assert client.get(url(world.other_ticket.number)).status_code == 404
    client.force_login(world.outsider)
    assert client.get(url(world.ticket.number)).status_code == 404


def test_unknown_number_is_404(client, world):
    client.force_login(world.admin)
    assert client.get(url(999)).status_code == 404


def test_a_user_without_organization_is_refused(client, world):
    client.force_login(UserFactory())
    assert client.get(url(1)).status_code == 403


def test_viewer_reads_without_any_write_control(client, world):
    services.add_message(
        ticket=world.ticket, kind=MessageKind.NOTE, body="Note visible par l'équipe", actor=acting(world.agent)
    )
    client.force_login(world.viewer)
    response = client.get(url(1))
    assert response.status_code == 200
    html = assert_full_page(response)
    assert "Facture en double" in html
    assert "J&#x27;ai reçu deux fois la facture de mars." in html
    assert "Note visible par l&#x27;équipe" in html
    assert "Lecture seule" in html
    assert reverse("tickets:reply", args=[1]) not in html
    assert reverse("tickets:status", args=[1]) not in html
    assert reverse("tickets:assign", args=[1]) not in html
    assert response.context["can"].tickets_reply is False
    assert response.context["status_buttons"] == []
    assert response.context["templates"] == []


def test_agent_sees_the_timeline_and_the_allowed_status_buttons(client, world):
    services.add_message(
        ticket=world.ticket,
        kind=MessageKind.REPLY,
        body="Nous vérifions.",
        actor=acting(world.agent),
        then_status=Status.RESOLVED,
    )
    services.save_reply_template(organization=world.org, name="Merci", body="Merci {prenom_client}",
                                 actor=acting(world.admin))
    client.force_login(world.agent)
    response = client.get(url(1))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nous vérifions." in html
    assert "Claire Dupont" in html
    assert "Ticket de support : Résolu" in html  # notifications sent to the customer
    assert [code for code, _ in response.context["status_buttons"]] == ["open", "closed"]
    assert "Rouvrir" in html
    assert [t.name for t in response.context["templates"]] == ["Merci"]
    assert reverse("tickets:reply", args=[1]) in html
    entries = response.context["timeline"]
    assert [e.message.kind if e.message else e.event.action for e in entries] == ["customer", "reply", "ticket.status"]


def test_message_bodies_are_not_executed(client, world):
    services.add_message(
        ticket=world.ticket,
        kind=MessageKind.CUSTOMER,
        body_html='<p>Bonjour<script>alert("x")</script><img src=x onerror="alert(1)"></p>',
    )
    services.add_message(ticket=world.ticket, kind=MessageKind.CUSTOMER, body="<script>alert(2)</script>")
    client.force_login(world.agent)
    html = client.get(url(1)).content.decode()
    assert "<script>alert" not in html
    assert "onerror" not in html


def test_attachments_are_linked(client, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    message = services.add_message(
        ticket=world.ticket,
        kind=MessageKind.CUSTOMER,
        body="Capture jointe",
        attachments=[upload("écran.png", b"\x89PNG\r\n\x1a\n" + b"0" * 10)],
    )
    client.force_login(world.viewer)
    html = client.get(url(1)).content.decode()
    token = message.attachments.get().token
    assert reverse("tickets:attachment", args=[1, token]) in html
    assert "écran.png" in html


def test_template_query_fills_the_reply_box(client, world):
    template = services.save_reply_template(
        organization=world.org, name="Accueil", body="Bonjour {prenom_client}, ici {prenom_agent}.",
        actor=acting(world.admin),
    )
    client.force_login(world.agent)
    response = client.get(url(1), {"template": template.pk})
    assert response.status_code == 200
    assert "Bonjour Claire, ici Agathe." in response.content.decode()


def test_template_of_another_organization_is_404(client, world):
    theirs = services.save_reply_template(
        organization=world.other_org, name="Secret", body="Globex only",
        actor=acting(member(world.other_org, Role.ADMIN)),
    )
    client.force_login(world.agent)
    assert client.get(url(1), {"template": theirs.pk}).status_code == 404


def test_viewer_template_query_is_ignored(client, world):
    """A Viewer may not reply: ``?template=`` fills nothing, and the page stays the read-only one."""
    template = services.save_reply_template(organization=world.org, name="Accueil",
                                            body="Bonjour {prenom_client}, texte du modèle.", actor=acting(world.admin))
    client.force_login(world.viewer)
    response = client.get(url(1), {"template": template.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "texte du modèle" not in html  # neither rendered nor offered
    assert "Bonjour Claire" not in html
    assert reverse("tickets:reply", args=[1]) not in html
    assert response.context["reply_form"].initial == {}
    assert response.context["templates"] == []
    # Not even looked up: another organization's template is ignored too (no 404 that would reveal it).
    theirs = services.save_reply_template(organization=world.other_org, name="Secret", body="Globex only",
                                          actor=acting(member(world.other_org, Role.ADMIN)))
    response = client.get(url(1), {"template": theirs.pk})
    assert response.status_code == 200
    assert "Globex only" not in response.content.decode() and response.context["reply_form"].initial == {}


def test_htmx_get_still_works(client, world):
    client.force_login(world.agent)
    response = client.get(url(1), **htmx())
    assert response.status_code == 200
    assert "Facture en double" in response.content.decode()


def test_post_is_not_allowed(client, world):
    client.force_login(world.agent)
    assert client.post(url(1)).status_code == 405


def test_reply_partial_renders_alone(client, world):
    """The `ticket` partial is what an HTMX reply swaps in; it must render on its own."""
    client.force_login(world.agent)
    response = client.post(reverse("tickets:reply", args=[1]), {"kind": "reply", "body": "Partiel"}, **htmx())
    html = assert_partial(response)
    assert 'id="ticket"' in html


def test_viewer_sees_the_assignee_even_without_a_full_name(client, world):
    nameless = member(world.org, Role.AGENT, first_name="", last_name="", email="support-bot@acme.test")
    services.assign(ticket=world.ticket, assignee=nameless, actor=acting(world.agent))
    client.force_login(world.viewer)
    html = client.get(url(1)).content.decode()
    properties = html[html.index('id="properties"') :]
    responsible = properties[: properties.index("</div>")]
    assert "support-bot@acme.test" in responsible
    assert "Non assigné" not in responsible


def test_other_tickets_of_the_customer_put_urgent_first(world):
    from factories import TicketFactory

    from tickets.selectors import ticket_page

    urgent = TicketFactory(organization=world.org, customer=world.customer, subject="Urgent", priority="urgent")
    later = TicketFactory(organization=world.org, customer=world.customer, subject="Plus récent")
    others = ticket_page(world.ticket)["other_tickets"]
    assert [t.pk for t in others] == [urgent.pk, later.pk]
