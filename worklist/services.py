"""Writes on exams. Only ``exam_transition`` changes ``Exam.status``."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError, ConflictError
from sites.models import User
from worklist.models import Exam, ExamEvent, ExamStatus
from worklist.states import Status, can_transition


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

    Returns:
        The exam with its new status.

    Raises:
        TransitionNotAllowed: the move is not in worklist.states.TRANSITIONS.
        StaleStatus: the exam's status is no longer ``exam.status``.
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
    changes: dict = {"status": new.value, "status_changed_at": now, "updated_at": now}
    if assigned_to is not ...:
        changes["assigned_to"] = assigned_to
    updated = Exam.objects.filter(pk=exam.pk, status=old.value).update(**changes)
    if updated != 1:
        raise StaleStatus(
            _("Cet examen a changé de statut entre-temps ; rechargez la page."),
            extra={"expected": old.value},
        )
    ExamEvent.objects.create(exam=exam, from_status=old.value, to_status=new.value, actor=by, reason=reason)
    exam.status = new.value
    exam.status_changed_at = now
    if assigned_to is not ...:
        exam.assigned_to = assigned_to
    return exam
