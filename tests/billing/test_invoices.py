"""Monthly invoices (billing.invoices): lines, numbering, idempotence, the PDF looked at as an image."""

import shutil
import subprocess
from datetime import UTC, date, datetime

import pytest
from conftest import run_queued
from django.core import mail
from django.urls import reverse
from factories import OrganizationFactory, acting, member
from PIL import Image

from billing import invoices, subscriptions
from billing.models import Invoice, PlanChange
from lumiodesk.models import AuditLog, Role

pytestmark = pytest.mark.django_db

PDFTOPPM = shutil.which("pdftoppm") or "pdftoppm"  # poppler-utils: tests/install_system_deps.sh


def at(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def business(clock):
    """Acme: 12 seats, Business chosen on 12 November 2026 (10 included, 7 EUR per extra agent)."""
    clock.set(at(2026, 11, 2, 9))
    org = OrganizationFactory(name="Acme", language="fr")
    admin = member(org, Role.ADMIN, email="admin@acme.test")
    for _ in range(11):
        member(org, Role.AGENT)
    member(org, Role.VIEWER)  # free
    clock.set(at(2026, 11, 12, 10))
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="business", keep_extra_agents=True)
    return org, admin


def test_the_first_invoice_bills_the_month_ahead_extra_agents_and_the_prorated_start(
    business, clock, django_capture_on_commit_callbacks, queued_tasks,
):
    org, _admin = business
    clock.set(at(2026, 12, 1, 0, 0))
    with django_capture_on_commit_callbacks(execute=True):
        assert invoices.issue_monthly_invoices() == 1
    invoice = Invoice.objects.get(organization=org)
    lines = [(line.description, str(line.amount)) for line in invoice.lines.all()]
    assert lines == [
        ("Forfait Business — décembre 2026", "89.00"),
        ("Agents supplémentaires — novembre 2026", "8.87"),  # 2 extra × 19 days × 7 / 30
        ("Forfait Business à partir du 12/11/2026 (fin de l'essai)", "56.37"),  # 89 × 19 / 30
    ]
    assert "38 jours-agent" in invoice.lines.all()[1].detail
    assert (str(invoice.subtotal), str(invoice.vat), str(invoice.total)) == ("154.24", "30.85", "185.09")
    assert invoice.number == 1 and invoice.period == date(2026, 12, 1) and invoice.status == "issued"
    assert PlanChange.objects.get(organization=org).invoice == invoice
    # the task makes the PDF and emails it to the Admins, once
    assert queued_tasks == [("billing.tasks.finish_invoice", (invoice.pk,), {})]
    run_queued(queued_tasks)
    invoices.finish(invoice.pk)
    invoice.refresh_from_db()
    assert bytes(invoice.pdf).startswith(b"%PDF") and invoice.emailed_at is not None
    sent = [m for m in mail.outbox if "admin@acme.test" in m.to]
    assert len(sent) == 1 and sent[0].attachments[0][0] == f"{invoice.reference}.pdf"


def test_running_twice_makes_one_invoice_and_numbers_have_no_gap(business, clock):
    org, _admin = business
    clock.set(at(2026, 12, 1, 0, 0))
    invoices.issue_monthly_invoices()
    invoices.issue_monthly_invoices()
    clock.set(at(2026, 12, 20, 8))
    invoices.issue_monthly_invoices()  # later in the month: nothing new
    assert Invoice.objects.filter(organization=org).count() == 1
    clock.set(at(2027, 1, 1, 0, 0))
    invoices.issue_monthly_invoices()
    january = Invoice.objects.get(organization=org, period=date(2027, 1, 1))
    assert january.number == 2
    assert [str(line.amount) for line in january.lines.all()] == ["89.00", "14.00"]  # 2 × 31 × 7 / 31
    assert AuditLog.objects.filter(organization=org, action="billing.invoice.issued").count() == 2


