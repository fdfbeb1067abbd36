"""Settings > Automations and the ticket's automation journal: who may, the form without and with HTMX,
activation within the plan's limit, reordering (drag and drop, and the up/down buttons), query counts."""

from __future__ import annotations

import pytest
from automation_helpers import rule
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import OrganizationFactory, TicketFactory, member
from helpers import assert_full_page, assert_login_redirect, assert_partial, htmx

from automations.models import AutomationRule, AutomationRun, Trigger
from lumiodesk.models import Plan, Role

pytestmark = pytest.mark.django_db

LIST = reverse("automations:rules")
CREATE = reverse("automations:rule_create")
TAG = [{"type": "add_tag", "tag": "x"}]


def form_data(**changes) -> dict:
    data = {
        "name": "Facturation", "is_active": "on", "events": ["created"], "match": "all", "c-count": "1",
        "c0-field": "subject", "c0-op": "contains", "c0-value": "facture", "a-count": "1", "a0-type": "add_tag",
        "a0-tag": "facturation", "save": "1",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def some_rule(world):
    return rule(world.org, {"field": "subject", "op": "contains", "value": "facture"}, actions=TAG, name="Facturation")


# --- who may -------------------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, world, some_rule):
    for url in (LIST, CREATE, reverse("automations:rule_edit", args=[some_rule.pk]),
                reverse("automations:ticket_journal", args=[world.ticket.number])):
        assert_login_redirect(client.get(url), url)
    url = reverse("automations:rule_toggle", args=[some_rule.pk])
    assert_login_redirect(client.post(url, {"active": "0"}), url)


@pytest.mark.parametrize("who", ["agent", "viewer"])
def test_agents_and_viewers_are_refused(client, world, some_rule, who):
    client.force_login(getattr(world, who))
    pk = some_rule.pk
    assert client.get(LIST).status_code == 403
    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, form_data()).status_code == 403
    assert client.get(reverse("automations:rule_edit", args=[pk])).status_code == 403
    assert client.post(reverse("automations:rule_toggle", args=[pk]), {"active": "0"}).status_code == 403
    assert client.post(reverse("automations:rule_move", args=[pk]), {"direction": "up"}).status_code == 403
    assert client.post(reverse("automations:rule_reorder"), {"order": str(pk)}).status_code == 403
    assert client.post(reverse("automations:rule_delete", args=[pk])).status_code == 403
    assert client.post(reverse("automations:rule_examples")).status_code == 403
    assert AutomationRule.objects.filter(pk=pk, is_active=True).count() == 1


def test_another_organizations_rule_is_not_found(client, world, some_rule):
    client.force_login(member(world.other_org, Role.MANAGER, email="boss@globex.test"))
    pk = some_rule.pk
    assert client.get(reverse("automations:rule_edit", args=[pk])).status_code == 404
    assert client.post(reverse("automations:rule_toggle", args=[pk]), {"active": "0"}).status_code == 404
    assert client.post(reverse("automations:rule_move", args=[pk]), {"direction": "up"}).status_code == 404
    assert client.post(reverse("automations:rule_delete", args=[pk])).status_code == 404
    assert client.get(reverse("automations:ticket_journal", args=[world.ticket.number])).status_code == 404
    assert AutomationRule.objects.filter(pk=pk).exists()
    assert "Facturation" not in client.get(LIST).content.decode()


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_admins_and_managers_see_the_rules(client, world, some_rule, who):
    client.force_login(getattr(world, who))
    html = assert_full_page(client.get(LIST))
    assert "Facturation" in html
    assert "Sujet contient « facture »" in html and "Ajouter le tag « x »" in html
    assert "1 règle active sur 5 (forfait Starter)" in html
    assert 'draggable="true"' in html and 'name="direction" value="up"' in html
    assert "Aucune action ne peut déclencher de remboursement" in html


# --- the form ----------------------------------------------------------------------------------------------------


def test_creating_a_rule_without_javascript(client, world):
    client.force_login(world.manager)
    html = assert_full_page(client.get(CREATE))
    assert 'name="c0-field"' in html and 'name="a0-type"' in html
    response = client.post(CREATE, form_data())
    assert response.status_code == 302 and response.url == LIST
    r = AutomationRule.objects.get(organization=world.org)
    assert (r.name, r.events, r.conditions, r.actions) == (
        "Facturation", ["created"], [{"field": "subject", "op": "contains", "value": "facture"}],
        [{"type": "add_tag", "tag": "facturation"}],
    )


