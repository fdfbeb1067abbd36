"""One JSON shape for every error of the API: ``{"error": {"code": "...", "message": "..."}}``.

Domain errors of the services keep their status and message (translated by ``Accept-Language``); DRF's own
errors (bad JSON, a missing key, a wrong method) and Django's 404 are put in the same shape.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from kb.services import NotADraft
from lumiodesk.exceptions import (
    DomainError,
    FeatureNotAvailable,
    InvalidInput,
    NotPermitted,
    OrganizationReadOnly,
    PlanLimitReached,
    TransitionNotAllowed,
)


class ApiError(exceptions.APIException):
    """An error the API itself raises, with its code."""

    def __init__(self, code: str, message: str, status_code: int = 400, headers: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.status_code, self.headers = code, message, status_code, headers or {}


def error_body(code: str, message: str, details=None) -> dict:
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


_DOMAIN_CODES: list[tuple[type, str]] = [
    (OrganizationReadOnly, "organization_read_only"),
    (NotPermitted, "forbidden"),
    (FeatureNotAvailable, "plan_excludes_feature"),
    (PlanLimitReached, "plan_limit_reached"),
    (TransitionNotAllowed, "transition_not_allowed"),
    (InvalidInput, "invalid_input"),
    (NotADraft, "not_a_draft"),
]


def _domain(exc: DomainError) -> Response:
    code = next((c for cls, c in _DOMAIN_CODES if isinstance(exc, cls)), "refused")
    return Response(error_body(code, exc.message), status=exc.status_code)


def exception_handler(exc, context) -> Response | None:
    if isinstance(exc, ApiError):
        return Response(error_body(exc.code, exc.message), status=exc.status_code, headers=exc.headers)
    if isinstance(exc, DomainError):
        return _domain(exc)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", _("Introuvable dans votre organisation.")), status=404)
    if isinstance(exc, PermissionDenied):
        return Response(error_body("forbidden", _("Votre rôle ne permet pas cette action.")), status=403)
    if isinstance(exc, exceptions.ValidationError):
        return Response(error_body("invalid_input", _("Données invalides."), exc.detail), status=400)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        message = str(exc.detail) if isinstance(exc, exceptions.AuthenticationFailed) else _(
            "Authentification requise : en-tête « Authorization: Bearer <clé> »."
        )
        return Response(error_body("unauthorized", message), status=401, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response(error_body("method_not_allowed", _("Méthode non permise.")), status=405)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response(error_body("unsupported_media_type", _("Envoyez du JSON (Content-Type: application/json).")),
                        status=415)
    if isinstance(exc, exceptions.NotAcceptable):
        return Response(error_body("not_acceptable", _("Cette API répond en JSON.")), status=406)
    if isinstance(exc, exceptions.ParseError):
        return Response(error_body("invalid_json", _("Le corps de la requête n'est pas un JSON valide.")), status=400)
    if isinstance(exc, exceptions.APIException):
        return Response(error_body(exc.default_code, str(exc.detail)), status=exc.status_code)
    return None  # a bug: Django's 500


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """This API speaks JSON only: it answers JSON whatever the Accept header or a ``?format=`` parameter say,
    instead of a 406 that no client can do anything with (request bodies are still checked: 415)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
