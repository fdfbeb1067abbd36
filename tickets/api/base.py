"""What every API view does before its handler, and to its answer.

Before: the key (401 without a valid one), the plan (403 naming it when the API is not included), the rate
limit (429), the key's role against the method's capability (403), a read-only organization's writes (403).
After: the ``X-RateLimit-*`` headers; on a read, an ``ETag`` of the body, and 304 for a matching
``If-None-Match``.
"""

from __future__ import annotations

import hashlib

from django.http import HttpResponseNotModified
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import NotAuthenticated
from rest_framework.views import APIView

from billing.catalogue import Feature
from billing.services import has_feature, plan_of
from lumiodesk import audit
from lumiodesk.permissions import ApiKeyActor, require

from . import keys, ratelimit
from .authentication import ApiKeyAuthentication
from .errors import ApiError, JsonOnlyNegotiation
from .models import ApiKey

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Retrying a POST with the same key answers the first answer and creates nothing twice.",
)


class ApiView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes: list = []
    content_negotiation_class = JsonOnlyNegotiation  # JSON whatever Accept or ?format= say, never a 406
    # method -> the capability the key's role needs (lumiodesk.permissions.CAPABILITIES)
    capabilities: dict[str, str] = {}

    actor: ApiKeyActor

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.api_key = True  # declared for tests/core/test_permissions.py: the key's role decides, by method
        view.api_capabilities = dict(cls.capabilities)
        return view

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.auth
        if not isinstance(key, ApiKey):
            raise NotAuthenticated()
        organization = key.organization
        if not has_feature(organization, Feature.API):
            raise ApiError("plan_excludes_api", _(
                "L'API REST n'est pas incluse dans le forfait %(plan)s : elle est disponible sur Business et Scale."
            ) % {"plan": plan_of(organization).name}, status_code=403)
        self.quota = ratelimit.hit(organization)
        if not self.quota.allowed:
            raise ApiError("rate_limited", _(
                "Limite de %(n)s requêtes par minute atteinte pour votre organisation : réessayez dans %(s)s s."
            ) % {"n": self.quota.limit, "s": self.quota.retry_after}, status_code=429, headers=self.quota.headers())
        self.organization = organization
        self.actor = keys.actor_of(key)
        self._audit_token = audit.bind_data(api_key=key.prefix)  # audit rows name the key (and its creator)
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        capability = self.capabilities.get(method)
        if capability is not None:  # the key's role (a read-only organization refuses the write capabilities)
            require(self.actor, capability, organization)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        quota = getattr(self, "quota", None)
        if quota is not None:
            for name, value in quota.headers().items():
                response[name] = value
        return response

    def dispatch(self, request, *args, **kwargs):
        self._audit_token = None
        try:
            response = super().dispatch(request, *args, **kwargs)
        finally:
            if self._audit_token is not None:
                audit.unbind_data(self._audit_token)
        if request.method in ("GET", "HEAD") and response.status_code == 200:
            response.render()
            etag = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
            response["ETag"] = etag
            wanted = [t.strip().removeprefix("W/") for t in request.headers.get("If-None-Match", "").split(",")]
            if etag in wanted or "*" in wanted:
                not_modified = HttpResponseNotModified()
                for name in ("ETag", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
                    if name in response:
                        not_modified[name] = response[name]
                return not_modified
        return response
