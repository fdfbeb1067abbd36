"""CRM customers: found or created by email, per organization."""

import pytest
from factories import SYSTEM, CompanyFactory, OrganizationFactory

from crm.models import Company, Customer
from crm.services import get_or_create_customer, normalize_email, set_notification_preference, split_name
from lumiodesk.exceptions import InvalidInput
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def test_first_contact_creates_the_customer_with_names_and_company():
    org = OrganizationFactory()
    customer = get_or_create_customer(
        organization=org,
        email=" Jean.Martin@Example.COM ",
        name="Jean Martin-Durand",
        company_name="Boulangerie Martin",
    )
    assert customer.email == "Jean.Martin@example.com"
    assert (customer.first_name, customer.last_name) == ("Jean", "Martin-Durand")
    assert customer.company.name == "Boulangerie Martin"
    assert customer.company.organization == org
    assert customer.notification_preference == "both"


def test_the_same_email_in_any_case_finds_the_same_customer():
    org = OrganizationFactory()
    first = get_or_create_customer(organization=org, email="jean@example.com", name="Jean")
    again = get_or_create_customer(organization=org, email="JEAN@EXAMPLE.COM", name="Autre Nom")
    assert again.pk == first.pk
    assert again.first_name == "Jean"
    assert Customer.objects.filter(organization=org).count() == 1


def test_a_customer_created_meanwhile_is_found_not_duplicated():
    # The intake looked the sender up and found no one; another message from the same new sender created them
    # since: the insert meets the unique index, writes nothing, and that customer is returned.
    org = OrganizationFactory()
    first = get_or_create_customer(organization=org, email="jean@example.com", name="Jean")
    again = get_or_create_customer(organization=org, email="Jean@Example.com", name="Autre", looked_up=True)
    assert again.pk == first.pk and again.first_name == "Jean"
    assert Customer.objects.filter(organization=org).count() == 1


def test_customers_are_per_organization():
    org, other = OrganizationFactory(), OrganizationFactory()
    mine = get_or_create_customer(organization=org, email="jean@example.com")
    theirs = get_or_create_customer(organization=other, email="jean@example.com")
    assert mine.pk != theirs.pk


def test_an_existing_company_is_reused_case_insensitively():
    org = OrganizationFactory()
    company = CompanyFactory(organization=org, name="Acme SARL")
    customer = get_or_create_customer(organization=org, email="a@example.com", company_name="acme sarl")
    assert customer.company == company
    assert Company.objects.filter(organization=org).count() == 1


def test_another_organizations_company_is_not_reused():
    org, other = OrganizationFactory(), OrganizationFactory()
    theirs = CompanyFactory(organization=other, name="Acme SARL")
    customer = get_or_create_customer(organization=org, email="a@example.com", company_name="Acme SARL")
    assert customer.company != theirs
    assert customer.company.organization == org


@pytest.mark.parametrize("email", ["", "   ", "pas-une-adresse", "a@", "@example.com", None])
def test_invalid_email_is_rejected(email):
    org = OrganizationFactory()
    with pytest.raises(InvalidInput):
        get_or_create_customer(organization=org, email=email)
    assert not Customer.objects.filter(organization=org).exists()


def test_normalize_and_split_helpers():
    assert normalize_email("Marie@EXAMPLE.Fr") == "Marie@example.fr"
    # Internationalized local parts (RFC 6531) are addresses people have; the domain keeps the usual rules.
    assert normalize_email("José.Núñez@Exemple.FR") == "José.Núñez@exemple.fr"
    assert normalize_email("tomá?@football.example.com") == "tomá?@football.example.com"
    # One address however its accents were typed: a combining accent is stored composed (NFC).
    assert normalize_email("jose\u0301@exemple.fr") == normalize_email("jos\u00e9@exemple.fr") == "jos\u00e9@exemple.fr"
    for bad in ("jo sé@exemple.fr", "josé@", "josé@exemple", "jo\u0301sé..x@exemple.fr", "é\x00@exemple.fr",
                "\"josé\"@exemple.fr", "josé@exa mple.fr", "é" * 65 + "@exemple.fr"):
        with pytest.raises(InvalidInput):
            normalize_email(bad)
    assert split_name("  Marie  Claire Dubois ") == ("Marie", "Claire Dubois")
    assert split_name("Cher") == ("Cher", "")
    assert split_name("") == ("", "")


def test_display_name_and_preferences(world):
    customer = world.customer
    assert customer.display_name == "Claire Dupont"
    assert str(customer) == "Claire Dupont <claire.dupont@example.com>"
    set_notification_preference(customer=customer, preference="web_only")
    customer.refresh_from_db()
    assert (customer.wants_web, customer.wants_email) == (True, False)
    with pytest.raises(InvalidInput):
        set_notification_preference(customer=customer, preference="pigeon")


def test_create_ticket_for_contact_leaves_no_customer_behind_when_refused():
    org = OrganizationFactory()
    with pytest.raises(InvalidInput):
        services.create_ticket_for_contact(actor=SYSTEM,
            organization=org, email="new@example.com", name="Nouveau", subject=" ", body="Bonjour"
        )
    assert not Customer.objects.filter(organization=org).exists()
    ticket = services.create_ticket_for_contact(actor=SYSTEM,
        organization=org, email="new@example.com", name="Nouveau Client", subject="Aide", body="Bonjour"
    )
    assert ticket.customer.first_name == "Nouveau"
    assert Ticket.objects.filter(organization=org).count() == 1
