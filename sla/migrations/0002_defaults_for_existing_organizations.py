"""Existing organizations get the default opening hours (Monday–Friday 9:00–18:00), the section 13
policies and the pause setting, as new organizations do (sla.receivers.organization_defaults).

Their open tickets are stamped with those defaults. Due times already past at the upgrade are shown
(overdue) but not notified: nobody gets a burst of breach notices for tickets older than the feature.
"""

from datetime import time

from django.db import migrations
from django.utils import timezone

DEFAULT_POLICIES = {  # section 13, as in sla.config
    "low": ((24, "hours"), (5, "days")),
    "normal": ((8, "hours"), (3, "days")),
    "high": ((2, "hours"), (1, "days")),
    "urgent": ((30, "minutes"), (4, "hours")),
}
OPEN = ("new", "open", "waiting_customer", "waiting_internal")


def forwards(apps, schema_editor):
    from lumiodesk.calendar.business_time import Calendar, add_target
    from sla.clock import warn_at

    Organization = apps.get_model("lumiodesk", "Organization")
    BusinessHours = apps.get_model("sla", "BusinessHours")
    SlaPolicy = apps.get_model("sla", "SlaPolicy")
    SlaSettings = apps.get_model("sla", "SlaSettings")
    Ticket = apps.get_model("tickets", "Ticket")
    now = timezone.now()
    for org in Organization.objects.all().iterator():
        BusinessHours.objects.bulk_create(
            [BusinessHours(organization_id=org.pk, weekday=d, is_open=d < 5, opens=time(9), closes=time(18))
             for d in range(7)],
            ignore_conflicts=True,
        )
        SlaPolicy.objects.bulk_create(
            [SlaPolicy(organization_id=org.pk, priority=p, first_response_amount=fr[0], first_response_unit=fr[1],
                       resolution_amount=res[0], resolution_unit=res[1])
             for p, (fr, res) in DEFAULT_POLICIES.items()],
            ignore_conflicts=True,
        )
        SlaSettings.objects.bulk_create([SlaSettings(organization_id=org.pk)], ignore_conflicts=True)

        calendar = Calendar.default(org.time_zone)
        batch = []
        for t in Ticket.objects.filter(organization_id=org.pk, imported=False, status__in=OPEN).iterator(2000):
            (fa, fu), (ra, ru) = DEFAULT_POLICIES[t.priority]
            t.first_response_due_at = add_target(calendar, t.created_at, fa, fu)
            t.resolution_due_at = add_target(calendar, t.created_at, ra, ru)
            if t.status == "waiting_customer":
                t.sla_paused_at = t.status_changed_at
            running = []
            if t.first_response_at is None:
                running.append(t.first_response_due_at)
            if t.sla_paused_at is None:
                running.append(t.resolution_due_at)
            t.sla_due_at = min(running) if running else None
            t.sla_warn_at = warn_at(calendar, t.priority, t.sla_due_at) if t.sla_due_at else None
            upcoming = []
            for due in running:
                if due > now:
                    warn = warn_at(calendar, t.priority, due)
                    upcoming.append(warn if warn > now else due)
            t.sla_next_alert_at = min(upcoming) if upcoming else None
            batch.append(t)
            if len(batch) >= 2000:
                _save(Ticket, batch)
                batch = []
        _save(Ticket, batch)


def _save(Ticket, batch):
    Ticket.objects.bulk_update(batch, ["first_response_due_at", "resolution_due_at", "sla_paused_at", "sla_due_at",
                                       "sla_warn_at", "sla_next_alert_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0001_initial"),
        ("tickets", "0003_ticket_sla"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
