"""Core periodic tasks."""

import logging

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task
def heartbeat() -> str:
    """Log that beat, the broker and a worker work together (visible in the run output)."""
    now = timezone.now().isoformat()
    logger.info("heartbeat %s", now)
    return now
