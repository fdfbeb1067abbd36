"""The dashboard's weekly PDF report by email, to the Managers (and Admins) who opted in.

- ``set_weekly_report``: a member with "reports.generate" turns it on or off for themselves (audited).
- ``send_weekly_reports`` (Celery beat, hourly): from Monday 08:00 in the organization's time zone, last week's
  report (Monday to Sunday, saved as a ``DashboardReport`` with the time zone in force) is rendered once per
  organization and mailed to each subscriber. Each subscription is claimed by a conditional UPDATE on
  ``last_sent_week`` before its mail goes out, so two workers or two runs send it once (at most once: a crash
  after the claim loses that week's mail rather than sending it twice). A member who lost the role, or left,
  is skipped.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, MemberActor, SystemActor, require, roles_with

from ..models import DashboardReport, WeeklyReportSubscription
from . import figures, reports

SEND_FROM = time(8, 0)


def is_subscribed(organization: Organization, user) -> bool:
    return WeeklyReportSubscription.objects.filter(organization=organization, user=user).exists()


@transaction.atomic
def set_weekly_report(*, actor: Actor, organization: Organization, enabled: bool) -> None:
    require(actor, "reports.generate", organization)
    if not isinstance(actor, MemberActor):
        return
    if enabled:
        _sub, created = WeeklyReportSubscription.objects.get_or_create(organization=organization, user=actor.user)
    else:
        created = bool(WeeklyReportSubscription.objects.filter(organization=organization, user=actor.user).delete()[0])
    if created:
        audit.record(organization=organization, actor=actor.user, action="dashboard.weekly_report",
                     target_type="user", target_id=actor.user.pk, enabled=enabled)


def _last_monday(now: datetime, time_zone: str):
    local = now.astimezone(ZoneInfo(time_zone))
    monday = local.date() - timedelta(days=local.weekday())
    return monday if local.time() >= SEND_FROM or local.weekday() > 0 else monday - timedelta(days=7)


def send_weekly_reports(now: datetime | None = None) -> int:
    """Mail last week's report to every subscriber not served this week. Returns the mails sent."""
    now = now or timezone.now()
    sent = 0
    subscriptions = list(
        WeeklyReportSubscription.objects.filter(
            user__memberships__organization=F("organization"), user__memberships__is_active=True,
            user__memberships__role__in=roles_with("reports.generate"),
        ).select_related("organization", "user").order_by("organization_id", "pk")
    )
    pdfs: dict[int, tuple[DashboardReport, bytes]] = {}
    for sub in subscriptions:  # a few per organization: the Managers who opted in
        org = sub.organization
        monday = _last_monday(now, org.time_zone)
        if sub.last_sent_week is not None and sub.last_sent_week >= monday:
            continue
        claimed = WeeklyReportSubscription.objects.filter(pk=sub.pk).filter(
            Q(last_sent_week__isnull=True) | Q(last_sent_week__lt=monday)).update(last_sent_week=monday)
        if not claimed or not sub.user.email:
            continue
        if org.pk not in pdfs:
            week = figures.DashboardFilters(start=monday - timedelta(days=7), end=monday - timedelta(days=1))
            report = reports.generate_report(organization=org, filters=week, actor=SystemActor("weekly report"),
                                             now=now)
            pdfs[org.pk] = (report, reports.render_pdf(report))
        report, pdf = pdfs[org.pk]
        with translation.override(org.language):
            mail = EmailMessage(
                subject=_("[%(org)s] Rapport hebdomadaire du %(s)s au %(e)s") % {
                    "org": org.name, "s": report.start.strftime("%d/%m/%Y"), "e": report.end.strftime("%d/%m/%Y")},
                body=render_to_string("dashboard/weekly_email.txt", {"report": report, "organization": org,
                                                                    "site_url": settings.SITE_URL}),
                from_email=settings.DEFAULT_FROM_EMAIL, to=[sub.user.email],
                headers={"Auto-Submitted": "auto-generated"},
            )
        mail.attach(f"rapport-{report.start}-{report.end}.pdf", pdf, "application/pdf")
        mail.send()
        sent += 1
    return sent
