"""``python manage.py kb_eval`` (``make eval``): the assistant's figures on its question sets.

Imports the LumioDesk documentation into an evaluation organization (slug ``kb-eval``, idempotent),
computes the passages' vectors that are missing (timed: the re-index figure), then prints, per set,
first citation right, three first right, wrong refusals, unanswerable refused and the p95 answer time.

``--set dev --set first`` limits the sets. The default is the development sets; the held-out set ``sealed3``
runs only when asked for (``--held-out``, ``make eval HELD_OUT=1``, or ``--set sealed3``): once, on frozen
code, and its figure is the one reported. A plain ``make eval`` never spends it.
``--fit`` fits the rerank and the abstention model on dev + test + first + sealed + sealed2 with 5-fold
cross-validation (the abstention threshold chosen on the customers' sets dev + test + sealed + sealed2),
prints the cross-validated figures and the abstention's precision/recall curve and writes
``kb/model_weights.py``. It never reads ``sealed3``.
``--reindex`` recomputes every vector first (timing a full re-index).
"""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from devtools.kb_eval import evaluation as ev
from kb import assistant, indexing, model_weights
from kb.services import import_lumiodesk_documentation
from lumiodesk.models import Organization
from lumiodesk.permissions import SystemActor

MAX_WRONG_REFUSALS = 0.05


