"""CSV import (issue 21, sections 11 and 16): reading what other tools export, the mapping, the 50-row test
import with its report and its undo, idempotent re-imports, imported tickets outside every automation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from factories import acting

from crm.models import Company, Customer
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import AgentNotification, AuditLog
from tickets.imports import services as imports
from tickets.imports.models import ImportKind, ImportRun, ImportState
from tickets.imports.reading import read_table
from tickets.models import CustomerNotification, Message, MessageKind, Status, Tag, Ticket
from tickets.selectors import search_query

pytestmark = pytest.mark.django_db

HEADER = "Email;Nom;Sujet;Description;Créé le;Statut;Priorité;Agent;Tags;Fermé le;Réponse\n"


def ticket_rows(n: int, start: int = 0) -> str:
    lines = []
    for i in range(start, start + n):
        status = ("Fermé", "Résolu", "Ouvert", "En attente client")[i % 4]
        closed = f"0{1 + i % 9}/03/2024 17:00" if status in ("Fermé", "Résolu") else ""
        lines.append(f"client{i}@exemple.fr;Client {i};Commande n°{i} en retard;\"Bonjour,\nma commande {i} "
                     f"n'est pas arrivée; merci.\";0{1 + i % 9}/03/2024 09:30;{status};haute;"
                     f"agathe@acme.test;livraison, retard;{closed};Nous regardons.\n")
    return HEADER + "".join(lines)


def start(world, text: str | bytes, kind=ImportKind.TICKETS, encoding="utf-8-sig"):
    data = text if isinstance(text, bytes) else text.encode(encoding)
    return imports.start_import(organization=world.org, actor=acting(world.admin, world.org), kind=kind,
                                filename="export.csv", data=data)


def test_reading_what_spreadsheets_write():
    french_excel = "Email;Nom\r\nléa@exemple.fr;Léa Été\r\n".encode("cp1252")
    table = read_table(french_excel)
    assert (table.encoding, table.separator, table.headers) == ("Windows-1252", ";", ["Email", "Nom"])
    assert table.rows == [["léa@exemple.fr", "Léa Été"]]

    bom = '\ufeffemail,name,note\n"a@b.fr","Dupont, Jean","ligne 1\nligne 2; suite"\nc@d.fr,Martin\n'.encode()
    table = read_table(bom)
    assert (table.encoding, table.separator) == ("UTF-8 (BOM)", ",")
    assert table.rows == [["a@b.fr", "Dupont, Jean", "ligne 1\nligne 2; suite"], ["c@d.fr", "Martin", ""]]

    assert read_table(b"a\tb\n1\t2\n").separator == "\t"
    with pytest.raises(InvalidInput, match="vide"):
        read_table(b"   \n")
    with pytest.raises(InvalidInput, match="binaire"):
        read_table(b"PK\x03\x04\x00\x00zip")
    with pytest.raises(InvalidInput, match="20 Mo"):
        read_table(b"a;b\n" + b"x;y\n" * (6 * 1024 * 1024))


def test_columns_are_suggested_from_their_names_and_required_ones_must_be_mapped(world):
    run = start(world, ticket_rows(2))
    assert run.mapping == {"email": "Email", "subject": "Sujet", "body": "Description", "created_at": "Créé le",
                           "status": "Statut", "name": "Nom", "priority": "Priorité", "assignee": "Agent",
                           "tags": "Tags", "closed_at": "Fermé le", "reply": "Réponse"}
    assert imports.preview(run)[0]["subject"] == "Commande n°0 en retard"
    with pytest.raises(InvalidInput, match="Sujet"):
        imports.set_mapping(run=run, actor=acting(world.admin, world.org), mapping={"email": "Email"})


def test_only_admins_import(world):
    for user in (world.manager, world.agent, world.viewer):
        with pytest.raises(NotPermitted):
            imports.start_import(organization=world.org, actor=acting(user, world.org), kind="tickets",
                                 filename="x.csv", data=ticket_rows(1).encode())


def test_a_test_import_takes_fifty_rows_reports_each_and_can_be_undone(world):
    admin = acting(world.admin, world.org)
    bad = ("pas-un-email;X;Sujet;Corps;01/03/2024;Fermé;;;;;\n"
           "ok@exemple.fr;X;Sujet;Corps;31/02/2024;Fermé;;;;;\n"
           "ok@exemple.fr;X;Sujet;Corps;01/03/2024;Perdu;;;;;\n"
           "ok@exemple.fr;X;Sujet;Corps;01/03/2024 10:00;Fermé;;inconnu@nulle.part;;01/02/2024;\n")
    run = start(world, HEADER + bad + ticket_rows(60).removeprefix(HEADER))
    assert not imports.launch(run=run, actor=admin, test=True)
    run.refresh_from_db()
    assert run.state == ImportState.DONE and run.processed == 50
    assert run.counts == {"created": 46, "updated": 0, "skipped": 0, "error": 4}
    reasons = {r["line"]: r["reason"] for r in run.report}
    assert "email invalide" in reasons[2] and "date illisible" in reasons[3]
    assert "statut inconnu" in reasons[4] and "fermé avant d'être créé" in reasons[5]
    assert Ticket.objects.filter(organization=world.org, imported=True).count() == 46
    assert not Customer.objects.filter(organization=world.org, email="ok@exemple.fr").exists()  # rejected rows

    ticket = Ticket.objects.get(organization=world.org, subject="Commande n°0 en retard")
    paris = datetime(2024, 3, 1, 8, 30, tzinfo=UTC)  # 09:30 in Paris, the organization's time zone
    assert (ticket.status, ticket.priority, ticket.created_at) == (Status.CLOSED, "high", paris)
    assert ticket.closed_at == datetime(2024, 3, 1, 16, 0, tzinfo=UTC) and ticket.assignee == world.agent
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["livraison", "retard"]
    kinds = list(Message.objects.filter(ticket=ticket).order_by("created_at").values_list("kind", flat=True))
    assert kinds == [MessageKind.CUSTOMER, MessageKind.REPLY]
    assert ticket.messages.first().body_text.startswith("Bonjour,\nma commande 0")
    assert ticket.first_response_due_at is None and ticket.resolution_due_at is None  # no SLA
    assert not CustomerNotification.objects.filter(ticket__imported=True).exists()  # nobody told
    assert not AgentNotification.objects.filter(organization=world.org).exists()
    assert Ticket.objects.filter(organization=world.org, search_vector__isnull=False, imported=True).count() == 46
    numbers = sorted(Ticket.objects.filter(organization=world.org).values_list("number", flat=True))
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # one block, no gap

    removed = imports.undo_import(run=run, actor=admin)
    assert removed["tickets"] == 46 and removed["customers"] == 46
    assert not Ticket.objects.filter(organization=world.org, imported=True).exists()
    assert not Customer.objects.filter(organization=world.org, email__startswith="client").exists()
    assert world.customer in Customer.objects.all() and world.ticket in Ticket.objects.all()
    assert AuditLog.objects.filter(action="import.undone", target_id=run.pk).exists()
    with pytest.raises(InvalidInput):
        imports.undo_import(run=ImportRun.objects.get(pk=run.pk), actor=admin)


def test_importing_the_same_file_twice_creates_nothing_twice(world):
    admin = acting(world.admin, world.org)
    text = ticket_rows(30)
    first = start(world, text)
    imports.launch(run=first, actor=admin, test=False)
    again = start(world, text)
    imports.launch(run=again, actor=admin, test=False)
    again.refresh_from_db()
    assert again.counts == {"created": 0, "updated": 0, "skipped": 30, "error": 0}
    assert {r["reason"] for r in again.report} == {"déjà importé"}
    assert Ticket.objects.filter(organization=world.org, imported=True).count() == 30
    assert Customer.objects.filter(organization=world.org, email__startswith="client").count() == 30
    with pytest.raises(InvalidInput, match="déjà été lancé"):
        imports.launch(run=again, actor=admin, test=False)


def test_customers_companies_and_tags(world):
    admin = acting(world.admin, world.org)
    run = start(world, "Courriel,Prénom,Nom,Société,Téléphone\n"
                       f"{world.customer.email.upper()},Claire,Nouveau-Nom,Initech,0102030405\n"
                       "neuf@exemple.fr,Noé,Neuf,Initech,\nneuf@exemple.fr,Noé,Doublon,,\nmauvais,,,,\n",
                kind=ImportKind.CUSTOMERS)
    imports.launch(run=run, actor=admin, test=False)
    run.refresh_from_db()
    assert run.counts == {"created": 1, "updated": 1, "skipped": 1, "error": 1}
    world.customer.refresh_from_db()
    assert (world.customer.last_name, world.customer.company.name) == ("Nouveau-Nom", "Initech")
    assert Customer.objects.get(email="neuf@exemple.fr").company.name == "Initech"
    assert Company.objects.filter(organization=world.org, name__iexact="initech").count() == 1
    # The customer's tickets are found by the imported name (``crm.services.customers_renamed``).
    found = Ticket.objects.filter(organization=world.org, search_vector=search_query("Nouveau-Nom"))
    assert world.ticket.pk in set(found.values_list("pk", flat=True))

    run = start(world, "Tag\nVIP\nvip\nFacturation\n\n", kind=ImportKind.TAGS)
    imports.launch(run=run, actor=admin, test=False)
    run.refresh_from_db()
    assert run.counts == {"created": 2, "updated": 0, "skipped": 1, "error": 0}
    assert set(Tag.objects.filter(organization=world.org).values_list("name", flat=True)) >= {"vip", "facturation"}

    run = start(world, "Entreprise;Site web\nGlobex France;globex.fr\nInitech;initech.com\n", kind=ImportKind.COMPANIES)
    imports.launch(run=run, actor=admin, test=False)
    run.refresh_from_db()
    assert run.counts == {"created": 1, "updated": 1, "skipped": 0, "error": 0}


def test_another_organization_never_sees_or_receives_the_rows(world):
    run = start(world, ticket_rows(3))
    imports.launch(run=run, actor=acting(world.admin, world.org), test=False)
    assert not Ticket.objects.filter(organization=world.other_org, imported=True).exists()
    with pytest.raises(NotPermitted):
        imports.undo_import(run=run, actor=acting(world.outsider, world.other_org))


def test_a_reimport_lists_its_errors_first_however_many_rows_it_skips(world):
    admin = acting(world.admin, world.org)
    text = ticket_rows(1_100)
    imports.launch(run=start(world, text), actor=admin, test=False)
    broken = text + "pas-un-email;X;Sujet;Corps;01/03/2024 09:30;Ouvert;haute;;;;\n"
    again = start(world, broken)
    imports.launch(run=again, actor=admin, test=False)
    again.refresh_from_db()
    assert again.counts == {"created": 0, "updated": 0, "skipped": 1_100, "error": 1}
    assert again.report[0]["outcome"] == "error" and again.report[0]["line"] == 1_102
    assert len(again.report) == 1 + 1_000  # the skipped rows as a sample, the error always
