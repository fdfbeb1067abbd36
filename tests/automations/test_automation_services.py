"""Rules as data: validation, the plan's limit on active rules, order, the section 7 examples, no refunds."""

from __future__ import annotations

import pytest
from automation_helpers import rule
from factories import SYSTEM, TicketFactory, acting

from automations import services
from automations.models import AutomationRule, Trigger
from automations.rules import Act, Names, References, RuleError, clean_action, describe_action, describe_condition
from billing.catalogue import Limit
from billing.services import limit_status
from kb.services import import_lumiodesk_documentation
from lumiodesk.exceptions import InvalidInput, NotPermitted, PlanLimitReached
from lumiodesk.models import AuditLog, Plan
from tickets.models import Message, MessageKind, Priority, Ticket

pytestmark = pytest.mark.django_db
TAG = [{"type": "add_tag", "tag": "x"}]


def positions(org) -> list[str]:
    return list(AutomationRule.objects.filter(organization=org).order_by("position").values_list("name", flat=True))


# --- the plan's limit ------------------------------------------------------------------------------------------


def test_starter_allows_5_active_rules_and_names_the_limit(world):
    for i in range(5):
        rule(world.org, actions=TAG, name=f"R{i}")
    assert limit_status(world.org, Limit.ACTIVE_AUTOMATIONS).used == 5  # the registered usage counter
    with pytest.raises(PlanLimitReached) as exc:
        rule(world.org, actions=TAG, name="Une de trop")
    assert exc.value.message == "Limite atteinte : le forfait Starter permet 5 automatisations actives."
    inactive = rule(world.org, actions=TAG, name="En réserve", active=False)  # inactive rules are not limited
    with pytest.raises(PlanLimitReached, match="5 automatisations actives"):
        services.set_rule_active(rule=inactive, actor=acting(world.manager), active=True)
    services.set_rule_active(rule=AutomationRule.objects.get(name="R0"), actor=acting(world.manager), active=False)
    services.set_rule_active(rule=inactive, actor=acting(world.manager), active=True)
    assert AutomationRule.objects.filter(organization=world.org, is_active=True).count() == 5


@pytest.mark.parametrize(("plan", "allowed"), [(Plan.BUSINESS, 30), (Plan.SCALE, 100)])
def test_business_and_scale_limits(world, plan, allowed):
    world.org.plan = plan
    world.org.save(update_fields=["plan"])
    AutomationRule.objects.bulk_create([
        AutomationRule(organization=world.org, name=f"R{i}", position=i, events=["created"], actions=TAG)
        for i in range(allowed)
    ])
    with pytest.raises(PlanLimitReached, match=f"permet {allowed} automatisations actives"):
        rule(world.org, actions=TAG, name="Une de trop")


def test_downgrading_keeps_every_rule(world):
    world.org.plan = Plan.BUSINESS
    world.org.save(update_fields=["plan"])
    for i in range(8):
        rule(world.org, actions=TAG, name=f"R{i}")
    world.org.plan = Plan.STARTER
    world.org.save(update_fields=["plan"])
    assert AutomationRule.objects.filter(organization=world.org, is_active=True).count() == 8
    # Editing an active rule is still allowed; activating one more is not.
    r = AutomationRule.objects.get(name="R7")
    services.update_rule(rule=r, actor=acting(world.manager), name="R7 bis", events=["created"], conditions=[],
                         actions=TAG)
    services.set_rule_active(rule=r, actor=acting(world.manager), active=False)
    with pytest.raises(PlanLimitReached):
        services.set_rule_active(rule=r, actor=acting(world.manager), active=True)


# --- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("conditions", "actions", "events", "message"), [
    ([{"field": "mood", "op": "is", "value": "x"}], TAG, ["created"], "Condition 1 : champ inconnu : mood"),
    ([{"field": "subject", "op": "is", "value": "x"}], TAG, ["created"], "Condition 1 : opérateur inconnu : is"),
    ([{"field": "subject", "op": "contains", "value": " "}], TAG, ["created"], "Condition 1 : indiquez une valeur."),
    ([{"field": "status", "op": "is", "value": "lost"}], TAG, ["created"], "Condition 1 : valeur inconnue : lost"),
    ([{"field": "customer", "key": "plan name", "op": "equals", "value": "x"}], TAG, ["created"],
     "Condition 1 : nom de champ du client invalide"),
    ([], [], ["created"], "Ajoutez au moins une action."),
    ([], [{"type": "refund", "amount": 50}], ["created"], "Action 1 : action inconnue : refund"),
    ([], [{"type": "set_status", "status": "new"}], ["created"], "Action 1 : un ticket ne peut pas revenir"),
    ([], [{"type": "set_priority", "priority": "asap"}], ["created"], "Action 1 : valeur inconnue : asap"),
    ([], TAG, [], "Choisissez quand évaluer la règle"),
    ([{"field": "status_for", "status": "new", "amount": 2, "unit": "minutes"}], TAG, [],
     "Condition 1 : durée hors limites : de 5 à"),
    ([{"field": "status_for", "status": "new", "amount": 2, "unit": "hours"}] * 2, TAG, [],
     "au plus une condition de temps"),
])
def test_invalid_rules_are_refused(world, conditions, actions, events, message):
    with pytest.raises(InvalidInput) as exc:
        services.create_rule(organization=world.org, actor=acting(world.manager), name="R", conditions=conditions,
                             actions=actions, events=events)
    assert message in exc.value.message
    assert not AutomationRule.objects.exists()


