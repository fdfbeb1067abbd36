"""SLA policies, the alerts sent, SLA outcomes, digests and stored reports.

Opening hours and holidays are the core's business calendar (``lumiodesk.models``, ``lumiodesk.calendar``).

The due times themselves live on ``tickets.Ticket`` (indexed for the list and the scan); this app
stamps them. Every table carries ``organization_id``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lumiodesk.calendar.business_time import Unit
from lumiodesk.models import Organization
from tickets.models import Priority, Ticket


class TargetUnit(models.TextChoices):
    MINUTES = Unit.MINUTES, _("minutes ouvrées")
    HOURS = Unit.HOURS, _("heures ouvrées")
    DAYS = Unit.DAYS, _("jours ouvrés")


class SlaPolicy(models.Model):
    """The targets of one priority (section 13)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    priority = models.CharField(_("priorité"), max_length=10, choices=Priority.choices)
    first_response_amount = models.PositiveIntegerField(_("première réponse"))
    first_response_unit = models.CharField(max_length=10, choices=TargetUnit.choices)
    resolution_amount = models.PositiveIntegerField(_("résolution"))
    resolution_unit = models.CharField(max_length=10, choices=TargetUnit.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("politique SLA")
        verbose_name_plural = _("politiques SLA")
        constraints = [
            models.UniqueConstraint(fields=["organization", "priority"], name="slapolicy_one_per_priority"),
            models.CheckConstraint(
                condition=models.Q(first_response_amount__gt=0, resolution_amount__gt=0), name="slapolicy_positive"
            ),
            models.CheckConstraint(condition=models.Q(priority__in=Priority.values), name="slapolicy_priority"),
            models.CheckConstraint(
                condition=models.Q(first_response_unit__in=TargetUnit.values, resolution_unit__in=TargetUnit.values),
                name="slapolicy_units",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.priority}: {self.first_response_amount} {self.first_response_unit} / " \
               f"{self.resolution_amount} {self.resolution_unit}"


class SlaSettings(models.Model):
    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    pause_when_waiting_customer = models.BooleanField(
        _("suspendre le délai de résolution pendant l'attente client"), default=True
    )

    class Meta:
        verbose_name = _("réglages SLA")
        verbose_name_plural = _("réglages SLA")

    def __str__(self) -> str:
        return f"SLA settings of {self.organization_id}"


class AlertKind(models.TextChoices):
    FIRST_RESPONSE_WARNING = "first_response_warning", _("Première réponse bientôt dépassée")
    FIRST_RESPONSE_BREACH = "first_response_breach", _("Première réponse dépassée")
    RESOLUTION_WARNING = "resolution_warning", _("Résolution bientôt dépassée")
    RESOLUTION_BREACH = "resolution_breach", _("Résolution dépassée")


class SlaAlert(models.Model):
    """A warning or breach notice sent: at most one per ticket, kind and due time (the unique
    constraint is what makes two scans, or two workers, send it once)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_alerts")
    kind = models.CharField(max_length=24, choices=AlertKind.choices)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("alerte SLA")
        verbose_name_plural = _("alertes SLA")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "kind", "due_at"], name="slaalert_once_per_due_time"),
        ]
        indexes = [models.Index(fields=["organization", "-created_at"], name="slaalert_org_idx")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.ticket_id} {self.due_at:%Y-%m-%d %H:%M}"


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("Première réponse")
    RESOLUTION = "resolution", _("Résolution")


class SlaOutcome(models.Model):
    """How one ticket did against one target: met or breached, and how long it took in business time.

    Written when the target is reached (first public reply, resolution) or breached (the scan); kept
    when the ticket is reopened (a breach stays a breach), updated when it is resolved again.
    Reports aggregate these rows.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_outcomes")
    metric = models.CharField(max_length=16, choices=Metric.choices)
    priority = models.CharField(max_length=10, choices=Priority.choices)
    # First response: who replied. Resolution: the assignee then (or who resolved it).
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    ticket_created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    achieved_at = models.DateTimeField(null=True, blank=True)
    business_seconds = models.PositiveIntegerField(null=True, blank=True)
    breached = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("résultat SLA")
        verbose_name_plural = _("résultats SLA")
        constraints = [models.UniqueConstraint(fields=["ticket", "metric"], name="slaoutcome_one_per_metric")]
        # Reports and the dashboard aggregate a period on the index alone.
        indexes = [models.Index(fields=["organization", "ticket_created_at"], name="slaoutcome_period_idx",
                                include=["metric", "agent", "achieved_at", "breached", "business_seconds",
                                         "ticket"])]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.metric} {'breached' if self.breached else 'met'}"


class DigestRun(models.Model):
    """The managers' daily digest of one organization for one local date: claimed once, sent once."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    local_date = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("résumé quotidien")
        verbose_name_plural = _("résumés quotidiens")
        constraints = [models.UniqueConstraint(fields=["organization", "local_date"], name="digestrun_once_per_day")]

    def __str__(self) -> str:
        return f"digest {self.organization_id} {self.local_date}"


class Granularity(models.TextChoices):
    DAY = "day", _("Jour")
    WEEK = "week", _("Semaine")
    MONTH = "month", _("Mois")


class SlaReport(models.Model):
    """A generated SLA report, kept as it was: its figures and the time zone in force then (section 3)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    time_zone = models.CharField(max_length=64)
    start = models.DateField(_("du"))
    end = models.DateField(_("au"))
    granularity = models.CharField(_("par"), max_length=8, choices=Granularity.choices, default=Granularity.WEEK)
    data = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("rapport SLA")
        verbose_name_plural = _("rapports SLA")
        indexes = [models.Index(fields=["organization", "-created_at"], name="slareport_org_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="slareport_period")]

    def __str__(self) -> str:
        return f"SLA {self.start} - {self.end}"


class DashboardReport(models.Model):
    """The dashboard's figures for a period, kept as they were with the time zone in force then (section 3);
    its PDF is rendered from these figures (``sla.dashboard.reports``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    time_zone = models.CharField(max_length=64)
    start = models.DateField(_("du"))
    end = models.DateField(_("au"))
    filters = models.JSONField(default=dict, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("rapport du tableau de bord")
        verbose_name_plural = _("rapports du tableau de bord")
        indexes = [models.Index(fields=["organization", "-created_at"], name="dashreport_org_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(end__gte=models.F("start")),
                                              name="dashreport_period")]

    def __str__(self) -> str:
        return f"dashboard {self.start} - {self.end}"


class QueueAlertKind(models.TextChoices):
    IN_PROGRESS_STALE = "in_progress_24h", _("En cours sans activité depuis 24 h")
    URGENT_NOT_UPDATED = "urgent_2h", _("Urgent : client sans nouvelles depuis 2 h")


class QueueAlert(models.Model):
    """A queue hygiene notice sent (002): once per ticket, kind and stall (``since``: the last activity or
    reply the stall is counted from), so the beat notifies a stalled ticket once, and again only after it
    moved and stalled anew."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=QueueAlertKind.choices)
    since = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("alerte de file")
        verbose_name_plural = _("alertes de file")
        constraints = [models.UniqueConstraint(fields=["ticket", "kind", "since"], name="queuealert_once_per_stall")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.ticket_id}"


class WeeklyReportSubscription(models.Model):
    """A Manager opted in to the dashboard's weekly PDF report by email (Monday morning, last week)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_sent_week = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="weeklyreport_once_per_member")]

    def __str__(self) -> str:
        return f"weekly report {self.organization_id}/{self.user_id}"


# --- the dashboard's per-day rollups (sla.dashboard.rollups) ---------------------------------------------------


class DashboardDay(models.Model):
    """A past day of the organization (its local date in ``time_zone``) whose rollup rows are built.

    The dashboard reads a day from the rollups only while this row exists for the organization's current time
    zone and the current ``rollups.VERSION`` and no ``DashboardDirtyDay`` names it; any other day is computed live
    from the tickets."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    time_zone = models.CharField(max_length=64)
    # What the rows were built by (sla.dashboard.rollups.VERSION): a release that changes what a day's rows hold
    # raises it, and the days built before are read live, then built again, most recent first.
    version = models.PositiveSmallIntegerField(default=1, db_default=1)
    built_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "day"], name="dashboardday_once")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} ({self.time_zone})"


