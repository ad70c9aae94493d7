import datetime

import pytest
from django.utils import timezone

from worklist.models import Exam, ExamEvent
from worklist.services import exam_ready, exams_mark_stable, exams_resend_unrouted
from worklist.tests.factories import ExamFactory


def _ago(seconds):
    return timezone.now() - datetime.timedelta(seconds=seconds)


@pytest.mark.django_db
def test_it_marks_quiet_exams_ready_and_queues_exam_ready(site_a, django_capture_on_commit_callbacks):
    quiet = ExamFactory(site=site_a, status="RECEIVING", last_instance_at=_ago(31))
    busy = ExamFactory(site=site_a, status="RECEIVING", last_instance_at=_ago(5))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        moved = exams_mark_stable(quiet_seconds=30)
    assert moved == [quiet.pk]
    quiet.refresh_from_db()
    busy.refresh_from_db()
    assert (quiet.status, busy.status) == ("READY", "RECEIVING")
    assert quiet.ready_at is not None
    assert ExamEvent.objects.get(exam=quiet, kind="status").to_status == "READY"
    # exam_ready ran eagerly (test settings): nobody is on duty, so the exam is in the pool.
    assert len(callbacks) == 1
    quiet.refresh_from_db()
    assert quiet.routed_at is not None and quiet.in_pool
    assert ExamEvent.objects.filter(exam=quiet, kind="pooled").exists()


@pytest.mark.django_db
def test_a_second_sweep_does_nothing(site_a):
    ExamFactory(site=site_a, status="RECEIVING", last_instance_at=_ago(60))
    assert len(exams_mark_stable(quiet_seconds=30)) == 1
    assert exams_mark_stable(quiet_seconds=30) == []
    assert ExamEvent.objects.filter(kind="status").count() == 1


@pytest.mark.django_db
def test_an_instance_arriving_during_the_sweep_keeps_the_exam_receiving(site_a):
    exam = ExamFactory(site=site_a, status="RECEIVING", last_instance_at=_ago(60))
    now = timezone.now()
    # The instance lands after the sweep computed its cut-off but before its UPDATE.
    Exam.objects.filter(pk=exam.pk).update(last_instance_at=now)
    assert exams_mark_stable(now=now, quiet_seconds=30) == []
    exam.refresh_from_db()
    assert exam.status == "RECEIVING"


@pytest.mark.django_db
def test_exam_ready_is_idempotent(site_a):
    exam = ExamFactory(site=site_a, status="READY", ready_at=_ago(1))
    assert exam_ready(exam_id=exam.pk) is True
    assert exam_ready(exam_id=exam.pk) is False
    assert exam_ready(exam_id=999_999) is False


@pytest.mark.django_db
def test_the_sweep_resends_exam_ready_for_exams_left_unrouted(site_a):
    lost = ExamFactory(site=site_a, status="READY", ready_at=_ago(120), routed_at=None)
    fresh = ExamFactory(site=site_a, status="READY", ready_at=_ago(5), routed_at=None)
    done = ExamFactory(site=site_a, status="READY", ready_at=_ago(120), routed_at=_ago(100))
    assert exams_resend_unrouted(grace_seconds=60) == [lost.pk]
    lost.refresh_from_db()
    assert lost.routed_at is not None  # eager task ran
    fresh.refresh_from_db()
    assert fresh.routed_at is None
    assert done.pk not in exams_resend_unrouted(grace_seconds=60)


@pytest.mark.django_db
def test_the_sweep_also_resends_ready_exams_without_a_ready_time(site_a):
    imported = ExamFactory(site=site_a, status="READY", ready_at=None, routed_at=None)
    assert exams_resend_unrouted(grace_seconds=60) == [imported.pk]
