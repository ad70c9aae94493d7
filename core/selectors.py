"""Cross-cutting reads: a user's notifications."""

from typing import Any

from django.db.models import QuerySet

from core.models import Notification


def notification_list_for_user(*, user: Any) -> QuerySet[Notification]:
    """The notifications of ``user`` only, newest first."""
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def notification_unread_count(*, user: Any) -> int:
    """How many unread notifications ``user`` has (served by notification_unread_idx)."""
    return notification_list_for_user(user=user).filter(read_at__isnull=True).count()
