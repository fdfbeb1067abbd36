"""The rule engine: every condition and action, order, "stop after", the plan's limit, the journal,
no recursion, imports ignored, and when rules run (inside the creation, after the commit of an update)."""

from __future__ import annotations

import pytest
from automation_helpers import rule
from conftest import run_queued
from factories import CompanyFactory, CustomerFactory, TicketFactory, acting

from automations.engine import Facts, condition_holds
from automations.models import AutomationRun, Outcome, Trigger
from kb.models import ArticleLink, ArticleStatus
from kb.services import change_article_status, create_article
from lumiodesk.models import AgentNotification, NotificationKind, Plan
from tickets import services
from tickets.email.models import Mailbox
from tickets.models import Message, MessageKind, Priority, Status, Ticket

pytestmark = pytest.mark.django_db

HIT = {"type": "add_tag", "tag": "hit"}


def tags(ticket) -> set[str]:
    return set(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True))


def runs(ticket) -> list[AutomationRun]:
    return list(AutomationRun.objects.filter(ticket=ticket).order_by("created_at", "id"))


# --- conditions ----------------------------------------------------------------------------------------------


def _mailbox(org):
    return Mailbox.objects.create(organization=org, name="Support", address="support@acme.test")


CONDITIONS = [
    # (condition, ticket fields, matches)
    ({"field": "subject", "op": "contains", "value": "facture"}, {"subject": "Ma FACTURE de mars"}, True),
    ({"field": "subject", "op": "contains", "value": "Réinitialisé"}, {"subject": "mot de passe reinitialise"}, True),
    ({"field": "subject", "op": "contains", "value": "facture"}, {"subject": "Livraison en retard"}, False),
    ({"field": "subject", "op": "not_contains", "value": "facture"}, {"subject": "Livraison en retard"}, True),
    ({"field": "text", "op": "contains", "value": "mot de passe"}, {"body": "J'ai perdu mon Mot de  passe."}, True),
    ({"field": "text", "op": "contains", "value": "mot de passe"}, {"subject": "Mot de passe oublié"}, True),
    ({"field": "text", "op": "contains", "value": "mot de passe"}, {"body": "Rien à voir."}, False),
    ({"field": "channel", "op": "is", "value": "email"}, {"channel": "email"}, True),
    ({"field": "channel", "op": "is", "value": "email"}, {"channel": "chat"}, False),
    ({"field": "channel", "op": "is_not", "value": "email"}, {"channel": "chat"}, True),
    ({"field": "status", "op": "is", "value": "new"}, {}, True),
    ({"field": "status", "op": "is_not", "value": "new"}, {}, False),
    ({"field": "priority", "op": "is", "value": "urgent"}, {"priority": "urgent"}, True),
    ({"field": "priority", "op": "is", "value": "urgent"}, {"priority": "low"}, False),
    ({"field": "tag", "op": "has", "value": "bug"}, {"tags": ["Bug", "widget"]}, True),
    ({"field": "tag", "op": "has", "value": "bug"}, {"tags": ["widget"]}, False),
    ({"field": "tag", "op": "has_not", "value": "bug"}, {"tags": ["widget"]}, True),
    ({"field": "assignee", "op": "is", "value": None}, {}, True),
    ({"field": "assignee", "op": "is_not", "value": None}, {}, False),
    # issue 22: rules can match "is automatic" (a ticket made from automatic mail)
    ({"field": "automatic", "op": "is", "value": "automatic"}, {"automatic": True}, True),
    ({"field": "automatic", "op": "is", "value": "automatic"}, {}, False),
    ({"field": "automatic", "op": "is_not", "value": "automatic"}, {}, True),
]


@pytest.mark.parametrize(("condition", "fields", "matches"), CONDITIONS)
def test_each_condition(world, condition, fields, matches):
    rule(world.org, condition, actions=[HIT])
    ticket = TicketFactory(organization=world.org, customer=world.customer, **fields)
    assert ("hit" in tags(ticket)) is matches
    assert len(runs(ticket)) == (1 if matches else 0)  # only rules that matched are journaled


def test_mailbox_condition(world):
    support = _mailbox(world.org)
    rule(world.org, {"field": "mailbox", "op": "is", "value": support.pk}, actions=[HIT])
    assert "hit" in tags(TicketFactory(organization=world.org, customer=world.customer, mailbox=support))
    assert "hit" not in tags(TicketFactory(organization=world.org, customer=world.customer))


