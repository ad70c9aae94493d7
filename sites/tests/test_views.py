import datetime

import pytest
from django.utils import timezone

from core.models import AuditEvent
from core.templatetags.dicom import person_name
from worklist.tests.factories import ExamFactory


@pytest.mark.django_db
def test_the_board_shows_todays_exams_of_the_merms_sites(client, merm_a, site_a, exam_b):
    recent = ExamFactory(site=site_a, patient_name="RECENT^EXAM")
    old_time = timezone.now() - datetime.timedelta(days=3)
    old = ExamFactory(site=site_a, patient_name="OLD^EXAM", received_at=old_time)
    type(old).objects.filter(pk=old.pk).update(status_changed_at=old_time)
    client.force_login(merm_a)
    body = client.get("/board/").content.decode()
    assert person_name(recent.patient_name) in body
    assert "OLD EXAM" not in body
    assert person_name(exam_b.patient_name) not in body
    assert site_a.name in body
    assert AuditEvent.objects.filter(action="exam.list", detail__page="site_board").exists()
