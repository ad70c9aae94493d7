"""DICOMweb completion: rendered images, BulkDataURI, Accept transcoding and CORS (issue #6).

Checked against a live server with dicomweb-client and requests, on synthetic
images whose pixel values are known, stored the way the gateway stores them.
"""

from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from django.urls import reverse
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian, JPEGLSLossless, RLELossless, generate_uid
from rest_framework.authtoken.models import Token

from core.models import AuditEvent
from dicom_gateway import imaging, statuses
from dicom_gateway.services import instance_receive
from dicom_gateway.storage import get_storage
from dicom_gateway.tests.dicom_factories import encode, make_ct_image, roundtrip
from sites.tests.factories import ModalityFactory
from worklist.models import Instance

pytestmark = pytest.mark.django_db(transaction=True)

# Stored values of a 2×3 CT; with RescaleSlope 1 and RescaleIntercept -1024 they are
# the Hounsfield units -1024, -24, 16, 56, 976 and 40.
STORED = [0, 1000, 1040, 1080, 2000, 1064]
# PS3.3 C.11.2.1.2.1 (linear): y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, clipped to 0..255.
# Default window of the image, c=40 w=80: below 0 → 0, 16 → 51.65, 56 → 180.76, 40 → 129.11.
EXPECTED_DEFAULT = [0, 0, 52, 181, 255, 129]
# Asked window c=500 w=2000: -24 → 60.72, 16 → 65.82, 56 → 70.93, 976 → 188.16, 40 → 68.89.
EXPECTED_WIDE = [0, 61, 66, 71, 188, 69]
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def _known_ct(**overrides):
    ds = make_ct_image(rows=2, columns=3, **overrides)
    ds.PixelData = np.array(STORED, dtype="<u2").tobytes()
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 40, 80
    return ds


def _store(data: bytes, modality) -> bytes:
    assert instance_receive(data=data, modality=modality).status == statuses.SUCCESS
    return data


@pytest.fixture
def images(settings, tmp_path, site_a, site_b):
    """At site A: the known CT (native) and the same CT RLE-compressed; at site B: another CT."""
    settings.STORAGE_ROOT = tmp_path / "store"
    mod_a, mod_b = ModalityFactory(site=site_a, ae_title="CT_A"), ModalityFactory(site=site_b, ae_title="CT_B")
    study = generate_uid()
    native = _known_ct(StudyInstanceUID=study)
    rle = roundtrip(_known_ct(StudyInstanceUID=study, SeriesNumber=3))  # compress() needs the file meta
    rle.compress(RLELossless, generate_instance_uid=False)
    other = _known_ct(PatientName="BRAVOSECRET^Patient")
    return {
        "native": native,
        "native_bytes": _store(encode(native), mod_a),
        "rle": rle,
        "rle_bytes": _store(encode(rle, RLELossless), mod_a),
        "other": other,
        "other_bytes": _store(encode(other), mod_b),
    }


@pytest.fixture
def token(radiologist_a):
    return Token.objects.create(user=radiologist_a).key


@pytest.fixture
def client(live_server, token):
    return DICOMwebClient(url=f"{live_server.url}/dicomweb", headers={"Authorization": f"Token {token}"})


def _ids(ds):
    return {"study": ds.StudyInstanceUID, "series": ds.SeriesInstanceUID, "instance": ds.SOPInstanceUID}


def _get(live_server, token, name, ds, *, params=None, headers=None, **kwargs):
    url = live_server.url + reverse(f"dicomweb:{name}", kwargs={**_ids(ds), **kwargs})
    headers = {"Authorization": f"Token {token}", **(headers or {})}
    return requests.get(url, params=params, headers=headers, timeout=10)


def _pixels(body: bytes) -> list[int]:
    return list(np.asarray(Image.open(BytesIO(body))).ravel())


# --- Rendered ------------------------------------------------------------------------


def test_it_renders_with_the_images_own_window_by_default(client, images):
    native = images["native"]
    png = client.retrieve_instance_rendered(
        native.StudyInstanceUID, native.SeriesInstanceUID, native.SOPInstanceUID, media_types=("image/png",)
    )
    assert png.startswith(b"\x89PNG")
    assert _pixels(png) == EXPECTED_DEFAULT
    event = AuditEvent.objects.get(action="dicomweb.rendered")
    assert event.detail["instance"] == native.SOPInstanceUID and event.detail["frame"] == 1


