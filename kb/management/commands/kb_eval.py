"""``python manage.py kb_eval`` (``make eval``): the assistant's figures on its question set.

Imports the LumioDesk documentation into an evaluation organization (slug ``kb-eval``, created if
missing, idempotent) unless ``--org`` names an existing one, then prints the four shares of the
issue, the p95 answer time, and the baselines. ``--verbose`` lists the questions it gets wrong.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from kb import evaluation
from kb.services import import_lumiodesk_documentation
from lumiodesk.models import Organization
from lumiodesk.permissions import SystemActor

TARGETS = {"first_citation_right": 0.90, "three_first_right": 0.97, "abstained_on_unanswerable": 1.0}


class Command(BaseCommand):
    help = "Evaluate the knowledge-base assistant on its question set."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="slug of an organization whose knowledge base to use")
        parser.add_argument("--verbose", action="store_true", help="list the questions it gets wrong")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")
        parser.add_argument("--no-baselines", action="store_true")
        parser.add_argument("--set", default="all", choices=["dev", "held-out", "all"],
                            help="dev: the set the assistant was tuned on; held-out: written afterwards")

    def handle(self, *args, **opts):
        if opts["org"]:
            org = Organization.objects.filter(slug=opts["org"]).first()
            if org is None:
                raise CommandError(f"no organization {opts['org']!r}")
        else:
            org, _created = Organization.objects.get_or_create(slug="kb-eval", defaults={"name": "KB evaluation"})
            import_lumiodesk_documentation(organization=org, actor=SystemActor("kb_eval"))
        cases = evaluation.cases(opts["set"])
        fig, _answers = evaluation.run_assistant(org, cases)
        shares = fig.shares()
        out = {"questions": len(cases), "answerable": fig.n_answerable, "unanswerable": fig.n_unanswerable,
               "assistant": shares}
        if not opts["no_baselines"]:
            bm25 = evaluation.run_bm25_sections(org, cases).shares()
            threshold, cut = evaluation.run_threshold(org, cases)
            out["bm25_sections"] = bm25
            out["score_cutoff"] = {**threshold.shares(), "cutoff": cut}
        if opts["json"]:
            self.stdout.write(json.dumps(out, indent=2))
            return
        w = self.stdout.write
        w(f"{len(cases)} questions: {fig.n_answerable} answerable, {fig.n_unanswerable} not answerable")
        w("assistant (answer checks):")
        self._shares(shares)
        if "bm25_sections" in out:
            w("baseline, plain BM25 over sections (never abstains):")
            self._shares(out["bm25_sections"], times=False)
            w(f"same ranking, raw score cut-off instead of answer checks (best cut-off {cut:.3f} for this set):")
            self._shares(out["score_cutoff"], times=False)
        if opts["set"] == "all":
            for which in ("dev", "held-out"):
                part, _answers = evaluation.run_assistant(org, evaluation.cases(which))
                p = part.shares()
                w(f"  {which:8s} ({part.n_answerable} answerable, {part.n_unanswerable} not): "
                  f"first {p['first_citation_right']:.1%}, three {p['three_first_right']:.1%}, "
                  f"abstained when unanswerable {p['abstained_on_unanswerable']:.1%}, "
                  f"wrongly abstained {p['wrongly_abstained']:.1%}")
        if opts["verbose"]:
            for line in fig.failures:
                w("  " + line)

    def _shares(self, s: dict, *, times: bool = True) -> None:
        w = self.stdout.write
        w(f"  first citation right        {s['first_citation_right']:6.1%}   (target >= 90%)")
        w(f"  three first citations right {s['three_first_right']:6.1%}   (target >= 97%)")
        w(f"  abstained when unanswerable {s['abstained_on_unanswerable']:6.1%}   (target 100%)")
        w(f"  wrongly abstained           {s['wrongly_abstained']:6.1%}   (target <= 5%)")
        if times:
            w(f"  p95 answer time             {s['p95_ms']:6.1f} ms (target < 150 ms)")
