"""Settings > Team (lumiodesk.team): invitations, roles, deactivation with reassignment, the last Admin, seats."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from account_helpers import fresh_rate_limits, link_in
from conftest import run_queued
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from factories import OrganizationFactory, TicketFactory, acting, member

from billing.catalogue import Limit
from billing.services import limit_status
from lumiodesk import team
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import AuditLog, Invitation, Membership, Plan, Role
from tickets.models import Status, Ticket


@pytest.fixture(autouse=True)
def _own_rate_limits(monkeypatch):
    fresh_rate_limits(monkeypatch)


def _ticket(world, status: str) -> Ticket:
    ticket = TicketFactory(organization=world.org, assignee=world.agent)
    Ticket.objects.filter(pk=ticket.pk).update(status=status)
    return ticket


def _membership(world, user) -> Membership:
    return Membership.objects.get(organization=world.org, user=user)


# --- the page -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_team_page_lists_members_and_seats_admins_manage_managers_read(client, world):
    client.force_login(world.admin)
    html = client.get(reverse("team")).content.decode()
    for person in (world.admin, world.manager, world.agent, world.viewer):
        assert person.email in html
    assert "3 sièges utilisés sur 3 inclus" in html  # Starter includes 3; the Viewer takes no seat
    assert reverse("team_invite") in html and "Désactiver" in html
    client.force_login(world.manager)
    html = client.get(reverse("team")).content.decode()
    assert world.agent.email in html and reverse("team_invite") not in html and "Désactiver" not in html
    assert client.post(reverse("team_invite"), {"email": "x@acme.test", "role": "agent"}).status_code == 403
    client.force_login(world.agent)
    assert client.get(reverse("team")).status_code == 403


@pytest.mark.django_db
def test_seats_count_active_members_who_work_tickets(world):
    assert team.seats_used(world.org) == 3
    Membership.objects.filter(user=world.agent).update(is_active=False)
    status = limit_status(world.org, Limit.AGENTS_INCLUDED)
    assert (status.used, status.allowed) == (2, 3)
    world.org.plan = Plan.BUSINESS
    assert limit_status(world.org, Limit.AGENTS_INCLUDED).allowed == 10


@pytest.mark.django_db
def test_the_team_page_runs_the_same_queries_for_5_and_40_members(client, world):
    client.force_login(world.admin)
    client.get(reverse("team"))

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("team")).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for i in range(35):
        member(world.org, Role.AGENT, email=f"a{i}@acme.test")
        Invitation.objects.create(organization=world.org, email=f"i{i}@acme.test", token_hash=f"{i:064d}",
                                  invited_by=world.admin, expires_at=timezone.now() + timedelta(days=7))
    assert count() == few


# --- invitations --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_invited_colleague_accepts_with_a_name_and_password_once(client, world, queued_tasks, mailoutbox,
                                                                     django_capture_on_commit_callbacks):
    client.force_login(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("team_invite"), {"email": "Nina@Acme.test", "role": "manager"})
    assert response.status_code == 302
    invitation = Invitation.objects.get(organization=world.org)
    assert invitation.email == "nina@acme.test" and len(invitation.token_hash) == 64
    run_queued(queued_tasks)
    assert mailoutbox[0].to == ["nina@acme.test"] and "Acme" in mailoutbox[0].body
    path = link_in(mailoutbox[0], "/invitation/")
    assert invitation.token_hash not in path  # only the hash is stored

    client.logout()
    accept = reverse("accept_invitation")
    assert client.get(path)["Location"] == accept  # the token leaves the address bar
    assert client.get(accept).status_code == 200  # opening spends nothing
    response = client.post(accept, {"first_name": "Nina", "last_name": "Roux", "password": "123"})
    assert response.status_code == 400  # Django's password validators
    response = client.post(accept, {"first_name": "Nina", "last_name": "Roux", "password": "une-equipe-soudee-7"})
    assert response.status_code == 302
    nina = Membership.objects.select_related("user").get(organization=world.org, user__email="nina@acme.test")
    assert nina.role == Role.MANAGER and nina.user.first_name == "Nina"
    assert client.session["_auth_user_id"] == str(nina.user_id)
    assert client.get(path, follow=True).status_code == 404  # single use
    assert AuditLog.objects.filter(organization=world.org, action="invitation.accepted").exists()


@pytest.mark.django_db
def test_an_existing_account_signs_in_to_accept(client, world, queued_tasks, mailoutbox,
                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        team.invite(actor=acting(world.admin), email=world.outsider.email, role=Role.AGENT)
    run_queued(queued_tasks)
    path = link_in(mailoutbox[0], "/invitation/")
    html = client.get(path, follow=True).content.decode()
    assert "Se connecter pour accepter" in html
    assert client.post(reverse("accept_invitation"), {}).status_code == 400  # not signed in: nothing attached
    client.force_login(world.agent)  # somebody else
    with pytest.raises(InvalidInput):
        team.accept_invitation(token=path.rstrip("/").rsplit("/", 1)[1], user=world.agent)
    client.force_login(world.outsider)
    client.get(path)
    assert client.post(reverse("accept_invitation")).status_code == 302
    assert Membership.objects.get(organization=world.org, user=world.outsider).role == Role.AGENT
    assert Membership.objects.get(organization=world.other_org, user=world.outsider).is_active


@pytest.mark.django_db
def test_resend_kills_the_old_link_revoke_ends_it_and_links_expire(client, world, queued_tasks, mailoutbox, clock,
                                                                   django_capture_on_commit_callbacks):
    admin = acting(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        invitation = team.invite(actor=admin, email="z@acme.test")
        team.resend_invitation(actor=admin, invitation_id=invitation.pk)
    run_queued(queued_tasks)
    # The first email's task finds its token replaced: only the second link is mailed.
    assert len(mailoutbox) == 1
    path = link_in(mailoutbox[0], "/invitation/")
    assert client.get(path, follow=True).status_code == 200
    clock.advance(days=7, seconds=1)
    assert client.get(path, follow=True).status_code == 404  # 7 days
    clock.advance(days=-1)
    team.revoke_invitation(actor=admin, invitation_id=invitation.pk)
    assert client.get(path, follow=True).status_code == 404
    assert list(AuditLog.objects.filter(organization=world.org, target_type="invitation")
                .order_by("id").values_list("action", flat=True)) == [
        "invitation.sent", "invitation.resent", "invitation.revoked"]
    with pytest.raises(NotPermitted):
        team.invite(actor=acting(world.manager), email="m@acme.test")
    with pytest.raises(InvalidInput):
        team.invite(actor=admin, email=world.agent.email)  # already a member


@pytest.mark.django_db
def test_another_organizations_invitation_or_member_is_a_404(client, world):
    theirs = Invitation.objects.create(organization=world.other_org, email="q@globex.test", token_hash="f" * 64,
                                       expires_at=timezone.now() + timedelta(days=7))
    client.force_login(world.admin)
    outsider_membership = Membership.objects.get(user=world.outsider)
    assert client.post(reverse("invitation_revoke", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("member_deactivate", args=[outsider_membership.pk])).status_code == 404
    assert client.post(reverse("member_role", args=[outsider_membership.pk]), {"role": "viewer"}).status_code == 404
    outsider_membership.refresh_from_db()
    assert outsider_membership.is_active and outsider_membership.role == Role.AGENT


# --- roles and the last Admin ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_roles_change_audited_and_the_last_admin_cannot_be_demoted_or_deactivated(client, world):
    client.force_login(world.admin)
    agent = _membership(world, world.agent)
    assert client.post(reverse("member_role", args=[agent.pk]), {"role": "manager"}).status_code == 302
    agent.refresh_from_db()
    assert agent.role == Role.MANAGER
    row = AuditLog.objects.get(organization=world.org, action="member.role_changed")
    assert row.data["before"] == {"role": "agent"} and row.data["after"] == {"role": "manager"}
    assert row.ip_address == "127.0.0.1"

    me = _membership(world, world.admin)
    response = client.post(reverse("member_role", args=[me.pk]), {"role": "agent"}, follow=True)
    assert "au moins un Admin actif" in response.content.decode()
    me.refresh_from_db()
    assert me.role == Role.ADMIN
    with pytest.raises(InvalidInput):
        team.deactivate_member(actor=acting(world.admin), membership_id=me.pk)


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin():
    org = OrganizationFactory()
    a, b = member(org, Role.ADMIN, email="a@x.test"), member(org, Role.ADMIN, email="b@x.test")
    ma, mb = (Membership.objects.get(organization=org, user=u) for u in (a, b))
    actors = (acting(a), acting(b))
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def demote(actor, target):
        barrier.wait()
        try:
            team.change_role(actor=actor, membership_id=target.pk, role=Role.AGENT)
        except InvalidInput as exc:
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=demote, args=(actors[0], mb)),
               threading.Thread(target=demote, args=(actors[1], ma))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 1
    assert Membership.objects.filter(organization=org, role=Role.ADMIN, is_active=True).count() == 1


# --- deactivation with reassignment ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_deactivating_a_member_reassigns_their_open_tickets_in_one_audited_transaction(client, world):
    mine = [_ticket(world, s) for s in (Status.NEW, Status.OPEN, Status.WAITING_CUSTOMER)]
    done = _ticket(world, Status.RESOLVED)
    agent = _membership(world, world.agent)
    client.force_login(world.admin)
    html = client.get(reverse("member_deactivate", args=[agent.pk])).content.decode()
    assert world.manager.email in html or "Marc" in html
    response = client.post(reverse("member_deactivate", args=[agent.pk]), {"reassign_to": world.manager.pk})
    assert response.status_code == 302
    agent.refresh_from_db()
    assert not agent.is_active
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in mine]).values_list("assignee_id", flat=True)) == {
        world.manager.pk}
    assert Ticket.objects.get(pk=done.pk).assignee_id == world.agent.pk  # old tickets keep their history
    row = AuditLog.objects.get(organization=world.org, action="member.deactivated")
    assert row.data["tickets_reassigned"] == 3 and row.actor_id == world.admin.pk
    assert AuditLog.objects.filter(organization=world.org, action="ticket.assigned").count() == 3
    assert team.seats_used(world.org) == 2

    # Reactivate.
    assert client.post(reverse("member_reactivate", args=[agent.pk])).status_code == 302
    agent.refresh_from_db()
    assert agent.is_active


@pytest.mark.django_db
def test_deactivation_to_nobody_and_a_refused_target_changes_nothing(world):
    ticket = _ticket(world, Status.OPEN)
    agent = _membership(world, world.agent)
    admin = acting(world.admin)
    for bad in (world.viewer.pk, world.outsider.pk, world.agent.pk):  # a Viewer, another org, themself
        with pytest.raises(InvalidInput):
            team.deactivate_member(actor=admin, membership_id=agent.pk, reassign_to_id=bad)
    agent.refresh_from_db()
    ticket.refresh_from_db()
    assert agent.is_active and ticket.assignee_id == world.agent.pk
    assert team.deactivate_member(actor=admin, membership_id=agent.pk, reassign_to_id=None) == 1
    ticket.refresh_from_db()
    assert ticket.assignee_id is None
