"""Reassign, return to pool, take from pool: who may, and one winner."""

import threading

import pytest
from django.db import connection

from core.exceptions import ApplicationError
from core.models import Notification
from sites.tests.factories import CredentialFactory, RadiologistFactory
from worklist.models import Exam, ExamEvent
from worklist.services import (
    NotPermitted,
    StaleStatus,
    exam_reassign,
    exam_return_to_pool,
    exam_take_from_pool,
)
from worklist.tests.factories import ExamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(site_a):
    rad = RadiologistFactory(user__ght=site_a.ght, user__username="colleague")
    CredentialFactory(radiologist=rad, site=site_a)
    return rad.user


@pytest.fixture
def mine(site_a, radiologist_a):
    return ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a, routing_level=1)


def test_a_ght_admin_reassigns_with_a_reason(mine, ght_admin_a, colleague):
    exam_reassign(exam=mine, to=colleague, by=ght_admin_a, reason="Dr absent")
    mine.refresh_from_db()
    assert (mine.status, mine.assigned_to, mine.routing_level, mine.in_pool) == ("ASSIGNED", colleague, None, False)
    event = ExamEvent.objects.get(exam=mine)
    assert (event.kind, event.actor) == ("reassigned", ght_admin_a)
    assert "Dr absent" in event.reason and str(colleague) in event.reason
    assert Notification.objects.filter(user=colleague).exists()


def test_the_current_reader_hands_over_even_while_reading(mine, radiologist_a, colleague):
    Exam.objects.filter(pk=mine.pk).update(status="IN_READING")
    mine.refresh_from_db()
    exam_reassign(exam=mine, to=colleague, by=radiologist_a, reason="relève")
    mine.refresh_from_db()
    assert (mine.status, mine.assigned_to) == ("ASSIGNED", colleague)


def test_another_radiologist_or_another_ghts_admin_may_not_reassign(mine, colleague, ght_admin_b):
    for by in (colleague, ght_admin_b):
        with pytest.raises(NotPermitted):
            exam_reassign(exam=mine, to=colleague, by=by, reason="x")
    mine.refresh_from_db()
    assert mine.assigned_to.username == "rad_a"


def test_the_target_must_be_credentialed_and_the_reason_given(mine, ght_admin_a, radiologist_b, colleague):
    with pytest.raises(ApplicationError, match="habilité"):
        exam_reassign(exam=mine, to=radiologist_b, by=ght_admin_a, reason="x")
    with pytest.raises(ApplicationError, match="motif"):
        exam_reassign(exam=mine, to=colleague, by=ght_admin_a, reason="  ")
    assert not ExamEvent.objects.exists()


def test_the_reader_returns_an_exam_to_the_pool_and_the_admins_are_told(mine, radiologist_a, ght_admin_a):
    exam_return_to_pool(exam=mine, by=radiologist_a, reason="hors de ma compétence")
    mine.refresh_from_db()
    assert (mine.status, mine.assigned_to, mine.in_pool) == ("READY", None, True)
    event = ExamEvent.objects.get(exam=mine)
    assert (event.kind, event.actor) == ("pooled", radiologist_a)
    assert Notification.objects.filter(user=ght_admin_a).exists()
    with pytest.raises(ApplicationError, match="déjà"):
        exam_return_to_pool(exam=mine, by=ght_admin_a, reason="x")


def test_a_credentialed_radiologist_takes_an_exam_from_the_pool(site_a, colleague):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    exam_take_from_pool(exam=exam, by=colleague)
    exam.refresh_from_db()
    assert (exam.status, exam.assigned_to, exam.in_pool) == ("ASSIGNED", colleague, False)
    assert exam.deadline_at is not None and exam.routed_at is not None
    assert ExamEvent.objects.get(exam=exam).kind == "reassigned"


def test_only_a_credentialed_radiologist_may_take(site_a, merm_a, ght_admin_a, radiologist_b):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    for by in (merm_a, ght_admin_a, radiologist_b):
        with pytest.raises(NotPermitted):
            exam_take_from_pool(exam=exam, by=by)


def test_an_assigned_exam_cannot_be_taken(mine, colleague):
    with pytest.raises(StaleStatus):
        exam_take_from_pool(exam=mine, by=colleague)


@pytest.mark.django_db(transaction=True)
def test_two_radiologists_taking_the_same_exam_one_wins(site_a, radiologist_a, colleague):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def take(user):
        try:
            mine = Exam.objects.select_related("site").get(pk=exam.pk)
            barrier.wait()
            exam_take_from_pool(exam=mine, by=user)
            results[user.username] = "won"
        except StaleStatus:
            results[user.username] = "lost"
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(u,)) for u in (radiologist_a, colleague)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == ["lost", "won"]
    exam.refresh_from_db()
    winner = next(name for name, r in results.items() if r == "won")
    assert exam.assigned_to.username == winner
    assert ExamEvent.objects.filter(exam=exam).count() == 1
