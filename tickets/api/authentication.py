"""``Authorization: Bearer <key>``: the organization's API key (``keys.authenticate``)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from lumiodesk.exceptions import NotPermitted
from lumiodesk.ratelimit import client_address

from . import keys


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Clé d'API invalide."))
        try:
            key = keys.authenticate(parts[1].decode("ascii", "replace"), ip_address=client_address(request))
        except NotPermitted as exc:
            raise AuthenticationFailed(exc.message) from None
        return (key.created_by, key)

    def authenticate_header(self, request) -> str:
        return "Bearer"



class ApiKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the key: an HTTP bearer token."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")
