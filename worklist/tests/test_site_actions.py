"""The site's actions on a received exam: messages with the reader, call me, cancel, images incomplete."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from core.exceptions import ApplicationError
from core.models import AuditEvent, Notification
from worklist import services
from worklist.models import Exam, ExamMessage
from worklist.selectors import exam_worklist_for_user
from worklist.services import NotPermitted, exam_claim
from worklist.tests.factories import ExamFactory


@pytest.fixture
def reading(site_a, radiologist_a):
    radiologist_a.radiologist.mobile_phone = "06 12 34 56 78"
    radiologist_a.radiologist.save()
    exam = ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a)
    return exam_claim(exam=exam, by=radiologist_a)


def test_the_site_and_the_reader_exchange_messages(client, reading, merm_a, radiologist_a):
    client.force_login(merm_a)
    client.post(reverse("exam_message_post", args=[reading.pk]), {"text": "Patient agité, série artefactée."})
    assert Notification.objects.filter(user=radiologist_a, text__contains="Message du site").exists()
    client.force_login(radiologist_a)
    panel = client.get(reverse("report_panel", args=[reading.pk])).content.decode()
    assert "Patient agité, série artefactée." in panel
    client.post(reverse("exam_message_post", args=[reading.pk]), {"text": "Refaire la série <b>axiale</b>."})
    assert Notification.objects.filter(user=merm_a, text__contains="Message du radiologue").exists()
    client.force_login(merm_a)
    panel = client.get(reverse("report_panel", args=[reading.pk])).content.decode()
    assert "Refaire la série &lt;b&gt;axiale&lt;/b&gt;." in panel
    assert ExamMessage.objects.filter(exam=reading).count() == 2


def test_call_me_shows_the_readers_number_to_the_site_only_while_they_hold_the_exam(
    client, reading, merm_a, radiologist_a
):
    client.force_login(merm_a)
    panel = client.get(reverse("report_panel", args=[reading.pk])).content.decode()
    assert "06 12 34 56 78" in panel
    client.force_login(radiologist_a)
    assert "06 12 34 56 78" not in client.get(reverse("report_panel", args=[reading.pk])).content.decode()
    services.exam_release(exam=reading, by=radiologist_a)
    client.force_login(merm_a)
    assert "06 12 34 56 78" not in client.get(reverse("report_panel", args=[reading.pk])).content.decode()


def test_a_merm_of_another_site_cannot_post_or_read(client, reading, merm_b):
    client.force_login(merm_b)
    assert client.post(reverse("exam_message_post", args=[reading.pk]), {"text": "x"}).status_code == 404
    assert client.get(reverse("report_panel", args=[reading.pk])).status_code == 404
    assert not ExamMessage.objects.exists()


def test_the_site_cancels_with_a_reason_and_the_reader_is_told(reading, merm_a, radiologist_a):
    with pytest.raises(ApplicationError):
        services.exam_cancel(exam=reading, by=merm_a, reason=" ")
    with pytest.raises(NotPermitted):
        services.exam_cancel(exam=reading, by=radiologist_a, reason="Mauvais patient")
    services.exam_cancel(exam=reading, by=merm_a, reason="Mauvais patient")
    reading.refresh_from_db()
    assert reading.status == "CANCELLED"
    assert Notification.objects.filter(user=radiologist_a, text__contains="annulé").exists()
    assert AuditEvent.objects.filter(action="exam.cancel", user=merm_a).exists()


def test_images_incomplete_leave_the_worklist_until_an_image_arrives(client, site_a, merm_a, radiologist_a):
    exam = ExamFactory(site=site_a, status="READY", last_instance_at=timezone.now() - datetime.timedelta(minutes=5))
    assert exam in exam_worklist_for_user(user=radiologist_a)
    client.force_login(merm_a)
    client.post(reverse("exam_images_incomplete", args=[exam.pk]))
    exam.refresh_from_db()
    assert exam.images_incomplete_at is not None
    assert exam not in exam_worklist_for_user(user=radiologist_a)
    # What the gateway does with the next image: last_instance_at moves on.
    Exam.objects.filter(pk=exam.pk).update(last_instance_at=timezone.now() + datetime.timedelta(seconds=1))
    assert exam in exam_worklist_for_user(user=radiologist_a)
