"""The report API: FHIR R4 DiagnosticReport (validated with fhir.resources) and the PDF download, scoped and audited."""

import base64
import datetime

import pytest
from django.urls import reverse
from fhir.resources.diagnosticreport import DiagnosticReport
from rest_framework.test import APIClient

from core.models import AuditEvent
from reports.fhir import RPPS_SYSTEM
from reports.models import Report
from reports.tests.signed import TEXTS, signed_addendum, signed_report
from worklist.tests.factories import ExamFactory


@pytest.fixture
def report_a(site_a, radiologist_a):
    exam = ExamFactory(
        site=site_a,
        status="REPORTED",
        patient_name="LE GALL^Anne-Marie",
        patient_id="IPP-0042",
        issuer_of_patient_id="CHBREST",
        patient_birth_date=datetime.date(1950, 3, 2),
        study_datetime=datetime.datetime(2026, 3, 1, 22, 0, tzinfo=datetime.UTC),
    )
    return signed_report(exam=exam, signer=radiologist_a)


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def fhir_url(exam) -> str:
    return reverse("api:exam-report-fhir", kwargs={"exam_id": exam.pk})


def pdf_url(exam) -> str:
    return reverse("api:exam-report-pdf", kwargs={"exam_id": exam.pk})


def test_it_serves_a_valid_final_diagnostic_report(report_a, merm_a):
    response = api(merm_a).get(fhir_url(report_a.exam), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    data = response.json()
    resource = DiagnosticReport.model_validate(data)
    assert resource.status == "final"
    assert resource.conclusion == TEXTS["conclusion"]
    assert resource.issued.isoformat() == report_a.signed_at.isoformat(timespec="seconds")
    assert resource.subject.reference == "#patient"
    patient = next(r for r in data["contained"] if r["resourceType"] == "Patient")
    assert patient["identifier"][0]["value"] == "IPP-0042"
    assert patient["name"][0]["family"] == "LE GALL"
    assert patient["birthDate"] == "1950-03-02"
    [performer] = resource.performer
    assert (performer.identifier.system, performer.identifier.value) == (RPPS_SYSTEM, report_a.signer_rpps)
    [form] = resource.presentedForm
    assert form.contentType == "application/pdf"
    assert base64.b64decode(data["presentedForm"][0]["data"]).startswith(b"%PDF-")
    assert data["identifier"][0]["value"] == report_a.exam.accession_number

    event = AuditEvent.objects.get(action="report.fhir")
    assert (event.user, event.object_id) == (merm_a, str(report_a.pk))


def test_it_is_amended_once_an_addendum_is_signed(report_a, radiologist_a):
    addendum = signed_addendum(report=report_a, signer=radiologist_a)
    data = api(radiologist_a).get(fhir_url(report_a.exam), HTTP_ACCEPT="application/json").json()
    resource = DiagnosticReport.model_validate(data)
    assert resource.status == "amended"
    assert resource.issued.isoformat() == addendum.signed_at.isoformat(timespec="seconds")


def test_it_serves_the_pdf_as_an_attachment(report_a, merm_a):
    response = api(merm_a).get(pdf_url(report_a.exam))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="compte-rendu-{report_a.exam_id}.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content.startswith(b"%PDF-")
    assert b"LE GALL Anne-Marie" in response.content
    assert AuditEvent.objects.filter(action="report.pdf", user=merm_a, object_id=str(report_a.pk)).exists()


@pytest.mark.parametrize("url", [fhir_url, pdf_url], ids=["fhir", "pdf"])
def test_a_draft_or_no_report_is_not_found(url, site_a, radiologist_a, merm_a):
    exam = ExamFactory(site=site_a, status="IN_READING", assigned_to=radiologist_a)
    assert api(merm_a).get(url(exam)).status_code == 404
    Report.objects.create(exam=exam, author=radiologist_a, conclusion="Brouillon.")
    response = api(merm_a).get(url(exam))
    assert response.status_code == 404
    assert "Brouillon" not in response.content.decode()
    assert not AuditEvent.objects.filter(action__in=["report.pdf", "report.fhir"]).exists()


@pytest.mark.parametrize("url", [fhir_url, pdf_url], ids=["fhir", "pdf"])
def test_another_ghts_users_get_404(url, report_a, merm_b, radiologist_b):
    for user in (merm_b, radiologist_b):
        response = api(user).get(url(report_a.exam))
        assert response.status_code == 404
        assert b"LE GALL" not in response.content


@pytest.mark.parametrize("url", [fhir_url, pdf_url], ids=["fhir", "pdf"])
def test_anonymous_requests_are_refused(url, report_a):
    assert APIClient().get(url(report_a.exam)).status_code in (401, 403)
