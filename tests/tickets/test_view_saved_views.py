"""POST /tickets/views/ and /tickets/views/<pk>/delete/ — shared views (Admin and Manager)."""

import pytest
from django.urls import reverse
from factories import acting, member
from helpers import assert_login_redirect, assert_partial, htmx

from lumiodesk.models import Role
from tickets import services
from tickets.models import SavedView

pytestmark = pytest.mark.django_db

CREATE = reverse("tickets:view_create")
DATA = {"name": "Urgences ouvertes", "status": "open", "priority": "urgent", "q": "", "bogus": "x"}


@pytest.fixture
def view(world):
    return services.save_view(organization=world.org, name="Existante", filters={"status": "new"},
                              actor=acting(world.manager))


@pytest.fixture
def their_view(world):
    return services.save_view(
        organization=world.other_org, name="Globex", filters={}, actor=acting(member(world.other_org, Role.MANAGER))
    )


# --- create --------------------------------------------------------------------------------------------


def test_create_anonymous_is_sent_to_login(client, world):
    assert_login_redirect(client.post(CREATE, DATA), CREATE)
    assert not SavedView.objects.exists()


@pytest.mark.parametrize("who", ["agent", "viewer"])
def test_create_is_refused_to_agents_and_viewers(client, world, who):
    client.force_login(getattr(world, who))
    assert client.post(CREATE, DATA).status_code == 403
    assert not SavedView.objects.exists()


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_managers_create_a_view_for_the_whole_team(client, world, who):
    client.force_login(getattr(world, who))
    response = client.post(CREATE, DATA)
    assert response.status_code == 302
    assert response.url == f"{reverse('tickets:list')}?status=open&priority=urgent"
    view = SavedView.objects.get()
    assert (view.organization, view.name, view.filters) == (
        world.org,
        "Urgences ouvertes",
        {"status": "open", "priority": "urgent"},
    )
    page = client.get(response.url).content.decode()
    assert "Urgences ouvertes" in page
    assert "enregistrée pour toute l" in page


def test_create_htmx_redirects_with_a_header(client, world):
    client.force_login(world.manager)
    response = client.post(CREATE, DATA, **htmx())
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{reverse('tickets:list')}?status=open&priority=urgent"
    assert SavedView.objects.count() == 1


def test_create_without_a_name_or_with_a_duplicate_is_refused(client, world, view):
    client.force_login(world.manager)
    response = client.post(CREATE, {**DATA, "name": ""}, **htmx())
    assert response.status_code == 400
    assert "Donnez un nom" in assert_partial(response)
    response = client.post(CREATE, {**DATA, "name": "EXISTANTE"}, **htmx())
    assert response.status_code == 400
    assert "Une vue porte déjà ce nom." in assert_partial(response)
    assert SavedView.objects.count() == 1


def test_a_view_name_used_by_another_organization_is_free(client, world, their_view):
    client.force_login(world.manager)
    client.post(CREATE, {**DATA, "name": "Globex"})
    assert SavedView.objects.filter(organization=world.org, name="Globex").exists()


def test_create_get_is_not_allowed(client, world):
    client.force_login(world.manager)
    assert client.get(CREATE).status_code == 405


# --- delete --------------------------------------------------------------------------------------------


def delete_url(view):
    return reverse("tickets:view_delete", args=[view.pk])


def test_delete_anonymous_is_sent_to_login(client, world, view):
    assert_login_redirect(client.post(delete_url(view)), delete_url(view))
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_delete_another_organizations_view_is_404(client, world, their_view):
    client.force_login(world.admin)
    assert client.post(delete_url(their_view)).status_code == 404
    assert SavedView.objects.filter(pk=their_view.pk).exists()


@pytest.mark.parametrize("who", ["agent", "viewer"])
def test_delete_is_refused_to_agents_and_viewers(client, world, view, who):
    client.force_login(getattr(world, who))
    assert client.post(delete_url(view)).status_code == 403
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_manager_deletes(client, world, view):
    client.force_login(world.manager)
    response = client.post(delete_url(view))
    assert response.status_code == 302
    assert response.url == reverse("tickets:list")
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_delete_htmx(client, world, view):
    client.force_login(world.admin)
    response = client.post(delete_url(view), **htmx())
    assert response.status_code in (200, 204, 302)
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_delete_get_is_not_allowed(client, world, view):
    client.force_login(world.manager)
    assert client.get(delete_url(view)).status_code == 405
