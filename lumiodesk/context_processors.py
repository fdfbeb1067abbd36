from django.utils.functional import SimpleLazyObject

from .permissions import Can, read_only_reason


def workspace(request):
    membership = getattr(request, "membership", None)
    return {
        "organization": getattr(request, "organization", None),
        "membership": membership,
        "memberships": getattr(request, "memberships", []),
        # what the signed-in member may do: {% if can.rules_manage %} (lumiodesk.permissions.CAPABILITIES)
        "can": getattr(request, "can", None) or Can(None),
        # why the organization is read-only (billing: trial ended, cancelled), for the console's banner
        "read_only_reason": SimpleLazyObject(lambda: read_only_reason(getattr(request, "organization", None)) or ""),
    }