def test_two_plan_changes_in_a_month_are_two_lines(business, clock):
    org, admin = business
    clock.set(at(2026, 12, 1, 0, 0))
    invoices.issue_monthly_invoices()
    clock.set(at(2026, 12, 10, 15))
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="scale")  # 22/31 × 160
    clock.set(at(2026, 12, 31, 23, 0))
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="business",  # 1/31 × -160
                              keep_extra_agents=True)
    clock.set(at(2027, 1, 1, 0, 0))
    invoices.issue_monthly_invoices()
    lines = [(line.description, str(line.amount)) for line in
             Invoice.objects.get(organization=org, period=date(2027, 1, 1)).lines.all()]
    assert lines[-2:] == [
        ("Changement de forfait le 10/12/2026 : Business → Scale", "113.55"),
        ("Changement de forfait le 31/12/2026 : Scale → Business", "-5.16"),
    ]


def test_a_trial_organization_gets_no_invoice(clock):
    clock.set(at(2026, 11, 20))
    org = OrganizationFactory()
    subscriptions.start_trial(org)
    clock.set(at(2026, 12, 1))
    assert invoices.issue_invoice(org, period=date(2026, 12, 1)) is None
    assert not Invoice.objects.filter(organization=org).exists()


def _pdf_text_and_image(pdf: bytes, tmp_path) -> tuple[str, Image.Image]:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    subprocess.run([PDFTOPPM, "-png", "-r", "60", "-singlefile", str(path), str(tmp_path / "page")], check=True)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    return text, Image.open(tmp_path / "page.png").convert("L")


@pytest.mark.slow  # WeasyPrint renders the PDF, poppler reads it back
@pytest.mark.parametrize("language, expected", [
    ("fr", ["Facture LD-", "Forfait Business — décembre 2026", "Total TTC", "185,09 EUR", "TVA 20,00 %"]),
    # English words come with locale/pending/h18-billing.po once merged; Django's own formats already apply
    ("en", ["LD-", "December 2026", "185.09 EUR", "20.00 %"]),
])
def test_the_pdf_is_a_readable_page_in_the_organizations_language(business, clock, tmp_path, language, expected):
    org, _admin = business
    org.language = language
    org.save(update_fields=["language"])
    clock.set(at(2026, 12, 1, 0, 0))
    invoice = invoices.issue_invoice(org, period=date(2026, 12, 1))
    pdf = invoices.render_pdf(invoice)
    text, image = _pdf_text_and_image(pdf, tmp_path)
    for words in expected:
        assert words in text, text
    fonts = subprocess.run(["pdffonts", str(tmp_path / "invoice.pdf")], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]
    assert fonts and all(" yes " in line for line in fonts), fonts  # every font embedded (emb = yes)
    assert all("Invoice-Sans" in line for line in fonts), fonts  # ours (billing/fonts), not a system one
    # not blank: a good share of the page is ink, and the page is A4 portrait
    width, height = image.size
    assert 1.35 < height / width < 1.47
    dark = sum(image.histogram()[:128])  # pixels darker than mid-grey
    assert dark > 0.005 * width * height


def test_settings_billing_lists_and_downloads_invoices_and_marks_paid(business, clock, client):
    org, admin = business
    clock.set(at(2026, 12, 1, 0, 0))
    invoice = invoices.issue_invoice(org, period=date(2026, 12, 1))
    client.force_login(admin)
    page = client.get(reverse("billing:settings")).content.decode()
    assert invoice.reference in page and "185.09" in page.replace(",", ".")
    pdf = client.get(reverse("billing:invoice_pdf", args=[invoice.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    client.post(reverse("billing:invoice_paid", args=[invoice.pk]))
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.paid_by == admin
    assert client.post(reverse("billing:invoice_paid", args=[invoice.pk])).status_code == 302  # refused, flashed
    assert AuditLog.objects.filter(action="billing.invoice.paid").count() == 1
