"""Reads of exams, always scoped to the user's sites."""

from django.db.models import QuerySet
from django.http import Http404

from sites.models import User
from sites.selectors import site_list_for_user
from worklist.models import Exam


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
