"""The dashboard's per-day rollups (sla.dashboard.rollups) give the live figures: every count, sum, average and
share exactly, the medians and 80th percentiles within the buckets' bound (2.2 %), for 30 and 365 days, without
and with each filter; a past day changed after its build (by any channel: a database trigger marks it) is read
live until it is built again.

The history is the bench's seed (devtools.bench.dashboard) at 600 tickets over the last 365 days, eight agents,
four channels and priorities, later replies and ratings; plus spam, tags, a company and a team here."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.utils import timezone
from factories import CompanyFactory, team_of

from crm.models import Customer
from devtools.bench import dashboard as bench
from lumiodesk.models import Membership, Organization, Plan
from sla import tasks
from sla.dashboard import figures, rollups, team_figures
from sla.dashboard.figures import DashboardFilters
from sla.models import DashboardCell, DashboardDay, DashboardDirtyDay
from tickets.models import Message, Tag, Ticket, TicketTag
from tickets.portal.models import SatisfactionRating

pytestmark = pytest.mark.django_db

PERCENTILES = {"median", "p80"}


def _time_zone_away_from_midnight() -> str:
    """Paris, unless its midnight is too near: yesterday is built only once the rollups' grace after midnight has
    passed (a day's late changes still come in), so in those minutes its dirty marks rightly stay and "every day
    built" does not hold yet; Tokyo then (eight hours away: never near its own midnight at the same time)."""
    now = timezone.now()
    for name in ("Europe/Paris", "Asia/Tokyo"):
        local = now.astimezone(ZoneInfo(name))
        since_midnight = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
        if rollups.GRACE + timedelta(minutes=5) < since_midnight < timedelta(hours=24) - timedelta(minutes=5):
            return name
    return "Asia/Tokyo"


@pytest.fixture
def seeded():
    org = Organization.objects.create(name="Dashboard bench 600", slug=bench.slug(600), plan=Plan.SCALE,
                                      time_zone=_time_zone_away_from_midnight())
    org = bench.seed(org, 600, out=lambda *_: None, analyze=False)
    tickets = list(Ticket.objects.filter(organization=org).order_by("number"))
    agents = list(Membership.objects.filter(organization=org).order_by("user_id").values_list("user_id", flat=True))
    tag = Tag.objects.create(organization=org, name="Facturation")
    TicketTag.objects.bulk_create([TicketTag(organization=org, ticket=t, tag=tag) for t in tickets[::3]])
    company = CompanyFactory(organization=org)
    other = Customer.objects.create(organization=org, email="autre@dashboard-bench.test", company=company)
    Ticket.objects.filter(pk__in=[t.pk for t in tickets[1::4]]).update(customer=other)
    Ticket.objects.filter(pk__in=[t.pk for t in tickets[5::50]]).update(spam_at=timezone.now())
    from django.contrib.auth import get_user_model
    team = team_of(org, "Niveau 1", *get_user_model().objects.filter(pk__in=agents[:3]))
    filters = [{}, {"agent": agents[1]}, {"channel": "email"}, {"priority": "high"}, {"tag": "facturation"},
               {"company": company.pk}, {"team": team.pk}, {"channel": "chat", "priority": "normal", "team": team.pk}]
    return org, tickets, agents, filters


def periods(org):
    today = rollups.local_today(org.time_zone, timezone.now())
    return [(today - timedelta(days=29), today), (today - timedelta(days=364), today),
            (today - timedelta(days=70), today - timedelta(days=10))]


def compute(org, f: DashboardFilters) -> dict:
    period = rollups.read(org, f, time_zone=org.time_zone)
    data = figures.compute(org, f, now=timezone.now(), time_zone=org.time_zone, period_data=period)
    data["teams"] = team_figures.compute(org, f, time_zone=org.time_zone, period_data=period)
    for key in ("generated_at",):
        data.pop(key)
    return data


def live(org, f: DashboardFilters) -> dict:
    """The figures with no day built (the rollups' day list emptied, then restored)."""
    with transaction.atomic():
        DashboardDay.objects.filter(organization=org).delete()
        data = compute(org, f)
        transaction.set_rollback(True)
    return data


def assert_same(rollup, exact, path="") -> None:
    if isinstance(exact, dict):
        assert rollup.keys() == exact.keys(), path
        for key in exact:
            if key in PERCENTILES and exact[key] is not None:
                assert abs(rollup[key] - exact[key]) <= rollups.MAX_ERROR * exact[key] + 1, f"{path}.{key}"
            else:
                assert_same(rollup[key], exact[key], f"{path}.{key}")
    elif isinstance(exact, list):
        assert len(rollup) == len(exact), path
        for i, (a, b) in enumerate(zip(rollup, exact, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    else:
        assert rollup == exact, path


def check_all(org, filters) -> int:
    checked = 0
    for start, end in periods(org):
        for params in filters:
            f = DashboardFilters(start=start, end=end, **params)
            assert_same(compute(org, f), live(org, f), f"{params} {start}..{end}")
            checked += 1
    return checked


def test_rollups_give_the_live_figures(seeded):
    org, _tickets, _agents, filters = seeded
    exact = {i: live(org, DashboardFilters(start=s, end=e)) for i, (s, e) in enumerate(periods(org))}
    assert rollups.refresh() >= 364
    assert DashboardDay.objects.filter(organization=org).count() >= 364
    assert not DashboardDirtyDay.objects.filter(organization=org).exists()
    assert DashboardCell.objects.filter(organization=org).exists()
    assert check_all(org, filters) == 3 * len(filters)
    year = compute(org, DashboardFilters(start=periods(org)[1][0], end=periods(org)[1][1]))
    assert year["opened"] == exact[1]["opened"] > 500 and year["first_response"]["measured"] > 400
    assert year["later_reply"]["measured"] > 50 and year["satisfaction"]["count"] > 50
    assert year["resolution"]["median"] != exact[1]["resolution"]["median"]  # bucketed, within the bound
    assert rollups.refresh() == 0  # nothing left to build


def test_a_changed_past_day_is_read_live_then_built_again(seeded):
    org, tickets, agents, filters = seeded
    rollups.refresh()
    now = timezone.now()
    old = [t for t in tickets if t.created_at < now - timedelta(days=40) and t.resolved_at][:6]
    # every channel the trigger sees: an ORM update, a rating, a message, spam, a reopening, a deletion
    Ticket.objects.filter(pk=old[0].pk).update(assignee_id=agents[2], channel="chat")
    SatisfactionRating.objects.filter(ticket=old[1]).delete()
    SatisfactionRating.objects.update_or_create(ticket=old[2], defaults={
        "organization": org, "customer_id": old[2].customer_id, "agent_id": agents[4], "score": 1,
        "comment": "Trop tard"})
    Message.objects.create(organization=org, ticket=old[3], kind="customer", body_text="Encore moi",
                           created_at=old[3].resolved_at + timedelta(hours=1))
    Ticket.objects.filter(pk=old[3].pk).update(last_customer_message_at=old[3].resolved_at + timedelta(hours=1))
    Ticket.objects.filter(pk=old[4].pk).update(spam_at=now)
    Ticket.objects.filter(pk=old[5].pk).update(status="open", resolved_at=None, closed_at=None)
    dirty = set(DashboardDirtyDay.objects.filter(organization=org).values_list("day", flat=True))
    tz = org.time_zone
    for t in old:
        assert rollups.local_today(tz, t.created_at) in dirty
    assert rollups.local_today(tz, old[5].resolved_at) in dirty  # its closing day too
    check_all(org, filters[:4])
    assert rollups.refresh() == len(dirty)
    assert not DashboardDirtyDay.objects.filter(organization=org).exists()
    check_all(org, filters)


def test_a_new_time_zone_reads_live_until_built(seeded):
    org, _tickets, _agents, filters = seeded
    rollups.refresh()
    org.time_zone = "America/New_York"
    org.save(update_fields=["time_zone"])
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM sla_dashboardday WHERE organization_id = %s AND time_zone = %s",
                    [org.pk, org.time_zone])
        assert cur.fetchone()[0] == 0
    check_all(org, filters[:2])
    assert rollups.refresh(organization_id=org.pk) >= 364
    check_all(org, filters[:2])


def test_an_organization_with_rollups_can_be_deleted(seeded):
    org, _tickets, _agents, _filters = seeded
    rollups.refresh(organization_id=org.pk)
    Ticket.objects.filter(organization=org).update(priority="low")  # past days marked dirty
    pk = org.pk
    with transaction.atomic():  # the deferred foreign keys are checked at the end
        Ticket.objects.filter(organization=org).delete()  # their days marked dirty, the rollups still there
        assert DashboardDirtyDay.objects.filter(organization_id=pk).exists()
        Customer.objects.filter(organization=org).delete()
        org.delete()  # the rollup rows deleted with it; the dirty days after the tickets too
    assert not DashboardDay.objects.filter(organization_id=pk).exists()
    rollups.refresh()
    assert not DashboardDirtyDay.objects.filter(organization_id=pk).exists()


def test_the_beat_task_builds_a_month_at_a_time_and_an_edited_message_marks_nothing(seeded):
    org, tickets, _agents, _filters = seeded
    assert tasks.refresh_dashboard_rollups() >= rollups.CHUNK_DAYS
    assert DashboardDay.objects.filter(organization=org).count() == rollups.CHUNK_DAYS
    rollups.refresh()
    old = next(t for t in tickets if t.created_at < timezone.now() - timedelta(days=40))
    Message.objects.filter(ticket=old).update(body_text="Corrigé")
    assert not DashboardDirtyDay.objects.filter(organization=org).exists()
    Message.objects.filter(ticket=old, kind="reply").update(created_at=old.created_at + timedelta(minutes=5))
    assert DashboardDirtyDay.objects.filter(organization=org).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_during_a_build_keeps_its_day_dirty():
    """A build deletes the dirty marks its snapshot read. A change made meanwhile to an already dirty day locks
    that mark (the trigger updates it), so the build fails to serialize and the mark stays: the day is built
    again on the next run, never left stale (a skipped mark would be deleted by the build)."""
    import threading

    from django.db import connections
    from factories import OrganizationFactory, TicketFactory

    org = OrganizationFactory()
    ticket = TicketFactory(organization=org)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=timezone.now() - timedelta(days=10))
    day = rollups.local_today(org.time_zone, timezone.now() - timedelta(days=10))
    rollups.refresh(organization_id=org.pk, now=timezone.now())
    assert not DashboardDirtyDay.objects.filter(organization_id=org.pk, day=day).exists()
    Ticket.objects.filter(pk=ticket.pk).update(priority="high")  # the day is dirty again (committed)
    assert DashboardDirtyDay.objects.filter(organization_id=org.pk, day=day).exists()

    changed, release, errors = threading.Event(), threading.Event(), []

    def change():  # another request: changes the ticket, holds its transaction open until told
        try:
            with transaction.atomic():
                Ticket.objects.filter(pk=ticket.pk).update(priority="urgent")
                changed.set()
                release.wait(10)
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)
        finally:
            connections.close_all()

    def build():  # the beat task
        try:
            rollups.refresh(organization_id=org.pk, now=timezone.now())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    changer = threading.Thread(target=change)
    changer.start()
    assert changed.wait(10)
    builder = threading.Thread(target=build)
    builder.start()
    with connection.cursor() as cur:  # the build waits on the mark the open change locked
        for _ in range(200):
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'")
            if cur.fetchone()[0]:
                break
            threading.Event().wait(0.05)
        else:
            pytest.fail("the build never waited for the open change")
    release.set()
    changer.join(10)
    builder.join(20)
    assert errors == []
    assert DashboardDirtyDay.objects.filter(organization_id=org.pk, day=day).exists()
    assert Ticket.objects.get(pk=ticket.pk).priority == "urgent"
