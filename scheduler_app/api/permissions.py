from rest_framework.permissions import BasePermission


class IsStaff(BasePermission):
    """Admin-only scheduler endpoints: authenticated (else 401) and is_staff (else 403)."""

    message = "Staff only."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
