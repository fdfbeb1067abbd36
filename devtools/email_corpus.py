"""The real-world email corpus (tests/tickets/email/email_corpus/real_world/) through the real intake, and its figures.

Each message is fed to ``manage.py ingest_email --mailbox ADDRESS FILE`` (the path an administrator
uses, which takes the same ``intake.ingest`` as the SMTP receiver and the IMAP poller), then what the
organization now holds is read back and compared with what a mail client shows (the manifest):

- subject: the ticket's subject (or the subject listed for a bounce), sender: the customer's address
  (or the address listed for a bounce), text: the manifest's excerpt found in the message's text or its
  folded history (whitespace collapsed), attachments: every name the manifest lists among the message's
  attachments (a name twice must be there twice);
- outcome: ``ticket`` (a ticket message; a repeat of a message already ingested, same Message-ID,
  answers with the original's ticket), ``bounce`` (kept as a delivery report: attached to a ticket or
  listed under "Bounces", never a new ticket) or ``quarantine``;
- a second pass of every file: each must be recognised as a duplicate (``duplicated`` counts the messages
  that made a new ticket or ticket message the second time), and ``lost`` counts messages with no stored
  row or left unprocessed.

This module reads and compares; it changes nothing but what ``ingest_email`` itself writes.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.core.management import call_command

from tickets.attachments import safe_filename
from tickets.email.models import InboundEmail, InboundStatus
from tickets.models import Attachment, Message, MessageKind, Ticket

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "tickets" / "email" / "email_corpus" / "real_world"
FIELDS = ("subject", "sender", "text", "attachments")


def load_manifest(half: str | None = None) -> list[dict]:
    messages = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))["messages"]
    return [m for m in messages if half in (None, "all", m["half"])]


def _norm(text: str) -> str:
    return " ".join((text or "").split()).casefold()


@dataclass
class Result:
    file: str
    expected: dict
    outcome: str = ""
    status: str = ""
    got: dict = field(default_factory=dict)
    ok: dict = field(default_factory=dict)  # field -> True/False; absent when the manifest expects nothing
    duplicated: bool = False
    lost: bool = False

    @property
    def accounted(self) -> bool:
        return self.outcome == self.expected["outcome"]


@dataclass
class Report:
    results: list[Result]

    def score(self, name: str) -> tuple[int, int]:
        marks = [r.ok[name] for r in self.results if name in r.ok]
        return sum(marks), len(marks)

    @property
    def accounted(self) -> tuple[int, int]:
        return sum(r.accounted for r in self.results), len(self.results)

    @property
    def lost(self) -> int:
        return sum(r.lost for r in self.results)

    @property
    def duplicated(self) -> int:
        return sum(r.duplicated for r in self.results)

    def outcomes(self) -> Counter:
        return Counter(r.outcome for r in self.results)

    def lines(self) -> list[str]:
        def pct(pair: tuple[int, int]) -> str:
            ok, n = pair
            return f"{ok}/{n} ({100 * ok / n:.1f} %)" if n else "0/0"

        out = [f"messages: {len(self.results)}; outcomes: {dict(sorted(self.outcomes().items()))}",
               f"ticketed, attached or rightly kept aside: {pct(self.accounted)}",
               f"lost: {self.lost}; duplicated on a second pass: {self.duplicated}"]
        out += [f"{name}: {pct(self.score(name))}" for name in FIELDS]
        return out

    def failures(self) -> list[str]:
        out = []
        for r in self.results:
            bad = [n for n, ok in r.ok.items() if not ok]
            if not r.accounted:
                bad.insert(0, "outcome")
            for name in bad:
                want = r.expected["outcome"] if name == "outcome" else r.expected.get(name)
                got = r.outcome if name == "outcome" else r.got.get(name)
                out.append(f"{r.file}: {name}: expected {want!r}, got {got!r}")
        return out


def _ingest(address: str, path: Path) -> list[InboundEmail]:
    last = InboundEmail.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    call_command("ingest_email", "--mailbox", address, str(path), stdout=io.StringIO())
    return list(InboundEmail.objects.filter(pk__gt=last).order_by("pk"))


def _outcome(inbound: InboundEmail) -> str:
    status = inbound.status
    if status == InboundStatus.DUPLICATE:
        original = inbound.duplicate_of
        return _outcome(original) if original is not None and original.status != InboundStatus.DUPLICATE else "lost"
    if status == InboundStatus.IMPORTED or (status == InboundStatus.IGNORED and inbound.ticket_id):
        return "ticket"
    if status == "bounce":
        return "bounce"
    if status == InboundStatus.QUARANTINED:
        return "quarantine"
    if status == InboundStatus.IGNORED:
        return "ignored"
    return "lost"  # still "received": never processed


def _observe(result: Result, inbound: InboundEmail) -> None:
    exp = result.expected
    repeat = inbound.status == InboundStatus.DUPLICATE
    source = inbound.duplicate_of if repeat and inbound.duplicate_of is not None else inbound
    ticket = Ticket.objects.filter(pk=source.ticket_id).select_related("customer").first() if source.ticket_id else None
    message = Message.objects.filter(pk=source.message_id).first() if source.message_id else None
    first = Message.objects.filter(ticket=ticket).order_by("created_at", "pk").values_list("pk", flat=True).first()
    subject = ticket.subject if ticket is not None and (message is None or message.pk == first) else source.subject
    sender = source.from_email
    if message is not None and message.author_customer_id:
        sender = message.author_customer.email
    result.got = {"subject": subject, "sender": sender}
    if exp["subject"]:
        result.ok["subject"] = _norm(subject) == _norm(exp["subject"])
    if exp["sender"]:
        result.ok["sender"] = (sender or "").lower() == exp["sender"].lower()
    if exp["outcome"] != "ticket" or repeat:
        return  # text and files are measured on the ticket messages made from the message itself
    text = f"{message.body_text}\n{message.body_quoted}" if message is not None else ""
    names = list(Attachment.objects.filter(message=message).values_list("filename", flat=True)) if message else []
    # A file the attachment rules refuse (an .htm, an .exe) stays in the original message and is named in
    # the note left on the ticket: the agent sees its name there.
    notes = " ".join(Message.objects.filter(ticket=ticket, kind=MessageKind.NOTE).values_list("body_text", flat=True))
    result.got.update(text=text[:300], attachments=names)
    if exp["text"]:
        result.ok["text"] = _norm(exp["text"]) in _norm(text)
    if exp["attachments"]:
        have = Counter(names)
        result.ok["attachments"] = all(
            have[safe_filename(n)] >= k or safe_filename(n) in notes for n, k in Counter(exp["attachments"]).items()
        )


def evaluate(*, address: str, half: str | None = None) -> Report:
    """Ingest the corpus (or one half) into the mailbox ``address``, then each file once more."""
    results = []
    for entry in load_manifest(half):
        result = Result(file=entry["file"], expected=entry["expected"])
        rows = _ingest(address, CORPUS / entry["file"])
        if not rows:
            result.lost, result.outcome = True, "lost"
        else:
            inbound = rows[0]
            result.status = inbound.status
            result.outcome = _outcome(inbound)
            result.lost = result.outcome == "lost"
            _observe(result, inbound)
        results.append(result)
    for result in results:  # the second pass: every file again, each must be a duplicate
        before = (Ticket.objects.count(), Message.objects.count())
        rows = _ingest(address, CORPUS / result.file)
        after = (Ticket.objects.count(), Message.objects.count())
        result.duplicated = after != before or any(r.status != InboundStatus.DUPLICATE for r in rows)
    return Report(results)
