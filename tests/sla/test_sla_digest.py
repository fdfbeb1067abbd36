"""The managers' daily digest: 08:30 in the organization's time zone, once a day, business days only."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import run_queued
from django.core import mail
from factories import OrganizationFactory, TicketFactory, acting, member

from lumiodesk.models import AgentNotification, NotificationPreference, Role
from sla import digest
from sla.config import sla_config
from sla.models import DigestRun
from tickets import services
from tickets.models import MessageKind, Status

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def turn_on(org, user, *, email=True, in_app=True):
    NotificationPreference.objects.create(organization=org, user=user, kind="daily_digest", email=email,
                                          in_app=in_app)


def digests(user=None) -> list[AgentNotification]:
    qs = AgentNotification.objects.filter(kind="daily_digest").order_by("id")
    return list(qs.filter(recipient=user) if user else qs)


def test_sent_once_a_day_at_08_30_local_time(clock, world):
    turn_on(world.org, world.manager)
    assert digest.send_digests(now=paris(2025, 3, 11, 8, 29)) == 0
    assert digest.send_digests(now=paris(2025, 3, 11, 8, 30)) == 1
    assert digest.send_digests(now=paris(2025, 3, 11, 8, 35)) == 0
    assert digest.send_digests(now=paris(2025, 3, 11, 17, 0)) == 0
    assert [n.title for n in digests()] == ["Résumé quotidien du 11/03/2025 — Acme"]
    assert digest.send_digests(now=paris(2025, 3, 12, 8, 30)) == 1
    assert len(digests(world.manager)) == 2
    assert list(DigestRun.objects.order_by("local_date").values_list("local_date", "recipients")) == [
        (datetime(2025, 3, 11).date(), 1), (datetime(2025, 3, 12).date(), 1)]


def test_only_to_the_managers_who_turned_it_on(clock, world):
    assert digest.send_digests(now=paris(2025, 3, 11, 8, 30)) == 0  # off by default
    turn_on(world.org, world.agent)  # an agent's choice does not count: the digest is for managers
    assert digest.send_digests(now=paris(2025, 3, 11, 8, 30)) == 0
    turn_on(world.org, world.admin)
    assert digest.send_digests(now=paris(2025, 3, 11, 8, 30)) == 1
    assert [n.recipient for n in digests()] == [world.admin]


def test_in_the_organizations_time_zone(clock, world):
    york = OrganizationFactory(name="York", time_zone="America/New_York")
    boss = member(york, Role.MANAGER)
    turn_on(york, boss)
    turn_on(world.org, world.manager)
    assert digest.send_digests(now=paris(2025, 3, 11, 8, 30)) == 1  # Paris only: 03:30 in New York
    assert digest.send_digests(now=datetime(2025, 3, 11, 8, 29, tzinfo=NEW_YORK)) == 0
    assert digest.send_digests(now=datetime(2025, 3, 11, 8, 30, tzinfo=NEW_YORK)) == 1
    assert [n.recipient for n in digests()] == [world.manager, boss]


def test_not_on_closed_days_and_mondays_cover_the_weekend(clock, world):
    turn_on(world.org, world.manager)
    assert digest.send_digests(now=paris(2025, 3, 14, 8, 30)) == 1  # Friday
    clock.set(paris(2025, 3, 15, 11))
    weekend = TicketFactory(organization=world.org, subject="Écrit samedi")
    assert digest.send_digests(now=paris(2025, 3, 15, 8, 30)) == 0  # Saturday
    assert digest.send_digests(now=paris(2025, 3, 16, 9, 0)) == 0  # Sunday
    assert digest.send_digests(now=paris(2025, 3, 17, 8, 30)) == 1  # Monday
    monday = digests()[-1]
    assert f"#{weekend.number} [Normale] Écrit samedi" in monday.body
    assert "Nouveaux tickets depuis le 14/03/2025 08:30 (1)" in monday.body


def test_the_content(clock, world):
    turn_on(world.org, world.manager)
    org, agent = world.org, world.agent
    clock.set(paris(2025, 3, 3, 10))
    old = TicketFactory(organization=org, subject="Sans réponse depuis longtemps")
    answered = TicketFactory(organization=org, subject="Répondu")
    waiting = TicketFactory(organization=org, subject="Attend le client")
    clock.set(paris(2025, 3, 4, 10))
    services.add_message(ticket=answered, kind=MessageKind.REPLY, body="Voilà", actor=acting(agent))
    services.add_message(ticket=waiting, kind=MessageKind.REPLY, body="Précisez ?", actor=acting(agent),
                         then_status=Status.WAITING_CUSTOMER)
    clock.set(paris(2025, 3, 12, 15))
    recent = TicketFactory(organization=org, subject="Nouveau d'hier", priority="normal")
    clock.set(paris(2025, 3, 12, 16))
    urgent = TicketFactory(organization=org, subject="Tout est en panne", priority="urgent")
    clock.set(paris(2025, 3, 13, 8, 30))

    assert digest.send_digests(now=clock.now) == 1
    [n] = digests()
    body = n.body
    new_part, urgent_part, breached_part, no_reply_part = body.split("\n\n")
    assert new_part.splitlines() == [
        "Nouveaux tickets depuis le 12/03/2025 08:30 (2)",
        f"  #{urgent.number} [Urgente] Tout est en panne",
        f"  #{recent.number} [Normale] Nouveau d'hier",
    ]
    assert urgent_part.splitlines() == [
        "Tickets urgents ouverts (1)", f"  #{urgent.number} [Urgente] Tout est en panne"]
    breached = breached_part.splitlines()
    assert breached[0] == "SLA dépassés (4)"  # world's ticket, old, answered (resolution due) and urgent
    assert f"  #{recent.number} [Normale] Nouveau d'hier" not in breached  # due today at 14:00
    assert no_reply_part.splitlines() == [
        "Sans réponse depuis plus de 48 heures ouvrées (1)",
        f"  #{old.number} [Normale] Sans réponse depuis longtemps",
    ]
    assert n.url == "/tickets/"


def test_awaiting_reply_counts_business_hours(clock, world):
    clock.set(paris(2025, 3, 7, 17))  # Friday 17:00
    ticket = TicketFactory(organization=world.org)
    config = sla_config(world.org.pk)
    # 48 business hours later: 1 h on Friday, 5 days of 9 h, 2 h more = Monday 17 March, 11:00.
    assert ticket.pk not in set(digest.awaiting_reply(world.org, config, paris(2025, 3, 17, 10, 59))
                                .values_list("pk", flat=True))
    assert ticket.pk in set(digest.awaiting_reply(world.org, config, paris(2025, 3, 17, 11))
                            .values_list("pk", flat=True))


def test_the_digest_email(clock, world, queued_tasks, django_capture_on_commit_callbacks):
    turn_on(world.org, world.manager, in_app=False)
    with django_capture_on_commit_callbacks(execute=True):
        digest.send_digests(now=paris(2025, 3, 11, 8, 30))
    run_queued(queued_tasks)
    [email] = mail.outbox
    assert email.to == [world.manager.email]
    assert email.subject == "[Acme] Résumé quotidien du 11/03/2025 — Acme"
    assert "Tickets urgents ouverts (0)" in email.body
    assert AgentNotification.objects.get().in_app is False  # email only: not in the bell
