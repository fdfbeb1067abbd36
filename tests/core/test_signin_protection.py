"""Issue 15, item 4: brute-force protection of ``/login/`` and ``/admin/login/`` (django-axes, lumiodesk.signin).

Before: 30 wrong passwords in about a second were all answered 200, then the right one signed in (302).
Now: 5 failures lock the account and the client address for 15 minutes (429 with a message, even the right
password), attempts refused during the lock-out do not extend it, every counted failure and the lock-out are in
the organization's audit log, and an Admin unlocks (Settings > Sign-in security, or ``axes_reset_username``).
Time travel: the attempt records are moved back in time (axes reads its clock when the module is imported).
"""

from __future__ import annotations

from datetime import timedelta

import factories as f
import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.db.models import F, Sum
from django.urls import reverse

from lumiodesk import signin
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import AuditLog, Membership, Role
from lumiodesk.permissions import MemberActor

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pass-123"  # factories.UserFactory
LOCKED = "Trop de tentatives de connexion échouées"
WRONG = "Email ou mot de passe incorrect."
ATTACKER = "203.0.113.7"
VICTIM_IP = "198.51.100.23"


def sign_in(client, url, username, password, ip=ATTACKER):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def travel(**delta):
    """Every attempt record as if it had happened ``delta`` earlier."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(**delta))


def failures_counted(**filters) -> int:
    return AccessAttempt.objects.filter(**filters).aggregate(n=Sum("failures_since_start"))["n"] or 0


def test_the_settings_say_five_failures_then_fifteen_minutes_by_account_and_address():
    assert (5, timedelta(minutes=15)) == (settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME)
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]
    assert settings.AXES_CLIENT_IP_CALLABLE == "lumiodesk.ratelimit.client_address"
    assert settings.AXES_HANDLER == "lumiodesk.signin.AuditedDatabaseHandler"  # in PostgreSQL


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_thirty_wrong_passwords_lock_the_account_even_for_the_right_one_until_the_cooloff_ends(client, world, url):
    world.admin.is_staff = True  # may use /admin/
    world.admin.save(update_fields=["is_staff"])
    responses = [sign_in(client, url, "alice@acme.test", f"guess-{i}") for i in range(30)]
    assert [r.status_code for r in responses] == [200] * 4 + [429] * 26
    if url == "/login/":
        assert all(WRONG in r.content.decode() for r in responses[:4])
    for r in responses[4:]:
        page = r.content.decode()
        assert LOCKED in page and "15 minutes" in page and 'name="password"' in page
        assert 'value="alice@acme.test"' in page
    assert failures_counted() == 5  # the 25 refused attempts were not counted
    assert not AuditLog.objects.filter(action="signin.failed", data__failures__gt=5).exists()

    right = sign_in(client, url, "alice@acme.test", PASSWORD)
    assert right.status_code == 429 and LOCKED in right.content.decode() and not signed_in(client)
    travel(minutes=14)
    assert sign_in(client, url, "alice@acme.test", PASSWORD).status_code == 429  # refused: still in the cool-off
    assert not signed_in(client)
    travel(minutes=1, seconds=1)  # 15 minutes after the 5th failure, however many attempts came since
    assert sign_in(client, url, "alice@acme.test", PASSWORD).status_code == 302
    assert signed_in(client)


def test_a_locked_account_does_not_lock_other_accounts_from_other_addresses(client, world):
    for i in range(5):
        sign_in(client, "/login/", "alice@acme.test", f"guess-{i}", ip=ATTACKER)
    # Other accounts, from other addresses: unaffected.
    assert sign_in(client, "/login/", "marc@acme.test", PASSWORD, ip=VICTIM_IP).status_code == 302
    client.logout()
    assert sign_in(client, "/login/", "otto@globex.test", PASSWORD, ip="192.0.2.99").status_code == 302
    client.logout()
    # The locked account is locked from any address (per account), and the attacking address for any account
    # (per address), until the cool-off ends.
    assert sign_in(client, "/login/", "alice@acme.test", PASSWORD, ip=VICTIM_IP).status_code == 429
    assert sign_in(client, "/login/", "agathe@acme.test", PASSWORD, ip=ATTACKER).status_code == 429


def test_the_address_is_the_one_client_ip_helper_gives(client, world):
    sign_in(client, "/login/", "alice@acme.test", "guess", ip=ATTACKER)
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address) == ("alice@acme.test", ATTACKER)
    assert "guess" not in attempt.post_data  # the password is never stored


def test_failed_sign_ins_and_the_lockout_are_in_the_audit_log_of_each_organization_of_the_account(client, world):
    Membership.objects.create(organization=world.other_org, user=world.agent, role=Role.VIEWER)
    for i in range(30):
        sign_in(client, "/login/", "agathe@acme.test", f"guess-{i}")
    for org in (world.org, world.other_org):
        failed = AuditLog.objects.filter(organization=org, action="signin.failed", target_id=world.agent.pk)
        assert failed.count() == 5
        assert sorted(row.data["failures"] for row in failed) == [1, 2, 3, 4, 5]
        assert {row.data["ip_address"] for row in failed} == {ATTACKER}
        locked = AuditLog.objects.get(organization=org, action="signin.locked_out", target_id=world.agent.pk)
        assert locked.data["cooloff_minutes"] == 15 and locked.target_type == "user" and locked.actor is None
    # An unknown username: counted by axes (it still locks the address), no organization's log to write to.
    sign_in(client, "/login/", "nobody@acme.test", "guess", ip=VICTIM_IP)
    assert failures_counted(username="nobody@acme.test") == 1
    assert AuditLog.objects.filter(action__startswith="signin.").count() == 12


def test_the_platform_unlocks_with_the_axes_command(client, world):
    for i in range(5):
        sign_in(client, "/login/", "alice@acme.test", f"guess-{i}", ip=ATTACKER)
    assert sign_in(client, "/login/", "alice@acme.test", PASSWORD, ip=VICTIM_IP).status_code == 429
    call_command("axes_reset_username", "alice@acme.test", stdout=__import__("io").StringIO())
    assert sign_in(client, "/login/", "alice@acme.test", PASSWORD, ip=VICTIM_IP).status_code == 302


# --- an organization's Admin unlocks a member (service) ------------------------------------------------------


def _lock(client, username, ip=ATTACKER):
    for i in range(5):
        sign_in(client, "/login/", username, f"guess-{i}", ip=ip)


def membership(user, org) -> MemberActor:
    return MemberActor(Membership.objects.select_related("organization", "user").get(user=user, organization=org))


def test_an_admin_sees_and_unlocks_a_locked_member(client, world):
    _lock(client, "agathe@acme.test")
    _lock(client, "otto@globex.test", ip="192.0.2.99")  # another organization's member: not listed
    admin = membership(world.admin, world.org)
    locked = signin.locked_members(actor=admin)
    assert [(item.membership.user_id, item.failures) for item in locked] == [(world.agent.pk, 5)]
    assert signin.unlock_member(actor=admin, user_id=world.agent.pk) == 1
    assert signin.locked_members(actor=admin) == []
    row = AuditLog.objects.get(action="signin.unlocked")
    assert (row.organization_id, row.actor_id, row.target_id) == (world.org.pk, world.admin.pk, world.agent.pk)
    assert sign_in(client, "/login/", "agathe@acme.test", PASSWORD, ip=VICTIM_IP).status_code == 302


def test_only_an_admin_of_the_members_organization_unlocks(client, world):
    _lock(client, "agathe@acme.test")
    for user in (world.manager, world.agent, world.viewer):
        with pytest.raises(NotPermitted):
            signin.unlock_member(actor=membership(user, world.org), user_id=world.agent.pk)
        with pytest.raises(NotPermitted):
            signin.locked_members(actor=membership(user, world.org))
    other_admin = f.member(world.other_org, Role.ADMIN, email="olga@globex.test")
    with pytest.raises(InvalidInput):
        signin.unlock_member(actor=membership(other_admin, world.other_org), user_id=world.agent.pk)
    assert failures_counted(username="agathe@acme.test") == 5


# --- Settings > Sign-in security (view) ------------------------------------------------------------------------


def test_the_page_anonymous_other_organization_roles_and_admin(client, world):
    _lock(client, "agathe@acme.test")
    page = reverse("sign_in_security")
    unlock = reverse("unlock_member", args=[world.agent.pk])
    assert client.get(page).status_code == 302 and client.post(unlock).status_code == 302  # to the sign-in page
    assert failures_counted(username="agathe@acme.test") == 5
    for user in (world.manager, world.agent, world.viewer):
        client.force_login(user)
        assert client.get(page).status_code == 403 and client.post(unlock).status_code == 403
    other_admin = f.member(world.other_org, Role.ADMIN, email="olga@globex.test")
    client.force_login(other_admin)
    assert "agathe@acme.test" not in client.get(page).content.decode()
    assert client.post(unlock).status_code == 404
    assert failures_counted(username="agathe@acme.test") == 5

    client.force_login(world.admin)
    html = client.get(page).content.decode()
    assert "agathe@acme.test" in html and "Débloquer" in html
    assert client.get(page, headers={"HX-Request": "true"}).status_code == 200
    assert client.get(unlock).status_code == 405
    response = client.post(unlock, follow=True)
    assert response.redirect_chain[-1][0] == page
    assert "Le compte est débloqué" in response.content.decode()
    assert "agathe@acme.test" not in response.content.decode().split("<tbody>")[1]
    assert failures_counted(username="agathe@acme.test") == 0


@pytest.mark.parametrize("locked", [2, 12])
def test_the_locked_list_takes_two_queries_at_any_size(client, world, django_assert_num_queries, locked):
    admin = membership(world.admin, world.org)
    for n in range(locked):
        user = f.member(world.org, Role.AGENT, email=f"agent{n}@acme.test")
        for i in range(5):
            sign_in(client, "/login/", user.username, f"guess-{i}", ip=f"192.0.2.{n + 1}")
    with django_assert_num_queries(2):
        assert len(signin.locked_members(actor=admin)) == locked


@pytest.mark.parametrize("remote", ["", "not-an-address", "unix:/run/gunicorn.sock"])
def test_a_client_without_a_readable_address_still_gets_an_answer_and_is_still_counted(client, world, remote):
    """A server on a unix socket (or a proxy that writes no address) gives no client address: the sign-in
    answers as usual, the failure is counted by account, and nothing tries to store "unknown" as an address."""
    for _ in range(5):
        response = sign_in(client, "/login/", "alice@acme.test", "guess", ip=remote)
        assert response.status_code in (200, 429)
    assert failures_counted(username="alice@acme.test") >= 5
    assert sign_in(client, "/login/", "alice@acme.test", PASSWORD, ip=remote).status_code == 429
