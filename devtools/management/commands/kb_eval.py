"""``python manage.py kb_eval`` (``make eval``): the assistant's figures on three question sets.

Imports the LumioDesk documentation into an evaluation organization (slug ``kb-eval``, idempotent),
computes the passages' vectors that are missing (timed: the re-index figure), then prints, per set,
first citation right, three first right, wrong refusals, unanswerable refused and the p95 answer time.

``--set dev --set first`` limits the sets (while tuning, the test set is never run).
``--fit`` fits the rerank and the abstention model on the development set (and the first set), prints
the abstention's precision/recall curve and writes ``kb/model_weights.py``. It never reads ``test``.
``--reindex`` recomputes every vector first (timing a full re-index).
"""

from __future__ import annotations

import importlib
import json
import textwrap
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
        parser.add_argument("--set", action="append", choices=ev.SETS, dest="sets",
                            help="dev, test or first (repeatable); default: all three")
        parser.add_argument("--verbose", action="store_true", help="list the questions it gets wrong")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")
        parser.add_argument("--fit", action="store_true", help="fit the rerank and the abstention on dev + first")
        parser.add_argument("--reindex", action="store_true", help="recompute every passage's vector first")

    def handle(self, *args, **opts):
        w = self.stdout.write
        org, _created = Organization.objects.get_or_create(slug="kb-eval", defaults={"name": "KB evaluation"})
        import_lumiodesk_documentation(organization=org, actor=SystemActor("kb_eval"))
        started = time.perf_counter()
        n = indexing.reembed_all(organization=org) if opts["reindex"] else indexing.embed_pending(organization=org)
        if n:
            w(f"embedded {n} passages in {time.perf_counter() - started:.1f} s")
        if opts["fit"]:
            if opts["sets"] and "test" in opts["sets"]:
                raise CommandError("--fit never reads the test set")
            self._fit(org)
        out = {}
        for which in opts["sets"] or ev.SETS:
            cases = ev.cases(which)
            fig, _answers = ev.run_assistant(org, cases)
            out[which] = {"questions": len(cases), "answerable": fig.n_answerable,
                          "unanswerable": fig.n_unanswerable, **fig.shares()}
            if not opts["json"]:
                s = out[which]
                w(f"{which:5s} {len(cases):3d} questions ({fig.n_answerable} answerable, {fig.n_unanswerable} not): "
                  f"first {s['first_citation_right']:6.1%}  three first {s['three_first_right']:6.1%}  "
                  f"wrong refusals {s['wrongly_abstained']:5.1%}  unanswerable refused "
                  f"{s['abstained_on_unanswerable']:6.1%}  p95 {s['p95_ms']:5.1f} ms (median {s['median_ms']:.1f}, "
                  f"CPU p95 {s['cpu_p95_ms']:.1f})")
                if opts["verbose"]:
                    for line in fig.failures:
                        w("    " + line)
        if opts["json"]:
            w(json.dumps(out, indent=2))
        else:
            w("targets: first >= 90%, three first >= 97%, wrong refusals <= 5%, unanswerable refused >= 95%, "
              "p95 <= 150 ms")

    # --- fitting ---------------------------------------------------------------------------------------

    def _fit(self, org: Organization) -> None:
        w = self.stdout.write
        dev, first = ev.cases("dev"), ev.cases("first")
        samples = ev.collect(org, dev + first)
        weights = ev.fit_listwise([(s.rerank_x, s.rerank_y) for s in samples if s.case.answerable])
        values = {"RERANK_WEIGHTS": [round(float(x), 6) for x in weights]}
        self._write(values)
        # The abstention model on the new rerank: features of every question, label = answerable.
        x_dev, answers_dev = ev.answer_rows(org, dev)
        x_first, _answers = ev.answer_rows(org, first)
        y_dev = np.asarray([1.0 if c.answerable else 0.0 for c in dev])
        y_first = np.asarray([1.0 if c.answerable else 0.0 for c in first])
        x_all, y_all = np.vstack([x_dev, x_first]), np.concatenate([y_dev, y_first])
        balance = np.where(y_all > 0, 1.0, y_all.sum() / max(1.0, (1 - y_all).sum()))
        # Out-of-fold probabilities on dev choose the threshold (5 folds, the first set always in training).
        folds = np.array_split(np.random.default_rng(20261207).permutation(len(dev)), 5)
        oof = np.zeros(len(dev))
        for k, fold in enumerate(folds):
            train = np.concatenate([f for j, f in enumerate(folds) if j != k])
            xt = np.vstack([x_dev[train], x_first])
            yt = np.concatenate([y_dev[train], y_first])
            bt = np.where(yt > 0, 1.0, yt.sum() / max(1.0, (1 - yt).sum()))
            oof[fold] = ev.predict(ev.fit_logistic(xt, yt, sample_weight=bt), x_dev[fold])
        mean, scale, coef, intercept = ev.fit_logistic(x_all, y_all, sample_weight=balance)
        answerable = np.sort(oof[y_dev > 0])
        k = int(np.floor(MAX_WRONG_REFUSALS * len(answerable)))  # at most k answerable questions under it
        threshold = float(answerable[k] - 1e-6) if k < len(answerable) else 0.0
        right = np.asarray([bool(a.citations) and ev.right_first(c, [x.passage for x in a.citations])
                            for c, a in zip(dev, answers_dev, strict=True)])
        w("abstention on dev (out-of-fold probabilities): threshold, wrong refusals, unanswerable refused, "
          "precision (answered and answerable), answered and right first")
        for t in sorted({0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, threshold}):
            answered = oof >= t
            wrong_refusals = float((~answered & (y_dev > 0)).sum() / max(1, (y_dev > 0).sum()))
            refused = float((~answered & (y_dev == 0)).sum() / max(1, (y_dev == 0).sum()))
            precision = float((answered & (y_dev > 0)).sum() / max(1, answered.sum()))
            good = float((answered & right).sum() / max(1, answered.sum()))
            mark = "  <- chosen" if t == threshold else ""
            w(f"  {t:5.3f}  {wrong_refusals:6.1%}  {refused:6.1%}  {precision:6.1%}  {good:6.1%}{mark}")
        values.update({
            "ABSTAIN_MEAN": [round(float(v), 6) for v in mean],
            "ABSTAIN_SCALE": [round(float(v), 6) for v in scale],
            "ABSTAIN_COEF": [round(float(v), 6) for v in coef],
            "ABSTAIN_INTERCEPT": round(float(intercept), 6),
            "ABSTAIN_THRESHOLD": round(threshold, 6),
        })
        self._write(values)
        w("coefficients (standardized): " + ", ".join(
            f"{name} {c:+.2f}" for name, c in zip(model_weights.ABSTAIN_FEATURES, coef, strict=True)))

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
    body = textwrap.fill(", ".join(repr(v) for v in value) + ",", width=112, initial_indent="    ",
                         subsequent_indent="    ")
    return f"{name} = [\n{body}\n]"
