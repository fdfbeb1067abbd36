"""Refund approvals (section 15): who asks, who approves, never a rule, audited and on the ticket."""

import pytest
from django.urls import reverse
from factories import SYSTEM, OrganizationFactory, TicketFactory, acting, member
from helpers import htmx

from automations import services as automation_services
from billing import refunds
from billing.models import RefundRequest
from lumiodesk.exceptions import InvalidInput, NotPermitted, TransitionNotAllowed
from lumiodesk.models import AuditLog, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    org = OrganizationFactory(name="Acme")
    people = {role: member(org, role, email=f"{role}@acme.test") for role in Role.values}
    people["agent2"] = member(org, Role.AGENT, email="agent2@acme.test")
    return org, people, TicketFactory(organization=org)


@pytest.mark.parametrize("amount, approver, allowed", [
    ("45", Role.MANAGER, True), ("99.99", Role.MANAGER, True), ("100", Role.MANAGER, False),
    ("180", Role.MANAGER, False), ("180", Role.ADMIN, True), ("45", Role.ADMIN, True), ("45", Role.AGENT, False),
    ("45", Role.VIEWER, False),
])
def test_who_approves_depends_on_the_amount(acme, amount, approver, allowed):
    org, people, ticket = acme
    refund = refunds.request_refund(actor=acting(people[Role.AGENT]), ticket=ticket, amount=amount, reason="Geste")
    if allowed:
        refunds.decide_refund(actor=acting(people[approver]), refund=refund, approve=True)
        assert RefundRequest.objects.get(pk=refund.pk).status == "approved"
    else:
        with pytest.raises(NotPermitted):
            refunds.decide_refund(actor=acting(people[approver]), refund=refund, approve=True)
        assert RefundRequest.objects.get(pk=refund.pk).status == "pending"


def test_nobody_approves_their_own_request_and_decisions_are_final(acme):
    org, people, ticket = acme
    refund = refunds.request_refund(actor=acting(people[Role.MANAGER]), ticket=ticket, amount="30", reason="Geste")
    with pytest.raises(NotPermitted):
        refunds.decide_refund(actor=acting(people[Role.MANAGER]), refund=refund, approve=True)
    refunds.decide_refund(actor=acting(people[Role.ADMIN]), refund=refund, approve=False, note="Déjà remboursé")
    with pytest.raises(TransitionNotAllowed):
        refunds.decide_refund(actor=acting(people[Role.ADMIN]), refund=refund, approve=True)
    actions = list(AuditLog.objects.filter(organization=org, target_type="ticket", target_id=ticket.pk)
                   .filter(action__startswith="billing.refund").order_by("pk").values_list("action", flat=True))
    assert actions == ["billing.refund.requested", "billing.refund.rejected"]


@pytest.mark.parametrize("amount", ["0", "-5", "abc", ""])
def test_the_amount_is_checked(acme, amount):
    _org, people, ticket = acme
    with pytest.raises(InvalidInput):
        refunds.request_refund(actor=acting(people[Role.AGENT]), ticket=ticket, amount=amount, reason="x")


def test_a_rule_cannot_create_or_approve_a_refund(acme):
    org, people, ticket = acme
    with pytest.raises(NotPermitted):
        refunds.request_refund(actor=SYSTEM, ticket=ticket, amount="10", reason="règle")
    refund = refunds.request_refund(actor=acting(people[Role.AGENT]), ticket=ticket, amount="10", reason="x")
    with pytest.raises(NotPermitted):
        refunds.decide_refund(actor=SYSTEM, refund=refund, approve=True)
    # the rule engine has no refund action: a rule asking for one is refused when saved
    with pytest.raises(InvalidInput):
        automation_services.create_rule(organization=org, actor=SYSTEM, name="Rembourser", conditions=[],
                                        actions=[{"type": "refund", "amount": "10"}])
    assert RefundRequest.objects.filter(organization=org).count() == 1


def test_the_ticket_page_block_and_the_approvers_list(acme, client):
    org, people, ticket = acme
    client.force_login(people[Role.AGENT])
    response = client.post(reverse("tickets:refund_request", args=[ticket.number]),
                           {"amount": "45,50", "reason": "Panne de 2 jours"}, **htmx())
    assert response.status_code == 200 and "45.50 EUR" in response.content.decode().replace(",", ".")
    bad = client.post(reverse("tickets:refund_request", args=[ticket.number]), {"amount": "x", "reason": "y"},
                      **htmx())
    assert bad.status_code == 400 and "Montant invalide" in bad.content.decode()
    refund = RefundRequest.objects.get(organization=org)
    client.force_login(people[Role.MANAGER])
    page = client.get(reverse("billing:refunds")).content.decode()
    assert "Panne de 2 jours" in page and "Approuver" in page
    client.post(reverse("billing:refund_decide", args=[refund.pk]), {"decision": "approve"})
    assert RefundRequest.objects.get(pk=refund.pk).status == "approved"
    block = client.get(reverse("tickets:refunds", args=[ticket.number]), **htmx()).content.decode()
    assert "Approuvé" in block and "décidé par" in block
    client.force_login(people[Role.AGENT])
    assert client.get(reverse("billing:refunds")).status_code == 403
