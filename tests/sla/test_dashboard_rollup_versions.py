"""A built day is read from the rollups only when it was built by the current ``rollups.VERSION`` (a release that
changes what the build writes raises it, and the days built before are read live, then built again), and one
build of an organization runs at a time (the beat task and ``manage.py dashboard_rollups`` skip each other)."""

from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from factories import OrganizationFactory, TicketFactory

from sla.dashboard import rollups
from sla.dashboard.figures import DashboardFilters
from sla.models import DashboardCell, DashboardDay
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _org_with_a_ticket_ten_days_ago():
    org = OrganizationFactory()
    ticket = TicketFactory(organization=org)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=timezone.now() - timedelta(days=10))
    return org, rollups.local_today(org.time_zone, timezone.now() - timedelta(days=10))


def _created(org, day) -> int:
    period = rollups.read(org, DashboardFilters(start=day, end=day), time_zone=org.time_zone)
    return period.days.get(day, {}).get("created", 0)


def test_a_day_built_by_another_version_is_read_live_then_built_again():
    org, day = _org_with_a_ticket_ten_days_ago()
    assert rollups.refresh(organization_id=org.pk) >= 1
    assert DashboardDay.objects.get(organization=org, day=day).version == rollups.VERSION
    assert _created(org, day) == 1
    DashboardCell.objects.filter(organization=org, day=day).delete()  # what an older build wrote: not read
    assert _created(org, day) == 0  # (the current version's day, cells gone: read from the rollups)
    DashboardDay.objects.filter(organization=org).update(version=rollups.VERSION - 1)
    assert _created(org, day) == 1  # read live
    assert rollups.refresh(organization_id=org.pk) >= 365  # every day of the older version, again
    assert set(DashboardDay.objects.filter(organization=org).values_list("version", flat=True)) == {rollups.VERSION}
    assert DashboardCell.objects.filter(organization=org, day=day).exists()
    assert _created(org, day) == 1


def test_one_build_of_an_organization_at_a_time():
    org, day = _org_with_a_ticket_ten_days_ago()
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "host", "port", "user", "password")},
                         autocommit=False) as other:  # another build of this organization, under way
        other.execute("SELECT pg_advisory_xact_lock(%s, %s)", [rollups.LOCK_CLASS, org.pk])
        assert rollups.build(org.pk, [day], time_zone=org.time_zone) == 0
        assert rollups.refresh(organization_id=org.pk) == 0
        assert not DashboardDay.objects.filter(organization=org).exists()
        assert _created(org, day) == 1  # read live meanwhile
        other.rollback()  # that build ends
    assert rollups.refresh(organization_id=org.pk) >= 365
    assert DashboardDay.objects.filter(organization=org, day=day).exists()
