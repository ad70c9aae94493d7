"""DRF permission classes: they check the role only.

Which objects a user may touch is decided by the scoped selectors
(sites.selectors, worklist.selectors), never here, so that an object outside
the user's scope answers 404 rather than 403.
"""

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from sites.models import ADMIN_ROLES, Role

_ROLES = {role.value for role in Role}


def _is_staff_member(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and getattr(user, "role", None) in _ROLES)


class IsStaffMember(BasePermission):
    """Any authenticated, active account with a role (radiologist, MERM, admin)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _is_staff_member(request.user)


class IsAdminRole(BasePermission):
    """A GHT administrator or the platform administrator (writes on the organisation)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _is_staff_member(request.user) and request.user.role in ADMIN_ROLES


class IsPlatformAdmin(BasePermission):
    """The platform administrator only (creating or deleting a GHT)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _is_staff_member(request.user) and request.user.role == Role.PLATFORM_ADMIN
