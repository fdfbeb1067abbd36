"""``python manage.py ask --org SLUG "question" --json``: the assistant from the command line.

With a question: one answer. Without: one question per line on standard input, one answer per line,
in order (blank lines give an abstention, so the lines stay aligned). ``--json`` prints exactly
``{"answer": ..., "abstained": true|false, "citations": [{"article": ..., "url": ..., "passage": ...}]}``;
without it, a readable answer. ``--team`` answers as for an agent (internal articles too).
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from kb.assistant import ask
from kb.selectors import Scope
from lumiodesk.models import Organization


class Command(BaseCommand):
    help = "Ask the knowledge-base assistant a question."

    def add_arguments(self, parser):
        parser.add_argument("question", nargs="?", help="the question; read one per line from stdin if absent")
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--json", action="store_true", help="print the answer as JSON")
        parser.add_argument("--team", action="store_true", help="answer as for an agent (internal articles too)")

    def handle(self, *args, **opts):
        org = Organization.objects.filter(slug=opts["org"]).first()
        if org is None:
            raise CommandError(f"no organization {opts['org']!r}")
        scope = Scope.TEAM if opts["team"] else Scope.PUBLIC
        questions = [opts["question"]] if opts["question"] is not None else (line.rstrip("\n") for line in sys.stdin)
        for question in questions:
            answer = ask(org, question, scope=scope)
            if opts["json"]:
                self.stdout.write(json.dumps(answer.as_json(), ensure_ascii=False))
            else:
                self.stdout.write(answer.answer)
                for i, c in enumerate(answer.citations, 1):
                    self.stdout.write(f"  [{i}] {c.article} — {c.url}")
                self.stdout.write("")
            self.stdout.flush()
