"""``manage.py seed_demo``: what ``make run`` shows a new user (one test: seeding takes about 12 s)."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from devtools.management.commands.seed_demo import MONTHS_FR
from lumiodesk.models import Organization
from tickets.email.models import Mailbox
from tickets.models import Message, Status, Ticket

PLACEHOLDER = re.compile(r"\{[a-z_0-9]+\}")


@pytest.mark.slow
@pytest.mark.django_db
def test_seed_demo():
    call_command("seed_demo", "--anchor", "2026-11-01", stdout=io.StringIO())

    org = Organization.objects.get(slug="demo")
    assert Ticket.objects.filter(organization=org).count() == 300
    assert Ticket.objects.filter(organization__slug="atelier-nord").count() == 15
    assert set(Ticket.objects.filter(organization=org).values_list("status", flat=True)) == set(Status.values)
    for email in ("admin@lumiodesk.test", "manager@lumiodesk.test", "agent@lumiodesk.test", "viewer@lumiodesk.test"):
        assert authenticate(username=email, password="demo-lumiodesk") is not None, email
    assert Mailbox.objects.get(organization=org).address == "support@lumiodesk.test"

    # Every scripted subject and message is written out: no "{month}" left for anyone to read.
    subjects = [s for s in Ticket.objects.values_list("subject", flat=True) if PLACEHOLDER.search(s)]
    bodies = [b[:80] for b in Message.objects.values_list("body_text", flat=True) if PLACEHOLDER.search(b)]
    assert subjects == [] and bodies == []
    invoices = Ticket.objects.filter(subject__startswith="Montant de la facture ").values_list("subject", flat=True)
    months = {s.removeprefix("Montant de la facture ").removesuffix(" incorrect") for s in invoices}
    assert months and months <= {f"d'{m}" if m[0] in "ao" else f"de {m}" for m in MONTHS_FR}, months

    # Seeding again leaves the demo alone.
    before = Ticket.objects.count()
    call_command("seed_demo", "--anchor", "2026-11-01", stdout=io.StringIO())
    assert Ticket.objects.count() == before
