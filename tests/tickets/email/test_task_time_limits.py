"""Every Celery task has a soft and a hard time limit; an email whose processing hits the soft one is
retried, then quarantined with a clear reason: its raw bytes are kept and the next messages go through.

The soft limit is delivered as the worker delivers it: a signal whose handler raises SoftTimeLimitExceeded
in the running task (billiard's prefork pool does this with SIGUSR1; here SIGALRM, so a test needs no worker
pool of its own: the solo pool of the ``worker`` tests has no time limits)."""

from __future__ import annotations

import codecs
import signal
from email.message import EmailMessage

import pytest
from celery.exceptions import Retry, SoftTimeLimitExceeded
from django.core.cache import cache
from factories import acting

from lumiodesk.celery import app
from tickets.email import intake
from tickets.email.models import InboundEmail, InboundStatus, Mailbox
from tickets.email.parsing import decode_bytes, parse_email
from tickets.tasks import INBOUND_MAX_STARTS, INBOUND_TIMEOUT_RETRIES, _starts_key, process_inbound_email


@pytest.mark.django_db
def test_every_task_has_a_soft_and_a_hard_time_limit():
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert len(ours) >= 15
    for name, task in ours.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard, name
    assert process_inbound_email.soft_time_limit == 60


@pytest.fixture
def support(world):
    return Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")


def _message(subject: str, size: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "claire@example.com", "support@acme.test", subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@example.com>"
    msg.set_content("Bonjour,\n" + "ligne de texte assez longue pour peser.\n" * (size // 40))
    return msg.as_bytes()


def _raise_soft_limit(signum, frame):
    """Raised only while intake processes the message, outside parse_email (whose defensive ``except Exception`` would
    record it as a problem of the message and go on: see the report of issue 15); otherwise a little later."""
    names = set()
    while frame is not None:
        names.add(frame.f_code.co_name)
        frame = frame.f_back
    if "_process_in_language" in names and "parse_email" not in names:
        raise SoftTimeLimitExceeded()
    signal.setitimer(signal.ITIMER_REAL, 0.002)


def _run_with_soft_limit(inbound_id: int, seconds: float):
    previous = signal.signal(signal.SIGALRM, _raise_soft_limit)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return process_inbound_email(inbound_id)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.django_db(transaction=True)  # as in a worker: no test transaction around the task
def test_an_email_that_hits_the_soft_limit_is_retried_then_quarantined_and_never_lost(world, support):
    raw = _message("Trop long", size=2_000_000)
    inbound = intake.receive(mailbox=support, raw=raw, source="smtp", envelope_from="claire@example.com",
                             envelope_to=["support@acme.test"])
    for attempt in range(INBOUND_TIMEOUT_RETRIES):
        process_inbound_email.request.retries = attempt
        with pytest.raises(Retry):
            _run_with_soft_limit(inbound.pk, 0.01)
        row = InboundEmail.objects.get(pk=inbound.pk)
        assert row.status == InboundStatus.QUARANTINED and "limite de temps" in row.reason
    process_inbound_email.request.retries = INBOUND_TIMEOUT_RETRIES
    assert _run_with_soft_limit(inbound.pk, 0.01) == InboundStatus.QUARANTINED  # no more retries: stays there
    row = InboundEmail.objects.get(pk=inbound.pk)
    assert row.reason.startswith("traitement trop long : limite de temps dépassée")
    assert "le message brut est conservé" in row.reason
    assert bytes(row.raw) == raw and row.ticket_id is None and row.attempts == INBOUND_TIMEOUT_RETRIES + 1

    # The queue is not blocked: the next message goes through.
    process_inbound_email.request.retries = 0
    other = intake.receive(mailbox=support, raw=_message("Suivant"), source="smtp",
                           envelope_from="claire@example.com", envelope_to=["support@acme.test"])
    assert process_inbound_email(other.pk) == InboundStatus.IMPORTED
    # An admin's retry, without the limit, imports the quarantined one.
    assert intake.retry(row, actor=acting(world.admin, world.org)).status == InboundStatus.IMPORTED


@pytest.mark.django_db
def test_a_message_whose_worker_is_killed_each_time_is_quarantined_on_redelivery(world, support):
    """The hard limit kills the worker process (nothing is written: the transaction dies with it) and the
    broker delivers the task again; past INBOUND_MAX_STARTS starts the message is quarantined unprocessed."""
    raw = _message("Tue le worker")
    inbound = intake.receive(mailbox=support, raw=raw, source="smtp", envelope_from="claire@example.com",
                             envelope_to=["support@acme.test"])
    cache.set(_starts_key(inbound.pk), INBOUND_MAX_STARTS, timeout=60)  # the starts that were killed
    assert process_inbound_email(inbound.pk) == InboundStatus.QUARANTINED
    row = InboundEmail.objects.get(pk=inbound.pk)
    assert row.reason == (f"traitement interrompu {INBOUND_MAX_STARTS} fois (limite de temps) ; "
                          "le message brut est conservé")
    assert bytes(row.raw) == raw and row.ticket_id is None
    # An admin can still import it.
    assert intake.retry(row, actor=acting(world.admin, world.org)).status == InboundStatus.IMPORTED


def _codec_cut_by_the_time_limit(name):
    """A real codec (registered with Python) whose decoding is where the soft time limit strikes."""
    if name != "lumiodesk_test_slow":
        return None

    def decode(data, errors="strict"):
        raise SoftTimeLimitExceeded()

    return codecs.CodecInfo(name="lumiodesk_test_slow", encode=codecs.utf_8_encode, decode=decode)


codecs.register(_codec_cut_by_the_time_limit)


def test_the_time_limit_is_never_read_as_a_bad_charset_or_header():
    """Parsing catches codec and header errors to read on; the time limit is not one of them: it goes up to
    the task, which quarantines the message as too long (the test above)."""
    raw = (b"From: claire@example.com\r\nTo: support@acme.test\r\nSubject: =?lumiodesk_test_slow?q?Lent?=\r\n"
           b"Content-Type: text/plain; charset=lumiodesk_test_slow\r\n\r\nCorps\r\n")
    with pytest.raises(SoftTimeLimitExceeded):
        parse_email(raw)
    with pytest.raises(SoftTimeLimitExceeded):
        decode_bytes(b"Corps", "lumiodesk_test_slow")