def test_adding_and_removing_rows_re_renders_without_saving(client, world):
    client.force_login(world.manager)
    html = client.post(CREATE, form_data(save=None, add_row="condition")).content.decode()
    assert 'name="c1-field"' in html and 'value="facture"' in html  # what was typed is kept
    data = form_data(save=None, drop="c0", **{"c-count": "2", "c1-field": "priority", "c1-op": "is",
                                                 "c1-choice": "urgent"})
    html = client.post(CREATE, data).content.decode()
    assert 'name="c1-field"' not in html and 'value="urgent" selected' in html  # row 1 became row 0
    html = client.post(CREATE, form_data(save=None, refresh="1", **{"c0-field": "status_for"})).content.decode()
    assert 'name="c0-amount"' in html and 'name="c0-value"' not in html  # the row shows that kind's inputs
    assert not AutomationRule.objects.exists()


def test_htmx_edits_swap_only_the_form(client, world):
    client.force_login(world.manager)
    response = client.post(CREATE, form_data(save=None, add_row="action"), **htmx("rule-form"))
    html = assert_partial(response)
    assert html.strip().startswith('<form id="rule-form"') and 'name="a1-type"' in html
    assert 'hx-post="/settings/automations/new/"' in html


def test_an_invalid_rule_shows_its_errors(client, world):
    client.force_login(world.manager)
    response = client.post(CREATE, form_data(**{"c0-value": ""}))
    assert response.status_code == 400
    assert "indiquez une valeur." in response.content.decode()
    response = client.post(CREATE, form_data(events=None))
    assert "Choisissez quand évaluer la règle" in response.content.decode()
    assert not AutomationRule.objects.exists()


def test_the_plan_limit_on_the_form(client, world):
    for i in range(5):
        rule(world.org, actions=TAG, name=f"R{i}")
    client.force_login(world.manager)
    response = client.post(CREATE, form_data())
    assert response.status_code == 402
    assert "le forfait Starter permet 5 automatisations actives" in response.content.decode()
    assert client.post(CREATE, form_data(is_active=None)).status_code == 302  # saved inactive


def test_editing_a_rule(client, world, some_rule):
    client.force_login(world.admin)
    url = reverse("automations:rule_edit", args=[some_rule.pk])
    html = assert_full_page(client.get(url))
    assert 'value="Facturation"' in html and 'value="facture"' in html
    response = client.post(url, form_data(name="Facturation (FR)", stop_after="on", events=["created", "updated"]))
    assert response.status_code == 302
    some_rule.refresh_from_db()
    assert (some_rule.name, some_rule.stop_after, some_rule.events) == ("Facturation (FR)", True,
                                                                        ["created", "updated"])


# --- the list's buttons ---------------------------------------------------------------------------------------


def test_activation_beyond_the_limit_is_refused_with_the_plans_limit(client, world):
    for i in range(5):
        rule(world.org, actions=TAG, name=f"R{i}")
    spare = rule(world.org, actions=TAG, name="Réserve", active=False)
    client.force_login(world.manager)
    url = reverse("automations:rule_toggle", args=[spare.pk])
    response = client.post(url, {"active": "1"}, **htmx("rule-list"))
    assert response.status_code == 402
    html = assert_partial(response)
    assert "Limite atteinte : le forfait Starter permet 5 automatisations actives." in html
    assert 'id="rule-list"' in html and 'id="flash" hx-swap-oob="true"' in html
    response = client.post(url, {"active": "1"})  # without JavaScript: back to the page, with the message
    assert response.status_code == 302
    assert "permet 5 automatisations actives" in client.get(LIST).content.decode()
    spare.refresh_from_db()
    assert spare.is_active is False


def test_deactivate_and_activate(client, world, some_rule):
    client.force_login(world.manager)
    url = reverse("automations:rule_toggle", args=[some_rule.pk])
    assert client.post(url, {"active": "0"}).status_code == 302
    assert AutomationRule.objects.get(pk=some_rule.pk).is_active is False
    html = assert_partial(client.post(url, {"active": "1"}, **htmx("rule-list")))
    assert "Règle « Facturation » activée." in html
    assert AutomationRule.objects.get(pk=some_rule.pk).is_active is True


