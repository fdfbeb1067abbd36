"""The subscription state machine (billing.subscriptions) and the read-only organization (FAQ 2, 4; section 18)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from factories import SYSTEM, OrganizationFactory, TicketFactory, acting, member

from automations import services as automation_services
from billing import subscriptions
from billing.models import PlanChange, Subscription
from kb import services as kb_services
from lumiodesk.exceptions import InvalidInput, OrganizationReadOnly, TransitionNotAllowed
from lumiodesk.models import AuditLog, Organization, Role
from lumiodesk.permissions import read_only_reason
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _org(clock, **kw):
    org = OrganizationFactory(**kw)
    admin = member(org, Role.ADMIN, email=f"admin-{org.slug}@x.test")
    return org, admin


def test_start_trial_gives_14_days_once_and_is_audited(clock):
    org, _admin = _org(clock)
    sub = subscriptions.start_trial(org, now=clock.now)
    assert sub.status == "trial" and sub.trial_ends_at == clock.now + timedelta(days=14)
    assert subscriptions.start_trial(org, now=clock.now + timedelta(days=3)).pk == sub.pk  # idempotent
    assert AuditLog.objects.filter(organization=org, action="billing.subscription.trial").count() == 1
    assert subscriptions.state_of(org).trial_days_left(clock.now + timedelta(days=11, hours=1)) == 3


def test_an_organization_without_subscription_is_in_trial_from_its_creation(clock):
    org, _admin = _org(clock)
    assert not Subscription.objects.filter(organization=org).exists()
    assert read_only_reason(org) is None
    clock.advance(days=14, seconds=1)
    assert "essai" in read_only_reason(org)  # read-only as soon as the trial ends, before beat records it
    sub = subscriptions.subscription_of(org)
    assert sub.trial_ends_at == org.created_at + timedelta(days=14)


def test_trial_end_without_plan_makes_the_organization_read_only(clock):
    org, admin = _org(clock)
    agent = member(org, Role.AGENT)
    ticket = TicketFactory(organization=org)
    subscriptions.start_trial(org, now=clock.now)
    clock.advance(days=14, minutes=1)
    assert subscriptions.end_trials() == 1
    assert subscriptions.end_trials() == 0  # twice: moved once
    sub = Subscription.objects.get(organization=org)
    assert sub.status == "read_only" and sub.read_only_since == clock.now
    log = AuditLog.objects.get(organization=org, action="billing.subscription.read_only")
    assert log.data["old"] == "trial" and log.actor is None

    # agents read, but do not reply, create tickets, publish or change rules
    with pytest.raises(OrganizationReadOnly):
        ticket_services.add_message(ticket=ticket, kind="reply", body="Bonjour", actor=acting(agent))
    with pytest.raises(OrganizationReadOnly):
        TicketFactory(organization=org, actor=acting(agent))
    with pytest.raises(OrganizationReadOnly):
        kb_services.create_article(actor=acting(admin), organization=org, title="T", body="B")
    with pytest.raises(OrganizationReadOnly):
        automation_services.create_rule(organization=org, actor=acting(admin), name="R", conditions=[],
                                        actions=[{"type": "add_tag", "tag": "x"}])
    # incoming mail and chat are still received (the system actor), never lost
    TicketFactory(organization=org, actor=SYSTEM, subject="Reçu pendant la lecture seule")
    assert Ticket.objects.filter(organization=org, subject="Reçu pendant la lecture seule").exists()


def test_choosing_a_plan_reactivates_and_is_prorated(clock):
    org, admin = _org(clock)
    subscriptions.start_trial(org, now=clock.now)  # Monday 10 March 2025
    clock.advance(days=20)  # 30 March: read-only
    subscriptions.end_trials()
    sub = subscriptions.choose_plan(actor=acting(admin), organization=org, plan="business")
    assert sub.status == "active" and sub.plan == "business"
    assert Organization.objects.get(pk=org.pk).plan == "business"
    assert read_only_reason(org) is None
    change = PlanChange.objects.get(organization=org)
    assert (change.from_plan, change.to_plan, change.days, change.days_in_month) == ("", "business", 2, 31)
    assert str(change.amount) == "5.74"  # 89 × 2 / 31
    actions = list(AuditLog.objects.filter(organization=org, target_type="subscription")
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["billing.subscription.trial", "billing.subscription.read_only", "billing.subscription.active"]
    with pytest.raises(InvalidInput):
        subscriptions.choose_plan(actor=acting(admin), organization=org, plan="business")


def test_only_an_admin_changes_the_plan(clock):
    org, _admin = _org(clock)
    manager = member(org, Role.MANAGER)
    with pytest.raises(Exception) as exc:
        subscriptions.choose_plan(actor=acting(manager), organization=org, plan="scale")
    assert exc.value.status_code == 403


def test_cancel_is_read_only_for_30_days_then_deletion_is_scheduled(clock):
    org, admin = _org(clock)
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="starter")
    sub = subscriptions.cancel(actor=acting(admin), organization=org)
    assert sub.status == "cancelled"
    assert sub.deletion_scheduled_at == clock.now + timedelta(days=30)
    assert "résilié" in read_only_reason(org)
    with pytest.raises(TransitionNotAllowed):
        subscriptions.cancel(actor=acting(admin), organization=org)
    # an Admin may still change billing while read-only: subscribing again within 30 days
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="business")
    assert read_only_reason(org) is None
    subscriptions.cancel(actor=acting(admin), organization=org)
    clock.advance(days=31)
    with pytest.raises(TransitionNotAllowed):
        subscriptions.choose_plan(actor=acting(admin), organization=org, plan="business")


def test_a_downgrade_below_active_rules_needs_an_explicit_choice(clock):
    org, admin = _org(clock, plan="business")
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="business")
    rules = [automation_services.create_rule(organization=org, actor=SYSTEM, name=f"Règle {i}", conditions=[],
                                             actions=[{"type": "add_tag", "tag": "x"}]) for i in range(7)]
    with pytest.raises(InvalidInput) as exc:
        subscriptions.choose_plan(actor=acting(admin), organization=org, plan="starter")
    assert "choisissez les 2" in exc.value.message
    assert Subscription.objects.get(organization=org).plan == "business"  # nothing half-done
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="starter",
                              deactivate_rules=[rules[0].pk, rules[3].pk])
    assert automation_services.active_rule_count(org) == 5
    assert AuditLog.objects.filter(organization=org, action="automation.rule.deactivated").count() == 2


def test_a_downgrade_below_active_agents_keeps_or_deactivates_them_by_name(clock):
    org, admin = _org(clock)
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="business")
    agents = [member(org, Role.AGENT) for _ in range(4)]  # 5 seats; Starter includes 3
    member(org, Role.VIEWER)  # Viewers are free
    assert subscriptions.seats_used(org) == 5
    with pytest.raises(InvalidInput):
        subscriptions.choose_plan(actor=acting(admin), organization=org, plan="starter")
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="starter", deactivate_members=[
        m.membership.pk for m in (acting(agents[0]), acting(agents[1]))])
    assert subscriptions.seats_used(org) == 3
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="business")
    member(org, Role.AGENT), member(org, Role.AGENT)
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="starter", keep_extra_agents=True)
    assert subscriptions.seats_used(org) == 5


def test_the_banner_says_why_and_billing_stays_open(client, clock):
    org, admin = _org(clock)
    subscriptions.start_trial(org, now=clock.now)
    clock.advance(days=15)
    subscriptions.end_trials()
    client.force_login(admin)
    page = client.get(reverse("tickets:list")).content.decode()
    assert "readonly-banner" in page and "essai de 14 jours est terminé" in page
    assert reverse("tickets:create") not in page  # no "+ Nouveau ticket" button that would only be refused
    assert client.get(reverse("billing:settings")).status_code == 200
    response = client.post(reverse("tickets:create"), {"subject": "x", "body": "y"})
    assert response.status_code == 403
    client.post(reverse("billing:change_plan"), {"plan": "starter"})
    page = client.get(reverse("tickets:list")).content.decode()
    assert "readonly-banner" not in page and reverse("tickets:create") in page
