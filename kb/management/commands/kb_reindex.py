"""``python manage.py kb_reindex --org SLUG [--all]``: compute the passages' vectors that are missing
(``--all``: every one again, after a change of embedding model), in this process, and say how long it took."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from kb import indexing
from lumiodesk.models import Organization


class Command(BaseCommand):
    help = "Compute the knowledge base's passage vectors (missing ones, or all with --all)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--all", action="store_true", help="recompute every vector")

    def handle(self, *args, **opts):
        org = Organization.objects.filter(slug=opts["org"]).first()
        if org is None:
            raise CommandError(f"no organization {opts['org']!r}")
        started = time.perf_counter()
        n = indexing.reembed_all(organization=org) if opts["all"] else indexing.embed_pending(organization=org)
        self.stdout.write(f"{n} passages embedded in {time.perf_counter() - started:.1f} s")
