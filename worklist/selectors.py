"""Reads of exams, always scoped to the user's sites."""

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import Http404

from sites.models import User
from sites.selectors import site_list_for_user
from worklist.models import PRIORITY_RANK, Exam, Priority
from worklist.states import OPEN, Status


def exam_list_for_user(*, user: User) -> QuerySet[Exam]:
    """Exams of the sites ``user`` may see (see sites.selectors.site_list_for_user)."""
    return Exam.objects.filter(site__in=site_list_for_user(user=user)).select_related(
        "site", "assigned_to", "source_modality"
    )


def exam_get_for_user(*, user: User, exam_id: int) -> Exam:
    """One exam if ``user`` may see it; Http404 otherwise (never 403: no leak of existence)."""
    try:
        return exam_list_for_user(user=user).get(pk=exam_id)
    except (Exam.DoesNotExist, ValueError, TypeError):
        raise Http404("Exam not found") from None


def exam_list_filtered(*, user: User, filters: dict) -> QuerySet[Exam]:
    """Scoped exams narrowed by the (already validated) filters of the exam list."""
    qs = exam_list_for_user(user=user)
    if filters.get("site"):
        qs = qs.filter(site=filters["site"])
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("priority"):
        qs = qs.filter(priority=filters["priority"])
    return qs


def exam_worklist_for_user(*, user: User) -> QuerySet[Exam]:
    """Open exams a radiologist may read, most urgent first, then oldest first.

    A placeholder for the real worklist (assignment, pools and deadlines come
    with routing): the GHT pool of the radiologist's credentialed sites. An
    exam still receiving appears only when urgent (announced at its first
    instance); the others wait until they are complete (READY).
    """
    rank = Case(*[When(priority=p, then=Value(r)) for p, r in PRIORITY_RANK.items()], output_field=IntegerField())
    urgent = [Priority.VITAL, Priority.URGENT]
    return (
        exam_list_for_user(user=user)
        .filter(status__in=[s.value for s in OPEN])
        .exclude(Q(status=Status.RECEIVING) & ~Q(priority__in=urgent))
        .annotate(priority_rank=rank)
        .order_by("priority_rank", "received_at", "id")
    )


def exam_board_for_user(*, user: User, since) -> QuerySet[Exam]:
    """Exams of the MERM's sites received or changed since ``since`` (today's board)."""
    return (
        exam_list_for_user(user=user)
        .filter(Q(received_at__gte=since) | Q(status_changed_at__gte=since))
        .order_by("-received_at", "-id")
    )