def test_up_and_down_buttons_and_drag_and_drop(client, world):
    a, b, c = (rule(world.org, actions=TAG, name=n) for n in ("Alpha", "Bravo", "Charlie"))
    client.force_login(world.manager)
    assert client.post(reverse("automations:rule_move", args=[c.pk]), {"direction": "up"}).status_code == 302
    html = assert_partial(client.post(reverse("automations:rule_move", args=[a.pk]), {"direction": "down"},
                                      **htmx("rule-list")))
    assert html.index("Charlie") < html.index("Alpha") < html.index("Bravo")
    response = client.post(reverse("automations:rule_reorder"), {"order": f"{b.pk},{a.pk},{c.pk}"},
                           **htmx("rule-list"))
    assert assert_partial(response).index("Bravo") < response.content.decode().index("Alpha")
    assert list(AutomationRule.objects.order_by("position").values_list("name", flat=True)) == [
        "Bravo", "Alpha", "Charlie"]
    response = client.post(reverse("automations:rule_reorder"), {"order": f"{b.pk}"}, **htmx("rule-list"))
    assert response.status_code == 400 and "rechargez la page" in response.content.decode()


def test_delete_and_examples(client, world, some_rule):
    client.force_login(world.manager)
    assert client.post(reverse("automations:rule_delete", args=[some_rule.pk])).status_code == 302
    assert not AutomationRule.objects.exists()
    html = client.get(LIST).content.decode()
    assert "Ajouter les exemples de la documentation" in html
    html = assert_partial(client.post(reverse("automations:rule_examples"), **htmx("rule-list")))
    assert "Facturation : tag facturation" in html and "Nouveau depuis 2 heures ouvrées" in html


def test_the_settings_menu_links_to_automations(client, world):
    client.force_login(world.manager)
    assert f'href="{LIST}"' in client.get(reverse("tickets:list")).content.decode()
    client.force_login(world.agent)
    assert f'href="{LIST}"' not in client.get(reverse("tickets:list")).content.decode()


# --- the ticket's journal --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "agent", "viewer"])
def test_the_ticket_journal(client, world, who):
    rule(world.org, actions=[{"type": "add_tag", "tag": "facturation"}, {"type": "add_tag", "tag": "facturation"}],
         name="Facturation")
    ticket = TicketFactory(organization=world.org, customer=world.customer, subject="Facture")
    client.force_login(getattr(world, who))
    url = reverse("automations:ticket_journal", args=[ticket.number])
    page = client.get(reverse("tickets:detail", args=[ticket.number])).content.decode()
    assert f'hx-get="{url}"' in page  # the block, loaded by HTMX
    html = assert_partial(client.get(url, **htmx()))
    assert "Facturation" in html and "Création du ticket" in html
    assert "Ajouter le tag « facturation »" in html and "le ticket a déjà ce tag" in html
    assert ("/settings/automations/" in html) is (who == "admin")  # a link to the rule for those who manage
    assert "Journal d'automatisation du ticket" in assert_full_page(client.get(url))


def test_an_empty_journal(client, world):
    client.force_login(world.agent)
    html = client.get(reverse("automations:ticket_journal", args=[world.ticket.number]), **htmx()).content.decode()
    assert "Aucune règle ne s'est appliquée à ce ticket." in html


# --- query counts ------------------------------------------------------------------------------------------------


def _count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_rules_page_queries_do_not_grow_with_rules(client):
    def run(n):
        org = OrganizationFactory(plan=Plan.SCALE)
        manager = member(org, Role.MANAGER)
        agent = member(org, Role.AGENT)
        AutomationRule.objects.bulk_create([
            AutomationRule(
                organization=org, name=f"R{i}", position=i, events=["created"], is_active=i % 3 != 0,
                conditions=[{"field": "assignee", "op": "is", "value": agent.pk}],
                actions=[{"type": "assign", "user": agent.pk}, {"type": "notify", "to": "user", "user": manager.pk}],
            ) for i in range(n)
        ])
        client.force_login(manager)
        return _count(lambda: client.get(LIST))

    assert run(10) == run(100)


def test_journal_queries_do_not_grow_with_entries(client):
    def run(n):
        org = OrganizationFactory()
        agent = member(org, Role.AGENT)
        ticket = TicketFactory(organization=org)
        AutomationRun.objects.bulk_create([
            AutomationRun(organization=org, ticket=ticket, rule_name=f"R{i}", trigger=Trigger.UPDATED,
                          actions=[{"type": "add_tag", "label": "x", "outcome": "done", "detail": ""}])
            for i in range(n)
        ])
        client.force_login(agent)
        return _count(lambda: client.get(reverse("automations:ticket_journal", args=[ticket.number]), **htmx()))

    assert run(10) == run(100)
