"""The reading page's priors, request panel, external viewer link and the viewer's image list.

Priors must never cross into a site the reader may not read for: radiologist A
(credential for site A only) never sees site B's exam of the same patient, and
opening it by URL is a 404 that is audited.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from dicom_gateway import statuses
from dicom_gateway.services import instance_receive
from dicom_gateway.simulator import build_study
from dicom_gateway.tests.dicom_factories import encode
from sites.tests.factories import CredentialFactory, ModalityFactory, RadiologistFactory
from worklist.models import Exam
from worklist.selectors import exam_priors_for_user
from worklist.tests.factories import ExamFactory, ExamRequestFactory

pytestmark = pytest.mark.django_db


def _days_ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


@pytest.fixture
def patient_exams(site_a, site_b):
    """One patient (PID777 of issuer CHA): today's exam and a prior at site A, a prior at site B."""
    same = {"patient_id": "PID777", "issuer_of_patient_id": "CHA", "patient_name": "PRIOR^Patient"}
    return {
        "current": ExamFactory(site=site_a, study_datetime=_days_ago(0), **same),
        "old_a": ExamFactory(site=site_a, study_datetime=_days_ago(400), study_description="Ancien A", **same),
        "recent_a": ExamFactory(site=site_a, study_datetime=_days_ago(30), study_description="Récent A", **same),
        "b": ExamFactory(site=site_b, study_datetime=_days_ago(10), study_description="BRAVOPRIOR", **same),
        # Same number, another issuer: another patient.
        "other_issuer": ExamFactory(
            site=site_a, study_datetime=_days_ago(5), patient_id="PID777", issuer_of_patient_id="CHX"
        ),
        "other_patient": ExamFactory(site=site_a, study_datetime=_days_ago(5), patient_id="PID778"),
    }


def test_priors_are_the_same_patient_in_the_readers_sites_newest_first(radiologist_a, patient_exams):
    priors = list(exam_priors_for_user(user=radiologist_a, exam=patient_exams["current"]))
    assert priors == [patient_exams["recent_a"], patient_exams["old_a"]]


def test_priors_include_another_site_only_with_a_credential_for_it(radiologist_a, site_b, patient_exams):
    CredentialFactory(radiologist=radiologist_a.radiologist, site=site_b)
    priors = list(exam_priors_for_user(user=radiologist_a, exam=patient_exams["current"]))
    assert priors == [patient_exams["b"], patient_exams["recent_a"], patient_exams["old_a"]]


def test_an_exam_without_patient_id_has_no_priors(radiologist_a, site_a):
    ExamFactory(site=site_a, patient_id="")
    assert not exam_priors_for_user(user=radiologist_a, exam=ExamFactory(site=site_a, patient_id="")).exists()


def test_the_reading_page_lists_priors_without_the_other_sites_one(client, radiologist_a, patient_exams):
    client.force_login(radiologist_a)
    body = client.get(reverse("exam_detail", args=[patient_exams["current"].pk])).content.decode()
    assert "Récent A" in body and "Ancien A" in body
    assert "BRAVOPRIOR" not in body
    assert body.index("Récent A") < body.index("Ancien A")
    assert reverse("exam_images", args=[patient_exams["recent_a"].pk]) in body


