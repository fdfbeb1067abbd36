"""Reports > Exports as a Manager uses it: the quota seen before exporting, the list's filters carried over, the
refusal when the quota is used up, the download (organization-scoped, 14 days), the HTMX progress table, the
link from the cancellation page; and a large export built by a real Celery worker."""

from __future__ import annotations

import pytest
from celery import current_app
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import acting, bulk_tickets, member
from helpers import assert_partial, htmx
from worker_helpers import wait_for

from lumiodesk.models import Organization, Plan, Role
from tickets.exports import services as exports
from tickets.exports.models import Export, ExportKind, ExportState
from tickets.selectors import TicketFilters

pytestmark = pytest.mark.django_db


def set_plan(org, plan) -> None:
    Organization.objects.filter(pk=org.pk).update(plan=plan)
    org.refresh_from_db()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_the_page_shows_the_quota_and_the_lists_filters(client, world):
    client.force_login(world.manager)
    html = client.get(reverse("exports:home") + "?status=open&q=facture").content.decode()
    assert "Exports CSV ce mois-ci : <strong>0 sur 2</strong> (forfait Starter) — il en reste <strong>2</strong>" \
        in html
    assert '<input type="hidden" name="status" value="open">' in html and "Recherche : facture" in html
    assert "Disponible sur les forfaits Business, Scale." in html  # the archive, on Starter


def test_the_console_list_links_to_the_export_of_what_it_shows(client, world):
    client.force_login(world.manager)
    html = client.get(reverse("tickets:list") + "?status=new").content.decode()
    assert f'href="{reverse("exports:home")}?status=new"' in html
    client.force_login(world.agent)
    assert reverse("exports:home") not in client.get(reverse("tickets:list")).content.decode()


def test_a_manager_exports_until_the_quota_is_used_up(client, world):
    client.force_login(world.manager)
    for _ in range(2):
        response = client.post(reverse("exports:home"), {"status": "new", "period_start": "", "period_end": ""})
        assert response.status_code == 302 and response["Location"] == reverse("exports:home")
    assert list(Export.objects.filter(organization=world.org).values_list("filters", flat=True)) == [
        {"status": "new"}, {"status": "new"}]
    response = client.post(reverse("exports:home"), {})
    assert response.status_code == 402
    html = response.content.decode()
    assert "tous utilisés ce mois-ci" in html and "il en reste <strong>0</strong>" in html
    assert "Lancer l'export" not in html  # the form is gone, the refusal says why
    assert Export.objects.filter(organization=world.org).count() == 2


def test_a_reversed_period_is_refused(client, world):
    client.force_login(world.manager)
    response = client.post(reverse("exports:home"), {"period_start": "2026-03-31", "period_end": "2026-03-01"})
    assert response.status_code == 400 and "la date de début doit précéder la date de fin" in response.content.decode()
    assert not Export.objects.exists() and exports.quota_of(world.org).used == 0


def test_download_is_scoped_to_the_organization_and_the_capability(client, world):
    export = exports.build(exports.start_tickets_export(organization=world.org, actor=acting(world.manager),
                                                        filters=TicketFilters()).pk)
    url = reverse("exports:download", args=[export.pk])
    client.force_login(world.manager)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert "Facture en double" in b"".join(response.streaming_content).decode("utf-8-sig")
    client.force_login(world.agent)
    assert client.get(url).status_code == 403
    client.force_login(world.viewer)
    assert client.get(url).status_code == 403
    client.force_login(member(world.other_org, Role.ADMIN))  # an Admin, of another organization
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302


