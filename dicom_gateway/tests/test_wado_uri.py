"""WADO-URI (PS3.18 §9): the stored bytes, for the user's sites only, audited like WADO-RS."""

import pytest
from django.urls import reverse
from pydicom.uid import RLELossless
from rest_framework.authtoken.models import Token

from core.models import AuditEvent
from dicom_gateway import statuses
from dicom_gateway.services import instance_receive
from dicom_gateway.simulator import build_study
from dicom_gateway.tests.dicom_factories import encode, make_ct_image
from sites.tests.factories import ModalityFactory

pytestmark = pytest.mark.django_db


def _receive(ds, modality, syntax=None) -> bytes:
    data = encode(ds) if syntax is None else encode(ds, syntax)
    assert instance_receive(data=data, modality=modality).status == statuses.SUCCESS
    return data


def _query(ds, **extra) -> dict:
    return {
        "requestType": "WADO",
        "studyUID": ds.StudyInstanceUID,
        "seriesUID": ds.SeriesInstanceUID,
        "objectUID": ds.SOPInstanceUID,
        "contentType": "application/dicom",
        **extra,
    }


@pytest.fixture
def stored(settings, tmp_path, site_a, site_b):
    settings.STORAGE_ROOT = tmp_path / "store"
    a = make_ct_image(PatientID="PIDA")
    b = make_ct_image(PatientName="BRAVOSECRET^Patient", PatientID="PIDB")
    return {
        "a": a,
        "a_bytes": _receive(a, ModalityFactory(site=site_a, ae_title="CT_A")),
        "b": b,
        "b_bytes": _receive(b, ModalityFactory(site=site_b, ae_title="CT_B")),
    }


URL = "/dicomweb/wado"


def test_the_route_is_the_dicomweb_wado_uri():
    assert reverse("dicomweb:wado-uri") == URL


def test_it_returns_the_stored_file_byte_for_byte(client, radiologist_a, stored):
    client.force_login(radiologist_a)
    response = client.get(URL, _query(stored["a"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom"
    assert response["Cache-Control"] == "private, no-store"
    assert response.content == stored["a_bytes"]
    event = AuditEvent.objects.get(action="dicomweb.retrieve")
    assert event.user == radiologist_a
    assert event.detail["instance"] == stored["a"].SOPInstanceUID
    assert event.detail["via"] == "wado-uri"


def test_a_compressed_instance_is_served_as_stored(client, radiologist_a, site_a, settings, tmp_path):
    settings.STORAGE_ROOT = tmp_path / "store"
    ds = next(build_study("small", count=1))
    ds.compress(RLELossless)
    data = _receive(ds, ModalityFactory(site=site_a, ae_title="CT_RLE"), RLELossless)
    client.force_login(radiologist_a)
    response = client.get(URL, _query(ds))
    assert response.status_code == 200 and response.content == data
    assert client.get(URL, _query(ds, transferSyntax="1.2.840.10008.1.2.1")).status_code == 406


def test_another_sites_instance_is_404_and_audited_as_denied(client, radiologist_a, stored):
    client.force_login(radiologist_a)
    response = client.get(URL, _query(stored["b"]))
    assert response.status_code == 404
    assert b"BRAVOSECRET" not in response.content and stored["b_bytes"][-64:] not in response.content
    denied = AuditEvent.objects.get(action="dicomweb.denied")
    assert denied.user == radiologist_a
    assert denied.detail["uids"]["instance"] == stored["b"].SOPInstanceUID
    assert not AuditEvent.objects.filter(action="dicomweb.retrieve").exists()


def test_mixed_uids_of_two_sites_are_404(client, radiologist_a, stored):
    client.force_login(radiologist_a)
    query = _query(stored["a"], objectUID=stored["b"].SOPInstanceUID)
    assert client.get(URL, query).status_code == 404


def test_it_works_with_a_token_and_refuses_anonymous_clients(client, radiologist_a, stored):
    assert client.get(URL, _query(stored["a"])).status_code in (401, 403)
    key = Token.objects.create(user=radiologist_a).key
    response = client.get(URL, _query(stored["a"]), HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and response.content == stored["a_bytes"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"requestType": "WADOX"}, 400),
        ({"studyUID": "../../etc/passwd"}, 400),
        ({"objectUID": ""}, 400),
        ({"seriesUID": "1." * 40}, 400),
        ({"contentType": "image/jpeg"}, 406),
        ({"contentType": ""}, 406),
    ],
)
def test_it_refuses_bad_requests(client, radiologist_a, stored, change, status):
    client.force_login(radiologist_a)
    assert client.get(URL, _query(stored["a"], **change)).status_code == status