def test_references_must_belong_to_the_organization(world):
    with pytest.raises(InvalidInput, match="un agent introuvable dans cette organisation"):
        rule(world.org, actions=[{"type": "assign", "user": world.outsider.pk}])
    with pytest.raises(InvalidInput, match="un agent introuvable"):
        rule(world.org, actions=[{"type": "assign", "user": world.viewer.pk}])  # a viewer works no ticket
    with pytest.raises(InvalidInput, match="un article publié et public introuvable"):
        rule(world.org, actions=[{"type": "suggest_article", "article": 999999}])
    with pytest.raises(InvalidInput, match="réservés aux forfaits Business et Scale"):
        rule(world.org, actions=[{"type": "webhook", "endpoint": 1}])  # Starter


def test_a_time_rule_runs_from_the_scan_not_on_events(world):
    r = rule(world.org, {"field": "status_for", "status": "new", "amount": 2, "unit": "hours"}, actions=TAG,
             events=[Trigger.CREATED])
    assert (r.events, r.time_status, r.time_amount, r.time_unit) == ([], "new", 2, "hours")
    with pytest.raises(InvalidInput, match="toutes les conditions"):
        rule(world.org, {"field": "status_for", "status": "new", "amount": 2, "unit": "hours"},
             {"field": "priority", "op": "is", "value": "high"}, actions=TAG, match="any")


def test_names_are_unique_per_organization(world):
    rule(world.org, actions=TAG, name="Facturation")
    with pytest.raises(InvalidInput, match="Une règle porte déjà ce nom"):
        rule(world.org, actions=TAG, name="facturation")
    rule(world.other_org, actions=TAG, name="Facturation")


def test_only_admins_and_managers_change_rules(world):
    for who in (world.agent, world.viewer, world.outsider):
        with pytest.raises(NotPermitted):
            rule(world.org, actions=TAG, actor=who)
    rule(world.org, actions=TAG, actor=world.admin)
    rule(world.org, actions=TAG, actor=world.manager)
    assert AuditLog.objects.filter(action="automation.rule.created").count() == 2


def test_no_action_ever_issues_a_refund():
    """Section 15: refunds are approved by a person, never triggered by a rule."""
    assert not [a for a in Act if "refund" in a.value or "rembours" in a.value]
    for kind in ("refund", "issue_refund", "remboursement"):
        with pytest.raises(RuleError):
            clean_action({"type": kind, "amount": 10}, References())


# --- order -----------------------------------------------------------------------------------------------------


def test_reorder_move_and_delete_keep_positions_compact(world):
    a, b, c = (rule(world.org, actions=TAG, name=n) for n in "ABC")
    services.reorder_rules(organization=world.org, actor=acting(world.manager), ordered_ids=[c.pk, a.pk, b.pk])
    assert positions(world.org) == ["C", "A", "B"]
    services.move_rule(rule=a, actor=acting(world.manager), offset=-1)
    assert positions(world.org) == ["A", "C", "B"]
    services.move_rule(rule=a, actor=acting(world.manager), offset=-1)  # already first
    services.move_rule(rule=b, actor=acting(world.manager), offset=1)  # already last
    assert positions(world.org) == ["A", "C", "B"]
    services.delete_rule(rule=c, actor=acting(world.manager))
    assert list(AutomationRule.objects.filter(organization=world.org).order_by("position")
                .values_list("name", "position")) == [("A", 0), ("B", 1)]
    with pytest.raises(InvalidInput, match="rechargez la page"):
        services.reorder_rules(organization=world.org, actor=acting(world.manager), ordered_ids=[b.pk])
    with pytest.raises(InvalidInput):
        services.reorder_rules(organization=world.org, actor=acting(world.manager), ordered_ids=[b.pk, b.pk])


# --- the section 7 examples --------------------------------------------------------------------------------------


def test_the_four_examples_of_section_7_as_written(world, clock):
    import_lumiodesk_documentation(actor=SYSTEM, organization=world.org)
    created = services.install_section7_examples(actor=SYSTEM, organization=world.org)
    assert len(created) == 4
    assert services.install_section7_examples(actor=SYSTEM, organization=world.org) == []  # idempotent
    names = Names(lookup=lambda kind, pk: "Réinitialiser son mot de passe" if kind == "articles" else None)
    described = {r.name: ([describe_condition(c, names) for c in r.conditions],
                          [describe_action(a, names) for a in r.actions]) for r in created}
    assert list(described.values()) == [
        (["Sujet contient « facture »"], ["Ajouter le tag « facturation »"]),
        (["Client : plan est égal à « Enterprise »"], ["Mettre la priorité à « Haute »"]),
        (["Statut « Nouveau » depuis au moins 2 heures ouvrées"], ["Notifier les managers (Admins et Managers)"]),
        (["Sujet ou message contient « mot de passe »"], ["Proposer l'article « Réinitialiser son mot de passe »"]),
    ]
    # And they do what the documentation says.
    world.customer.attributes = {"plan": "Enterprise"}
    world.customer.save(update_fields=["attributes"])
    ticket = TicketFactory(organization=world.org, customer=world.customer, subject="Question sur ma facture",
                           body="Et je ne retrouve plus mon mot de passe.")
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert list(ticket.tags.values_list("name", flat=True)) == ["facturation"]
    assert ticket.priority == Priority.HIGH
    note = Message.objects.get(ticket=ticket, kind=MessageKind.NOTE)
    assert "reinitialiser-son-mot-de-passe" in note.body_html
