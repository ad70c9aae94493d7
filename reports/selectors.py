"""Reads of reports and templates, scoped through the exam (worklist.selectors)."""

from django.db.models import Q, QuerySet

from reports.models import Report, ReportTemplate
from sites.models import User
from worklist.models import Exam


def report_for_exam(*, exam: Exam) -> Report | None:
    """The exam's report with its addenda, or None. The caller has scoped ``exam``."""
    return Report.objects.filter(exam=exam).select_related("signed_by", "template").prefetch_related("addenda").first()


def report_template_list_for_user(*, user: User, exam: Exam) -> QuerySet[ReportTemplate]:
    """Active templates ``user`` may use on ``exam``: the GHT's and their own, matching its modality."""
    return (
        ReportTemplate.objects.filter(
            Q(owner__isnull=True) | Q(owner=user),
            ght_id=exam.site.ght_id,
            active=True,
        )
        .filter(Q(modality="") | Q(modality__iexact=exam.modality))
        .order_by("owner_id", "name")
    )
