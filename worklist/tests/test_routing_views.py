"""The exam page's routing block and timeline, the worklist's mine/pool, the action views and APIs."""

import datetime

import pytest
from rest_framework.test import APIClient

from core.models import Notification
from worklist.models import Exam, ExamEvent
from worklist.tests.factories import ExamFactory

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.force_login(user)
    return client


def test_the_worklist_shows_mine_then_the_pool_with_the_reason_and_deadline(client, radiologist_a, site_a):
    site_a.timezone = "America/Cayenne"
    site_a.save()
    ExamFactory(
        site=site_a,
        status="ASSIGNED",
        assigned_to=radiologist_a,
        patient_name="MINE^ONE",
        routing_reason="Dr X : de garde",
        deadline_at=datetime.datetime(2026, 1, 15, 12, 0, tzinfo=datetime.UTC),
    )
    ExamFactory(site=site_a, status="READY", in_pool=True, patient_name="POOL^TWO", priority="VITAL")
    ExamFactory(site=site_a, status="ASSIGNED", patient_name="OTHER^READER")
    client.force_login(radiologist_a)
    body = client.get("/worklist/").content.decode()
    assert body.index("MINE ONE") < body.index("POOL TWO")
    assert "OTHER READER" not in body
    assert 'title="Dr X : de garde"' in body
    assert "15/01/2026 09:00" in body  # the deadline in Cayenne time
    assert body.count(">Prendre<") == 1


def test_the_exam_page_shows_the_reason_deadline_timeline_and_the_actions(client, ght_admin_a, radiologist_a, site_a):
    exam = ExamFactory(
        site=site_a,
        status="ASSIGNED",
        assigned_to=radiologist_a,
        routing_reason="Dr X : de garde sur « Nuit »",
        deadline_at=datetime.datetime(2026, 1, 15, 12, 0, tzinfo=datetime.UTC),
    )
    ExamEvent.objects.create(
        exam=exam, kind="routed", from_status="READY", to_status="ASSIGNED", reason="parce que de garde"
    )
    client.force_login(ght_admin_a)
    body = client.get(f"/exams/{exam.pk}/").content.decode()
    assert "Dr X : de garde sur « Nuit »" in body
    assert "15/01/2026 13:00" in body  # Paris
    assert "orientation" in body and "parce que de garde" in body and "système" in body
    assert f'action="/exams/{exam.pk}/reassign/"' in body
    assert f'action="/exams/{exam.pk}/return-to-pool/"' in body
    assert f'action="/exams/{exam.pk}/take/"' not in body


def test_a_radiologist_takes_from_the_pool_on_the_page(client, radiologist_a, site_a):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    client.force_login(radiologist_a)
    response = client.post(f"/exams/{exam.pk}/take/", {"next": f"/exams/{exam.pk}/"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/exams/{exam.pk}/"
    assert "Examen pris" in response.content.decode()
    exam.refresh_from_db()
    assert exam.assigned_to == radiologist_a


def test_a_failed_action_says_why_in_french(client, merm_a, site_a):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    client.force_login(merm_a)
    response = client.post(f"/exams/{exam.pk}/take/", follow=True)
    assert "Seul un radiologue habilité" in response.content.decode()
    exam.refresh_from_db()
    assert exam.assigned_to is None


def test_the_next_parameter_cannot_leave_the_site(client, radiologist_a, site_a):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    client.force_login(radiologist_a)
    response = client.post(f"/exams/{exam.pk}/take/", {"next": "https://evil.example/"})
    assert response.url == "/worklist/"


def test_an_admin_reassigns_and_returns_to_pool_on_the_page(client, ght_admin_a, radiologist_a, site_a):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    client.force_login(ght_admin_a)
    client.post(f"/exams/{exam.pk}/reassign/", {"to": radiologist_a.pk, "reason": "renfort"})
    exam.refresh_from_db()
    assert exam.assigned_to == radiologist_a
    client.post(f"/exams/{exam.pk}/return-to-pool/", {"reason": "erreur"})
    exam.refresh_from_db()
    assert (exam.assigned_to, exam.in_pool) == (None, True)
    assert list(ExamEvent.objects.filter(exam=exam).values_list("kind", flat=True)) == ["reassigned", "pooled"]


def test_the_actions_are_not_found_outside_the_users_ght(client, radiologist_a, ght_admin_a, exam_b):
    for user in (radiologist_a, ght_admin_a):
        client.force_login(user)
        for action in ("take", "return-to-pool", "reassign"):
            assert client.post(f"/exams/{exam_b.pk}/{action}/", {"reason": "x"}).status_code == 404
            assert api(user).post(f"/api/v1/exams/{exam_b.pk}/{action}/", {"reason": "x"}).status_code == 404


def test_the_api_exposes_the_routing_fields_and_the_actions(radiologist_a, ght_admin_a, site_a):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True, routing_reason="personne de garde")
    data = api(radiologist_a).get(f"/api/v1/exams/{exam.pk}/").json()
    assert (data["routing_reason"], data["in_pool"], data["deadline_at"]) == ("personne de garde", True, None)

    taken = api(radiologist_a).post(f"/api/v1/exams/{exam.pk}/take/")
    assert taken.status_code == 200 and taken.json()["status"] == "ASSIGNED"
    again = api(radiologist_a).post(f"/api/v1/exams/{exam.pk}/take/")
    assert again.status_code == 409 and "message" in again.json()

    assert api(ght_admin_a).post(f"/api/v1/exams/{exam.pk}/return-to-pool/", {}).status_code == 400
    pooled = api(ght_admin_a).post(f"/api/v1/exams/{exam.pk}/return-to-pool/", {"reason": "surcharge"})
    assert pooled.status_code == 200 and pooled.json()["in_pool"] is True

    reassigned = api(ght_admin_a).post(
        f"/api/v1/exams/{exam.pk}/reassign/", {"to": radiologist_a.pk, "reason": "renfort"}
    )
    assert reassigned.status_code == 200 and reassigned.json()["assigned_to"] == radiologist_a.pk


def test_the_api_refuses_a_reassignment_to_a_radiologist_without_credential(ght_admin_a, radiologist_b, site_a):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    response = api(ght_admin_a).post(f"/api/v1/exams/{exam.pk}/reassign/", {"to": radiologist_b.pk, "reason": "x"})
    assert response.status_code == 400
    assert Exam.objects.get(pk=exam.pk).assigned_to is None


def test_a_radiologist_may_not_reassign_someone_elses_exam_through_the_api(radiologist_a, site_a):
    exam = ExamFactory(site=site_a, status="ASSIGNED")
    response = api(radiologist_a).post(f"/api/v1/exams/{exam.pk}/reassign/", {"to": radiologist_a.pk, "reason": "x"})
    assert response.status_code == 403


def test_the_notifications_page_lists_mine_and_marks_them_read(client, ght_admin_a, ght_admin_b):
    Notification.objects.create(user=ght_admin_a, text="Examen n° 1 dans le pool", link="/exams/1/")
    Notification.objects.create(user=ght_admin_b, text="SECRET B")
    client.force_login(ght_admin_a)
    body = client.get("/notifications/").content.decode()
    assert "Examen n° 1 dans le pool" in body and "SECRET B" not in body
    assert 'data-testid="notifications">Notifications <span class="badge unread"' in body
    client.post("/notifications/")
    assert not Notification.objects.filter(user=ght_admin_a, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=ght_admin_b, read_at__isnull=True).exists()
    assert 'class="badge unread"' not in client.get("/notifications/").content.decode()
