"""Reply templates (placeholders of the support guide) and shared views."""

import pytest
from factories import CustomerFactory, TicketFactory, acting, member

from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import AuditLog, Role
from tickets import services
from tickets.models import ReplyTemplate, SavedView
from tickets.replies import render_reply_template

pytestmark = pytest.mark.django_db


def test_every_placeholder_is_filled(world):
    body = (
        "Bonjour {prenom_client} / [Prénom] / {customer_first_name}, "
        "votre demande « {sujet} » ([sujet], {ticket_subject}) n° {numero} {ticket_number}. "
        "{prenom_agent} / [Votre prénom] / {agent_first_name}"
    )
    assert render_reply_template(body, ticket=world.ticket, agent=world.agent) == (
        "Bonjour Claire / Claire / Claire, votre demande « Facture en double » "
        "(Facture en double, Facture en double) n° 1 1. Agathe / Agathe / Agathe"
    )


def test_placeholders_fall_back_when_names_are_missing(world):
    customer = CustomerFactory(organization=world.org, first_name="", last_name="", email="anonyme@example.com")
    ticket = TicketFactory(organization=world.org, customer=customer, subject="Question")
    world.agent.first_name = ""
    assert render_reply_template("{prenom_client} {prenom_agent}", ticket=ticket, agent=world.agent) == (
        "anonyme@example.com agathe@acme.test"
    )


def test_unknown_placeholders_and_template_syntax_are_left_alone(world):
    body = "{inconnu} {{ ticket.customer.email }} {% now 'Y' %}"
    assert render_reply_template(body, ticket=world.ticket, agent=world.agent) == body


def test_a_customer_cannot_inject_placeholders_through_the_subject(world):
    ticket = TicketFactory(organization=world.org, customer=world.customer, subject="{prenom_agent}")
    assert render_reply_template("Re: {sujet}", ticket=ticket, agent=world.agent) == "Re: {prenom_agent}"


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_managers_save_templates(world, who):
    template = services.save_reply_template(
        organization=world.org, name=" Remerciement ", body="Merci {prenom_client} !", actor=acting(getattr(world, who))
    )
    assert (template.name, template.body, template.organization) == (
        "Remerciement",
        "Merci {prenom_client} !",
        world.org,
    )
    assert AuditLog.objects.filter(action="template.saved", target_id=template.pk).exists()
    services.save_reply_template(
        organization=world.org, name="Remerciement", body="Merci beaucoup", actor=acting(world.manager),
        template=template,
    )
    template.refresh_from_db()
    assert template.body == "Merci beaucoup"


@pytest.mark.parametrize("who", ["agent", "viewer", "outsider"])
def test_others_cannot_save_or_delete_templates(world, who):
    with pytest.raises(NotPermitted):
        services.save_reply_template(organization=world.org, name="X", body="Y", actor=acting(getattr(world, who)))
    template = services.save_reply_template(organization=world.org, name="X", body="Y", actor=acting(world.admin))
    with pytest.raises(NotPermitted):
        services.delete_reply_template(template=template, actor=acting(getattr(world, who)))
    assert ReplyTemplate.objects.filter(pk=template.pk).exists()


@pytest.mark.parametrize("name, body", [("", "texte"), ("nom", ""), ("  ", "  ")])
def test_template_needs_a_name_and_a_body(world, name, body):
    with pytest.raises(InvalidInput):
        services.save_reply_template(organization=world.org, name=name, body=body, actor=acting(world.admin))


def test_template_names_are_unique_per_organization_whatever_the_case(world):
    services.save_reply_template(organization=world.org, name="Relance", body="A", actor=acting(world.admin))
    with pytest.raises(InvalidInput):
        services.save_reply_template(organization=world.org, name="RELANCE", body="B", actor=acting(world.admin))
    services.save_reply_template(organization=world.other_org, name="Relance", body="C",
                                 actor=acting(_admin_of_other(world)))


def _admin_of_other(world):
    return member(world.other_org, Role.ADMIN)


def test_delete_template(world):
    template = services.save_reply_template(organization=world.org, name="X", body="Y", actor=acting(world.admin))
    pk = template.pk
    services.delete_reply_template(template=template, actor=acting(world.manager))
    assert not ReplyTemplate.objects.filter(pk=pk).exists()
    assert AuditLog.objects.filter(action="template.deleted", target_id=pk, actor=world.manager).exists()


# --- shared views --------------------------------------------------------------------------------------


def test_manager_saves_a_view_with_known_filters_only(world):
    view = services.save_view(
        organization=world.org,
        name="Urgences",
        actor=acting(world.manager),
        filters={"status": "open", "priority": "urgent", "q": "", "evil": "x"},
    )
    assert view.filters == {"status": "open", "priority": "urgent"}
    assert view.position == 0
    second = services.save_view(organization=world.org, name="Autre", filters={}, actor=acting(world.admin))
    assert second.position == 1


@pytest.mark.parametrize("who", ["agent", "viewer", "outsider"])
def test_only_managers_save_and_delete_views(world, who):
    with pytest.raises(NotPermitted):
        services.save_view(organization=world.org, name="X", filters={}, actor=acting(getattr(world, who)))
    view = services.save_view(organization=world.org, name="X", filters={}, actor=acting(world.admin))
    with pytest.raises(NotPermitted):
        services.delete_view(view=view, actor=acting(getattr(world, who)))
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_view_names_are_required_and_unique(world):
    with pytest.raises(InvalidInput):
        services.save_view(organization=world.org, name="  ", filters={}, actor=acting(world.admin))
    services.save_view(organization=world.org, name="Mes tickets", filters={}, actor=acting(world.admin))
    with pytest.raises(InvalidInput):
        services.save_view(organization=world.org, name="mes TICKETS", filters={}, actor=acting(world.admin))
