"""Reports > Tableau de bord: who sees it, its filters, its fixed query count, the PDF report."""

import shutil
import subprocess
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import SYSTEM, CompanyFactory, CustomerFactory, TicketFactory, acting, bulk_tickets, member
from helpers import assert_full_page, assert_login_redirect, assert_partial, htmx
from PIL import Image

from crm import budgets
from lumiodesk.models import AuditLog, Role
from sla.models import DashboardReport
from tickets import services
from tickets.models import MessageKind, Status

pytestmark = pytest.mark.django_db

URL = reverse("sla:dashboard")
PARIS = ZoneInfo("Europe/Paris")
PDFTOPPM = shutil.which("pdftoppm") or "pdftoppm"  # poppler-utils: tests/install_system_deps.sh


@pytest.fixture
def handled(clock, world):
    """A ticket answered and resolved, one still open, on Monday 10 March 2025."""
    t = TicketFactory(organization=world.org, priority="high", assignee=world.agent, actor=world.manager)
    clock.set(datetime(2025, 3, 10, 11, tzinfo=PARIS))
    services.add_message(ticket=t, kind=MessageKind.REPLY, body="Réponse", actor=acting(world.agent))
    services.change_status(ticket=t, status=Status.RESOLVED, actor=acting(world.agent))
    clock.set(datetime(2025, 3, 12, 15, tzinfo=PARIS))
    return world


def test_anonymous_agents_and_outsiders(client, handled):
    world = handled
    assert_login_redirect(client.get(URL), URL)
    client.force_login(world.agent)
    assert client.get(URL).status_code == 403
    client.force_login(world.outsider)  # an agent of another organization
    assert client.get(URL).status_code == 403
    report = DashboardReport.objects.create(organization=world.org, time_zone="Europe/Paris", start="2025-03-10",
                                            end="2025-03-12", data={})
    client.force_login(member(world.other_org, Role.MANAGER))
    assert client.get(reverse("sla:dashboard_pdf", args=[report.pk])).status_code == 404


def test_managers_see_the_figures_with_links_to_the_list(client, handled):
    world = handled
    client.force_login(world.manager)
    html = assert_full_page(client.get(URL, {"start": "2025-03-10", "end": "2025-03-16"}))
    assert "Tableau de bord" in html and "<svg" in html and "Voir le tableau" in html
    assert "Fuseau horaire : Europe/Paris" in html
    list_url = reverse("tickets:list")
    assert f'href="{list_url}?spam=0&amp;status=active"' in html  # the open backlog (spam left out)
    assert f"{list_url}?spam=0&amp;created_from=2025-03-10&amp;created_to=2025-03-16" in html  # opened in the period
    assert "✓" in html or "✗" in html  # objectives marked
    assert world.agent.get_full_name() in html  # the per-agent table
    assert reverse("sla:dashboard_report") in html  # Managers may save a PDF report


def test_viewers_read_it_without_saving_reports(client, handled):
    world = handled
    client.force_login(world.viewer)
    html = assert_full_page(client.get(URL))
    assert reverse("sla:dashboard_report") not in html
    assert client.post(reverse("sla:dashboard_report"), {"start": "2025-03-10", "end": "2025-03-12"}).status_code == 403
    assert reverse("sla:dashboard") in assert_full_page(client.get(reverse("tickets:list")))  # in the menu


def test_htmx_filters_answer_the_figures_only(client, handled):
    world = handled
    client.force_login(world.manager)
    html = assert_partial(client.get(URL, {"start": "2025-03-10", "end": "2025-03-16", "priority": "high"},
                                     **htmx("figures")))
    assert 'id="figures"' in html and "priority=high" in html


def test_invalid_filters(client, handled):
    world = handled
    client.force_login(world.manager)
    response = client.get(URL, {"start": "2025-03-16", "end": "2025-03-10"})
    assert response.status_code == 400
    assert "Filtres invalides" in response.content.decode()
    assert client.get(URL, {"start": "2024-01-01", "end": "2025-03-10"}).status_code == 400  # over a year
    assert client.get(URL, {"start": "x", "end": "2025-03-10"}).status_code == 400
    assert client.get(URL, {"agent": world.outsider.pk}).status_code == 400  # not one of ours
    assert client.get(URL, {"company": CompanyFactory(organization=world.other_org).pk}).status_code == 400
    html = assert_partial(client.get(URL, {"start": "2025-03-16", "end": "2025-03-10"}, **htmx("figures")))
    assert "Filtres invalides" in html  # answered 200: htmx swaps it in


def test_a_filter_alone_keeps_the_default_period(client, handled):
    world = handled
    client.force_login(world.manager)
    html = client.get(URL, {"priority": "urgent"}).content.decode()
    assert "priority=urgent" in html and "Période du 11/02/2025 au 12/03/2025" in html


def test_query_count_does_not_grow_with_the_tickets(client, handled):
    world = handled
    client.force_login(world.manager)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL, {"start": "2025-03-01", "end": "2025-03-31"}).status_code == 200
        return len(ctx.captured_queries)

    count()  # warm the caches (session, membership, plan)
    small = count()
    bulk_tickets(world.org, 10)
    ten = count()
    bulk_tickets(world.org, 100)
    # The budgets panel (this period's budgets) costs the same with none, one or many budgets.
    budget = budgets.save_budget(actor=SYSTEM, organization=world.org, period="month", day=date(2025, 3, 1),
                                 amount="100", company=CompanyFactory(organization=world.org))
    one = count()
    for _ in range(25):
        budgets.save_budget(actor=SYSTEM, organization=world.org, period="quarter", day=date(2025, 3, 1),
                            amount="100", customer=CustomerFactory(organization=world.org))
    assert count() == one == ten == small
    assert budget.start <= date(2025, 3, 12) < budget.end


@pytest.mark.slow  # WeasyPrint renders the PDF, poppler reads it back
def test_a_pdf_report_keeps_its_time_zone_and_renders(client, handled, tmp_path):
    world = handled
    client.force_login(world.manager)
    response = client.post(reverse("sla:dashboard_report"), {"start": "2025-03-10", "end": "2025-03-16"})
    report = DashboardReport.objects.get(organization=world.org)
    assert response.status_code == 302 and response.url == reverse("sla:dashboard_pdf", args=[report.pk])
    assert report.time_zone == "Europe/Paris" and report.data["opened"] == 2
    assert AuditLog.objects.filter(organization=world.org, action="dashboard.report").exists()
    world.org.time_zone = "America/New_York"  # later changes do not touch a saved report
    world.org.save(update_fields=["time_zone"])
    response = client.get(response.url)
    assert response["Content-Type"] == "application/pdf"
    pdf = b"".join(response.streaming_content) if response.streaming else response.content
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    subprocess.run([PDFTOPPM, "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(path),
                    str(tmp_path / "page")], check=True)
    page = Image.open(tmp_path / "page.png").convert("L")
    assert page.size[0] > 300 and page.getextrema()[0] < 100  # a page with dark ink on it
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert "Tableau de bord" in text and "Europe/Paris" in text and "objectifs du guide" in text.lower()
    assert "America/New_York" not in text
