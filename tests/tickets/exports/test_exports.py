"""Exports (tickets.exports.services): what the CSV holds, the monthly quota (atomic, per plan), the full
archive, the 14-day link and the daily purge, read-only organizations, the audit."""

from __future__ import annotations

import csv
import io
import json
import threading
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from factories import SYSTEM, CustomerFactory, TicketFactory, acting, member, upload

from billing import subscriptions
from kb import services as kb_services
from lumiodesk.exceptions import FeatureNotAvailable, NotPermitted, PlanLimitReached
from lumiodesk.models import AuditLog, Organization, Plan, Role
from tickets import services as ticket_services
from tickets.exports import services as exports
from tickets.exports.models import Export, ExportKind, ExportQuota, ExportState
from tickets.selectors import TicketFilters

pytestmark = pytest.mark.django_db


def set_plan(org, plan) -> None:
    Organization.objects.filter(pk=org.pk).update(plan=plan)
    org.refresh_from_db()

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 16


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_export(org, actor, **params):
    period = {k: params.pop(k) for k in ("period_start", "period_end") if k in params}
    export = exports.start_tickets_export(organization=org, actor=actor, filters=TicketFilters.from_params(params),
                                          **period)
    return exports.build(export.pk)


def rows_of(export: Export) -> list[list[str]]:
    with default_storage.open(export.file, "rb") as f:
        raw = f.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with its BOM: a spreadsheet reads the accents
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def test_the_csv_holds_the_filtered_tickets_without_attachments(world):
    org = world.org
    set_plan(org, Plan.BUSINESS)
    urgent = TicketFactory(organization=org, customer=world.customer, subject="Serveur en panne", priority="urgent",
                           attachments=[upload("log.txt", b"secret log")], tags=["incident"])
    ticket_services.assign(ticket=urgent, assignee=world.agent, actor=acting(world.manager))
    export = csv_export(org, acting(world.manager), priority="urgent")
    assert export.state == ExportState.DONE and export.total == 1 and export.filename.endswith(".csv")
    header, *rows = rows_of(export)
    assert header[:5] == ["Numéro", "Sujet", "Statut", "Priorité", "Canal"]
    assert rows == [[str(urgent.number), "Serveur en panne", "Nouveau", "Urgente", "Manuel", "Claire Dupont",
                     "claire.dupont@example.com", "", "agathe@acme.test", "incident", rows[0][10], rows[0][11], "",
                     "", ""]]
    assert "log.txt" not in "".join(rows[0]) and "secret" not in "".join(rows[0])  # no attachment (section 11)

    everything = csv_export(org, acting(world.manager))
    numbers = [int(r[0]) for r in rows_of(everything)[1:]]
    assert numbers == sorted(numbers) and set(numbers) == {world.ticket.number, urgent.number}
    assert world.other_ticket.number not in numbers or len(numbers) == 2  # never another organization's


def test_cells_that_a_spreadsheet_would_run_are_quoted(world):
    TicketFactory(organization=world.org, subject='=HYPERLINK("http://evil.example","x")',
                  customer=CustomerFactory(organization=world.org, first_name="+33 6", last_name="",
                                           email="x@example.com"), tags=["@tag"])
    TicketFactory(organization=world.org, subject="-2+3")
    rows = rows_of(csv_export(world.org, acting(world.admin)))[1:]
    subjects = {r[1] for r in rows}
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in subjects and "'-2+3" in subjects
    evil = next(r for r in rows if r[1].startswith("'=HYPERLINK"))
    assert evil[5] == "'+33 6" and evil[9] == "'@tag"
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


def test_a_period_in_the_organizations_time_zone(world):
    org = world.org  # Europe/Paris
    inside = TicketFactory(organization=org, created_at=datetime(2026, 3, 1, 0, 30, tzinfo=UTC))  # 01:30 in Paris
    TicketFactory(organization=org, created_at=datetime(2026, 2, 28, 22, 59, tzinfo=UTC))  # 23:59 in Paris, Feb
    TicketFactory(organization=org, created_at=datetime(2026, 4, 1, 0, 0, tzinfo=UTC))  # 02:00 Paris, April
    export = csv_export(org, acting(world.manager), period_start=date(2026, 3, 1), period_end=date(2026, 3, 31))
    rows = rows_of(export)[1:]
    assert [r[0] for r in rows] == [str(inside.number)] and rows[0][10] == "2026-03-01 01:30"


