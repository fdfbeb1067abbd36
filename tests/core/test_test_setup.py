"""The test set-up itself: Redis db 15, a per-worker queue, locmem email, a temporary MEDIA_ROOT."""

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
