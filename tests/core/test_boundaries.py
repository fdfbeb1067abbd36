"""The layers hold (DESIGN.md "Layers"): import-linter's contracts pass, the business calendar sits in the core
with its tables unchanged, and agent notification kinds are registered by the apps that own them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lumiodesk import notifications
from lumiodesk.models import BusinessHours, Holiday

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    """Layers, no devtools in the product, no import cycle inside an app (what `make test` runs)."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_calendar_rows_keep_their_tables():
    """Moved from sla to the core in the state only: an existing database keeps its rows."""
    assert (BusinessHours._meta.app_label, BusinessHours._meta.db_table) == ("lumiodesk", "sla_businesshours")
    assert (Holiday._meta.app_label, Holiday._meta.db_table) == ("lumiodesk", "sla_holiday")


def test_notification_kinds_come_from_their_apps():
    owners = {k.code: type(k.code).__module__ for k in notifications.registered_kinds()}
    assert owners == {
        "assigned": "tickets.agent_notifications", "mention": "tickets.agent_notifications",
        "customer_reply": "tickets.agent_notifications", "urgent": "tickets.agent_notifications",
        "sla_warning": "sla.notification_kinds", "sla_breach": "sla.notification_kinds",
        "daily_digest": "sla.notification_kinds", "queue_hygiene": "sla.notification_kinds",
        "automation": "automations.notification_kinds", "webhook_disabled": "automations.notification_kinds",
        "ticket_volume": "billing.notification_kinds", "plan_advice": "billing.notification_kinds",
        "budget_alert": "crm.notification_kinds",
    }


@pytest.mark.django_db
def test_an_unregistered_kind_is_refused(world):
    draft = notifications.Draft(recipient_id=world.agent.pk, title="x", dedup_key="x")
    with pytest.raises(ValueError, match="unknown notification kind"):
        notifications.notify(organization_id=world.org.pk, kind="nobody_owns_this", drafts=[draft])
