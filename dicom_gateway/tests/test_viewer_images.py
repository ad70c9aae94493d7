"""The viewer's signed image URLs: scope checked and audited when the list is made, one query per image after."""

import time

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from core.models import AuditEvent
from dicom_gateway import statuses
from dicom_gateway.services import instance_receive
from dicom_gateway.simulator import build_study
from dicom_gateway.tests.dicom_factories import encode, make_ct_image
from dicom_gateway.viewer_images import MAX_AGE, series_token_issue
from sites.tests.factories import CredentialFactory, ModalityFactory, RadiologistFactory
from worklist.models import Exam

pytestmark = pytest.mark.django_db


def _receive(ds, modality) -> bytes:
    data = encode(ds)
    assert instance_receive(data=data, modality=modality).status == statuses.SUCCESS
    return data


@pytest.fixture
def stored(settings, tmp_path, site_a, site_b):
    """A 3-image study at site A, one image at site B."""
    settings.STORAGE_ROOT = tmp_path / "store"
    modality_a = ModalityFactory(site=site_a, ae_title="CT_A")
    a = list(build_study("small", count=3, patient_id="PIDA"))
    a_bytes = [_receive(ds, modality_a) for ds in a]
    b = make_ct_image(PatientName="BRAVOSECRET^Patient", PatientID="PIDB")
    b_bytes = _receive(b, ModalityFactory(site=site_b, ae_title="CT_B"))
    return {
        "exam_a": Exam.objects.get(study_instance_uid=a[0].StudyInstanceUID),
        "a": a,
        "a_bytes": a_bytes,
        "b": b,
        "b_bytes": b_bytes,
    }


def _series(client: Client, exam: Exam) -> dict:
    response = client.get(reverse("exam_images", args=[exam.pk]))
    assert response.status_code == 200
    [series] = response.json()["series"]
    return series


def _denied(reason: str) -> AuditEvent:
    return AuditEvent.objects.get(action="viewer.denied", detail__reason=reason)


def test_the_image_list_gives_signed_urls_that_serve_the_stored_files(client, radiologist_a, stored):
    client.force_login(radiologist_a)
    series = _series(client, stored["exam_a"])
    assert series["images"].startswith("/viewer/images/")
    assert series["instances"] == [ds.SOPInstanceUID for ds in stored["a"]]
    for uid, data in zip(series["instances"], stored["a_bytes"], strict=True):
        response = client.get(series["images"] + uid)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/dicom"
        assert response["Cache-Control"] == "private, no-store"
        assert "Content-Disposition" not in response  # would name the storage key
        assert b"".join(response.streaming_content) == data


def test_the_viewer_gets_each_series_along_its_slice_normal(client, radiologist_a, site_a, settings, tmp_path):
    # Numbered against the normal (head to feet): dwv would move its buffer for every image.
    settings.STORAGE_ROOT = tmp_path / "store"
    modality = ModalityFactory(site=site_a, ae_title="CT_REV")
    study = list(build_study("small", count=5, patient_id="PIDREV"))
    for number, ds in zip(range(5, 0, -1), study, strict=True):
        ds.InstanceNumber = number
        _receive(ds, modality)
    client.force_login(radiologist_a)
    series = _series(client, Exam.objects.get(study_instance_uid=study[0].StudyInstanceUID))
    assert series["instances"] == [ds.SOPInstanceUID for ds in study]  # the simulator's order: ascending z


def test_handing_out_the_urls_is_audited_once_per_series_and_the_images_are_not(client, radiologist_a, stored):
    client.force_login(radiologist_a)
    series = _series(client, stored["exam_a"])
    for uid in series["instances"]:
        assert client.get(series["images"] + uid).status_code == 200
    event = AuditEvent.objects.get(action="viewer.series_opened")
    assert event.user == radiologist_a
    assert event.object_id == str(stored["exam_a"].pk)
    assert event.detail == {"page": "viewer", "series_id": series["id"], "series": series["uid"], "instances": 3}
    assert not AuditEvent.objects.filter(action__in=["dicomweb.retrieve", "viewer.denied"]).exists()


def test_the_reading_page_embeds_signed_urls(client, radiologist_a, stored):
    client.force_login(radiologist_a)
    body = client.get(reverse("exam_detail", args=[stored["exam_a"].pk])).content.decode()
    assert '"images": "/viewer/images/' in body
    assert AuditEvent.objects.get(action="viewer.series_opened").detail["page"] == "exam_detail"


def test_an_image_costs_one_query(client, radiologist_a, stored, django_assert_num_queries):
    client.force_login(radiologist_a)
    series = _series(client, stored["exam_a"])
    with django_assert_num_queries(1):
        response = client.get(series["images"] + series["instances"][0])
    assert response.status_code == 200


def test_a_site_a_series_token_cannot_fetch_a_site_b_instance(client, radiologist_a, stored):
    client.force_login(radiologist_a)
    series = _series(client, stored["exam_a"])
    response = client.get(series["images"] + stored["b"].SOPInstanceUID)
    assert response.status_code == 404
    assert b"BRAVOSECRET" not in response.content and stored["b_bytes"][-64:] not in response.content
    denied = _denied("not_found")
    assert denied.user == radiologist_a and denied.detail["instance"] == stored["b"].SOPInstanceUID