class Command(BaseCommand):
    help = "Evaluate the knowledge-base assistant on its question sets."

    def add_arguments(self, parser):
        parser.add_argument(
            "--set",
            action="append",
            choices=ev.SETS,
            dest="sets",
            help="dev, test, first, sealed, sealed2 or sealed3 (repeatable); default: the development sets",
        )
        parser.add_argument(
            "--held-out",
            action="store_true",
            help="run the held-out sealed3 too, after the development sets: once, on frozen code",
        )
        parser.add_argument("--verbose", action="store_true", help="list the questions it gets wrong")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")
        parser.add_argument(
            "--fit",
            action="store_true",
            help="fit the rerank and the abstention on dev + test + first + sealed + sealed2",
        )
        parser.add_argument("--reindex", action="store_true", help="recompute every passage's vector first")

    def handle(self, *args, **opts):
        w = self.stdout.write
        if opts["fit"] and (opts["held_out"] or any(s in ev.HELD_OUT_SETS for s in opts["sets"] or ())):
            raise CommandError("--fit never reads the held-out set sealed3")
        sets = opts["sets"] or [*ev.DEVELOPMENT, *(ev.HELD_OUT_SETS if opts["held_out"] else ())]
        missing = [s for s in sets if s not in ev.available_sets()]
        if missing:
            raise CommandError(f"no question file for {', '.join(missing)} ({ev.SEALED3} does not exist yet)")
        org, _created = Organization.objects.get_or_create(slug="kb-eval", defaults={"name": "KB evaluation"})
        import_lumiodesk_documentation(organization=org, actor=SystemActor("kb_eval"))
        started = time.perf_counter()
        n = indexing.reembed_all(organization=org) if opts["reindex"] else indexing.embed_pending(organization=org)
        if n:
            w(f"embedded {n} passages in {time.perf_counter() - started:.1f} s")
        if opts["fit"]:
            self._fit(org)
        out = {}
        for which in sets:
            cases = ev.cases(which)
            fig, _answers = ev.run_assistant(org, cases)
            out[which] = {
                "questions": len(cases),
                "answerable": fig.n_answerable,
                "unanswerable": fig.n_unanswerable,
                **fig.shares(),
            }
            if not opts["json"]:
                s = out[which]
                w(
                    f"{which:6s} {len(cases):3d} questions ({fig.n_answerable} answerable, {fig.n_unanswerable} not): "
                    f"first {s['first_citation_right']:6.1%}  three first {s['three_first_right']:6.1%}  "
                    f"wrong refusals {s['wrongly_abstained']:5.1%}  unanswerable refused "
                    f"{s['abstained_on_unanswerable']:6.1%}  p95 {s['p95_ms']:5.1f} ms (median {s['median_ms']:.1f}, "
                    f"CPU p95 {s['cpu_p95_ms']:.1f})"
                )
                if opts["verbose"]:
                    for line in fig.failures:
                        w("    " + line)
        if opts["json"]:
            w(json.dumps(out, indent=2))
        else:
            w(
                "targets: first >= 90%, three first >= 97%, wrong refusals <= 5%, unanswerable refused >= 95%, "
                "p95 <= 150 ms"
            )

    # --- fitting ---------------------------------------------------------------------------------------

    def _fit(self, org: Organization) -> None:
        w = self.stdout.write
        named = [(which, c) for which in ev.DEVELOPMENT for c in ev.cases(which)]
        fitted = ev.fit(org, named, max_wrong_refusals=MAX_WRONG_REFUSALS)
        sets = np.asarray(fitted.sets)
        answerable, oof, threshold = fitted.answerable, fitted.oof, fitted.threshold
        w(
            "cross-validated (5 folds over dev + test + first + sealed + sealed2; each question reranked and gated by "
            "models fitted without it): first, three first before abstention; then wrong refusals, unanswerable "
            "refused, first"
        )
        for which in (*ev.DEVELOPMENT, "all"):
            m = np.ones(len(sets), dtype=bool) if which == "all" else sets == which
            a, u = m & answerable, m & ~answerable
            answered = oof >= threshold
            w(
                f"  {which:6s} first {fitted.right_first[a].mean():6.1%}  three {fitted.right_three[a].mean():6.1%}  "
                f"| wrong refusals {(~answered[a]).mean():5.1%}  unanswerable refused {(~answered[u]).mean():6.1%}  "
                f"first {(fitted.right_first & answered)[a].mean():6.1%}  three "
                f"{(fitted.right_three & answered)[a].mean():6.1%}"
            )
        for label, m in (
            ("dev + test + sealed + sealed2, where the threshold is chosen", np.isin(sets, ev.CALIBRATION)),
            ("dev + test + first + sealed + sealed2", np.ones(len(sets), dtype=bool)),
        ):
            w(
                f"abstention curve (out-of-fold, {label}): threshold, wrong refusals, unanswerable refused, "
                "precision (answered and answerable), answered and right first among answered"
            )
            a, u = answerable & m, ~answerable & m
            for t in sorted({0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, threshold}):
                answered = (oof >= t) & m
                precision = float((answered & a).sum() / max(1, answered.sum()))
                good = float((answered & fitted.right_first).sum() / max(1, answered.sum()))
                mark = "  <- chosen" if t == threshold else ""
                w(
                    f"  {t:5.3f}  {(~answered & a).sum() / max(1, a.sum()):6.1%}  "
                    f"{(~answered & u).sum() / max(1, u.sum()):6.1%}  {precision:6.1%}  {good:6.1%}{mark}"
                )
        mean, scale, coef, intercept = fitted.abstain
        self._write(
            {
                "RERANK_WEIGHTS": [round(float(x), 6) for x in fitted.rerank_weights],
                "ABSTAIN_MEAN": [round(float(v), 6) for v in mean],
                "ABSTAIN_SCALE": [round(float(v), 6) for v in scale],
                "ABSTAIN_COEF": [round(float(v), 6) for v in coef],
                "ABSTAIN_INTERCEPT": round(float(intercept), 6),
                "ABSTAIN_THRESHOLD": round(threshold, 6),
            }
        )
        w(
            "rerank weights: "
            + ", ".join(
                f"{name} {c:+.3f}" for name, c in zip(model_weights.RERANK_FEATURES, fitted.rerank_weights, strict=True)
            )
        )
        w(
            "abstention coefficients (standardized): "
            + ", ".join(f"{name} {c:+.2f}" for name, c in zip(model_weights.ABSTAIN_FEATURES, coef, strict=True))
        )

    def _write(self, values: dict) -> None:
        """Rewrite kb/model_weights.py with the new values and reload it where the assistant reads it."""
        path = Path(model_weights.__file__)
        lines = path.read_text(encoding="utf-8").splitlines()
        out = []
        skip = False
        for line in lines:
            name = line.split(" = ")[0] if " = " in line and not line.startswith(" ") else None
            if name in values:
                out.append(_format(name, values[name]))
                skip = line.rstrip().endswith(("[", "("))
                continue
            if skip:
                skip = not line.startswith(("]", ")"))
                continue
            out.append(line)
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
        assistant.model = importlib.reload(model_weights)


def _format(name: str, value) -> str:
    if not isinstance(value, list):
        return f"{name} = {value!r}"
    body = "\n".join(f"    {v!r}," for v in value)  # one per line, as ruff format writes it
    return f"{name} = [\n{body}\n]"
