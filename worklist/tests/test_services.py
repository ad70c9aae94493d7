import threading

import pytest
from django.db import connection

from worklist.models import Exam, ExamEvent
from worklist.services import StaleStatus, TransitionNotAllowed, exam_transition
from worklist.states import TRANSITIONS, Status
from worklist.tests.factories import ExamFactory


@pytest.mark.django_db
def test_it_moves_the_status_and_writes_an_event(radiologist_a, exam_a):
    exam_transition(exam=exam_a, to="ASSIGNED", by=radiologist_a, reason="garde", assigned_to=radiologist_a)
    exam_a.refresh_from_db()
    assert exam_a.status == "ASSIGNED"
    assert exam_a.assigned_to == radiologist_a
    event = ExamEvent.objects.get(exam=exam_a)
    assert (event.from_status, event.to_status, event.reason) == ("READY", "ASSIGNED", "garde")
    assert event.actor == radiologist_a


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("old", "new"),
    [(o, n) for o in Status for n in Status if n not in TRANSITIONS[o]],
)
def test_it_refuses_every_illegal_transition(site_a, old, new):
    exam = ExamFactory(site=site_a, status=old)
    with pytest.raises(TransitionNotAllowed):
        exam_transition(exam=exam, to=new)
    exam.refresh_from_db()
    assert exam.status == old
    assert not ExamEvent.objects.filter(exam=exam).exists()


@pytest.mark.django_db
def test_it_refuses_a_stale_status(exam_a):
    stale = Exam.objects.get(pk=exam_a.pk)
    exam_transition(exam=exam_a, to="ASSIGNED")
    with pytest.raises(StaleStatus):
        exam_transition(exam=stale, to="ASSIGNED")
    assert ExamEvent.objects.filter(exam=exam_a).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claimers_one_winner(site_a):
    exam = ExamFactory(site=site_a, status="READY")
    barrier = threading.Barrier(2)
    results: list[str] = []

    def claim():
        try:
            mine = Exam.objects.get(pk=exam.pk)
            barrier.wait()
            exam_transition(exam=mine, to="ASSIGNED")
            results.append("won")
        except StaleStatus:
            results.append("lost")
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost", "won"]
    assert ExamEvent.objects.filter(exam=exam).count() == 1
