"""python manage.py email_corpus [--half dev|heldout|heldout2|heldout3|heldout4|all] [--failures] — the real-world
email corpus (tests/tickets/email/email_corpus/real_world/) through ``ingest_email``, in a database of its own (its
name must contain "eval" or "bench"): subject, sender, text and attachment names as a mail client shows them, what
became of each message, and a second pass that must find only duplicates. Run by `make email-corpus`."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings

from devtools.email_corpus import evaluate
from lumiodesk.models import Organization
from tickets.email.models import EmailReference, InboundEmail, Mailbox
from tickets.models import Ticket

ADDRESS = "support@lumiodesk.test"


class Command(BaseCommand):
    help = "Measure what the email intake makes of the real-world corpus."

    def add_arguments(self, parser):
        parser.add_argument("--half", default="dev",
                            choices=["dev", "heldout", "heldout2", "heldout3", "heldout4", "all"])
        parser.add_argument("--failures", action="store_true", help="list every miss")

    def handle(self, *args, half: str, failures: bool, **options):
        name = connection.settings_dict["NAME"]
        if "eval" not in name and "bench" not in name:
            raise CommandError(f"Refusing to run on database {name!r}: its name must contain 'eval' or 'bench'.")
        call_command("migrate", interactive=False, verbosity=0)
        with override_settings(DEBUG=False):
            org, _ = Organization.objects.get_or_create(slug="email-corpus", defaults={"name": "Email corpus"})
            for model in (Ticket, InboundEmail, EmailReference):
                model.objects.filter(organization=org).delete()
            Mailbox.objects.filter(address__iexact=ADDRESS).exclude(organization=org).delete()
            Mailbox.objects.get_or_create(organization=org, address=ADDRESS, defaults={"name": "Support"})
            report = evaluate(address=ADDRESS, half=None if half == "all" else half)
        self.stdout.write(f"email corpus, half {half}:")
        for line in report.lines():
            self.stdout.write(f"  {line}")
        if failures:
            for line in report.failures():
                self.stdout.write(f"  - {line}")
