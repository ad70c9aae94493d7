"""Reads of reports and templates, scoped through the exam (worklist.selectors)."""

from django.db.models import Q, QuerySet
from django.http import Http404

from reports.models import CriticalAlert, OpinionRequest, Report, ReportTemplate
from sites.models import Subspecialty, User
from sites.selectors import site_list_for_user
from worklist.models import Exam
from worklist.selectors import exam_list_for_user


def report_for_exam(*, exam: Exam) -> Report | None:
    """The exam's report with its addenda, or None. The caller has scoped ``exam``."""
    return (
        Report.objects.filter(exam=exam)
        .select_related("signed_by", "template", "critical_alert")
        .prefetch_related("addenda")
        .first()
    )


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


def critical_alert_list_open_for_user(*, user: User) -> QuerySet[CriticalAlert]:
    """Critical findings not yet acknowledged, of the sites ``user`` may see, oldest first."""
    return (
        CriticalAlert.objects.filter(acknowledged_at__isnull=True, report__exam__site__in=site_list_for_user(user=user))
        .select_related("report__exam__site", "report__signed_by")
        .order_by("created_at", "id")
    )


def critical_alert_get_for_user(*, user: User, alert_id: int) -> CriticalAlert:
    """One alert of the sites ``user`` may see; Http404 otherwise."""
    alert = (
        CriticalAlert.objects.filter(pk=alert_id, report__exam__site__in=site_list_for_user(user=user))
        .select_related("report__exam__site")
        .first()
    )
    if alert is None:
        raise Http404("Alert not found")
    return alert


def opinion_list_for_exam(*, exam: Exam) -> QuerySet[OpinionRequest]:
    """The opinion requests of an exam the caller has scoped, newest first."""
    return OpinionRequest.objects.filter(exam=exam).select_related("requested_by", "expert", "subspecialty")


def opinion_list_for_expert(*, user: User) -> QuerySet[OpinionRequest]:
    """Open requests for ``user``: addressed to them, or unassigned in their subspecialties at their sites."""
    subspecialties = Subspecialty.objects.filter(radiologist__user=user)
    return (
        OpinionRequest.objects.filter(status=OpinionRequest.Status.OPEN)
        .filter(Q(expert=user) | Q(expert__isnull=True, subspecialty__in=subspecialties))
        .filter(exam__site__in=site_list_for_user(user=user))
        .exclude(requested_by=user)
        .select_related("exam__site", "requested_by", "subspecialty")
        .order_by("deadline_at", "id")
    )


def opinion_get_for_user(*, user: User, opinion_id: int) -> OpinionRequest:
    """One request whose exam ``user`` may see; Http404 otherwise."""
    opinion = (
        OpinionRequest.objects.filter(pk=opinion_id, exam__in=exam_list_for_user(user=user))
        .select_related("exam__site", "requested_by", "expert", "subspecialty")
        .first()
    )
    if opinion is None:
        raise Http404("Opinion request not found")
    return opinion
