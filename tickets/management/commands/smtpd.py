"""python manage.py smtpd — the SMTP receiver for forwarded mail (see tickets.email.smtp)."""

from __future__ import annotations

import signal
import threading

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand

from tickets.email.smtp import InboundHandler


class Command(BaseCommand):
    help = "Receive forwarded email over SMTP (default 127.0.0.1:2525)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.SMTP_INBOUND_HOST)
        parser.add_argument("--port", type=int, default=settings.SMTP_INBOUND_PORT)

    def handle(self, *args, host: str, port: int, **options):
        controller = Controller(
            InboundHandler(), hostname=host, port=port, data_size_limit=settings.INBOUND_MAX_BYTES,
            decode_data=False, ident="LumioDesk inbound",
        )
        controller.start()
        self.stdout.write(
            f"SMTP receiver listening on {host}:{port} (max {settings.INBOUND_MAX_BYTES} bytes; "
            f"forwarding domain {settings.INBOUND_EMAIL_DOMAIN})"
        )
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        finally:
            controller.stop()
            self.stdout.write("SMTP receiver stopped.")
