"""The test set-up itself: Redis db 15, a per-worker queue, locmem email, a temporary MEDIA_ROOT."""

import os

import pytest
from conftest import TEST_REDIS_URL, celery_test_queue
from django.conf import settings


def test_celery_uses_the_test_redis_database_and_queue():
    from lumiodesk import celery_app

    assert celery_app.conf.broker_url == TEST_REDIS_URL
    assert celery_app.conf.task_default_queue == celery_test_queue()


def test_email_backend_is_locmem_and_media_root_is_temporary():
    assert settings.EMAIL_BACKEND == "django.core.mail.backends.locmem.EmailBackend"
    assert "lumiodesk-media-" in str(settings.MEDIA_ROOT)


def test_world_fixture(world):
    assert world.ticket.number == 1
    assert world.other_ticket.number == 1001
    assert world.ticket.organization_id != world.other_ticket.organization_id


@pytest.mark.django_db(transaction=True)
def test_the_flush_between_committing_tests_empties_every_table(world):
    """conftest._flush_by_delete: DELETE of the filled tables instead of Django's TRUNCATE of all of them."""
    from datetime import timedelta

    from django.core.management import call_command
    from django.core.management.color import no_style
    from django.db import connection
    from django.utils import timezone

    from sla.models import DashboardDirtyDay
    from tickets.models import Ticket

    # A ticket moved to a past day: the dashboard's dirty-day trigger (sla 0006) writes a row, and the
    # DELETEs of the flush may write more: that table is emptied last.
    Ticket.objects.filter(pk=world.ticket.pk).update(created_at=timezone.now() - timedelta(days=10))
    assert DashboardDirtyDay.objects.exists()  # the trigger wrote its row: the ordering below is exercised
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    statements = connection.ops.sql_flush(no_style(), tables)
    if os.environ.get("LUMIODESK_TEST_FLUSH", "delete") == "truncate":  # Django's own, kept on demand
        assert len(statements) == 1 and statements[0].startswith("TRUNCATE")
    else:
        assert statements[0] == "SET CONSTRAINTS ALL DEFERRED;"
        assert all(s.startswith("DELETE FROM") for s in statements[1:])
        assert '"tickets_ticket"' in " ".join(statements) and len(statements) < len(tables)  # only the filled
        assert statements[-1] == 'DELETE FROM "sla_dashboarddirtyday";'
    call_command("flush", verbosity=0, interactive=False, reset_sequences=False, inhibit_post_migrate=True)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT '{t}' FROM {connection.ops.quote_name(t)}" for t in tables))
        assert cursor.fetchall() == []
