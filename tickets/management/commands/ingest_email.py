"""python manage.py ingest_email --mailbox ADDRESS FILE...

Reads raw RFC 5322 files (one message a file, or an mbox) and takes the same path as the
SMTP receiver, synchronously. One line per message:
FILE: ticket NUMBER | FILE: duplicate, ticket NUMBER | FILE: bounce, ticket NUMBER | FILE: bounce: REASON
| FILE: quarantined: REASON
"""

from __future__ import annotations

import mailbox as mailbox_lib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tickets.email.intake import UnknownMailbox, find_mailbox, ingest, outcome_of
from tickets.email.models import InboundStatus


def _messages(path: Path) -> list[tuple[str, bytes]]:
    data = path.read_bytes()
    if data.startswith(b"From "):  # an mbox "From_" line (a header would be "From:")
        box = mailbox_lib.mbox(str(path), create=False)
        out = []
        for i, key in enumerate(box.keys(), 1):
            out.append((f"{path}#{i}", box.get_bytes(key)))
        box.close()
        return out
    return [(str(path), data)]


class Command(BaseCommand):
    help = "Import raw email files (or mbox) into a mailbox, as if received by SMTP."

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", required=True, help="the mailbox's address or its forwarding address")
        parser.add_argument("files", nargs="+")

    def handle(self, *args, mailbox: str, files: list[str], **options):
        try:
            box = find_mailbox(mailbox)
        except UnknownMailbox as exc:
            raise CommandError(str(exc)) from exc
        for name in files:
            path = Path(name)
            if not path.is_file():
                self.stdout.write(f"{name}: quarantined: file not found")
                continue
            for label, raw in _messages(path):
                inbound = ingest(mailbox=box, raw=raw, source="file", envelope_to=[box.address])
                outcome = outcome_of(inbound)
                if outcome.status == InboundStatus.IMPORTED:
                    self.stdout.write(f"{label}: ticket {outcome.ticket_number}")
                elif outcome.status == InboundStatus.DUPLICATE:
                    self.stdout.write(f"{label}: duplicate, ticket {outcome.ticket_number}")
                elif outcome.status == InboundStatus.IGNORED and outcome.ticket_number:
                    self.stdout.write(f"{label}: ticket {outcome.ticket_number}")
                elif outcome.status == InboundStatus.BOUNCE and outcome.ticket_number:
                    self.stdout.write(f"{label}: bounce, ticket {outcome.ticket_number}")
                elif outcome.status == InboundStatus.BOUNCE:
                    self.stdout.write(f"{label}: bounce: {outcome.reason}".replace("\n", " "))
                else:
                    reason = (outcome.reason or outcome.status).replace("\n", " ")
                    self.stdout.write(f"{label}: quarantined: {reason}")
