"""``python manage.py import_kb_demo [--org demo]``: the LumioDesk documentation as the organization's
knowledge base (one published article per section, in collections, plus "Réinitialiser son mot de
passe"). Idempotent: a second run changes nothing."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kb.services import import_lumiodesk_documentation
from lumiodesk.models import Organization
from lumiodesk.permissions import SystemActor


class Command(BaseCommand):
    help = "Import the LumioDesk documentation as an organization's knowledge base."

    def add_arguments(self, parser):
        parser.add_argument("--org", default="demo", help="organization slug (default: demo)")

    def handle(self, *args, **opts):
        org = Organization.objects.filter(slug=opts["org"]).first()
        if org is None:
            raise CommandError(f"no organization {opts['org']!r}")
        result = import_lumiodesk_documentation(organization=org, actor=SystemActor("import_kb_demo"))
        self.stdout.write(
            f"knowledge base of {org.slug}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.kept} kept (edited by the team)"
        )
