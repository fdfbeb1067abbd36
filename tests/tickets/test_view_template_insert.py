"""GET /tickets/<number>/template/ — HTMX: the reply box filled with a reply template."""

import pytest
from django.urls import reverse
from factories import acting, member
from helpers import assert_login_redirect, assert_partial, htmx

from lumiodesk.models import Role
from tickets import services

pytestmark = pytest.mark.django_db


def url(number=1):
    return reverse("tickets:template", args=[number])


@pytest.fixture
def template(world):
    return services.save_reply_template(
        organization=world.org,
        name="Accueil",
        body="Bonjour [Prénom], merci pour « {sujet} ». [Votre prénom]",
        actor=acting(world.manager),
    )


def test_anonymous_is_sent_to_login(client, world, template):
    assert_login_redirect(client.get(url(), {"template": template.pk}), url())


def test_anonymous_htmx_request_redirects_the_whole_page(client, world, template):
    response = client.get(url(), {"template": template.pk}, **htmx())
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("login"))


def test_another_organizations_ticket_or_template_is_404(client, world, template):
    client.force_login(world.agent)
    assert client.get(url(world.other_ticket.number), {"template": template.pk}, **htmx()).status_code == 404
    theirs = services.save_reply_template(
        organization=world.other_org, name="Globex", body="Secret Globex", actor=acting(member(world.other_org,
                                                                                               Role.ADMIN))
    )
    response = client.get(url(), {"template": theirs.pk}, **htmx())
    assert response.status_code == 404
    assert "Secret Globex" not in response.content.decode()


def test_viewer_is_refused(client, world, template):
    client.force_login(world.viewer)
    assert client.get(url(), {"template": template.pk}, **htmx()).status_code == 403


def test_htmx_fills_the_reply_box(client, world, template):
    client.force_login(world.agent)
    response = client.get(url(), {"template": template.pk, "body": ""}, **htmx("reply-body"))
    assert response.status_code == 200
    html = assert_partial(response)
    assert html.startswith('<textarea id="reply-body"')
    assert "Bonjour Claire, merci pour « Facture en double ». Agathe" in html


def test_htmx_appends_after_what_was_typed(client, world, template):
    client.force_login(world.agent)
    response = client.get(url(), {"template": template.pk, "body": "Déjà écrit <b>ici</b>  "}, **htmx())
    html = assert_partial(response)
    assert "Déjà écrit &lt;b&gt;ici&lt;/b&gt;\n\nBonjour Claire" in html


def test_no_template_keeps_the_text(client, world):
    client.force_login(world.agent)
    response = client.get(url(), {"template": "", "body": "Mon brouillon"}, **htmx())
    assert "Mon brouillon" in assert_partial(response)


def test_without_htmx_it_redirects_to_the_ticket_page(client, world, template):
    client.force_login(world.agent)
    response = client.get(url(), {"template": template.pk})
    assert response.status_code == 302
    assert response.url == f"{reverse('tickets:detail', args=[1])}?template={template.pk}"


def test_post_is_not_allowed(client, world):
    client.force_login(world.agent)
    assert client.post(url()).status_code == 405
