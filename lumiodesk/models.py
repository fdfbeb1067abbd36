"""The tenant (Organization), who belongs to it (Membership), the audit log, notifications and the business
calendar's rows (opening hours, holidays: ``lumiodesk.calendar`` computes with them)."""

from __future__ import annotations

import zoneinfo
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Fuseau horaire inconnu : %(tz)s"), params={"tz": value})


def user_display_name(user) -> str:
    """How the product names a person's account everywhere (lists, history, audit, API, webhooks): their full
    name, else their email."""
    return user.get_full_name() or user.email


class Plan(models.TextChoices):
    STARTER = "starter", "Starter"
    BUSINESS = "business", "Business"
    SCALE = "scale", "Scale"


class Organization(models.Model):
    name = models.CharField(_("nom"), max_length=200)
    slug = models.SlugField(_("identifiant"), max_length=60, unique=True)
    language = models.CharField(
        _("langue principale"), max_length=8, choices=settings.LANGUAGES, default="fr"
    )
    time_zone = models.CharField(
        _("fuseau horaire"), max_length=64, default="Europe/Paris", validators=[validate_time_zone]
    )
    plan = models.CharField(_("forfait"), max_length=16, choices=Plan.choices, default=Plan.STARTER)
    # Lifecycle delays (DESIGN.md: where the documents disagree, a setting with LumioDesk's default).
    auto_close_resolved_days = models.PositiveSmallIntegerField(
        _("fermeture auto. des tickets résolus (jours)"), default=7
    )
    first_followup_days = models.PositiveSmallIntegerField(_("première relance (jours)"), default=3)
    second_followup_days = models.PositiveSmallIntegerField(_("deuxième relance (jours)"), default=5)
    close_waiting_days = models.PositiveSmallIntegerField(
        _("fermeture faute de réponse (jours)"), default=7
    )
    # Automatic mail (notifications, lists, no-reply senders) becomes a ticket without an SLA clock.
    automatic_mail_out_of_sla = models.BooleanField(_("emails automatiques hors SLA"), default=True, db_default=True)
    # Settings > Organization: a PNG/JPEG/GIF/WebP checked by its signature (lumiodesk.organizations.validate_logo).
    logo = models.FileField(_("logo"), upload_to="logos/", blank=True)
    # Security policy (Admins): members without 2FA are sent to set it up at their next sign-in
    # (lumiodesk.two_factor).
    two_factor_required = models.BooleanField(
        _("double authentification obligatoire"), default=False, db_default=False
    )
    last_ticket_number = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(first_followup_days__lt=models.F("second_followup_days"))
                & models.Q(second_followup_days__lt=models.F("close_waiting_days")),
                name="organization_followups_in_order",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MANAGER = "manager", _("Manager")
    AGENT = "agent", _("Agent")
    VIEWER = "viewer", _("Lecteur")