def test_assignee_condition(world):
    rule(world.org, {"field": "assignee", "op": "is", "value": world.agent.pk}, actions=[HIT])
    assert "hit" in tags(TicketFactory(organization=world.org, customer=world.customer, assignee=world.agent))
    assert "hit" not in tags(TicketFactory(organization=world.org, customer=world.customer, assignee=world.manager))


@pytest.mark.parametrize(("key", "op", "value", "matches"), [
    ("plan", "equals", "Enterprise", True),
    ("plan", "equals", "enterprise", True),  # case ignored
    ("plan", "not_equals", "Enterprise", False),
    ("plan", "equals", "Business", False),
    ("email", "contains", "@bigcorp.example", True),
    ("name", "equals", "Inès Martin", True),
    ("seats", "equals", "40", True),  # any attribute, numbers compared as text
    ("missing", "equals", "x", False),
])
def test_customer_field_condition(world, key, op, value, matches):
    customer = CustomerFactory(organization=world.org, first_name="Inès", last_name="Martin",
                               email="ines@bigcorp.example", attributes={"plan": "Enterprise", "seats": 40})
    rule(world.org, {"field": "customer", "key": key, "op": op, "value": value}, actions=[HIT])
    assert ("hit" in tags(TicketFactory(organization=world.org, customer=customer))) is matches


def test_company_field_condition(world):
    company = CompanyFactory(organization=world.org, name="Groupe Solvéo", domain="solveo.example")
    customer = CustomerFactory(organization=world.org, company=company)
    rule(world.org, {"field": "company", "key": "name", "op": "equals", "value": "groupe solveo"}, actions=[HIT])
    rule(world.org, {"field": "company", "key": "domain", "op": "contains", "value": "solveo"},
         actions=[{"type": "add_tag", "tag": "domain"}])
    assert tags(TicketFactory(organization=world.org, customer=customer)) == {"hit", "domain"}
    assert tags(TicketFactory(organization=world.org, customer=world.customer)) == set()  # no company


def test_time_in_status_condition_counts_business_hours(world, clock):
    """Monday 10:00 Paris: created Friday 17:00, the ticket has been New for 2 business hours (Friday 17-18,
    Monday 9-10), not 65 real hours' worth of business time."""
    from datetime import timedelta

    ticket = world.ticket
    condition = {"field": "status_for", "status": "new", "amount": 2, "unit": "hours"}
    Ticket.objects.filter(pk=ticket.pk).update(status_changed_at=clock.now - timedelta(days=2, hours=17))
    ticket.refresh_from_db()
    assert condition_holds(condition, Facts(ticket, now=clock.now)) is True
    assert condition_holds({**condition, "amount": 3}, Facts(ticket, now=clock.now)) is False
    assert condition_holds({**condition, "status": "open"}, Facts(ticket, now=clock.now)) is False


def test_match_any(world):
    rule(world.org, {"field": "priority", "op": "is", "value": "urgent"}, {"field": "tag", "op": "has", "value": "vip"},
         actions=[HIT], match="any")
    assert "hit" in tags(TicketFactory(organization=world.org, customer=world.customer, tags=["vip"]))
    assert "hit" in tags(TicketFactory(organization=world.org, customer=world.customer, priority="urgent"))
    assert "hit" not in tags(TicketFactory(organization=world.org, customer=world.customer))


# --- actions -----------------------------------------------------------------------------------------------


def test_tag_actions_and_skips(world):
    rule(world.org, actions=[{"type": "add_tag", "tag": "facturation"}, {"type": "remove_tag", "tag": "spam"},
                             {"type": "remove_tag", "tag": "absent"}, {"type": "add_tag", "tag": "facturation"}])
    ticket = TicketFactory(organization=world.org, customer=world.customer, tags=["spam", "keep"])
    assert tags(ticket) == {"facturation", "keep"}
    [run] = runs(ticket)
    assert [(a["outcome"], a["detail"]) for a in run.actions] == [
        (Outcome.DONE, ""), (Outcome.DONE, ""), (Outcome.SKIPPED, "le ticket n'a pas ce tag"),
        (Outcome.SKIPPED, "le ticket a déjà ce tag"),
    ]
    assert run.actions[0]["label"] == "Ajouter le tag « facturation »"


