"""Issue 17 / section 18: attachments are kept 12 months on Starter, 24 on Business, 36 on Scale; then the daily
task deletes their files from storage, the conversation stays readable and says "pièce jointe expirée"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from factories import SYSTEM, TicketFactory, upload
from portal_helpers import sign_in_as

from billing.catalogue import PLANS, Limit
from lumiodesk.models import Plan
from tickets import tasks
from tickets.email import mailboxes
from tickets.email.models import InboundEmail
from tickets.models import Attachment
from tickets.services import retention

pytestmark = pytest.mark.django_db


def attachment(org, *, months_ago: int, days: int = 0, name: str = "devis.pdf") -> Attachment:
    ticket = TicketFactory(organization=org, attachments=[upload(name, b"%PDF-1.4 data")])
    att = ticket.first_message.attachments.get()
    Attachment.objects.filter(pk=att.pk).update(
        created_at=timezone.now() - relativedelta(months=months_ago) - timedelta(days=days))
    att.refresh_from_db()
    return att


def stored(att: Attachment) -> bool:
    return att.file.storage.exists(att.file.name)


def test_the_catalogue_says_12_24_36_months():
    months = [PLANS[p].limits[Limit.ATTACHMENT_RETENTION_MONTHS] for p in ("starter", "business", "scale")]
    assert months == [12, 24, 36]


def test_attachments_past_the_plans_retention_leave_the_storage(world):
    world.other_org.plan = Plan.BUSINESS
    world.other_org.save(update_fields=["plan"])
    starter_old = attachment(world.org, months_ago=12, days=1)
    starter_recent = attachment(world.org, months_ago=11)
    business_13 = attachment(world.other_org, months_ago=13)  # Business keeps 24 months
    business_old = attachment(world.other_org, months_ago=24, days=1)
    old_names = [starter_old.file.name, business_old.file.name]
    assert all(stored(a) for a in (starter_old, starter_recent, business_13, business_old))

    assert tasks.purge_expired_attachments() == 2

    for att in (starter_old, business_old):
        att.refresh_from_db()
        assert att.expired_at is not None and att.file.name == ""
        assert att.filename == "devis.pdf"  # the conversation still names it
    assert not any(Attachment._meta.get_field("file").storage.exists(name) for name in old_names)
    for att in (starter_recent, business_13):
        att.refresh_from_db()
        assert att.expired_at is None and stored(att)

    assert tasks.purge_expired_attachments() == 0  # safe to run twice


def test_scale_keeps_36_months(world):
    world.org.plan = Plan.SCALE
    world.org.save(update_fields=["plan"])
    kept = attachment(world.org, months_ago=35)
    gone = attachment(world.org, months_ago=36, days=1)
    assert retention.purge_expired_attachments() == 1
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert kept.expired_at is None and gone.expired_at is not None


def test_the_raw_email_copy_that_brought_the_file_is_emptied(world):
    att = attachment(world.org, months_ago=13)
    mailbox = mailboxes.create_mailbox(organization=world.org, name="Support", address="support@acme.test",
                                       actor=SYSTEM)
    raw = InboundEmail.objects.create(organization=world.org, mailbox=mailbox, source="file",
                                      raw=b"Subject: devis\n\n(attachment bytes)", size=36, digest="0" * 64,
                                      message_key="<devis@acme>", message=att.message)
    other = InboundEmail.objects.create(organization=world.org, mailbox=mailbox, source="file", raw=b"Subject: x\n\nx",
                                        size=14, digest="1" * 64, message_key="<x@acme>")
    retention.purge_expired_attachments()
    raw.refresh_from_db()
    other.refresh_from_db()
    assert bytes(raw.raw) == b"" and bytes(other.raw) == b"Subject: x\n\nx"


def test_the_conversation_stays_readable_with_the_attachment_marked_expired(client, world):
    att = attachment(world.org, months_ago=13, name="facture-mars.pdf")
    ticket = att.message.ticket
    retention.purge_expired_attachments()

    client.force_login(world.agent)
    page = client.get(reverse("tickets:detail", args=[ticket.number]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "facture-mars.pdf" in html and "pièce jointe expirée" in html
    link = reverse("tickets:attachment", args=[ticket.number, att.token])
    assert link not in html
    gone = client.get(link)
    assert gone.status_code == 410 and "Pièce jointe expirée" in gone.content.decode()


@pytest.mark.parametrize("size", [10, 100])
def test_the_purge_queries_do_not_grow_with_the_number_of_files(world, size, settings):
    for _i in range(size):
        attachment(world.org, months_ago=13)
    with CaptureQueriesContext(connection) as ctx:
        assert retention.purge_expired_attachments() == size
    # One select per plan (3), then for the one batch: the UPDATE and the raw copies' UPDATE, with the
    # transaction's savepoint (and the test's).
    assert len(ctx.captured_queries) <= 8, "\n".join(q["sql"] for q in ctx.captured_queries)


def test_batches_cover_everything(world):
    for _i in range(5):
        attachment(world.org, months_ago=13)
    assert retention.purge_expired_attachments(batch=2) == 5
    assert not Attachment.objects.filter(organization=world.org, expired_at__isnull=True).exists()


def test_the_purge_runs_daily_from_celery_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["attachment-retention"]
    assert entry["task"] == "tickets.tasks.purge_expired_attachments"
    assert entry["schedule"].hour == {3}


def test_the_customer_portal_says_expired_too(client, world):
    ticket = TicketFactory(organization=world.org, customer=world.customer,
                           attachments=[upload("photo-colis.pdf", b"%PDF-1.4 x")])
    att = ticket.first_message.attachments.get()
    Attachment.objects.filter(pk=att.pk).update(created_at=timezone.now() - relativedelta(months=13))
    retention.purge_expired_attachments()
    sign_in_as(client, world.customer)
    html = client.get(reverse("portal:ticket", args=[world.org.slug, ticket.number])).content.decode()
    assert "photo-colis.pdf" in html and "pièce jointe expirée" in html
    link = reverse("portal:attachment", args=[world.org.slug, ticket.number, att.token])
    assert link not in html and client.get(link).status_code == 410