def test_an_expired_link_answers_gone(client, world, clock):
    export = exports.build(exports.start_tickets_export(organization=world.org, actor=acting(world.manager),
                                                        filters=TicketFilters()).pk)
    client.force_login(world.manager)
    assert client.get(reverse("exports:download", args=[export.pk])).status_code == 200
    clock.now = export.expires_at
    client.force_login(world.manager)  # a session of that day
    response = client.get(reverse("exports:download", args=[export.pk]))
    assert response.status_code == 410
    assert "ce lien de téléchargement a expiré (14 jours)" in response.content.decode().lower()
    exports.purge_expired()
    assert not default_storage.exists(export.file)
    html = client.get(reverse("exports:home")).content.decode()
    assert "supprimé après 14 jours" in html


def test_the_archive_is_for_admins_on_plans_that_include_it(client, world):
    set_plan(world.org, Plan.BUSINESS)
    client.force_login(world.manager)
    assert "Réservée aux Admins." in client.get(reverse("exports:home")).content.decode()
    assert client.post(reverse("exports:archive")).status_code == 403
    archive = exports.build(exports.start_archive(organization=world.org, actor=acting(world.admin)).pk)
    assert client.get(reverse("exports:download", args=[archive.pk])).status_code == 403  # a Manager
    client.force_login(world.admin)
    response = client.post(reverse("exports:archive"))
    assert response.status_code == 302
    assert Export.objects.filter(organization=world.org, kind=ExportKind.ARCHIVE).count() == 2
    response = client.get(reverse("exports:download", args=[archive.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"


def test_the_cancellation_page_offers_the_export_first(client, world):
    client.force_login(world.admin)
    html = client.get(reverse("billing:cancel")).content.decode()
    assert f'href="{reverse("exports:home")}#archive"' in html and "Exporter avant de résilier" in html


def test_the_progress_table_is_an_htmx_partial_that_polls_while_building(client, world):
    export = exports.start_tickets_export(organization=world.org, actor=acting(world.manager),
                                          filters=TicketFilters())
    client.force_login(world.manager)
    html = assert_partial(client.get(reverse("exports:list"), **htmx()))
    assert 'hx-trigger="every 1s"' in html and "export-progress" in html
    exports.build(export.pk)
    html = assert_partial(client.get(reverse("exports:list"), **htmx()))
    assert "every 1s" not in html and "Télécharger" in html


def test_the_page_reads_the_same_queries_for_10_and_100_exports(client, world):
    client.force_login(world.manager)
    client.get(reverse("exports:home"))  # the subscription and the session, cached

    def count(n: int) -> int:
        Export.objects.bulk_create([Export(organization=world.org, created_by=world.manager,
                                           kind=ExportKind.TICKETS_CSV, state=ExportState.DONE) for _ in range(n)])
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("exports:home")).status_code == 200
        return len(ctx.captured_queries)

    assert count(10) == count(90)


def test_a_large_export_is_built_by_the_worker_with_its_progress(celery_worker_process, client, world, settings,
                                                                 tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # the worker's (see the fixture)
    set_plan(world.org, Plan.SCALE)
    for _ in range(3):
        bulk_tickets(world.org, 1_000)
    client.force_login(world.manager)
    client.post(reverse("exports:home"), {"q": "masse"})
    export = Export.objects.get(organization=world.org)
    wait_for(lambda: Export.objects.get(pk=export.pk).state == ExportState.DONE, celery_worker_process,
             "the export built by the worker", timeout=60)
    export.refresh_from_db()
    assert export.total == 3_000 and export.processed == 3_000
    response = client.get(reverse("exports:download", args=[export.pk]))
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 3_001 and all("Ticket en masse" in line for line in lines[1:])


def test_a_cancelled_organization_still_exports(client, world):
    client.force_login(world.admin)
    client.post(reverse("billing:cancel"), {"confirm": "yes"})
    client.force_login(world.manager)
    page = client.get(reverse("tickets:list")).content.decode()
    assert "readonly-banner" in page
    response = client.post(reverse("exports:home"), {})
    assert response.status_code == 302 and Export.objects.filter(organization=world.org).count() == 1


def test_the_daily_beat_purges_the_exports(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["export-purge"]
    assert entry["task"] in current_app.tasks and entry["schedule"].hour == {3}