class Membership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("rôle"), max_length=16, choices=Role.choices, default=Role.AGENT)
    is_active = models.BooleanField(_("actif"), default=True)
    # "Absent" (lumiodesk.presence): set by the member themselves; no ticket is assigned to them by availability
    # (tickets.assignment) until they clear it, whether or not they have the console open.
    is_absent = models.BooleanField(_("absent"), default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membre")
        verbose_name_plural = _("membres")
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user_per_org"),
        ]
        indexes = [models.Index(fields=["user", "is_active"], name="membership_user_active_idx")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"

    # What a role may do is in lumiodesk.permissions (CAPABILITIES), not here.


class Team(models.Model):
    """A team of the organization's members (Settings > Équipes): "Niveau 1", "Facturation"... A member may be in
    several. The dashboard's per-team figures and the ticket list's ``team`` filter read it (``lumiodesk.teams``).

    Not to be confused with Settings > Membres (``lumiodesk.team``: everyone in the organization). Only active
    memberships count: a deactivated member keeps their rows (back in their teams if reactivated) but drops out of
    every count and filter.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("nom"), max_length=80)
    description = models.CharField(_("description"), max_length=300, blank=True)
    members = models.ManyToManyField(Membership, through="TeamMember", related_name="teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("équipe")
        verbose_name_plural = _("équipes")
        constraints = [
            # One "Facturation" per organization, whatever the case (also the index of the organization's list).
            models.UniqueConstraint("organization", models.functions.Lower("name"), name="team_unique_name_per_org"),
            models.CheckConstraint(condition=~models.Q(name=""), name="team_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    """A membership in a team. ``organization`` is the team's and the membership's (``lumiodesk.teams`` checks it):
    the filters read an organization's rows by it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="links")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="team_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membre d'une équipe")
        verbose_name_plural = _("membres des équipes")
        constraints = [models.UniqueConstraint(fields=["team", "membership"], name="teammember_once_per_team")]
        indexes = [models.Index(fields=["organization", "team"], name="teammember_org_team_idx")]

    def __str__(self) -> str:
        return f"{self.membership_id} in {self.team_id}"


class AuditLog(models.Model):
    """Who did what, kept per plan (30/180/365 days, section 10)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32)
    target_id = models.BigIntegerField(null=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)  # the request's (lumiodesk.audit binds it)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)

    class Meta:
        verbose_name = _("entrée du journal d'audit")
        verbose_name_plural = _("journal d'audit")
        indexes = [
            models.Index(fields=["organization", "target_type", "target_id", "created_at"], name="audit_target_idx"),
            models.Index(fields=["organization", "created_at"], name="audit_org_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}#{self.target_id}"


class UnverifiedEmail(models.Model):
    """A user who signed up and has not opened the verification link yet: they cannot sign in.

    No row means verified: every account that existed before sign-up (seeded, invited, created in /admin/)
    counts as verified without a data migration. Verifying deletes the row.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("adresse email non vérifiée")
        verbose_name_plural = _("adresses email non vérifiées")

    def __str__(self) -> str:
        return str(self.user_id)


class Invitation(models.Model):
    """An invitation to join an organization (Settings > Team): a single-use link valid 7 days.

    Only the link's SHA-256 is stored. Resending replaces the token (the old link stops working).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(_("email"))
    role = models.CharField(_("rôle"), max_length=16, choices=Role.choices, default=Role.AGENT)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        indexes = [models.Index(fields=["organization", "-created_at"], name="invitation_org_idx")]
        constraints = [
            # One pending invitation per address and organization (resend it rather than invite twice).
            models.UniqueConstraint(
                "organization", models.functions.Lower("email"), name="invitation_one_pending_per_email",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.organization_id}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None


# --- agent notifications (section 17): the mechanism every app uses ------------------------------------------


class AgentNotification(models.Model):
    """One thing an agent is told, in the notification center and/or by email (their preference).

    ``dedup_key`` names the event (``mention:<message id>``, ``sla:<alert id>``): the same event never
    notifies the same person twice, however often the task that creates it runs.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_notifications"
    )
    kind = models.CharField(max_length=20)  # registered by the app that owns it (lumiodesk.notifications)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    dedup_key = models.CharField(max_length=200)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=False)
    emailed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("notification agent")
        verbose_name_plural = _("notifications agents")
        constraints = [
            models.UniqueConstraint(fields=["recipient", "dedup_key"], name="agentnotif_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["organization", "recipient", "-created_at"], name="agentnotif_list_idx"),
            # The bell: unread in-app notifications of one person, counted every 20 s.
            models.Index(
                fields=["organization", "recipient"], name="agentnotif_unread_idx",
                condition=models.Q(read_at__isnull=True, in_app=True),
            ),
            models.Index(
                fields=["created_at"], name="agentnotif_unsent_idx",
                condition=models.Q(email=True, emailed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """How one person wants one kind of notification; no row means the kind's default."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)  # a registered kind (lumiodesk.notifications)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("préférence de notification")
        verbose_name_plural = _("préférences de notification")
        constraints = [
            models.UniqueConstraint(fields=["organization", "user", "kind"], name="notifpref_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: in_app={self.in_app} email={self.email}"


# --- the business calendar (lumiodesk.calendar) ---------------------------------------------------------


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Lundi")
    TUESDAY = 1, _("Mardi")
    WEDNESDAY = 2, _("Mercredi")
    THURSDAY = 3, _("Jeudi")
    FRIDAY = 4, _("Vendredi")
    SATURDAY = 5, _("Samedi")
    SUNDAY = 6, _("Dimanche")


MIDNIGHT = time(0, 0)


class BusinessHours(models.Model):
    """One weekday's opening hours, in the organization's time zone. ``closes`` 00:00 means midnight
    (end of the day). Every organization has the seven rows (created with it)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField(_("jour"), choices=Weekday.choices)
    is_open = models.BooleanField(_("ouvert"), default=True)
    opens = models.TimeField(_("ouverture"), default=time(9, 0))
    closes = models.TimeField(_("fermeture"), default=time(18, 0))

    class Meta:
        db_table = "sla_businesshours"  # moved from sla (state only): the table kept its name
        verbose_name = _("horaires d'ouverture")
        verbose_name_plural = _("horaires d'ouverture")
        ordering = ["weekday"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "weekday"], name="businesshours_one_per_weekday"),
            models.CheckConstraint(condition=models.Q(weekday__gte=0, weekday__lte=6), name="businesshours_weekday"),
            models.CheckConstraint(
                condition=models.Q(is_open=False) | models.Q(closes__gt=models.F("opens")) | models.Q(closes=MIDNIGHT),
                name="businesshours_closes_after_opens",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}" if self.is_open else "-"

    @property
    def interval(self) -> tuple[int, int] | None:
        """(opens, closes) in minutes after midnight, or None when closed."""
        if not self.is_open:
            return None
        closes = 1440 if self.closes == MIDNIGHT else self.closes.hour * 60 + self.closes.minute
        return self.opens.hour * 60 + self.opens.minute, closes


class Holiday(models.Model):
    """A whole local day off: no business time on that date."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    date = models.DateField(_("date"))
    name = models.CharField(_("nom"), max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "sla_holiday"  # moved from sla (state only): the table kept its name
        verbose_name = _("jour férié")
        verbose_name_plural = _("jours fériés")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["organization", "date"], name="holiday_one_per_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


# --- SAML sign-in per organization (lumiodesk.sso): its models live in their own module ------------------------

from .sso.models import SsoConfig, UsedSamlAssertion  # noqa: E402, F401