def test_the_quota_counts_per_calendar_month_and_refuses_clearly(world, clock):
    clock.now = datetime(2026, 5, 31, 23, 0, tzinfo=UTC)
    manager = acting(world.manager)
    assert world.org.plan == Plan.STARTER and exports.quota_of(world.org).remaining == 2
    csv_export(world.org, manager)
    csv_export(world.org, manager)
    assert exports.quota_of(world.org).remaining == 0
    with pytest.raises(PlanLimitReached, match="Quota d'exports atteint : le forfait Starter permet 2 exports CSV"):
        exports.start_tickets_export(organization=world.org, actor=manager, filters=TicketFilters())
    assert Export.objects.filter(organization=world.org).count() == 2  # nothing half-made
    clock.now = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # a new month (UTC)
    assert exports.quota_of(world.org).remaining == 2
    csv_export(world.org, manager)
    assert ExportQuota.objects.get(organization=world.org, month=date(2026, 6, 1)).used == 1


@pytest.mark.parametrize(("plan", "allowed"), [(Plan.STARTER, 2), (Plan.BUSINESS, 20), (Plan.SCALE, 100)])
def test_each_plan_has_its_quota(world, plan, allowed):
    set_plan(world.org, plan)
    status = exports.quota_of(world.org)
    assert (status.allowed, status.used, status.remaining) == (allowed, 0, allowed)


def test_an_export_that_fails_gives_its_count_back(world, monkeypatch):
    export = exports.start_tickets_export(organization=world.org, actor=acting(world.manager),
                                          filters=TicketFilters())
    assert exports.quota_of(world.org).used == 1

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(default_storage, "save", broken)  # the storage (Django's), not our code
    with pytest.raises(OSError):
        exports.build(export.pk)
    export.refresh_from_db()
    assert export.state == ExportState.FAILED and "disk full" in export.error
    assert exports.quota_of(world.org).used == 0


def test_building_twice_does_nothing_the_second_time(world):
    export = csv_export(world.org, acting(world.manager))
    again = exports.build(export.pk)
    assert again.file == export.file and Export.objects.filter(organization=world.org).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_go_past_the_quota():
    org = Organization.objects.create(name="Race", slug="race", plan=Plan.STARTER)
    manager = acting(member(org, Role.MANAGER), org)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def ask():
        try:
            barrier.wait()
            exports.start_tickets_export(organization=org, actor=manager, filters=TicketFilters())
            outcomes.append("ok")
        except PlanLimitReached:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "ok", "refused", "refused", "refused", "refused"]
    assert Export.objects.filter(organization=org).count() == 2
    assert ExportQuota.objects.get(organization=org).used == 2


def test_who_may_export(world):
    for user in (world.agent, world.viewer):
        with pytest.raises(NotPermitted):
            exports.start_tickets_export(organization=world.org, actor=acting(user), filters=TicketFilters())
    with pytest.raises(NotPermitted):  # a member acts in their own organization only
        exports.start_tickets_export(organization=world.other_org, actor=acting(world.manager),
                                     filters=TicketFilters())
    set_plan(world.org, Plan.BUSINESS)
    with pytest.raises(NotPermitted):  # the archive: Admins
        exports.start_archive(organization=world.org, actor=acting(world.manager))
    exports.start_archive(organization=world.org, actor=acting(world.admin))


def test_a_read_only_organization_still_exports(world, clock):
    subscriptions.cancel(actor=acting(world.admin), organization=world.org)
    with pytest.raises(NotPermitted):
        ticket_services.add_message(ticket=world.ticket, actor=acting(world.agent), kind="reply", body="x")
    export = csv_export(world.org, acting(world.manager))
    assert export.state == ExportState.DONE


