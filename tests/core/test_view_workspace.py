"""lumiodesk/urls.py: login, logout, organization switch, language, health, admin."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from factories import MembershipFactory, TicketFactory
from helpers import assert_login_redirect, htmx

from lumiodesk.access import SESSION_KEY
from lumiodesk.models import Role

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
SWITCH = reverse("switch_organization")


# --- login / logout ------------------------------------------------------------------------------------


def test_login_page(client, world):
    response = client.get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html and 'name="password"' in html


def test_login_with_email_and_password(client, world):
    response = client.post(LOGIN, {"username": "agathe@acme.test", "password": "secret-pass-123"})
    assert response.status_code == 302
    assert response.url == reverse("tickets:list")
    assert client.get(reverse("tickets:list")).status_code == 200


def test_login_follows_next_but_not_to_another_site(client, world):
    response = client.post(
        f"{LOGIN}?next=/tickets/1/",
        {"username": "agathe@acme.test", "password": "secret-pass-123", "next": "/tickets/1/"},
    )
    assert response.url == "/tickets/1/"
    client.logout()
    response = client.post(
        LOGIN, {"username": "agathe@acme.test", "password": "secret-pass-123", "next": "https://evil.example/"}
    )
    assert response.url == reverse("tickets:list")


def test_wrong_password(client, world):
    response = client.post(LOGIN, {"username": "agathe@acme.test", "password": "nope"})
    assert response.status_code == 200
    assert "Email ou mot de passe incorrect." in response.content.decode()
    assert client.get(reverse("tickets:list")).status_code == 302


def test_signed_in_user_is_sent_on_from_the_login_page(client, world):
    client.force_login(world.viewer)
    assert client.get(LOGIN).status_code == 302


def test_logout(client, world):
    client.force_login(world.agent)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response.url == LOGIN
    assert_login_redirect(client.get(reverse("tickets:list")), reverse("tickets:list"))


def test_logout_by_get_is_refused(client, world):
    client.force_login(world.agent)
    assert client.get(reverse("logout")).status_code == 405


# --- organization switch -------------------------------------------------------------------------------


@pytest.fixture
def both(world):
    """The Acme agent is also a viewer at Globex."""
    MembershipFactory(organization=world.other_org, user=world.agent, role=Role.VIEWER)
    return world.agent


def test_switch_anonymous_is_sent_to_login(client, world):
    assert_login_redirect(client.post(SWITCH, {"organization": world.org.pk}), SWITCH)


def test_switch_to_an_organization_you_do_not_belong_to_is_404(client, world):
    client.force_login(world.agent)
    response = client.post(SWITCH, {"organization": world.other_org.pk})
    assert response.status_code == 404
    assert client.session.get(SESSION_KEY) is None
    assert "Globex secret" not in client.get(reverse("tickets:list")).content.decode()


@pytest.mark.parametrize("value", ["", "abc", "-1", "999999"])
def test_switch_to_nonsense_is_404(client, world, value):
    client.force_login(world.agent)
    assert client.post(SWITCH, {"organization": value}).status_code == 404


def test_switch_changes_organization_and_role(client, world, both):
    client.force_login(both)
    html = client.get(reverse("tickets:list")).content.decode()
    assert "Facture en double" in html and "Globex secret" not in html
    assert 'id="org-switch"' in html  # offered when the user belongs to several organizations

    response = client.post(SWITCH, {"organization": world.other_org.pk, "next": "/tickets/?status=new"})
    assert response.status_code == 302
    assert response.url == "/tickets/?status=new"
    assert client.session[SESSION_KEY] == world.other_org.pk
    response = client.get(reverse("tickets:list"))
    html = response.content.decode()
    assert "Globex secret" in html and "Facture en double" not in html
    assert "Vous travaillez maintenant dans Globex." in html
    # A viewer at Globex: reads, changes nothing.
    assert client.get(reverse("tickets:detail", args=[world.other_ticket.number])).status_code == 200
    assert (
        client.post(reverse("tickets:status", args=[world.other_ticket.number]), {"status": "open"}).status_code == 403
    )
    # Acme's ticket is now another organization's.
    assert client.get(reverse("tickets:detail", args=[1])).status_code == 404


def test_switch_refuses_an_outside_next(client, world, both):
    client.force_login(both)
    response = client.post(SWITCH, {"organization": world.other_org.pk, "next": "https://evil.example/"})
    assert response.url == reverse("tickets:list")


def test_switch_htmx(client, world, both):
    client.force_login(both)
    response = client.post(SWITCH, {"organization": world.other_org.pk}, **htmx())
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == world.other_org.pk


def test_switch_get_is_not_allowed(client, world):
    client.force_login(world.agent)
    assert client.get(SWITCH).status_code == 405


def test_a_deactivated_membership_loses_access(client, world, both):
    both.memberships.filter(organization=world.org).update(is_active=False)
    client.force_login(both)
    html = client.get(reverse("tickets:list")).content.decode()
    assert "Globex secret" in html  # falls back to the organization still active
    assert client.get(reverse("tickets:detail", args=[1])).status_code == 404


# --- language, health, admin ---------------------------------------------------------------------------


def test_language_follows_the_organization_then_the_users_choice(client, world):
    world.org.language = "en"
    world.org.save()
    client.force_login(world.agent)
    assert '<html lang="en">' in client.get(reverse("tickets:list")).content.decode()
    response = client.post(reverse("set_language"), {"language": "fr", "next": "/tickets/"})
    assert response.status_code == 302
    assert '<html lang="fr">' in client.get(reverse("tickets:list")).content.decode()


def test_the_organizations_time_zone_is_used(client, world):
    world.org.time_zone = "Pacific/Auckland"
    world.org.save()
    TicketFactory(organization=world.org, created_at=datetime(2026, 1, 15, 23, 30, tzinfo=UTC))
    client.force_login(world.agent)
    assert "16/01/2026 12:30" in client.get(reverse("tickets:list")).content.decode()  # UTC+13 in January


def test_health(client, db):
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_admin_is_for_staff_only(client, world):
    client.force_login(world.admin)  # an organization admin is not Django staff
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")
