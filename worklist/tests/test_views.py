import pytest

from core.models import AuditEvent
from core.templatetags.dicom import person_name
from worklist.tests.factories import ExamFactory


@pytest.mark.django_db
def test_the_exam_list_shows_only_the_users_sites(client, radiologist_a, exam_a, exam_b):
    client.force_login(radiologist_a)
    response = client.get("/exams/")
    body = response.content.decode()
    assert person_name(exam_a.patient_name) in body
    assert person_name(exam_b.patient_name) not in body


@pytest.mark.django_db
def test_the_exam_list_is_audited(client, merm_a, exam_a):
    client.force_login(merm_a)
    client.get("/exams/", {"status": "READY"})
    event = AuditEvent.objects.get(action="exam.list")
    assert event.user == merm_a
    assert event.detail["filters"] == {"status": "READY"}
    assert event.ip_address == "127.0.0.1"


@pytest.mark.django_db
def test_the_exam_list_filters_by_status(client, merm_a, site_a):
    ExamFactory(site=site_a, status="READY", patient_name="READY^ONE")
    ExamFactory(site=site_a, status="ASSIGNED", patient_name="ASSIGNED^TWO")
    client.force_login(merm_a)
    body = client.get("/exams/", {"status": "ASSIGNED"}).content.decode()
    assert "ASSIGNED TWO" in body
    assert "READY ONE" not in body


@pytest.mark.django_db
def test_the_exam_list_ignores_a_site_filter_outside_the_users_sites(client, merm_a, exam_a, exam_b):
    client.force_login(merm_a)
    body = client.get("/exams/", {"site": exam_b.site_id}).content.decode()
    assert person_name(exam_b.patient_name) not in body


@pytest.mark.django_db
def test_the_exam_page_is_audited(client, radiologist_a, exam_a):
    client.force_login(radiologist_a)
    response = client.get(f"/exams/{exam_a.pk}/")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="exam.view")
    assert (event.user, event.object_type, event.object_id) == (radiologist_a, "worklist.exam", str(exam_a.pk))


@pytest.mark.django_db
def test_an_exam_of_another_ght_is_not_found(client, radiologist_a, exam_b):
    client.force_login(radiologist_a)
    assert client.get(f"/exams/{exam_b.pk}/").status_code == 404
    assert not AuditEvent.objects.filter(action="exam.view").exists()


@pytest.mark.django_db
def test_a_radiologist_whose_credential_expired_no_longer_sees_the_site(client, radiologist_a, exam_a):
    import datetime

    credential = radiologist_a.radiologist.credentials.get()
    credential.valid_until = datetime.date.today() - datetime.timedelta(days=1)
    credential.valid_from = credential.valid_until - datetime.timedelta(days=10)
    credential.save()
    client.force_login(radiologist_a)
    assert client.get(f"/exams/{exam_a.pk}/").status_code == 404


@pytest.mark.django_db
def test_patient_names_are_escaped(client, merm_a, site_a):
    exam = ExamFactory(site=site_a, patient_name="<script>alert(1)</script>")
    client.force_login(merm_a)
    for url in ["/exams/", f"/exams/{exam.pk}/", "/board/"]:
        body = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url


@pytest.mark.django_db
def test_the_worklist_puts_urgent_exams_first(client, radiologist_a, site_a):
    ExamFactory(site=site_a, priority="STANDARD", patient_name="STANDARD^FIRST")
    ExamFactory(site=site_a, priority="VITAL", patient_name="VITAL^SECOND")
    ExamFactory(site=site_a, status="REPORTED", patient_name="REPORTED^DONE")
    client.force_login(radiologist_a)
    body = client.get("/worklist/").content.decode()
    assert body.index("VITAL SECOND") < body.index("STANDARD FIRST")
    assert "REPORTED DONE" not in body


@pytest.mark.django_db
def test_the_exam_page_shows_times_in_the_sites_zone(client, merm_a, site_a):
    import datetime

    site_a.timezone = "America/Cayenne"
    site_a.save()
    received = datetime.datetime(2026, 1, 15, 12, 0, tzinfo=datetime.UTC)
    exam = ExamFactory(site=site_a, received_at=received)
    client.force_login(merm_a)
    body = client.get(f"/exams/{exam.pk}/").content.decode()
    assert "15/01/2026 09:00" in body  # UTC−3


@pytest.mark.django_db
def test_the_worklist_announces_urgent_exams_still_receiving_but_not_the_others(client, radiologist_a, site_a):
    ExamFactory(
        site=site_a, status="RECEIVING", priority="URGENT", patient_name="URGENT^RECEIVING", number_of_instances=12
    )
    ExamFactory(site=site_a, status="RECEIVING", priority="STANDARD", patient_name="STANDARD^RECEIVING")
    client.force_login(radiologist_a)
    body = client.get("/worklist/").content.decode()
    assert "URGENT RECEIVING" in body
    assert "12 images reçues" in body
    assert "STANDARD RECEIVING" not in body


@pytest.mark.django_db
def test_a_late_series_is_shown_to_the_reader(client, radiologist_a, site_a):
    from django.utils import timezone

    exam = ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a, new_series_at=timezone.now())
    client.force_login(radiologist_a)
    assert "nouvelle série reçue" in client.get("/worklist/").content.decode()
    assert "Nouvelle série reçue le" in client.get(f"/exams/{exam.pk}/").content.decode()