def test_the_link_lasts_14_days_then_the_daily_purge_deletes_the_file(world, clock):
    clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    export = csv_export(world.org, acting(world.manager))
    assert export.expires_at == clock.now + timedelta(days=14)
    exports.open_download(export=export, actor=acting(world.admin)).close()
    clock.now += timedelta(days=13, hours=23)
    assert exports.purge_expired() == 0 and default_storage.exists(export.file)
    exports.open_download(export=export, actor=acting(world.manager)).close()
    clock.now += timedelta(hours=1)
    with pytest.raises(exports.ExportGone):  # expired even before the purge has run
        exports.open_download(export=export, actor=acting(world.manager))
    assert exports.purge_expired() == 1
    assert not default_storage.exists(export.file)
    export.refresh_from_db()
    assert export.state == ExportState.EXPIRED and export.file == ""
    assert exports.purge_expired() == 0  # twice: nothing more


def test_exports_are_audited(world):
    export = csv_export(world.org, acting(world.manager), status="new")
    exports.open_download(export=export, actor=acting(world.manager)).close()
    logs = AuditLog.objects.filter(organization=world.org, target_type="export").order_by("id")
    assert [(log.action, log.actor_id) for log in logs] == [("export.requested", world.manager.pk),
                                                            ("export.downloaded", world.manager.pk)]
    assert logs[0].data["filters"] == {"status": "new"}


def test_the_full_archive_holds_everything_with_the_attachment_files(world):
    org = world.org
    set_plan(org, Plan.SCALE)
    TicketFactory(organization=org, customer=world.customer, subject="Capture",
                  attachments=[upload("écran.png", PNG)])
    kb_services.create_article(actor=SYSTEM, organization=org, title="Mot de passe oublié", body="=Cliquez ici.")
    export = exports.start_archive(organization=org, actor=acting(world.admin))
    export = exports.build(export.pk)
    assert export.state == ExportState.DONE and export.filename.endswith(".zip")
    assert exports.quota_of(org).used == 0  # not counted in the CSV quota
    with default_storage.open(export.file, "rb") as f, zipfile.ZipFile(f) as archive:
        names = set(archive.namelist())
        for dataset in ("tickets", "messages", "customers", "companies", "articles", "attachments"):
            assert {f"{dataset}.csv", f"{dataset}.json"} <= names
        tickets = json.loads(archive.read("tickets.json"))
        assert {t["subject"] for t in tickets} == {"Facture en double", "Capture"}
        customers = json.loads(archive.read("customers.json"))
        assert [c["email"] for c in customers] == ["claire.dupont@example.com"]
        articles = list(csv.reader(io.StringIO(archive.read("articles.csv").decode("utf-8-sig")), delimiter=";"))
        assert articles[1][articles[0].index("body")] == "'=Cliquez ici."  # quoted in the CSV...
        assert json.loads(archive.read("articles.json"))[0]["body"] == "=Cliquez ici."  # ... as is in JSON
        listed = json.loads(archive.read("attachments.json"))
        assert len(listed) == 1 and listed[0]["filename"] == "écran.png"
        assert archive.read(listed[0]["path"]) == PNG
        messages = json.loads(archive.read("messages.json"))
        assert "J'ai reçu deux fois la facture de mars." in {m["body_text"] for m in messages}


def test_the_archive_needs_a_plan_that_includes_it_and_is_one_at_a_time(world):
    assert world.org.plan == Plan.STARTER
    with pytest.raises(FeatureNotAvailable, match="Business, Scale"):
        exports.start_archive(organization=world.org, actor=acting(world.admin))
    set_plan(world.org, Plan.BUSINESS)
    first = exports.start_archive(organization=world.org, actor=acting(world.admin))
    with pytest.raises(Exception, match="déjà en préparation"):
        exports.start_archive(organization=world.org, actor=acting(world.admin))
    exports.build(first.pk)
    assert exports.start_archive(organization=world.org, actor=acting(world.admin)).kind == ExportKind.ARCHIVE


def test_a_lost_build_is_failed_and_its_count_given_back(world, clock):
    clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    export = exports.start_tickets_export(organization=world.org, actor=acting(world.manager),
                                          filters=TicketFilters())
    Export.objects.filter(pk=export.pk).update(state=ExportState.RUNNING, started_at=clock.now)
    clock.now += timedelta(hours=3)
    exports.purge_expired()
    export.refresh_from_db()
    assert export.state == ExportState.FAILED and exports.quota_of(world.org).used == 0