def test_it_applies_the_asked_window_and_frame(live_server, token, images):
    response = _get(
        live_server,
        token,
        "frame-rendered",
        images["native"],
        frame=1,
        params={"window": "500,2000,linear"},
        headers={"Accept": "image/png"},
    )
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    assert _pixels(response.content) == EXPECTED_WIDE
    assert _get(live_server, token, "frame-rendered", images["native"], frame=2).status_code == 404


def test_it_answers_jpeg_by_default_and_png_when_asked(live_server, token, images):
    jpeg = _get(live_server, token, "instance-rendered", images["native"])
    assert jpeg.headers["Content-Type"] == "image/jpeg" and jpeg.content.startswith(b"\xff\xd8")
    assert Image.open(BytesIO(jpeg.content)).size == (3, 2)
    png = _get(live_server, token, "instance-rendered", images["native"], params={"accept": "image/png"})
    assert png.headers["Content-Type"] == "image/png"
    both = _get(live_server, token, "instance-rendered", images["native"], headers={"Accept": "image/png, */*"})
    assert both.headers["Content-Type"] == "image/png"
    refused = _get(live_server, token, "instance-rendered", images["native"], headers={"Accept": "image/gif"})
    assert refused.status_code == 406 and "image/png" in refused.json()["message"]


def test_it_scales_down_to_the_viewport_and_checks_the_parameters(live_server, token, site_a, images):
    big = make_ct_image(rows=64, columns=32, StudyInstanceUID=images["native"].StudyInstanceUID)
    _store(encode(big), ModalityFactory(site=site_a))
    response = _get(live_server, token, "instance-rendered", big, params={"viewport": "16,16", "quality": "50"})
    assert Image.open(BytesIO(response.content)).size == (8, 16)
    for params in ({"window": "40"}, {"window": "40,0"}, {"window": "a,b"}, {"quality": "0"}, {"viewport": "x"}):
        assert _get(live_server, token, "instance-rendered", big, params=params).status_code == 400, params


@pytest.mark.parametrize("key", ["rle", "jpeg_ls"])
def test_it_renders_compressed_instances(live_server, token, site_a, images, key):
    if key == "rle":
        ds, expected = images["rle"], EXPECTED_DEFAULT
    else:
        data = (TEST_FILES / "MR_small_jpeg_ls_lossless.dcm").read_bytes()
        _store(data, ModalityFactory(site=site_a))
        ds = pydicom.dcmread(BytesIO(data))
        assert ds.file_meta.TransferSyntaxUID == JPEGLSLossless
        values = imaging.voi_apply(ds.pixel_array, imaging.default_window(ds, ds.pixel_array))
        expected = list(values.ravel())
    response = _get(live_server, token, "instance-rendered", ds, headers={"Accept": "image/png"})
    assert response.status_code == 200
    assert _pixels(response.content) == expected


def test_another_sites_instance_is_404_and_audited(live_server, token, images):
    other = images["other"]
    for name, extra in (("instance-rendered", {}), ("frame-rendered", {"frame": 1})):
        response = _get(live_server, token, name, other, **extra)
        assert response.status_code == 404 and "BRAVOSECRET" not in response.text
    denied = AuditEvent.objects.filter(action="dicomweb.denied", username="rad_a")
    assert denied.count() == 2 and not AuditEvent.objects.filter(action="dicomweb.rendered").exists()


