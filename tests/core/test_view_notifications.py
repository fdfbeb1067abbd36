"""The notification center, the bell (HTMX polling), opening a notification, preferences."""

import pytest
from django.urls import reverse
from factories import member
from helpers import assert_full_page, assert_login_redirect, assert_partial, htmx

from lumiodesk import notifications
from lumiodesk.access import SESSION_KEY
from lumiodesk.models import AgentNotification, NotificationPreference, Role

pytestmark = pytest.mark.django_db


def give(org, user, title, key, *, kind="assigned", url="/tickets/1/"):
    draft = notifications.Draft(recipient_id=user.pk, title=title, dedup_key=key, url=url)
    [pk] = notifications.notify(organization_id=org.pk, kind=kind, drafts=[draft])
    return AgentNotification.objects.get(pk=pk)


def test_anonymous_is_sent_to_login(client, world):
    for name in ("center", "badge", "preferences"):
        url = reverse(f"notifications:{name}")
        assert_login_redirect(client.get(url), url)
    response = client.get(reverse("notifications:badge"), **htmx())
    assert response.status_code == 204 and response["HX-Redirect"].startswith(reverse("login"))


def test_the_center_lists_my_notifications_of_this_organization(client, world):
    give(world.org, world.agent, "Pour Agathe", "a")
    give(world.org, world.manager, "Pour Marc", "b")
    outsider_org_member = member(world.other_org, Role.AGENT, email="agathe2@globex.test")
    give(world.other_org, outsider_org_member, "Globex", "c")
    client.force_login(world.agent)
    html = assert_full_page(client.get(reverse("notifications:center")))
    assert "Pour Agathe" in html
    assert "Pour Marc" not in html and "Globex" not in html
    assert "1 non lue" in html


def test_the_viewer_has_a_center_too(client, world):
    client.force_login(world.viewer)
    html = assert_full_page(client.get(reverse("notifications:center")))
    assert "Aucune notification" in html


def test_the_bell_counts_unread_ones_without_reload(client, world):
    client.force_login(world.agent)
    html = assert_full_page(client.get(reverse("tickets:list")))
    assert 'hx-get="/notifications/badge/"' in html
    assert "every 20s" in html
    assert "bell-count" not in html  # the page itself costs no count: the bell loads it
    give(world.org, world.agent, "Un", "1")
    give(world.org, world.agent, "Deux", "2")
    response = client.get(reverse("notifications:badge"), **htmx())
    html = assert_partial(response)
    assert '<span class="bell-count">2</span>' in html
    assert response["Cache-Control"].startswith("max-age=0")
    client.force_login(world.outsider)
    assert "bell-count" not in client.get(reverse("notifications:badge"), **htmx()).content.decode()


def test_the_bell_caps_at_99(client, world):
    for i in range(101):
        give(world.org, world.agent, f"n{i}", f"k{i}")
    client.force_login(world.agent)
    assert "99+" in client.get(reverse("notifications:badge"), **htmx()).content.decode()


def test_mark_all_read(client, world):
    give(world.org, world.agent, "Un", "1")
    mine_elsewhere = give(world.org, world.manager, "Pas à moi", "2")
    client.force_login(world.agent)
    response = client.post(reverse("notifications:mark_all_read"), **htmx())
    html = assert_partial(response)
    assert "Tout est lu." in html
    assert 'hx-swap-oob="innerHTML"' in html  # the bell, updated too
    assert not AgentNotification.objects.filter(recipient=world.agent, read_at__isnull=True).exists()
    mine_elsewhere.refresh_from_db()
    assert mine_elsewhere.read_at is None
    assert client.post(reverse("notifications:mark_all_read")).status_code == 302


def test_opening_marks_read_and_goes_to_the_ticket(client, world):
    n = give(world.org, world.agent, "Ticket assigné", "1", url="/tickets/1/#m3")
    client.force_login(world.agent)
    response = client.get(reverse("notifications:open", args=[n.pk]))
    assert response.status_code == 302 and response.url == "/tickets/1/#m3"
    n.refresh_from_db()
    assert n.read_at is not None


def test_opening_someone_elses_notification_is_404(client, world):
    n = give(world.org, world.manager, "Pour Marc", "1")
    client.force_login(world.agent)
    assert client.get(reverse("notifications:open", args=[n.pk])).status_code == 404


def test_opening_switches_to_the_notifications_organization(client, world):
    member_of_both = world.outsider
    from lumiodesk.models import Membership

    Membership.objects.create(organization=world.org, user=member_of_both, role=Role.AGENT)
    n = give(world.org, member_of_both, "Chez Acme", "1")
    client.force_login(member_of_both)
    session = client.session
    session[SESSION_KEY] = world.other_org.pk
    session.save()
    response = client.get(reverse("notifications:open", args=[n.pk]))
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == world.org.pk


def test_preferences(client, world):
    client.force_login(world.agent)
    html = assert_full_page(client.get(reverse("notifications:preferences")))
    assert "SLA bientôt dépassé" in html
    assert "Résumé quotidien" not in html  # managers only
    response = client.post(reverse("notifications:preferences"), {"assigned_in_app": "on", "mention_email": "on",
                                                                  "daily_digest_email": "on"})
    assert response.status_code == 302
    prefs = {p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user=world.agent)}
    assert prefs["assigned"] == (True, False)
    assert prefs["mention"] == (False, True)
    assert prefs["urgent"] == (False, False)
    assert "daily_digest" not in prefs


def test_a_manager_turns_the_digest_on(client, world):
    client.force_login(world.manager)
    assert "Résumé quotidien" in client.get(reverse("notifications:preferences")).content.decode()
    client.post(reverse("notifications:preferences"), {"daily_digest_email": "on"})
    pref = NotificationPreference.objects.get(user=world.manager, kind="daily_digest")
    assert (pref.in_app, pref.email) == (False, True)


@pytest.mark.parametrize("url_name", ["notifications:center", "notifications:badge", "sla:settings", "sla:reports"])
def test_pages_cost_the_same_for_10_and_100_rows(client, world, url_name):
    from datetime import date, timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sla.models import Holiday, SlaReport

    def run(n):
        AgentNotification.objects.all().delete()
        Holiday.objects.all().delete()
        SlaReport.objects.all().delete()
        for i in range(n):
            give(world.org, world.manager, f"n{i}", f"k{n}-{i}")
        Holiday.objects.bulk_create([Holiday(organization=world.org, date=date(2025, 1, 1) + timedelta(days=i))
                                     for i in range(n)])
        SlaReport.objects.bulk_create([SlaReport(organization=world.org, created_by=world.manager,
                                                 time_zone="Europe/Paris", start=date(2025, 1, 1),
                                                 end=date(2025, 1, 31)) for _ in range(n)])
        client.force_login(world.manager)
        client.get(reverse(url_name))
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse(url_name)).status_code == 200
        return len(ctx.captured_queries)

    assert run(10) == run(100)
