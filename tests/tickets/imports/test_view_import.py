"""Settings > Import as an Admin goes through it: upload, mapping and preview, test import, report, undo, full
import; a large file goes to the background (a real Celery worker) and shows its progress."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from factories import member
from test_csv_import import ticket_rows
from worker_helpers import wait_for

from crm.models import Customer
from lumiodesk.models import Role
from tickets.imports.models import ImportRun, ImportState
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def upload(client, text: str, kind="tickets", name="export.csv"):
    file = SimpleUploadedFile(name, text.encode("cp1252"), content_type="text/csv")
    return client.post(reverse("imports:home"), {"kind": kind, "file": file})


def test_an_admin_migrates_with_a_test_import_first(client, world):
    client.force_login(world.admin)
    response = upload(client, ticket_rows(80))
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("imports:detail", args=[run.pk])

    page = client.get(reverse("imports:detail", args=[run.pk])).content.decode()
    assert "80 lignes, encodage Windows-1252" in page and "Séparateur : point-virgule" in page
    assert "Commande n°0 en retard" in page  # the preview
    mapping = {f"map_{k}": v for k, v in run.mapping.items()}

    response = client.post(reverse("imports:detail", args=[run.pk]), {**mapping, "map_subject": "", "test": "1"})
    assert response.status_code == 400 and "Colonnes obligatoires sans correspondance : Sujet" in \
        response.content.decode()
    assert not Ticket.objects.filter(imported=True).exists()

    client.post(reverse("imports:detail", args=[run.pk]), {**mapping, "test": "1"})
    report = client.get(reverse("imports:detail", args=[run.pk])).content.decode()
    assert "50</strong> créés" in report and "Annuler cet import" in report
    assert Ticket.objects.filter(organization=world.org, imported=True).count() == 50

    client.post(reverse("imports:undo", args=[run.pk]))
    assert not Ticket.objects.filter(imported=True).exists()

    upload(client, ticket_rows(80))
    full = ImportRun.objects.latest("pk")
    client.post(reverse("imports:detail", args=[full.pk]), {**mapping, "test": "0"})
    full.refresh_from_db()
    assert full.state == ImportState.DONE and full.counts["created"] == 80
    home = client.get(reverse("imports:home")).content.decode()
    assert "80 créés, 0 mis à jour, 0 ignorés, 0 en erreur" in home


def test_a_file_that_is_not_csv_gets_a_clear_message(client, world):
    client.force_login(world.admin)
    file = SimpleUploadedFile("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00", content_type="text/csv")
    response = client.post(reverse("imports:home"), {"kind": "tickets", "file": file})
    assert response.status_code == 400 and "pas un CSV" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_another_organization_cannot_open_or_undo_a_run(client, world):
    client.force_login(world.admin)
    upload(client, ticket_rows(2))
    run = ImportRun.objects.get()
    client.force_login(member(world.other_org, Role.ADMIN))  # an Admin, of another organization
    assert client.get(reverse("imports:detail", args=[run.pk])).status_code == 404
    assert client.post(reverse("imports:undo", args=[run.pk])).status_code == 404


def test_a_large_import_runs_in_the_background_with_its_progress(celery_worker_process, client, world):
    client.force_login(world.admin)
    rows = "".join(f"client{i}@exemple.fr;Client {i}\n" for i in range(5_200))
    upload(client, "email;nom\n" + rows, kind="customers")
    run = ImportRun.objects.get()
    client.post(reverse("imports:detail", args=[run.pk]), {"map_email": "email", "map_name": "nom", "test": "0"})
    progress = client.get(reverse("imports:progress", args=[run.pk])).content.decode()
    assert "import-progress" in progress
    wait_for(lambda: ImportRun.objects.get(pk=run.pk).state == ImportState.DONE, celery_worker_process,
             "the import done by the worker", timeout=60)
    assert ImportRun.objects.get(pk=run.pk).counts["created"] == 5_200
    assert Customer.objects.filter(organization=world.org, email__startswith="client").count() == 5_200
