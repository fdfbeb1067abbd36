"""The month's rollover through beat's schedule and a real Celery worker (real PostgreSQL and Redis): the
entry of ``CELERY_BEAT_SCHEDULE`` is sent as beat sends it, the worker issues the month's invoice, renders its
PDF and emails it to the Admins; sent again, it changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery import current_app
from django.conf import settings
from django.utils import timezone
from factories import OrganizationFactory, acting, member
from worker_helpers import sent_mails, wait_for

from billing import subscriptions
from billing.models import Invoice
from billing.proration import month_start, previous_month, utc_day
from lumiodesk.models import Role

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_beat_issues_the_months_invoices_on_the_1st_at_midnight_utc(celery_worker_process, mail_dir):
    entry = settings.CELERY_BEAT_SCHEDULE["billing-monthly-invoices"]
    schedule = entry["schedule"]
    assert (schedule.day_of_month, schedule.hour, schedule.minute) == ({1}, {0}, {0})
    assert settings.CELERY_TIMEZONE == "UTC"

    org = OrganizationFactory(name="Acme")
    admin = member(org, Role.ADMIN, email="admin@acme.test")
    member(org, Role.AGENT)
    now = timezone.now()
    last_month = previous_month(utc_day(now))
    # Business chosen on the 15th of last month: its prorated start goes on this month's invoice
    chosen = now.replace(year=last_month.year, month=last_month.month, day=15, hour=9)
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="business", now=chosen)

    current_app.send_task(entry["task"])  # what beat sends on the 1st at 00:00 UTC
    wait_for(lambda: Invoice.objects.filter(organization=org, emailed_at__isnull=False).exists(),
             celery_worker_process, "the worker to issue, render and email the invoice")
    invoice = Invoice.objects.get(organization=org)
    assert invoice.period == month_start(utc_day(now)) and invoice.number == 1
    assert bytes(invoice.pdf).startswith(b"%PDF")
    descriptions = [line.description for line in invoice.lines.all()]
    assert descriptions[0].startswith("Forfait Business — ") and "(fin de l'essai)" in descriptions[-1]
    mails = [m for m in sent_mails(mail_dir) if m["to"] == "admin@acme.test"]
    assert len(mails) == 1 and invoice.reference in mails[0]["subject"]

    current_app.send_task(entry["task"])  # beat again (or a retry): nothing new
    current_app.send_task("billing.tasks.update_subscriptions")
    wait_for(lambda: "billing.tasks.update_subscriptions" in celery_worker_process.log_path.read_text()
             and "succeeded" in celery_worker_process.log_path.read_text().split("update_subscriptions")[-1],
             celery_worker_process, "the worker to run the hourly subscription task", timeout=30)
    assert Invoice.objects.filter(organization=org).count() == 1
    assert len([m for m in sent_mails(mail_dir) if m["to"] == "admin@acme.test"]) == 1
    assert timedelta(0) <= timezone.now() - now < timedelta(minutes=5)