def test_opening_the_other_sites_prior_by_url_is_404_and_audited(client, radiologist_a, patient_exams):
    client.force_login(radiologist_a)
    other = patient_exams["b"]
    for url in (
        reverse("exam_detail", args=[other.pk]),
        reverse("exam_images", args=[other.pk]) + f"?prior_of={patient_exams['current'].pk}",
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert "BRAVOPRIOR" not in response.content.decode()
    denied = AuditEvent.objects.filter(action="exam.denied", user=radiologist_a)
    assert denied.count() == 2
    assert {e.detail["exam_id"] for e in denied} == {other.pk}
    assert not AuditEvent.objects.filter(action="exam.view", object_id=str(other.pk)).exists()


def test_priors_include_the_same_qualified_ins_under_another_patient_id(radiologist_a, site_a, merm_a):
    current = ExamFactory(site=site_a, patient_id="IPP-A", issuer_of_patient_id="CHA")
    other_id = ExamFactory(site=site_a, patient_id="IPP-B", issuer_of_patient_id="CHB", study_datetime=_days_ago(9))
    provisional = ExamFactory(site=site_a, patient_id="IPP-C", issuer_of_patient_id="CHC")
    ins = "255069999999934"
    for exam, status in ((current, "qualified"), (other_id, "qualified"), (provisional, "provisional")):
        ExamRequestFactory(site=site_a, created_by=merm_a, exam=exam, ins=ins, ins_status=status)
    assert list(exam_priors_for_user(user=radiologist_a, exam=current)) == [other_id]
    # A provisional INS on the current exam is not trusted either.
    assert list(exam_priors_for_user(user=radiologist_a, exam=provisional)) == []


def test_the_request_panel_shows_the_matched_request(client, radiologist_a, site_a, merm_a):
    exam = ExamFactory(site=site_a)
    ExamRequestFactory(
        site=site_a, created_by=merm_a, exam=exam, clinical_question="Céphalée brutale ?", match_confirmed=False
    )
    client.force_login(radiologist_a)
    body = client.get(reverse("exam_detail", args=[exam.pk])).content.decode()
    assert "Céphalée brutale ?" in body
    assert "Aucune demande associée." not in body
    assert "rapprochement à confirmer" in body


def test_the_request_panel_says_there_is_no_request_yet(client, radiologist_a, site_a):
    exam = ExamFactory(site=site_a, referring_physician_name="URGENCES^Médecin", study_description="TDM crâne")
    client.force_login(radiologist_a)
    body = client.get(reverse("exam_detail", args=[exam.pk])).content.decode()
    assert "Demande et question clinique" in body
    assert "Aucune demande associée." in body
    assert "URGENCES Médecin" in body
    assert "poste de garde" in body or not exam.site.duty_phone


def test_the_external_viewer_link_follows_the_setting(client, settings, radiologist_a, site_a):
    exam = ExamFactory(site=site_a)
    client.force_login(radiologist_a)
    settings.OHIF_VIEWER_URL_TEMPLATE = ""
    assert 'data-testid="external-viewer"' not in client.get(reverse("exam_detail", args=[exam.pk])).content.decode()
    settings.OHIF_VIEWER_URL_TEMPLATE = "https://ohif.example/viewer?StudyInstanceUIDs={study_instance_uid}"
    body = client.get(reverse("exam_detail", args=[exam.pk])).content.decode()
    assert f"https://ohif.example/viewer?StudyInstanceUIDs={exam.study_instance_uid}" in body


@pytest.fixture
def stored_study(settings, tmp_path, site_a):
    """A 5-image 64×64 CT study received at site A the way the gateway receives it."""
    settings.STORAGE_ROOT = tmp_path / "store"
    modality = ModalityFactory(site=site_a, ae_title="CT_VIEW")
    datasets = list(build_study("small", count=5, patient_id="PIDVIEW"))
    for ds in reversed(datasets):  # arrival order must not matter
        assert instance_receive(data=encode(ds), modality=modality).status == statuses.SUCCESS
    return Exam.objects.get(study_instance_uid=datasets[0].StudyInstanceUID), datasets


def test_the_image_list_gives_the_images_in_order_and_their_signed_url(client, radiologist_a, stored_study):
    exam, datasets = stored_study
    client.force_login(radiologist_a)
    data = client.get(reverse("exam_images", args=[exam.pk])).json()
    [series] = data["series"]
    assert series["instances"] == [ds.SOPInstanceUID for ds in datasets]
    assert series["images"].startswith("/viewer/images/")  # dicom_gateway/tests/test_viewer_images.py
    first = client.get(series["images"] + series["instances"][0])
    assert first.status_code == 200 and first["Content-Type"] == "application/dicom"
    assert b"".join(first.streaming_content) == encode(datasets[0])
    assert AuditEvent.objects.filter(action="exam.view", object_id=str(exam.pk), detail__page="viewer").exists()


def test_opening_a_prior_is_audited_like_opening_an_exam(client, radiologist_a, stored_study, site_a):
    exam, _ = stored_study
    current = ExamFactory(site=site_a, patient_id=exam.patient_id, issuer_of_patient_id=exam.issuer_of_patient_id)
    client.force_login(radiologist_a)
    response = client.get(reverse("exam_images", args=[exam.pk]), {"prior_of": current.pk})
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="exam.view", object_id=str(exam.pk))
    assert event.user == radiologist_a
    assert event.detail == {"page": "prior", "prior_of": str(current.pk)}


def test_a_series_thumbnail_is_a_png_of_its_middle_image(client, radiologist_a, radiologist_b, stored_study):
    exam, _ = stored_study
    series = exam.series.get()
    url = reverse("exam_series_thumbnail", args=[exam.pk, series.pk])
    client.force_login(radiologist_a)
    response = client.get(url)
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG\r\n\x1a\n")
    client.force_login(radiologist_b)
    assert client.get(url).status_code == 404


def test_a_colleague_credentialed_for_both_sites_sees_both_priors(client, site_a, site_b, patient_exams):
    rad = RadiologistFactory(user__ght=site_a.ght, user__username="both")
    CredentialFactory(radiologist=rad, site=site_a)
    CredentialFactory(radiologist=rad, site=site_b)
    client.force_login(rad.user)
    body = client.get(reverse("exam_detail", args=[patient_exams["current"].pk])).content.decode()
    assert "BRAVOPRIOR" in body