def test_set_priority_restamps_the_sla_in_the_same_transaction(world, clock):
    rule(world.org, {"field": "customer", "key": "plan", "op": "equals", "value": "Enterprise"},
         actions=[{"type": "set_priority", "priority": "high"}])
    vip = CustomerFactory(organization=world.org, attributes={"plan": "Enterprise"})
    ticket = TicketFactory(organization=world.org, customer=vip, priority="normal")
    ticket.refresh_from_db()
    same = TicketFactory(organization=world.org, customer=world.customer, priority="high")  # created high
    same.refresh_from_db()
    assert ticket.priority == Priority.HIGH
    assert ticket.first_response_due_at == same.first_response_due_at  # 2 business hours, not 8
    assert ticket.sla_due_at == same.sla_due_at


def test_set_status_and_a_refused_transition(world, django_capture_on_commit_callbacks):
    rule(world.org, actions=[{"type": "set_status", "status": "waiting_internal"}])
    ticket = TicketFactory(organization=world.org, customer=world.customer)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.WAITING_INTERNAL
    # A closed ticket cannot be resolved: the action is skipped with the lifecycle's reason.
    rule(world.org, {"field": "status", "op": "is", "value": "closed"},
         actions=[{"type": "set_status", "status": "resolved"}], events=[Trigger.UPDATED])
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=ticket, status=Status.CLOSED, actor=acting(world.agent))
    last = runs(ticket)[-1]
    assert last.trigger == Trigger.UPDATED
    assert last.actions[0]["outcome"] == Outcome.SKIPPED
    assert "non autorisé" in last.actions[0]["detail"]
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


def test_assign_and_the_assignee_is_told(world, queued_tasks):
    rule(world.org, actions=[{"type": "assign", "user": world.agent.pk}])
    ticket = TicketFactory(organization=world.org, customer=world.customer)
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == world.agent.pk
    assert [name for name, _a, _k in queued_tasks] == []  # queued after commit only
    assert runs(ticket)[0].actions[0] == {"type": "assign", "label": "Assigner à Agathe " + world.agent.last_name,
                                          "outcome": Outcome.DONE, "detail": ""}


def test_assign_to_someone_who_left_is_skipped(world):
    r = rule(world.org, actions=[{"type": "assign", "user": world.agent.pk}])
    world.agent.memberships.update(is_active=False)
    ticket = TicketFactory(organization=world.org, customer=world.customer)
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None
    assert runs(ticket)[0].actions[0]["detail"] == "cet agent ne fait plus partie de l'équipe"
    assert r.pk == runs(ticket)[0].rule_id


def test_notify_managers_assignee_and_a_person(world):
    rule(world.org, actions=[
        {"type": "notify", "to": "managers", "message": "Client important."},
        {"type": "notify", "to": "assignee"},
        {"type": "notify", "to": "user", "user": world.agent.pk},
    ])
    ticket = TicketFactory(organization=world.org, customer=world.customer, subject="Panne")
    notes = AgentNotification.objects.filter(kind=NotificationKind.AUTOMATION)
    assert {n.recipient_id for n in notes} == {world.admin.pk, world.manager.pk, world.agent.pk}
    admin_note = notes.get(recipient=world.admin)
    assert admin_note.title == f"Règle « {runs(ticket)[0].rule_name} » : #{ticket.number} Panne"
    assert admin_note.body == "Client important."
    assert admin_note.url == f"/tickets/{ticket.number}/"
    outcomes = [(a["outcome"], a["detail"]) for a in runs(ticket)[0].actions]
    assert outcomes == [(Outcome.DONE, "2 personnes notifiées"), (Outcome.SKIPPED, "le ticket n'est pas assigné"),
                        (Outcome.DONE, "1 personne notifiée")]


def test_suggest_article_links_a_visible_article_in_a_note(world):
    article = create_article(actor=acting(world.manager), organization=world.org,
                             title="Réinitialiser son mot de passe",
                             body="Cliquez sur « Mot de passe oublié ».", publish=True)
    rule(world.org, {"field": "text", "op": "contains", "value": "mot de passe"},
         actions=[{"type": "suggest_article", "article": article.pk}], events=[Trigger.CREATED,
                                                                            Trigger.CUSTOMER_REPLIED])
    ticket = TicketFactory(organization=world.org, customer=world.customer, body="J'ai oublié mon mot de passe")
    note = Message.objects.get(ticket=ticket, kind=MessageKind.NOTE)
    assert note.author_user is None
    assert f"/help/{world.org.slug}/a/{article.slug}/" in note.body_html
    assert "Réinitialiser son mot de passe" in note.body_text
    assert ArticleLink.objects.filter(ticket=ticket, article=article).exists()
    # Archived since: no longer visible to customers, so never suggested.
    change_article_status(actor=acting(world.manager), article=article, status=ArticleStatus.ARCHIVED)
    other = TicketFactory(organization=world.org, customer=world.customer, body="mot de passe perdu")
    assert not Message.objects.filter(ticket=other, kind=MessageKind.NOTE).exists()
    assert runs(other)[0].actions[0]["detail"] == "l'article n'est plus publié ou n'est plus public"


