"""Domain errors raised by services; views turn them into a message or an HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule a service refuses. ``message`` is shown to the user."""

    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotPermitted(DomainError):
    """The actor may not do this (lumiodesk.permissions). Not Django's ``PermissionDenied``: views turn
    this one into a 403 in one place (``lumiodesk.access.requires``)."""

    status_code = 403


class OrganizationReadOnly(NotPermitted):
    """The organization is read-only (trial ended without a plan, or cancelled): the message says why."""


class TransitionNotAllowed(DomainError):
    status_code = 409


class InvalidInput(DomainError):
    status_code = 400


class FeatureNotAvailable(DomainError):
    status_code = 402


class PlanLimitReached(DomainError):
    status_code = 402
