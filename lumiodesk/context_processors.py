from .permissions import Can


def workspace(request):
    membership = getattr(request, "membership", None)
    return {
        "organization": getattr(request, "organization", None),
        "membership": membership,
        "memberships": getattr(request, "memberships", []),
        # what the signed-in member may do: {% if can.rules_manage %} (lumiodesk.permissions.CAPABILITIES)
        "can": getattr(request, "can", None) or Can(None),
    }
