from django.utils.functional import SimpleLazyObject

from .permissions import Can, read_only_reason
from .two_factor import SESSION_KEY, SETUP, VERIFY


def workspace(request):
    membership = getattr(request, "membership", None)
    return {
        "organization": getattr(request, "organization", None),
        "membership": membership,
        "memberships": getattr(request, "memberships", []),
        # what the signed-in member may do: {% if can.rules_manage %} (lumiodesk.permissions.CAPABILITIES)
        "can": getattr(request, "can", None) or Can(None),
        # why the organization is read-only (billing: trial ended, cancelled), for the console's banner
        # a 2FA code or a 2FA set-up still due: the page shows no console navigation (nor its polling badges)
        "two_factor_pending": getattr(request, "session", {}).get(SESSION_KEY) in (VERIFY, SETUP),
        "read_only_reason": SimpleLazyObject(lambda: read_only_reason(getattr(request, "organization", None)) or ""),
    }
