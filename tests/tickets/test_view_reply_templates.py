"""/tickets/templates/ — list (everybody), create/edit/delete (Admin and Manager)."""

import pytest
from django.urls import reverse
from factories import acting, member
from helpers import assert_full_page, assert_login_redirect, htmx

from lumiodesk.models import Role
from tickets import services
from tickets.models import ReplyTemplate

pytestmark = pytest.mark.django_db

LIST = reverse("tickets:templates")
CREATE = reverse("tickets:template_create")


@pytest.fixture
def template(world):
    return services.save_reply_template(
        organization=world.org,
        name="Remerciement",
        body="Merci {prenom_client} pour votre patience.",
        actor=acting(world.admin),
    )


@pytest.fixture
def their_template(world):
    return services.save_reply_template(
        organization=world.other_org, name="Globex interne", body="Secret", actor=acting(member(world.other_org,
                                                                                                Role.ADMIN))
    )


def edit_url(t):
    return reverse("tickets:template_edit", args=[t.pk])


def delete_url(t):
    return reverse("tickets:template_delete", args=[t.pk])


# --- list ----------------------------------------------------------------------------------------------


def test_list_anonymous_is_sent_to_login(client, world):
    assert_login_redirect(client.get(LIST), LIST)


@pytest.mark.parametrize("who", ["viewer", "agent"])
def test_list_is_readable_without_edit_links(client, world, template, their_template, who):
    client.force_login(getattr(world, who))
    response = client.get(LIST)
    assert response.status_code == 200
    html = assert_full_page(response)
    assert "Remerciement" in html
    assert "Globex interne" not in html
    assert edit_url(template) not in html
    assert CREATE not in html
    assert "{prenom_client}" in html  # the placeholder help


def test_list_for_a_manager_has_the_edit_links(client, world, template):
    client.force_login(world.manager)
    html = client.get(LIST).content.decode()
    assert edit_url(template) in html
    assert delete_url(template) in html
    assert CREATE in html


def test_list_htmx(client, world, template):
    client.force_login(world.agent)
    response = client.get(LIST, **htmx())
    assert response.status_code == 200
    assert "Remerciement" in response.content.decode()


# --- create and edit -----------------------------------------------------------------------------------


def test_create_anonymous_is_sent_to_login(client, world):
    assert_login_redirect(client.get(CREATE), CREATE)
    assert_login_redirect(client.post(CREATE, {"name": "X", "body": "Y"}), CREATE)
    assert not ReplyTemplate.objects.exists()


@pytest.mark.parametrize("who", ["agent", "viewer"])
def test_create_and_edit_are_refused_to_agents_and_viewers(client, world, template, who):
    client.force_login(getattr(world, who))
    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, {"name": "X", "body": "Y"}).status_code == 403
    assert client.get(edit_url(template)).status_code == 403
    assert client.post(edit_url(template), {"name": "Piraté", "body": "Y"}).status_code == 403
    assert list(ReplyTemplate.objects.values_list("name", flat=True)) == ["Remerciement"]


def test_edit_another_organizations_template_is_404(client, world, their_template):
    client.force_login(world.admin)
    assert client.get(edit_url(their_template)).status_code == 404
    assert client.post(edit_url(their_template), {"name": "Piraté", "body": "Y"}).status_code == 404
    their_template.refresh_from_db()
    assert their_template.name == "Globex interne"


def test_manager_creates_a_template(client, world):
    client.force_login(world.manager)
    assert client.get(CREATE).status_code == 200
    response = client.post(CREATE, {"name": "Relance", "body": "Bonjour [Prénom], avez-vous pu tester ?"})
    assert response.status_code == 302
    assert response.url == LIST
    template = ReplyTemplate.objects.get()
    assert (template.organization, template.name, template.created_by) == (world.org, "Relance", world.manager)
    assert "Modèle enregistré." in client.get(LIST).content.decode()


def test_manager_edits_a_template(client, world, template):
    client.force_login(world.manager)
    response = client.get(edit_url(template))
    assert response.status_code == 200
    assert "Merci {prenom_client} pour votre patience." in response.content.decode()
    response = client.post(edit_url(template), {"name": "Remerciement", "body": "Merci beaucoup !"})
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.body == "Merci beaucoup !"


def test_duplicate_or_empty_template_is_shown_again(client, world, template):
    client.force_login(world.admin)
    response = client.post(CREATE, {"name": "remerciement", "body": "Autre"})
    assert response.status_code == 400
    assert "Un modèle porte déjà ce nom." in response.content.decode()
    response = client.post(CREATE, {"name": "", "body": ""})
    assert response.status_code == 400
    assert ReplyTemplate.objects.count() == 1


def test_create_htmx_post(client, world):
    client.force_login(world.admin)
    response = client.post(CREATE, {"name": "HTMX", "body": "Corps"}, **htmx())
    assert response.status_code == 302
    assert ReplyTemplate.objects.filter(name="HTMX").exists()


# --- delete --------------------------------------------------------------------------------------------


def test_delete_anonymous_is_sent_to_login(client, world, template):
    assert_login_redirect(client.post(delete_url(template)), delete_url(template))
    assert ReplyTemplate.objects.filter(pk=template.pk).exists()


def test_delete_another_organizations_template_is_404(client, world, their_template):
    client.force_login(world.manager)
    assert client.post(delete_url(their_template)).status_code == 404
    assert ReplyTemplate.objects.filter(pk=their_template.pk).exists()


@pytest.mark.parametrize("who", ["agent", "viewer"])
def test_delete_is_refused_to_agents_and_viewers(client, world, template, who):
    client.force_login(getattr(world, who))
    assert client.post(delete_url(template)).status_code == 403
    assert ReplyTemplate.objects.filter(pk=template.pk).exists()


def test_manager_deletes(client, world, template):
    client.force_login(world.manager)
    response = client.post(delete_url(template), **htmx())
    assert response.status_code == 302
    assert not ReplyTemplate.objects.filter(pk=template.pk).exists()


def test_delete_get_is_not_allowed(client, world, template):
    client.force_login(world.manager)
    assert client.get(delete_url(template)).status_code == 405
