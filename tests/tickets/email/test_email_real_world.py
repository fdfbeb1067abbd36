"""The real-world corpus (tests/tickets/email/email_corpus/real_world/, 114 messages from other projects' test suites)
through ``manage.py ingest_email --mailbox support@lumiodesk.test``: issue 22's thresholds, on the
development half and on the held-out half. `make email-corpus` prints the same figures."""

from __future__ import annotations

import pytest

from devtools.email_corpus import evaluate, load_manifest
from tickets.email.models import Mailbox

ADDRESS = "support@lumiodesk.test"


def test_manifest_is_split_in_two_halves_and_names_every_source():
    messages = load_manifest()
    assert len(messages) >= 100
    halves = {m["half"] for m in messages}
    assert halves == {"dev", "heldout", "heldout2", "heldout3"}
    first = [m for m in messages if m["half"] in ("dev", "heldout")]  # the later corpora are held out whole
    assert abs(sum(m["half"] == "dev" for m in first) - len(first) / 2) <= 1
    for m in messages:
        assert m["repository"] and m["upstream_path"] and m["licence"], m["file"]


# Issue 22's thresholds. The held-out half was measured once, after tuning on the development half:
# 56/57 accounted, subject 46/46, sender 49/49, text 31/31, attachments 13/14 (92.9 %, below the 95 % target:
# mail-parser/mail_malformed_1, a multipart that reuses its parent's boundary, loses its zip). Its floor for
# attachments is what it measured, so that a regression shows; the shortfall is reported, not tuned away.
THRESHOLDS = {"subject": 0.97, "sender": 0.95, "text": 0.95, "attachments": 0.95}
FLOORS = {"dev": THRESHOLDS, "heldout": {**THRESHOLDS, "attachments": 13 / 14}}
ACCOUNTED = {"dev": 0.97, "heldout": 0.97}
# The second held-out corpus was measured once at e9bf730 (accounted 66/71, subject 55/65, sender 61/67,
# text 35/38, attachments 13/14: the README). Two defects it showed were fixed afterwards (a reused Message-ID,
# mislabelled single-byte charsets), so what it gives now is no held-out figure: these floors are the values
# after those fixes, kept so that a regression shows (attachments 13/15 is below target). Accounted 70/71 since
# a mail system's report in words no phrase list knows is recognised by the failed recipients flufl.bounce
# reads in it (3 of its reports; was 67/71).
FLOORS["heldout2"] = {**THRESHOLDS, "attachments": 13 / 15}
ACCOUNTED["heldout2"] = 70 / 71
# The third held-out corpus (61 messages, assembled by someone who had not read the intake code) was run once, at
# 9718bcc: accounted 60/61, subject 52/52, sender 55/55, text 39/40, attachments 17/18 (the README). The one
# message quarantined (an internationalized local part, "tomá?@…", refused by the customer's address check) was
# fixed afterwards (crm.services.normalize_email accepts RFC 6531 local parts): these floors are the values
# after that fix, not a held-out figure. Attachments 17/18: the MIME torture test's attached messages named
# from subjects with two spaces in a row come out with one.
FLOORS["heldout3"] = {**THRESHOLDS, "attachments": 17 / 18}
ACCOUNTED["heldout3"] = 1.0


@pytest.mark.slow  # an evaluation: 246 real messages through intake against measured thresholds
@pytest.mark.parametrize("half", ["dev", "heldout", "heldout2", "heldout3"])
def test_real_world_corpus_meets_the_thresholds(world, half):
    Mailbox.objects.create(organization=world.org, name="Support", address=ADDRESS)
    report = evaluate(address=ADDRESS, half=half)
    summary = "\n".join(report.lines() + report.failures())
    ok, n = report.accounted
    assert ok >= ACCOUNTED[half] * n - 1e-9, summary
    assert report.lost == 0, summary
    assert report.duplicated == 0, summary
    for name, floor in FLOORS[half].items():
        ok, n = report.score(name)
        assert ok >= floor * n - 1e-9, f"{name}\n{summary}"
