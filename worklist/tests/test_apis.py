"""Exam API: scoped list and detail, filters, ordering, audit of every read."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEvent
from worklist.models import Priority
from worklist.tests.factories import ExamFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/exams/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_it_lists_only_the_exams_of_the_users_sites(radiologist_a, merm_a, exam_a, exam_b):
    assert ids(client_for(radiologist_a).get(LIST_URL)) == [exam_a.pk]
    assert ids(client_for(merm_a).get(LIST_URL)) == [exam_a.pk]


def test_it_lists_every_exam_to_the_platform_admin(platform_admin, exam_a, exam_b):
    assert set(ids(client_for(platform_admin).get(LIST_URL))) == {exam_a.pk, exam_b.pk}


def test_it_gives_the_fields_of_an_exam(radiologist_a, site_a):
    exam = ExamFactory(
        site=site_a,
        assigned_to=radiologist_a,
        patient_birth_date=datetime.date(1950, 3, 1),
        accession_number="ACC42",
        priority=Priority.URGENT,
    )
    item = client_for(radiologist_a).get(LIST_URL).json()["results"][0]
    assert item["id"] == exam.pk
    assert item["site"] == site_a.pk
    assert item["site_name"] == "CH Site A"
    assert item["assigned_to"] == radiologist_a.pk
    assert item["assigned_to_name"] == str(radiologist_a)
    assert item["patient_birth_date"] == "1950-03-01"
    assert (item["accession_number"], item["priority"], item["status"]) == ("ACC42", "URGENT", "READY")
    assert (item["number_of_series"], item["number_of_instances"]) == (1, 3)
    assert set(item) >= {
        "study_instance_uid",
        "patient_name",
        "patient_id",
        "patient_sex",
        "modality",
        "study_description",
        "body_part_examined",
        "received_at",
    }


def test_it_gives_a_null_assignee_for_an_unassigned_exam(radiologist_a, exam_a):
    item = client_for(radiologist_a).get(LIST_URL).json()["results"][0]
    assert (item["assigned_to"], item["assigned_to_name"]) == (None, None)


def test_it_filters_by_status_and_priority(radiologist_a, site_a):
    ready_urgent = ExamFactory(site=site_a, status="READY", priority=Priority.URGENT)
    ExamFactory(site=site_a, status="READY", priority=Priority.STANDARD)
    reported_urgent = ExamFactory(site=site_a, status="REPORTED", priority=Priority.URGENT)
    client = client_for(radiologist_a)
    assert set(ids(client.get(LIST_URL, {"priority": "URGENT"}))) == {ready_urgent.pk, reported_urgent.pk}
    assert ids(client.get(LIST_URL, {"priority": "URGENT", "status": "READY"})) == [ready_urgent.pk]
    assert len(ids(client.get(LIST_URL, {"status": ["READY", "REPORTED"]}))) == 3


def test_it_filters_by_site(ght_admin_a, site_a, ght_a):
    from sites.tests.factories import SiteFactory

    other_site = SiteFactory(ght=ght_a)
    exam = ExamFactory(site=site_a)
    ExamFactory(site=other_site)
    assert ids(client_for(ght_admin_a).get(LIST_URL, {"site": site_a.pk})) == [exam.pk]


def test_it_refuses_to_filter_on_another_ghts_site(merm_a, site_b, exam_b):
    response = client_for(merm_a).get(LIST_URL, {"site": site_b.pk})
    assert response.status_code == 400
    assert "site" in response.json()["extra"]["fields"]
    assert str(exam_b.pk) not in str(response.json()["extra"])


def test_it_filters_by_received_date_range(radiologist_a, site_a):
    now = timezone.now()
    old = ExamFactory(site=site_a, received_at=now - datetime.timedelta(days=3))
    recent = ExamFactory(site=site_a, received_at=now - datetime.timedelta(hours=1))
    client = client_for(radiologist_a)
    since = (now - datetime.timedelta(days=1)).isoformat()
    assert ids(client.get(LIST_URL, {"received_after": since})) == [recent.pk]
    assert ids(client.get(LIST_URL, {"received_before": since})) == [old.pk]


def test_it_rejects_invalid_filters_with_the_error_shape(radiologist_a):
    response = client_for(radiologist_a).get(LIST_URL, {"status": "LOST", "received_after": "hier"})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert {"status", "received_after"} <= set(body["extra"]["fields"])


def test_it_orders_by_priority_most_urgent_first(radiologist_a, site_a):
    standard = ExamFactory(site=site_a, priority=Priority.STANDARD)
    vital = ExamFactory(site=site_a, priority=Priority.VITAL)
    scheduled = ExamFactory(site=site_a, priority=Priority.SCHEDULED)
    urgent = ExamFactory(site=site_a, priority=Priority.URGENT)
    client = client_for(radiologist_a)
    assert ids(client.get(LIST_URL, {"ordering": "priority"})) == [vital.pk, urgent.pk, standard.pk, scheduled.pk]
    assert ids(client.get(LIST_URL, {"ordering": "-priority"})) == [scheduled.pk, standard.pk, urgent.pk, vital.pk]


def test_it_orders_newest_first_by_default_and_oldest_first_on_request(radiologist_a, site_a):
    now = timezone.now()
    older = ExamFactory(site=site_a, received_at=now - datetime.timedelta(hours=2))
    newer = ExamFactory(site=site_a, received_at=now - datetime.timedelta(hours=1))
    client = client_for(radiologist_a)
    assert ids(client.get(LIST_URL)) == [newer.pk, older.pk]
    assert ids(client.get(LIST_URL, {"ordering": "received_at"})) == [older.pk, newer.pk]


def test_it_audits_the_list_with_filters_and_count(radiologist_a, exam_a, exam_b):
    client_for(radiologist_a).get(LIST_URL, {"status": "READY", "ordering": "priority"}, REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.get(action="exam.list")
    assert event.user == radiologist_a
    assert event.ip_address == "10.1.2.3"
    assert event.detail["filters"] == {"status": ["READY"], "ordering": ["priority"]}
    assert event.detail["count"] == 1
    assert event.detail["exam_ids"] == [exam_a.pk]


def test_it_shows_an_exam_and_audits_the_view(radiologist_a, exam_a):
    response = client_for(radiologist_a).get(f"/api/v1/exams/{exam_a.pk}/")
    assert response.status_code == 200
    assert response.json()["study_instance_uid"] == exam_a.study_instance_uid
    event = AuditEvent.objects.get(action="exam.view")
    assert (event.user, event.object_type, event.object_id) == (radiologist_a, "worklist.exam", str(exam_a.pk))


@pytest.mark.parametrize("user_fixture", ["radiologist_b", "merm_b", "ght_admin_b"])
def test_it_answers_404_to_other_ghts_on_exam_detail_without_audit(request, user_fixture, exam_a):
    user = request.getfixturevalue(user_fixture)
    response = client_for(user).get(f"/api/v1/exams/{exam_a.pk}/")
    assert response.status_code == 404
    assert exam_a.patient_name not in response.content.decode()
    assert not AuditEvent.objects.filter(action="exam.view").exists()


def test_it_answers_404_to_a_radiologist_whose_credential_expired(radiologist_a, exam_a):
    radiologist_a.radiologist.credentials.update(valid_until=timezone.localdate() - datetime.timedelta(days=1))
    assert client_for(radiologist_a).get(f"/api/v1/exams/{exam_a.pk}/").status_code == 404
    assert ids(client_for(radiologist_a).get(LIST_URL)) == []


def test_it_refuses_exam_reads_to_anonymous_users(exam_a):
    assert APIClient().get(f"/api/v1/exams/{exam_a.pk}/").status_code == 403
    assert APIClient().get(LIST_URL).status_code == 403
    assert not AuditEvent.objects.exists()


def test_it_refuses_writes_on_exams(ght_admin_a, exam_a):
    client = client_for(ght_admin_a)
    assert client.patch(f"/api/v1/exams/{exam_a.pk}/", {"status": "CANCELLED"}, format="json").status_code == 405
    assert client.delete(f"/api/v1/exams/{exam_a.pk}/").status_code == 405
    exam_a.refresh_from_db()
    assert exam_a.status == "READY"


def test_it_reverses_the_exam_routes(exam_a):
    assert reverse("api:exam-list") == LIST_URL
    assert reverse("api:exam-detail", kwargs={"exam_id": exam_a.pk}) == f"/api/v1/exams/{exam_a.pk}/"


def test_it_claims_and_releases_through_the_api(site_a, radiologist_a):
    from sites.tests.factories import CredentialFactory, RadiologistFactory

    rad = RadiologistFactory(user__ght=site_a.ght, user__username="colleague")
    CredentialFactory(radiologist=rad, site=site_a)
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    url = reverse("api:exam-claim", kwargs={"exam_id": exam.pk})
    response = client_for(radiologist_a).post(url)
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["assigned_to"]) == ("IN_READING", radiologist_a.pk)
    assert AuditEvent.objects.filter(action="exam.claim", object_id=str(exam.pk)).exists()

    lost = client_for(rad.user).post(url)
    assert lost.status_code == 409
    assert lost.json() == {
        "message": f"Déjà pris par {radiologist_a}.",
        "extra": {"holder": str(radiologist_a), "holder_id": radiologist_a.pk, "status": "IN_READING"},
    }

    release = reverse("api:exam-release", kwargs={"exam_id": exam.pk})
    assert client_for(rad.user).post(release).status_code == 403
    response = client_for(radiologist_a).post(release, {"reason": "pause"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ASSIGNED"
