"""Cross-cutting writes: the audit log and notifications."""

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from core.models import AuditEvent, Notification

logger = logging.getLogger(__name__)


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


def notify(*, users: Iterable[Any], text: str, link: str = "") -> list[Notification]:
    """Send ``text`` to each user: an in-app Notification, and an e-mail after commit.

    The e-mail goes through Django's mail settings to the users who have an
    address; a mail failure is logged and never undoes the notification (the
    in-app message is the record). Keep patient data out of ``text``: e-mail
    is not a secure channel.

    Args:
        users: the recipients (duplicates are notified once).
        text: the message (cut to 500 characters).
        link: a path in the application (the exam's page, say).

    Returns:
        The Notification rows created.
    """
    unique = {user.pk: user for user in users}.values()
    text = text[:500]
    rows = Notification.objects.bulk_create([Notification(user=user, text=text, link=link) for user in unique])
    recipients = [user.email for user in unique if user.email]
    if recipients:
        body = text + (f"\n\n{link}" if link else "")
        messages = [(text[:120], body, settings.DEFAULT_FROM_EMAIL, [address]) for address in recipients]

        def send() -> None:
            try:
                send_mass_mail(messages, fail_silently=False)
            except Exception:  # noqa: BLE001 - the in-app notification stands; retrying is the mail relay's job
                logger.exception("notification e-mail failed for %d recipient(s)", len(recipients))

        transaction.on_commit(send)
    return rows


def notification_mark_read(*, user: Any) -> int:
    """Mark every unread notification of ``user`` as read; returns how many."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
