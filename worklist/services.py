"""Writes on exams. Only ``exam_transition`` changes ``Exam.status``."""

import datetime
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError, ConflictError
from sites.models import User
from worklist.models import Exam, ExamEvent, ExamStatus
from worklist.states import Status, can_transition

logger = logging.getLogger(__name__)


class TransitionNotAllowed(ApplicationError):
    """The lifecycle does not allow this move."""


class StaleStatus(ConflictError):
    """Someone else changed the exam's status first."""


@transaction.atomic
def exam_transition(
    *,
    exam: Exam,
    to: Status | str,
    by: User | None = None,
    reason: str = "",
    assigned_to: User | None | object = ...,
    only_if: Q | None = None,
    changes: dict[str, Any] | None = None,
) -> Exam:
    """Move ``exam`` to status ``to`` if the lifecycle allows it.

    The write is a compare-and-set on the status the caller saw, so two
    concurrent callers cannot both win; the loser gets StaleStatus.

    Args:
        exam: the exam as the caller last read it.
        to: the target status.
        by: the acting user (None for the system).
        reason: why, kept in the ExamEvent.
        assigned_to: if given, the new reader (or None to clear).
        only_if: an extra condition the row must still meet (part of the
            compare-and-set, e.g. "no instance since the cut-off").
        changes: other fields to write in the same UPDATE.

    Returns:
        The exam with its new status.

    Raises:
        TransitionNotAllowed: the move is not in worklist.states.TRANSITIONS.
        StaleStatus: the exam's status is no longer ``exam.status`` (or ``only_if`` failed).
    """
    old = Status(exam.status)
    new = Status(to)
    if not can_transition(old, new):
        labels = {"old": ExamStatus(old.value).label, "new": ExamStatus(new.value).label}
        raise TransitionNotAllowed(
            _("Passage de « %(old)s » à « %(new)s » impossible.") % labels,
            extra={"from": old.value, "to": new.value},
        )
    now = timezone.now()
    values: dict[str, Any] = {**(changes or {}), "status": new.value, "status_changed_at": now, "updated_at": now}
    if assigned_to is not ...:
        values["assigned_to"] = assigned_to
    rows = Exam.objects.filter(pk=exam.pk, status=old.value)
    if only_if is not None:
        rows = rows.filter(only_if)
    if rows.update(**values) != 1:
        raise StaleStatus(
            _("Cet examen a changé de statut entre-temps ; rechargez la page."),
            extra={"expected": old.value},
        )
    ExamEvent.objects.create(exam=exam, from_status=old.value, to_status=new.value, actor=by, reason=reason)
    for field, value in values.items():
        setattr(exam, field, value)
    return exam


def _send_exam_ready(exam_id: int) -> None:
    from worklist.tasks import exam_ready_task

    exam_ready_task.delay(exam_id)


def exams_mark_stable(*, now: datetime.datetime | None = None, quiet_seconds: float | None = None) -> list[int]:
    """Move to READY the exams that received no instance for the quiet period.

    Called by a beat sweep every second or so (no task per instance). The
    compare-and-set includes the cut-off, so an instance arriving meanwhile
    keeps the exam RECEIVING. ``exam_ready`` is queued after commit.

    Returns:
        The ids of the exams moved to READY.
    """
    now = now or timezone.now()
    quiet = settings.EXAM_QUIET_SECONDS if quiet_seconds is None else quiet_seconds
    cutoff = now - datetime.timedelta(seconds=quiet)
    moved: list[int] = []
    # Served by the partial index exam_receiving_idx.
    for exam in Exam.objects.filter(status=Status.RECEIVING, last_instance_at__lt=cutoff).order_by("last_instance_at")[
        :500
    ]:
        try:
            with transaction.atomic():
                exam_transition(
                    exam=exam,
                    to=Status.READY,
                    reason=_("Examen complet (aucune image depuis %(s)s s)") % {"s": int(quiet)},
                    only_if=Q(last_instance_at__lt=cutoff),
                    changes={"ready_at": now},
                )
                transaction.on_commit(lambda pk=exam.pk: _send_exam_ready(pk))
        except StaleStatus:
            continue
        moved.append(exam.pk)
    return moved


def exam_ready(*, exam_id: int) -> bool:
    """Hand a READY exam to its readers. Idempotent.

    Until routing lands (rotas-and-routing issue), a READY exam goes to its
    GHT's unassigned pool: every radiologist credentialed for the site sees it.

    Returns:
        True if this call routed the exam, False if there was nothing to do.
    """
    now = timezone.now()
    updated = Exam.objects.filter(pk=exam_id, status=Status.READY, routed_at__isnull=True).update(routed_at=now)
    if updated:
        logger.info("exam %s ready: placed in its GHT's pool", exam_id)
    return bool(updated)


def exams_resend_unrouted(*, now: datetime.datetime | None = None, grace_seconds: float = 60) -> list[int]:
    """Re-queue ``exam_ready`` for READY exams still unrouted after a grace period.

    The database is the source of truth: a lost message only delays.
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=grace_seconds)
    # Served by the partial index exam_unrouted_idx.
    ids = list(
        Exam.objects.filter(status=Status.READY, routed_at__isnull=True, ready_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    for pk in ids:
        _send_exam_ready(pk)
    return ids
