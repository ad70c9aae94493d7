"""Cross-cutting writes: the audit log."""

from typing import Any

from django.db import models
from django.http import HttpRequest

from core.models import AuditEvent


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted
    # proxy rewrites it, and an audit trail must not be spoofable.
    return request.META.get("REMOTE_ADDR") or None


def audit_log(
    *,
    action: str,
    user: Any = None,
    obj: models.Model | None = None,
    request: HttpRequest | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit log.

    Args:
        action: dotted verb, e.g. ``exam.view``, ``exam.list``, ``gateway.association_rejected``.
        user: the acting user (None for the system or an anonymous peer).
        obj: the object concerned, if any.
        request: the HTTP request, for the client address and browser.
        detail: small JSON-safe context (filters used, counts, AE title…).
    """
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    return AuditEvent.objects.create(
        action=action,
        user=user,
        username=user.get_username() if user is not None else "",
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        ip_address=_client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        detail=detail or {},
    )
