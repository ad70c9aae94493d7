"""Claim, release and the inactivity sweep: one reader at a time."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from core.models import AuditEvent
from core.services import audit_log
from sites.tests.factories import CredentialFactory, RadiologistFactory
from worklist.models import Exam, ExamEvent
from worklist.services import (
    AlreadyTaken,
    NotPermitted,
    TransitionNotAllowed,
    exam_claim,
    exam_release,
    exams_release_inactive,
)
from worklist.tests.factories import ExamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(site_a):
    rad = RadiologistFactory(user__ght=site_a.ght, user__username="colleague", user__last_name="Martin")
    CredentialFactory(radiologist=rad, site=site_a)
    return rad.user


@pytest.fixture
def mine(site_a, radiologist_a):
    return ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a)


def test_it_claims_an_exam_assigned_to_me(mine, radiologist_a):
    exam_claim(exam=mine, by=radiologist_a)
    mine.refresh_from_db()
    assert (mine.status, mine.assigned_to) == ("IN_READING", radiologist_a)
    event = ExamEvent.objects.get(exam=mine)
    assert (event.from_status, event.to_status, event.actor) == ("ASSIGNED", "IN_READING", radiologist_a)


def test_it_takes_and_claims_a_pool_exam_in_one_go(site_a, colleague):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    exam_claim(exam=exam, by=colleague)
    exam.refresh_from_db()
    assert (exam.status, exam.assigned_to, exam.in_pool) == ("IN_READING", colleague, False)
    assert list(ExamEvent.objects.filter(exam=exam).values_list("to_status", flat=True)) == ["ASSIGNED", "IN_READING"]


def test_it_resumes_my_exam_without_a_new_event(mine, radiologist_a):
    exam_claim(exam=mine, by=radiologist_a)
    exam_claim(exam=mine, by=radiologist_a)
    assert ExamEvent.objects.filter(exam=mine).count() == 1


def test_it_names_the_holder_to_a_second_claimer(mine, radiologist_a, colleague):
    exam_claim(exam=mine, by=radiologist_a)
    with pytest.raises(AlreadyTaken) as caught:
        exam_claim(exam=Exam.objects.get(pk=mine.pk), by=colleague)
    assert caught.value.message == f"Déjà pris par {radiologist_a}."
    assert caught.value.status_code == 409
    assert caught.value.extra["holder"] == str(radiologist_a)


def test_a_stale_pool_exam_taken_by_a_colleague_is_already_taken(site_a, radiologist_a, colleague):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    stale = Exam.objects.get(pk=exam.pk)
    exam_claim(exam=exam, by=colleague)
    with pytest.raises(AlreadyTaken, match="Déjà pris par Dr"):
        exam_claim(exam=stale, by=radiologist_a)


def test_only_a_credentialed_radiologist_may_claim(site_a, merm_a, radiologist_b):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    for by in (merm_a, radiologist_b):
        with pytest.raises(NotPermitted):
            exam_claim(exam=exam, by=by)


def test_a_reported_exam_cannot_be_claimed(site_a, radiologist_a):
    exam = ExamFactory(site=site_a, status="REPORTED")
    with pytest.raises(TransitionNotAllowed):
        exam_claim(exam=exam, by=radiologist_a)


def test_the_reader_releases_to_their_list_or_to_the_pool(mine, radiologist_a, colleague):
    exam_claim(exam=mine, by=radiologist_a)
    with pytest.raises(NotPermitted):
        exam_release(exam=mine, by=colleague)
    exam_release(exam=mine, by=radiologist_a, reason="appel du site")
    mine.refresh_from_db()
    assert (mine.status, mine.assigned_to) == ("ASSIGNED", radiologist_a)
    assert "appel du site" in ExamEvent.objects.filter(exam=mine).last().reason
    exam_claim(exam=mine, by=radiologist_a)
    exam_release(exam=mine, by=radiologist_a, reason="hors compétence", to_pool=True)
    mine.refresh_from_db()
    assert (mine.status, mine.assigned_to, mine.in_pool) == ("READY", None, True)


def _claimed(exam: Exam, minutes_ago: int) -> None:
    Exam.objects.filter(pk=exam.pk).update(
        status="IN_READING", status_changed_at=timezone.now() - datetime.timedelta(minutes=minutes_ago)
    )


def test_the_sweep_releases_exams_idle_past_the_limit(settings, site_a, radiologist_a):
    settings.READING_INACTIVITY_MINUTES = 30
    idle = ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a)
    fresh = ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a)
    viewed = ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a)
    _claimed(idle, 31)
    _claimed(fresh, 10)
    _claimed(viewed, 45)
    audit_log(action="exam.view", user=radiologist_a, obj=viewed)  # activity 0 min ago
    # Someone else looking at the idle exam is not its reader's activity.
    audit_log(action="exam.view", user=None, obj=idle)

    assert exams_release_inactive() == [idle.pk]
    assert exams_release_inactive() == []  # idempotent
    statuses = dict(Exam.objects.values_list("pk", "status"))
    assert (statuses[idle.pk], statuses[fresh.pk], statuses[viewed.pk]) == ("ASSIGNED", "IN_READING", "IN_READING")
    event = ExamEvent.objects.get(exam=idle)
    assert (event.kind, event.from_status, event.to_status, event.actor) == ("status", "IN_READING", "ASSIGNED", None)
    assert event.reason == "libéré automatiquement après 30 min d'inactivité"
    assert Exam.objects.get(pk=idle.pk).assigned_to == radiologist_a


def test_the_sweep_releases_an_exam_whose_last_activity_is_old(site_a, radiologist_a):
    exam = ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a)
    _claimed(exam, 90)
    audit_log(action="exam.view", user=radiologist_a, obj=exam)
    AuditEvent.objects.filter(object_id=str(exam.pk)).update(at=timezone.now() - datetime.timedelta(minutes=40))
    assert exams_release_inactive(minutes=30) == [exam.pk]


@pytest.mark.django_db(transaction=True)
def test_two_claimers_one_winner_100_times(site_a, radiologist_a, colleague):
    users = (radiologist_a, colleague)
    for run in range(100):
        exam = ExamFactory(site=site_a, status="READY", in_pool=True)
        barrier = threading.Barrier(2)
        results: dict[str, str] = {}

        def claim(user, exam_id=exam.pk, barrier=barrier, results=results):
            try:
                mine = Exam.objects.select_related("site").get(pk=exam_id)
                barrier.wait()
                exam_claim(exam=mine, by=user)
                results[user.username] = "won"
            except AlreadyTaken as exc:
                results[user.username] = exc.extra["holder"]
            finally:
                connection.close()

        threads = [threading.Thread(target=claim, args=(u,)) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        exam.refresh_from_db()
        winner = next((name for name, r in results.items() if r == "won"), None)
        assert sorted(results.values()) == sorted(["won", str(exam.assigned_to)]), f"run {run}: {results}"
        assert (exam.status, exam.assigned_to.username) == ("IN_READING", winner), f"run {run}"
        assert ExamEvent.objects.filter(exam=exam).count() == 2, f"run {run}"