def test_a_token_for_another_series_of_the_same_exam_site_is_not_enough(client, radiologist_a, stored, site_a):
    # An instance of another series (same site, same user) is not in the token's series.
    other = next(build_study("small", count=1, patient_id="PIDOTHER"))
    _receive(other, ModalityFactory(site=site_a, ae_title="CT_A2"))
    client.force_login(radiologist_a)
    series = _series(client, stored["exam_a"])
    assert client.get(series["images"] + other.SOPInstanceUID).status_code == 404


@pytest.mark.parametrize("where", ["signature", "value", "timestamp"])
def test_a_tampered_token_is_refused(client, radiologist_a, stored, where):
    client.force_login(radiologist_a)
    series = _series(client, stored["exam_a"])
    token = series["images"].split("/")[3]
    value, stamp, signature = token.split(":")
    if where == "signature":
        forged = f"{value}:{stamp}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}"
    elif where == "value":
        user_id, series_id = value.split(".")
        forged = f"{user_id}.{int(series_id) + 1}:{stamp}:{signature}"
    else:
        forged = f"{value}:{stamp}0:{signature}"
    url = reverse("viewer_image", kwargs={"token": forged, "uid": stored["a"][0].SOPInstanceUID})
    response = client.get(url)
    assert response.status_code == 403 and not response.content
    assert _denied("invalid").user == radiologist_a


def test_an_expired_token_is_refused(client, radiologist_a, stored, monkeypatch):
    client.force_login(radiologist_a)
    series_id = _series(client, stored["exam_a"])["id"]
    issued_at = time.time() - MAX_AGE - 5
    monkeypatch.setattr(signing.time, "time", lambda: issued_at)
    token = series_token_issue(user_id=radiologist_a.pk, series_id=series_id, session_key=client.session.session_key)
    monkeypatch.undo()
    response = client.get(reverse("viewer_image", kwargs={"token": token, "uid": stored["a"][0].SOPInstanceUID}))
    assert response.status_code == 403
    assert _denied("expired").user == radiologist_a


def test_another_users_token_is_refused(client, radiologist_a, site_a, stored):
    client.force_login(radiologist_a)
    url = _series(client, stored["exam_a"])["images"] + stored["a"][0].SOPInstanceUID
    colleague = RadiologistFactory(user__ght=site_a.ght, user__username="colleague")
    CredentialFactory(radiologist=colleague, site=site_a)
    other = Client()
    other.force_login(colleague.user)
    assert other.get(url).status_code == 403
    assert _denied("invalid").user == colleague.user
    assert Client().get(url).status_code == 403  # no session at all


def test_logging_out_revokes_the_urls_even_with_the_old_cookie(client, radiologist_a, stored, settings):
    client.force_login(radiologist_a)
    url = _series(client, stored["exam_a"])["images"] + stored["a"][0].SOPInstanceUID
    stolen = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.logout()
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = stolen
    assert thief.get(url).status_code == 404
    assert _denied("not_found").user is None


def test_a_deactivated_user_loses_the_urls(client, radiologist_a, stored):
    client.force_login(radiologist_a)
    url = _series(client, stored["exam_a"])["images"] + stored["a"][0].SOPInstanceUID
    radiologist_a.is_active = False
    radiologist_a.save(update_fields=["is_active"])
    assert client.get(url).status_code == 404


def test_only_get_and_head_are_allowed(client, radiologist_a, stored):
    client.force_login(radiologist_a)
    url = _series(client, stored["exam_a"])["images"] + stored["a"][0].SOPInstanceUID
    assert client.head(url).status_code == 200
    for method in (client.post, client.put, client.patch, client.delete):
        assert method(url).status_code == 405


def test_the_prior_list_gives_signed_urls_too(client, radiologist_a, stored, site_a):
    from worklist.tests.factories import ExamFactory

    exam = stored["exam_a"]
    current = ExamFactory(site=site_a, patient_id=exam.patient_id, issuer_of_patient_id=exam.issuer_of_patient_id)
    client.force_login(radiologist_a)
    response = client.get(reverse("exam_images", args=[exam.pk]), {"prior_of": current.pk})
    [series] = response.json()["series"]
    assert client.get(series["images"] + series["instances"][0]).status_code == 200
    assert AuditEvent.objects.get(action="viewer.series_opened").detail["page"] == "prior"


def test_a_radiologist_of_another_site_gets_no_list_and_no_image(client, radiologist_a, radiologist_b, stored):
    client.force_login(radiologist_a)
    url = _series(client, stored["exam_a"])["images"] + stored["a"][0].SOPInstanceUID
    client.force_login(radiologist_b)
    assert client.get(reverse("exam_images", args=[stored["exam_a"].pk])).status_code == 404
    assert client.get(url).status_code == 403
