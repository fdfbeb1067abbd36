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
    assert halves == {"dev", "heldout", "heldout2", "heldout3", "heldout4"}
    first = [m for m in messages if m["half"] in ("dev", "heldout")]  # the later corpora are held out whole
    assert abs(sum(m["half"] == "dev" for m in first) - len(first) / 2) <= 1
    for m in messages:
        assert m["repository"] and m["upstream_path"] and m["licence"], m["file"]


# Issue 22's thresholds (97 % subject, 95 % sender, text and attachments, 97 % accounted), and the floors: what
# the intake now gives on each half, so that a regression shows. Every half has been measured once as a held-out
# set (the README gives those figures); each was development data afterwards, so these are no held-out figures.
# Since branch h22-fix every half gives 100 % on every field (``make email-corpus HALF=all``): the last misses
# were a file name from a subject with two spaces in a row (wildduck), a sender with a one-label domain
# (kontakt@redacted, quarantined), UTF-8 text with Latin-1 bytes mixed in, and a garbage Content-Type around a
# PDF (heldout2); mail_malformed_1's zip (a multipart that reuses its parent's boundary) was recovered before.
THRESHOLDS = {"subject": 0.97, "sender": 0.95, "text": 0.95, "attachments": 0.95}
HALVES = ("dev", "heldout", "heldout2", "heldout3", "heldout4")
FLOORS = {half: {name: 1.0 for name in THRESHOLDS} for half in HALVES}
ACCOUNTED = {half: 1.0 for half in HALVES}
# heldout4, measured once at e7ff3d2 (text 64/67, attachments 33/34: above the targets), then two of its misses
# fixed in general form; still missed: an opaque S/MIME signed message (application/pkcs7-mime signed-data: the
# text is inside the CMS structure, which nothing here unpacks).
FLOORS["heldout4"]["text"] = 66 / 67
assert all(FLOORS[h][n] >= THRESHOLDS[n] for h in HALVES for n in THRESHOLDS)  # a floor never under the target


@pytest.mark.slow  # an evaluation: 333 real messages through intake against measured thresholds
@pytest.mark.parametrize("half", HALVES)
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