# --- BulkDataURI -----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["native", "rle"])
def test_metadata_points_to_the_pixel_data_which_is_served_as_stored(client, live_server, images, key):
    ds = images[key]
    metadata = client.retrieve_instance_metadata(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    pixel = metadata["7FE00010"]
    assert "Value" not in pixel and "InlineBinary" not in pixel
    assert pixel["vr"] == ("OB" if key == "rle" else "OW")
    assert pixel["BulkDataURI"].endswith(f"/instances/{ds.SOPInstanceUID}/bulkdata/7FE00010")
    # dicomweb-client sends "Host: localhost" without the port, so the absolute URI built
    # from it lacks the live server's port: keep its path.
    parts = client.retrieve_bulkdata(live_server.url + urlsplit(pixel["BulkDataURI"]).path)
    if key == "native":
        assert parts == [ds.PixelData]
    else:
        assert parts == list(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
    assert AuditEvent.objects.filter(action="dicomweb.retrieve", detail__bulkdata="7FE00010").exists()


def test_bulk_data_of_another_site_is_404_and_other_tags_are_not_bulk(live_server, token, images):
    response = _get(live_server, token, "instance-bulkdata", images["other"], tag="7FE00010")
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="dicomweb.denied").count() == 1
    assert _get(live_server, token, "instance-bulkdata", images["native"], tag="00100010").status_code == 404


# --- Accept transcoding ----------------------------------------------------------------


def test_it_decompresses_when_explicit_little_endian_is_asked(client, images):
    rle = images["rle"]
    ds = client.retrieve_instance(
        rle.StudyInstanceUID,
        rle.SeriesInstanceUID,
        rle.SOPInstanceUID,
        media_types=(("application/dicom", ExplicitVRLittleEndian),),
    )
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.SOPInstanceUID == rle.SOPInstanceUID
    assert list(ds.pixel_array.ravel()) == STORED


def test_it_gives_the_stored_bytes_for_any_syntax(live_server, token, images):
    headers = {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}
    response = _get(live_server, token, "instance", images["rle"], headers=headers)
    assert response.status_code == 200
    parts = list(DICOMwebClient(url=live_server.url)._decode_multipart_message(response, stream=False))
    stored = get_storage().open(Instance.objects.get(sop_instance_uid=images["rle"].SOPInstanceUID).storage_key)
    assert parts == [stored.read()] == [images["rle_bytes"]]
    assert f"transfer-syntax={RLELossless}" in response.text[:400]


def test_it_refuses_a_syntax_it_cannot_give(live_server, token, images):
    jpeg = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50'
    response = _get(live_server, token, "instance", images["rle"], headers={"Accept": jpeg})
    assert response.status_code == 406
    body = response.json()
    assert RLELossless in body["message"] and body["extra"]["stored"] == RLELossless
    # The native one is served untouched when Explicit VR Little Endian is asked (its own syntax).
    asked = 'multipart/related; type="application/dicom"'
    assert _get(live_server, token, "instance", images["native"], headers={"Accept": asked}).status_code == 200
    html = _get(live_server, token, "instance", images["native"], headers={"Accept": "text/html"})
    assert html.status_code == 406


# --- CORS --------------------------------------------------------------------------------


def _cors(live_server, token, origin, path="/dicomweb/studies", method="GET"):
    headers = {"Origin": origin, "Authorization": f"Token {token}"}
    if method == "OPTIONS":
        headers = {"Origin": origin, "Access-Control-Request-Method": "GET",
                   "Access-Control-Request-Headers": "authorization"}  # fmt: skip
    return requests.request(method, live_server.url + path, headers=headers, timeout=10)


def test_cors_is_off_by_default(settings, live_server, token, images):
    assert settings.DICOMWEB_CORS_ALLOWED_ORIGINS == [] and settings.CORS_ALLOWED_ORIGINS == []
    for method in ("GET", "OPTIONS"):
        response = _cors(live_server, token, "https://ohif.example", method=method)
        assert "Access-Control-Allow-Origin" not in response.headers, method


def test_cors_answers_the_configured_origin_on_dicomweb_only(settings, live_server, token, images):
    settings.CORS_ALLOWED_ORIGINS = ["https://ohif.example"]
    response = _cors(live_server, token, "https://ohif.example")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://ohif.example"
    assert "Access-Control-Allow-Credentials" not in response.headers
    preflight = _cors(live_server, token, "https://ohif.example", method="OPTIONS")
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://ohif.example"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"]
    other = _cors(live_server, token, "https://evil.example")
    assert "Access-Control-Allow-Origin" not in other.headers
    api = _cors(live_server, token, "https://ohif.example", path="/api/v1/exams/")
    assert "Access-Control-Allow-Origin" not in api.headers
