"""Test data. Tickets go through ``tickets.services.create_ticket`` like every channel;
``bulk_tickets`` / ``bulk_messages`` write rows directly, for the query-count tests only."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.utils import timezone
from factory.django import DjangoModelFactory

from crm.models import Company, Customer
from lumiodesk.exceptions import NotPermitted
from lumiodesk.models import Membership, Organization, Role
from lumiodesk.permissions import MemberActor, SystemActor
from tickets import services
from tickets.models import Message, MessageKind, Ticket

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    password = factory.django.Password("secret-pass-123")


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.AGENT


class CompanyFactory(DjangoModelFactory):
    class Meta:
        model = Company

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Entreprise {n}")


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    email = factory.Sequence(lambda n: f"client{n}@example.com")


class TicketFactory(factory.Factory):
    """A ticket opened through the service, with the customer's first message."""

    class Meta:
        model = Ticket

    organization = factory.SubFactory(OrganizationFactory)
    customer = factory.SubFactory(CustomerFactory, organization=factory.SelfAttribute("..organization"))
    subject = factory.Sequence(lambda n: f"Demande {n}")
    body = "Bonjour, j'ai un problème."
    priority = "normal"
    channel = "manual"
    actor = factory.LazyFunction(lambda: SYSTEM)  # the customer wrote in; a user: that member made it
    assignee = None
    tags = ()
    attachments = ()
    created_at = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        if not isinstance(kwargs["actor"], MemberActor | SystemActor):
            kwargs["actor"] = acting(kwargs["actor"], kwargs["organization"])
        return services.create_ticket(**kwargs)

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise NotImplementedError("tickets are only made through tickets.services.create_ticket")


SYSTEM = SystemActor("test")


def acting(user, organization: Organization | None = None) -> MemberActor:
    """The user as a ``MemberActor`` (their membership in ``organization``, or their only one): what
    ``request.actor`` is in the console. An inactive membership is kept (the table refuses it)."""
    memberships = Membership.objects.filter(user=user).select_related("organization", "user")
    if organization is not None:
        memberships = memberships.filter(organization=organization)
    found = sorted(memberships, key=lambda m: not m.is_active)
    if not found:
        raise NotPermitted("not a member")
    if organization is None and len({m.organization_id for m in found if m.is_active}) > 1:
        raise ValueError(f"{user} belongs to several organizations: say which")
    return MemberActor(found[0])


def member(organization: Organization, role: str = Role.AGENT, **user_fields):
    """A user with ``role`` in ``organization``."""
    if "email" in user_fields and "username" not in user_fields:
        user_fields["username"] = user_fields["email"]
    user = UserFactory(**user_fields)
    MembershipFactory(organization=organization, user=user, role=role)
    return user


def team_of(organization: Organization, name: str, *users, description: str = ""):
    """A team (Settings > Équipes) of ``users``' memberships in ``organization``, through the services."""
    from lumiodesk import teams

    team = teams.create_team(actor=SYSTEM, organization=organization, name=name, description=description)
    ids = Membership.objects.filter(organization=organization, user__in=users).values_list("pk", flat=True)
    return teams.set_team_members(actor=SYSTEM, organization=organization, team_id=team.pk, membership_ids=ids)


def upload(name: str, content: bytes = b"hello\n", content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def bulk_tickets(organization: Organization, n: int, *, customer: Customer | None = None, **fields) -> list[Ticket]:
    """``n`` tickets with one customer message each, written in a few queries (query-count tests)."""
    customer = customer or CustomerFactory(organization=organization)
    start = Organization.objects.filter(pk=organization.pk).values_list("last_ticket_number", flat=True).get()
    now = timezone.now()
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                organization=organization,
                number=start + i + 1,
                subject=f"Ticket en masse {i}",
                customer=customer,
                created_at=now - timedelta(minutes=i),
                updated_at=now,
                status_changed_at=now,
                **fields,
            )
            for i in range(n)
        ]
    )
    Organization.objects.filter(pk=organization.pk).update(last_ticket_number=F("last_ticket_number") + n)
    Message.objects.bulk_create(
        [
            Message(
                organization=organization,
                ticket=t,
                kind=MessageKind.CUSTOMER,
                author_customer=customer,
                body_text="Bonjour",
                body_html="<p>Bonjour</p>",
                created_at=t.created_at,
            )
            for t in tickets
        ]
    )
    services.refresh_search_document([t.pk for t in tickets])
    return tickets


def bulk_messages(ticket: Ticket, n: int, *, author=None) -> list[Message]:
    """``n`` more messages on ``ticket``, alternating customer messages, replies and notes."""
    kinds = [MessageKind.CUSTOMER, MessageKind.REPLY, MessageKind.NOTE]
    now = timezone.now()
    return Message.objects.bulk_create(
        [
            Message(
                organization_id=ticket.organization_id,
                ticket=ticket,
                kind=kinds[i % 3],
                author_customer=ticket.customer if kinds[i % 3] == MessageKind.CUSTOMER else None,
                author_user=author if kinds[i % 3] != MessageKind.CUSTOMER else None,
                body_text=f"Message {i}",
                body_html=f"<p>Message {i}</p>",
                created_at=now + timedelta(seconds=i),
            )
            for i in range(n)
        ]
    )
