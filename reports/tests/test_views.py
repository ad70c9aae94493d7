"""The report editor pages through the test client (real PostgreSQL)."""

import datetime

import pytest
from django.urls import reverse

from core.models import AuditEvent
from reports.models import Report
from reports.tests.factories import ReportTemplateFactory
from worklist.services import exam_claim
from worklist.tests.factories import ExamFactory

SECTIONS = {
    "indication": "Céphalées brutales.",
    "technique": "Scanner cérébral sans injection.",
    "dose": "PDL total : 800 mGy·cm",
    "findings": "Pas d'hémorragie <script>alert(1)</script>.",
    "conclusion": "Pas d'anomalie aiguë.",
}


@pytest.fixture
def reading(site_a, radiologist_a):
    exam = ExamFactory(
        site=site_a, status="ASSIGNED", assigned_to=radiologist_a, patient_birth_date=datetime.date(1950, 3, 2)
    )
    return exam_claim(exam=exam, by=radiologist_a)


def _autosave(client, exam, revision, **values):
    data = {**SECTIONS, **values, "revision": revision}
    return client.post(reverse("report_autosave", args=[exam.pk]), data)


def test_the_holder_gets_an_editor_with_a_draft(client, reading, radiologist_a):
    client.force_login(radiologist_a)
    page = client.get(reverse("report_page", args=[reading.pk]))
    assert page.status_code == 200
    assert b'id="report-draft"' in page.content
    # Opening the editor writes nothing: the first save creates the draft, with what was shown.
    assert not Report.objects.filter(exam=reading).exists()
    assert AuditEvent.objects.filter(action="report.view", user=radiologist_a).exists()
    assert _autosave(client, reading, 0).status_code == 200
    assert Report.objects.get(exam=reading).author == radiologist_a


def test_autosave_survives_a_reload(client, reading, radiologist_a):
    client.force_login(radiologist_a)
    client.get(reverse("report_page", args=[reading.pk]))
    answer = _autosave(client, reading, 0)
    assert answer.status_code == 200
    assert answer.json()["revision"] == 1
    assert answer.json()["missing"] == []
    page = client.get(reverse("report_page", args=[reading.pk]))
    assert "Pas d&#x27;anomalie aiguë." in page.content.decode()
    # Escaped, never executed.
    assert "<script>alert(1)</script>" not in page.content.decode()


def test_a_stale_tab_gets_a_conflict_and_the_newer_text_stays(client, reading, radiologist_a):
    client.force_login(radiologist_a)
    client.get(reverse("report_page", args=[reading.pk]))
    _autosave(client, reading, 0, conclusion="Newer.")
    stale = _autosave(client, reading, 0, conclusion="Older.")
    assert stale.status_code == 409
    assert "rechargez" in stale.json()["message"]
    assert Report.objects.get(exam=reading).conclusion == "Newer."


def test_sign_with_password_then_the_page_is_frozen(client, reading, radiologist_a):
    client.force_login(radiologist_a)
    client.get(reverse("report_page", args=[reading.pk]))
    _autosave(client, reading, 0)
    wrong = client.post(reverse("report_sign", args=[reading.pk]), {"password": "nope", "revision": 1}, follow=True)
    assert "Mot de passe incorrect" in wrong.content.decode()
    signed = client.post(
        reverse("report_sign", args=[reading.pk]), {"password": "password", "revision": 1}, follow=True
    )
    body = signed.content.decode()
    assert 'data-testid="signed-report"' in body
    assert 'id="report-draft"' not in body
    assert radiologist_a.radiologist.rpps in body
    reading.refresh_from_db()
    assert reading.status == "REPORTED"
    # No path back into the text: autosave is refused.
    assert _autosave(client, reading, 2, conclusion="Changed.").status_code in (403, 409)
    assert Report.objects.get(exam=reading).conclusion == SECTIONS["conclusion"]


def test_signing_with_a_missing_part_names_it(client, reading, radiologist_a):
    client.force_login(radiologist_a)
    client.get(reverse("report_page", args=[reading.pk]))
    _autosave(client, reading, 0, conclusion="")
    page = client.post(reverse("report_sign", args=[reading.pk]), {"password": "password", "revision": 1}, follow=True)
    assert "à compléter : conclusion" in page.content.decode()
    assert not Report.objects.get(exam=reading).is_signed