class DashboardDirtyDay(models.Model):
    """A past day changed since its rollup was built: written by the database triggers of migration 0006 (every
    channel: services, bulk updates, imports), removed when the day is built again.

    No foreign key constraint: deleting an organization deletes its tickets, whose trigger marks their days after
    this table's rows were deleted (the task prunes the rows of organizations gone)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "day"], name="dashboarddirtyday_once")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} (dirty)"


class DashboardCell(models.Model):
    """The counts of one day (the tickets created that day; ``closed``: resolved that day) for one combination of
    the filters the rollups serve: assignee, channel, priority (``channel = priority = '*'``: whatever both).
    ``agent_id`` is whom the figures credit: the assignee for the ticket counts, the outcome's agent, the rating's
    agent (as the per-agent table does)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    assignee_id = models.IntegerField(null=True)
    agent_id = models.IntegerField(null=True)
    channel = models.CharField(max_length=16)
    priority = models.CharField(max_length=10)
    created = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    open = models.IntegerField(default=0)
    replied = models.IntegerField(default=0)
    first_contact = models.IntegerField(default=0)
    closed = models.IntegerField(default=0)
    fr_n = models.IntegerField(default=0)
    fr_met = models.IntegerField(default=0)
    fr_breached = models.IntegerField(default=0)
    fr_sum = models.BigIntegerField(default=0)
    fr_measured = models.IntegerField(default=0)
    fr_within = models.IntegerField(default=0)
    res_n = models.IntegerField(default=0)
    res_met = models.IntegerField(default=0)
    res_breached = models.IntegerField(default=0)
    res_sum = models.BigIntegerField(default=0)
    res_measured = models.IntegerField(default=0)
    res_within = models.IntegerField(default=0)
    later_measured = models.IntegerField(default=0)
    later_sum = models.DecimalField(max_digits=24, decimal_places=6, default=0)
    later_within = models.IntegerField(default=0)
    csat_n = models.IntegerField(default=0)
    csat_1 = models.IntegerField(default=0)
    csat_2 = models.IntegerField(default=0)
    csat_3 = models.IntegerField(default=0)
    csat_4 = models.IntegerField(default=0)
    csat_5 = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["organization", "channel", "day"], name="dashboardcell_day_idx")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} {self.agent_id}"


class DashboardHistogram(models.Model):
    """The durations of one day (first response and resolution in business seconds, later replies in seconds)
    counted in log-spaced buckets (``sla.dashboard.rollups``), for an (assignee, credited agent) pair, either
    whatever the channel and priority (``channel = priority = '*'``) or for one channel and one priority.
    ``counts``: little-endian 32-bit counts of the buckets from ``first_bucket`` on."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    metric = models.CharField(max_length=16)
    assignee_id = models.IntegerField(null=True)
    agent_id = models.IntegerField(null=True)
    channel = models.CharField(max_length=16)
    priority = models.CharField(max_length=10)
    first_bucket = models.SmallIntegerField()
    counts = models.BinaryField()

    class Meta:
        indexes = [models.Index(fields=["organization", "channel", "day"], name="dashboardhist_day_idx")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} {self.metric}"
