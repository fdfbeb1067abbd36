"""The mailbox address verification link (``verification``).

GET ``/email/verify/<token>/`` keeps the token's hash in the session and redirects to ``/email/verify/``,
so the token is in one request line only and never in a page, a Referer or a form action. That clean
page shows the address and a button; the POST verifies. Opening the link spends nothing (mail scanners).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from lumiodesk.access import public
from lumiodesk.exceptions import DomainError

from . import verification

SESSION_KEY = "lumiodesk_mailbox_verification"


@public
@never_cache
@require_GET
def link(request: HttpRequest, token: str) -> HttpResponse:
    token_hash = verification.hash_token(token)
    if verification.find_pending_verification(token_hash=token_hash):  # an unknown token writes no session
        request.session[SESSION_KEY] = token_hash
    else:
        request.session.pop(SESSION_KEY, None)
    return redirect("mailbox_verification:confirm")


@public
@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest) -> HttpResponse:
    token_hash = request.session.get(SESSION_KEY, "")
    if request.method == "POST":
        try:
            mailbox = verification.verify_address(token_hash=token_hash)
        except DomainError as exc:
            return render(request, "email/verification_page.html", {"mailbox": None, "error": exc.message},
                          status=410 if isinstance(exc, verification.VerificationLinkInvalid) else 409)
        request.session.pop(SESSION_KEY, None)
        return render(request, "email/verification_page.html", {"mailbox": mailbox, "done": True})
    mailbox = verification.find_pending_verification(token_hash=token_hash)
    error = "" if mailbox else _("Ce lien de vérification n'est plus valable : il a déjà servi ou a expiré. "
                                 "Demandez-en un nouveau depuis les réglages de la boîte.")
    return render(request, "email/verification_page.html", {"mailbox": mailbox, "error": error},
                  status=200 if mailbox else 410)