def test_template_fills_empty_sections(client, reading, radiologist_a, site_a):
    template = ReportTemplateFactory(ght=site_a.ght, findings="Ligne médiane en place.")
    client.force_login(radiologist_a)
    client.get(reverse("report_page", args=[reading.pk]))
    client.post(reverse("report_apply_template", args=[reading.pk]), {"template": template.pk, "revision": 0})
    assert Report.objects.get(exam=reading).findings == "Ligne médiane en place."


def test_another_ght_template_cannot_be_applied(client, reading, radiologist_a, ght_b):
    foreign = ReportTemplateFactory(ght=ght_b)
    client.force_login(radiologist_a)
    client.get(reverse("report_page", args=[reading.pk]))
    client.post(reverse("report_apply_template", args=[reading.pk]), {"template": foreign.pk, "revision": 0})
    assert not Report.objects.filter(exam=reading, template__isnull=False).exists()


def test_addendum_after_signing(client, reading, radiologist_a):
    client.force_login(radiologist_a)
    client.get(reverse("report_page", args=[reading.pk]))
    _autosave(client, reading, 0)
    client.post(reverse("report_sign", args=[reading.pk]), {"password": "password", "revision": 1})
    page = client.post(
        reverse("report_addendum", args=[reading.pk]),
        {"text": "Complément : pas de fracture.", "password": "password"},
        follow=True,
    )
    assert 'data-testid="addendum"' in page.content.decode()
    assert Report.objects.get(exam=reading).addenda.count() == 1


def test_a_colleague_sees_the_draft_is_in_progress_but_not_its_text(client, reading, radiologist_a, site_a):
    from sites.tests.factories import CredentialFactory, RadiologistFactory

    colleague = RadiologistFactory(user__ght=site_a.ght)
    CredentialFactory(radiologist=colleague, site=site_a)
    client.force_login(radiologist_a)
    client.get(reverse("report_page", args=[reading.pk]))
    _autosave(client, reading, 0)
    client.force_login(colleague.user)
    page = client.get(reverse("report_page", args=[reading.pk]))
    assert 'data-testid="draft-in-progress"' in page.content.decode()
    assert "Céphalées" not in page.content.decode()
    assert _autosave(client, reading, 1, conclusion="Hijack.").status_code == 403


@pytest.mark.parametrize("name", ["report_page", "report_autosave", "report_sign", "report_addendum"])
def test_another_ght_gets_404_and_the_attempt_is_audited(client, reading, radiologist_a, radiologist_b, name):
    client.force_login(radiologist_a)
    client.get(reverse("report_page", args=[reading.pk]))
    client.force_login(radiologist_b)
    url = reverse(name, args=[reading.pk])
    answer = client.get(url) if name == "report_page" else client.post(url, {**SECTIONS, "revision": 0})
    assert answer.status_code == 404
    assert AuditEvent.objects.filter(action="exam.denied", user=radiologist_b).exists()


def test_the_reading_page_loads_the_editor_panel_and_forms_come_back_to_it(client, reading, radiologist_a):
    client.force_login(radiologist_a)
    page = client.get(reverse("exam_detail", args=[reading.pk]))
    assert reverse("report_panel", args=[reading.pk]) in page.content.decode()
    panel = client.get(reverse("report_panel", args=[reading.pk]))
    assert b'id="report-draft"' in panel.content
    assert f'name="next" value="{reverse("exam_detail", args=[reading.pk])}"'.encode() in panel.content
    _autosave(client, reading, 0)
    answer = client.post(
        reverse("report_sign", args=[reading.pk]),
        {"password": "password", "revision": 1, "next": reverse("exam_detail", args=[reading.pk])},
    )
    assert answer.url == reverse("exam_detail", args=[reading.pk])
    # An outside address is not followed.
    answer = client.post(
        reverse("report_addendum", args=[reading.pk]),
        {"text": "x", "password": "password", "next": "https://evil.example/"},
    )
    assert answer.url == reverse("report_page", args=[reading.pk])
