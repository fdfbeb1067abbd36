"""Settings > API: the organization's keys (name, role, prefix, last use), creating one (shown once), revoking."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing.catalogue import Feature, Limit
from billing.services import has_feature, limit_of, plan_of
from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError
from lumiodesk.models import Role

from . import keys
from .models import ApiKey


class KeyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Nom"), max_length=100)
    role = forms.ChoiceField(label=gettext_lazy("Rôle de la clé"), choices=Role.choices, initial=Role.AGENT)
    expires_on = forms.DateField(label=gettext_lazy("Expire le (facultatif)"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))


def _page(request: HttpRequest, form: KeyForm, *, new_token: str = "", status: int = 200) -> HttpResponse:
    org = request.organization
    included = has_feature(org, Feature.API)
    return render(request, "api/keys.html", {
        "form": form, "keys": keys.keys_of(org), "new_token": new_token, "included": included,
        "plan_name": plan_of(org).name, "per_minute": limit_of(org, Limit.API_REQUESTS_PER_MINUTE) if included else 0,
        "now": timezone.now(),
    }, status=status)


@requires("api.manage")
def api_keys(request: HttpRequest) -> HttpResponse:
    form = KeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        expires_on = form.cleaned_data["expires_on"]
        expires_at = (timezone.make_aware(datetime.combine(expires_on, time(23, 59, 59)))
                      if expires_on else None)
        try:
            created = keys.create_key(actor=request.actor, organization=request.organization,
                                      name=form.cleaned_data["name"], role=form.cleaned_data["role"],
                                      expires_at=expires_at)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            # Shown once, in this answer only: never stored, never put in the session or a redirect.
            return _page(request, KeyForm(), new_token=created.token)
    return _page(request, form, status=400 if request.method == "POST" else 200)


@requires("api.manage")
@require_POST
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=pk, organization=request.organization)
    keys.revoke_key(actor=request.actor, key=key)
    messages.success(request, _("La clé « %(name)s » est révoquée.") % {"name": key.name})
    return redirect("api_settings:keys")