def test_add_note(world):
    rule(world.org, actions=[{"type": "add_note", "text": "Vérifier le contrat avant de répondre."}])
    ticket = TicketFactory(organization=world.org, customer=world.customer)
    [note] = Message.objects.filter(ticket=ticket, kind=MessageKind.NOTE)
    assert note.body_text == "Vérifier le contrat avant de répondre."
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW  # a note is not a reply


def test_a_failing_action_is_rolled_back_alone_never_the_ticket(world, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(services, "set_priority", broken)
    rule(world.org, actions=[{"type": "set_priority", "priority": "high"}, {"type": "add_tag", "tag": "after"}])
    ticket = TicketFactory(organization=world.org, customer=world.customer, subject="Toujours créé")
    assert Ticket.objects.filter(pk=ticket.pk, subject="Toujours créé").exists()
    [run] = runs(ticket)
    assert run.actions[0]["outcome"] == Outcome.FAILED and "database hiccup" in run.actions[0]["detail"]
    assert run.actions[1]["outcome"] == Outcome.DONE
    assert tags(ticket) == {"after"}


# --- order, stop, limit --------------------------------------------------------------------------------------


def test_rules_run_in_order_and_see_each_other(world):
    from automations.services import reorder_rules

    first = rule(world.org, actions=[{"type": "set_priority", "priority": "urgent"}], name="Urgent")
    second = rule(world.org, {"field": "priority", "op": "is", "value": "urgent"}, actions=[HIT], name="Suit")
    assert "hit" in tags(TicketFactory(organization=world.org, customer=world.customer))
    reorder_rules(organization=world.org, actor=acting(world.manager), ordered_ids=[second.pk, first.pk])
    ticket = TicketFactory(organization=world.org, customer=world.customer)
    assert "hit" not in tags(ticket)
    assert [r.rule_name for r in runs(ticket)] == ["Urgent"]


def test_stop_after_this_rule(world):
    rule(world.org, actions=[{"type": "add_tag", "tag": "one"}], name="Un", stop_after=True)
    rule(world.org, actions=[{"type": "add_tag", "tag": "two"}], name="Deux")
    ticket = TicketFactory(organization=world.org, customer=world.customer)
    assert tags(ticket) == {"one"}
    [run] = runs(ticket)
    assert run.stopped is True
    # It stops only when it applies.
    rule(world.org, actions=[{"type": "add_tag", "tag": "three"}], name="Trois")
    AutomationRun.objects.all().delete()
    from automations.models import AutomationRule

    AutomationRule.objects.filter(name="Un").update(
        conditions=[{"field": "priority", "op": "is", "value": "urgent"}])
    assert tags(TicketFactory(organization=world.org, customer=world.customer)) == {"two", "three"}


def test_after_a_downgrade_rules_beyond_the_limit_are_kept_but_not_evaluated(world):
    world.org.plan = Plan.BUSINESS
    world.org.save(update_fields=["plan"])
    for i in range(6):
        rule(world.org, actions=[{"type": "add_tag", "tag": f"r{i}"}])
    world.org.plan = Plan.STARTER  # 5 active rules
    world.org.save(update_fields=["plan"])
    ticket = TicketFactory(organization=world.org, customer=world.customer)
    assert tags(ticket) == {f"r{i}" for i in range(5)}
    from automations.models import AutomationRule

    assert AutomationRule.objects.filter(organization=world.org, is_active=True).count() == 6


def test_inactive_rules_do_not_run(world):
    rule(world.org, actions=[HIT], active=False)
    assert tags(TicketFactory(organization=world.org, customer=world.customer)) == set()


def test_other_organizations_rules_do_not_run(world):
    rule(world.other_org, actions=[HIT])
    assert tags(TicketFactory(organization=world.org, customer=world.customer)) == set()


# --- when rules run ---------------------------------------------------------------------------------------


def test_created_rules_run_inside_the_creating_transaction(world, django_capture_on_commit_callbacks):
    rule(world.org, actions=[HIT])
    with django_capture_on_commit_callbacks(execute=False):
        ticket = TicketFactory(organization=world.org, customer=world.customer)
        assert "hit" in tags(ticket)  # before any commit: the ticket is never seen without its tags


def test_updated_rules_run_after_the_commit_once_per_transaction(world, django_capture_on_commit_callbacks):
    rule(world.org, {"field": "status", "op": "is", "value": "resolved"},
         actions=[{"type": "add_note", "text": "Résolu : vérifier la satisfaction."}], events=[Trigger.UPDATED])
    ticket = world.ticket
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="C'est corrigé.", actor=acting(world.agent),
                             then_status=Status.RESOLVED)
        assert runs(ticket) == []  # strictly after the commit
    for callback in callbacks:
        callback()
    [run] = runs(ticket)  # a reply and a status change: one "update"
    assert run.trigger == Trigger.UPDATED
    assert Message.objects.filter(ticket=ticket, kind=MessageKind.NOTE).count() == 1


def test_tag_changes_are_updates(world, django_capture_on_commit_callbacks):
    rule(world.org, {"field": "tag", "op": "has", "value": "bug"},
         actions=[{"type": "set_priority", "priority": "high"}], events=[Trigger.UPDATED])
    with django_capture_on_commit_callbacks(execute=True):
        services.set_tags(ticket=world.ticket, names=["bug"], actor=acting(world.agent))
    assert Ticket.objects.get(pk=world.ticket.pk).priority == Priority.HIGH


def test_customer_replied_rules(world, django_capture_on_commit_callbacks):
    rule(world.org, {"field": "text", "op": "contains", "value": "toujours"}, actions=[HIT],
         events=[Trigger.CUSTOMER_REPLIED])
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, body="Toujours là ?",
                             actor=acting(world.agent))
    assert "hit" not in tags(world.ticket)  # an agent's reply is not the customer's
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(ticket=world.ticket, kind=MessageKind.CUSTOMER, body="Le problème est toujours là.")
    assert "hit" in tags(world.ticket)
    assert runs(world.ticket)[0].trigger == Trigger.CUSTOMER_REPLIED


def test_rules_never_trigger_rules(world, django_capture_on_commit_callbacks):
    """A rule's actions change the ticket (events), but those changes evaluate no rule."""
    rule(world.org, actions=[{"type": "set_priority", "priority": "urgent"}, {"type": "add_note", "text": "Vu."}],
         events=[Trigger.CREATED, Trigger.UPDATED], name="Boucle ?")
    rule(world.org, {"field": "priority", "op": "is", "value": "urgent"}, actions=[HIT], events=[Trigger.UPDATED],
         name="Sur mise à jour")
    with django_capture_on_commit_callbacks(execute=True):
        ticket = TicketFactory(organization=world.org, customer=world.customer)
    assert [r.rule_name for r in runs(ticket)] == ["Boucle ?"]
    assert "hit" not in tags(ticket)
    # A person's change is an update: the rules on "updated" run once, and their own changes trigger nothing.
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=ticket, status=Status.OPEN, actor=acting(world.agent))
    assert [r.rule_name for r in runs(ticket)] == ["Boucle ?", "Boucle ?", "Sur mise à jour"]
    assert Message.objects.filter(ticket=ticket, kind=MessageKind.NOTE).count() == 2


def test_imported_tickets_never_trigger_rules(world, django_capture_on_commit_callbacks):
    rule(world.org, actions=[HIT], events=[Trigger.CREATED, Trigger.UPDATED, Trigger.CUSTOMER_REPLIED])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = TicketFactory(organization=world.org, customer=world.customer, imported=True)
        services.change_status(ticket=ticket, status=Status.CLOSED, actor=acting(world.agent))
        services.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, body="Bonjour")
    assert tags(ticket) == set()
    assert runs(ticket) == []


def test_journal_keeps_the_rule_name_after_the_rule_is_deleted(world):
    from automations.services import delete_rule

    r = rule(world.org, actions=[HIT], name="Éphémère")
    ticket = TicketFactory(organization=world.org, customer=world.customer)
    delete_rule(rule=r, actor=acting(world.manager))
    [run] = runs(ticket)
    assert (run.rule_id, run.rule_name) == (None, "Éphémère")


def test_notifications_of_rule_actions_reach_the_agents(world, queued_tasks, django_capture_on_commit_callbacks):
    """What a rule does goes through the same services as a person: the new assignee is told."""
    rule(world.org, actions=[{"type": "assign", "user": world.agent.pk}])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = TicketFactory(organization=world.org, customer=world.customer, subject="Écran noir")
    run_queued(queued_tasks)
    told = AgentNotification.objects.get(recipient=world.agent, kind=NotificationKind.ASSIGNED)
    assert told.title == f"Ticket assigné : #{ticket.number} Écran noir"
