"""DICOMweb read side, checked with the dicomweb-client package against a live server.

Exams are made the way the gateway makes them (instance_receive), for site A
and site B; radiologist A reads through a DRF token and must never reach
site B's study, whatever the endpoint (404, audited).
"""

from io import BytesIO
from pathlib import Path

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from django.urls import reverse
from pydicom.encaps import generate_frames
from pydicom.uid import generate_uid
from rest_framework.authtoken.models import Token

from core.models import AuditEvent
from core.testing import CountingReader
from dicom_gateway import statuses
from dicom_gateway.services import instance_receive
from dicom_gateway.storage import get_storage
from dicom_gateway.tests.dicom_factories import encode, make_ct_image
from sites.tests.factories import ModalityFactory
from worklist.models import Instance

pytestmark = pytest.mark.django_db(transaction=True)


def _receive(ds, modality) -> bytes:
    data = encode(ds)
    assert instance_receive(data=data, modality=modality).status == statuses.SUCCESS
    return data


@pytest.fixture
def studies(settings, tmp_path, site_a, site_b):
    """Study A (two series: a 3-frame CT and a one-frame CT) at site A, study B at site B."""
    settings.STORAGE_ROOT = tmp_path / "store"
    mod_a = ModalityFactory(site=site_a, ae_title="CT_A")
    mod_b = ModalityFactory(site=site_b, ae_title="CT_B")
    study_a, study_b = generate_uid(), generate_uid()
    multi = make_ct_image(
        frames=3, StudyInstanceUID=study_a, PatientName="MARTIN^Hélène", PatientID="PIDA", AccessionNumber="ACCA"
    )
    single = make_ct_image(
        StudyInstanceUID=study_a,
        SeriesNumber=3,
        InstanceNumber=1,
        PatientName="MARTIN^Hélène",
        PatientID="PIDA",
        AccessionNumber="ACCA",
    )
    other = make_ct_image(StudyInstanceUID=study_b, PatientName="BRAVOSECRET^Patient", PatientID="PIDB")
    return {
        "a": study_a,
        "b": study_b,
        "multi": multi,
        "multi_bytes": _receive(multi, mod_a),
        "single": single,
        "single_bytes": _receive(single, mod_a),
        "other": other,
        "other_bytes": _receive(other, mod_b),
    }


@pytest.fixture
def token(radiologist_a):
    return Token.objects.create(user=radiologist_a).key


@pytest.fixture
def client(live_server, token):
    return DICOMwebClient(url=f"{live_server.url}/dicomweb", headers={"Authorization": f"Token {token}"})


def _uids(results, tag):
    return {r[tag]["Value"][0] for r in results}


def test_it_finds_only_the_users_studies(client, studies):
    found = client.search_for_studies()
    assert _uids(found, "0020000D") == {studies["a"]}
    (study,) = found
    assert study["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "MARTIN^Hélène"}]}
    assert study["00100020"]["Value"] == ["PIDA"]
    assert study["00080061"]["Value"] == ["CT"]
    assert study["00201206"]["Value"] == [2] and study["00201208"]["Value"] == [2]
    assert study["00080020"]["Value"] == ["20260115"] and study["00080030"]["Value"] == ["103000"]
    assert AuditEvent.objects.filter(action="dicomweb.search").exists()


@pytest.mark.parametrize(
    ("filters", "found"),
    [
        ({"PatientName": "helene"}, True),
        ({"PatientName": "mart"}, True),
        ({"PatientName": "MAR*ène"}, True),
        ({"PatientName": "ARTIN"}, False),
        ({"PatientName": "bravo*"}, False),
        ({"PatientID": "PIDA"}, True),
        ({"PatientID": "PIDB"}, False),
        ({"AccessionNumber": "ACCA"}, True),
        ({"StudyDate": "20260101-20260131"}, True),
        ({"StudyDate": "20260116-"}, False),
        ({"ModalitiesInStudy": "CT"}, True),
        ({"ModalitiesInStudy": "MR"}, False),
    ],
)
def test_it_matches_the_usual_attributes(client, studies, filters, found):
    assert bool(client.search_for_studies(search_filters=filters)) is found


def test_it_pages_with_limit_and_offset(client, studies):
    series = client.search_for_series(studies["a"], limit=1)
    rest = client.search_for_series(studies["a"], limit=1, offset=1)
    assert len(series) == len(rest) == 1 and series != rest


def test_it_searches_series_and_instances(client, studies):
    multi = studies["multi"]
    series = client.search_for_series(studies["a"])
    assert _uids(series, "0020000E") == {multi.SeriesInstanceUID, studies["single"].SeriesInstanceUID}
    instances = client.search_for_instances(studies["a"], multi.SeriesInstanceUID)
    assert _uids(instances, "00080018") == {multi.SOPInstanceUID}
    assert instances[0]["00080016"]["Value"] == [str(multi.SOPClassUID)]
    assert instances[0]["00200013"]["Value"] == [7]
    # Across studies: only site A's.
    assert _uids(client.search_for_series(), "0020000D") == {studies["a"]}
    assert _uids(client.search_for_instances(), "0020000D") == {studies["a"]}


def test_it_retrieves_the_stored_file_byte_for_byte(client, studies, live_server, token):
    multi = studies["multi"]
    ds = client.retrieve_instance(studies["a"], multi.SeriesInstanceUID, multi.SOPInstanceUID)
    assert ds.PixelData == multi.PixelData
    url = live_server.url + reverse(
        "dicomweb:instance",
        kwargs={"study": studies["a"], "series": multi.SeriesInstanceUID, "instance": multi.SOPInstanceUID},
    )
    response = requests.get(url, headers={"Authorization": f"Token {token}"}, timeout=10)
    assert response.headers["Content-Type"].startswith('multipart/related; type="application/dicom"')
    assert list(client._decode_multipart_message(response, stream=False)) == [studies["multi_bytes"]]
    stored = get_storage().open(Instance.objects.get(sop_instance_uid=multi.SOPInstanceUID).storage_key).read()
    assert stored == studies["multi_bytes"]
    assert AuditEvent.objects.filter(action="dicomweb.retrieve").exists()


def test_it_retrieves_a_whole_study_and_series(client, studies):
    assert {str(d.SOPInstanceUID) for d in client.retrieve_study(studies["a"])} == {
        studies["multi"].SOPInstanceUID,
        studies["single"].SOPInstanceUID,
    }
    (ds,) = client.retrieve_series(studies["a"], studies["single"].SeriesInstanceUID)
    assert ds.SOPInstanceUID == studies["single"].SOPInstanceUID


def test_it_gives_metadata_with_the_pixel_data_as_a_bulk_data_uri(client, studies):
    multi = studies["multi"]
    metadata = client.retrieve_instance_metadata(studies["a"], multi.SeriesInstanceUID, multi.SOPInstanceUID)
    assert metadata["0020000D"]["Value"] == [studies["a"]]
    assert metadata["00280010"]["Value"] == [4]
    assert set(metadata["7FE00010"]) == {"vr", "BulkDataURI"}
    assert pydicom.Dataset.from_json(metadata, bulk_data_uri_handler=lambda uri: b"").PatientName == "MARTIN^Hélène"
    assert len(client.retrieve_study_metadata(studies["a"])) == 2
    assert len(client.retrieve_series_metadata(studies["a"], multi.SeriesInstanceUID)) == 1
    assert AuditEvent.objects.filter(action="dicomweb.metadata").count() == 3


def test_it_gives_native_frames_as_stored(client, studies):
    multi = studies["multi"]
    frames = client.retrieve_instance_frames(
        studies["a"], multi.SeriesInstanceUID, multi.SOPInstanceUID, frame_numbers=[1, 3]
    )
    size = 4 * 4 * 2
    assert frames == [multi.PixelData[:size], multi.PixelData[2 * size : 3 * size]]


@pytest.mark.parametrize(
    ("name", "media_type"), [("JPEG2000.dcm", "image/jp2"), ("SC_rgb_rle.dcm", "image/x-dicom-rle")]
)
def test_it_gives_encapsulated_frames_as_stored(studies, site_a, live_server, token, name, media_type):
    data = (Path(pydicom.__file__).parent / "data" / "test_files" / name).read_bytes()
    assert instance_receive(data=data, modality=ModalityFactory(site=site_a)).status == statuses.SUCCESS
    ds = pydicom.dcmread(Path(pydicom.__file__).parent / "data" / "test_files" / name)
    kwargs = {"study": ds.StudyInstanceUID, "series": ds.SeriesInstanceUID, "instance": ds.SOPInstanceUID}
    url = live_server.url + reverse("dicomweb:instance-frames", kwargs={**kwargs, "frames": "1"})
    response = requests.get(url, headers={"Authorization": f"Token {token}"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(f'multipart/related; type="{media_type}"')
    client = DICOMwebClient(url=f"{live_server.url}/dicomweb")
    expected = next(generate_frames(ds.PixelData, number_of_frames=1))
    assert list(client._decode_multipart_message(response, stream=False)) == [expected]


def _urls(study, series, instance):
    kw = {"study": study}
    return [
        reverse("dicomweb:study", kwargs=kw),
        reverse("dicomweb:study-metadata", kwargs=kw),
        reverse("dicomweb:study-series", kwargs=kw),
        reverse("dicomweb:study-instances", kwargs=kw),
        reverse("dicomweb:series-retrieve", kwargs={**kw, "series": series}),
        reverse("dicomweb:series-metadata", kwargs={**kw, "series": series}),
        reverse("dicomweb:series-instances", kwargs={**kw, "series": series}),
        reverse("dicomweb:instance", kwargs={**kw, "series": series, "instance": instance}),
        reverse("dicomweb:instance-metadata", kwargs={**kw, "series": series, "instance": instance}),
        reverse("dicomweb:instance-frames", kwargs={**kw, "series": series, "instance": instance, "frames": "1"}),
        reverse("dicomweb:instance-bulkdata", kwargs={**kw, "series": series, "instance": instance, "tag": "7FE00010"}),
        reverse("dicomweb:instance-rendered", kwargs={**kw, "series": series, "instance": instance}),
        reverse("dicomweb:frame-rendered", kwargs={**kw, "series": series, "instance": instance, "frame": 1}),
    ]


def test_another_sites_uids_are_404_and_audited(studies, live_server, token):
    other = studies["other"]
    headers = {"Authorization": f"Token {token}"}
    urls = _urls(studies["b"], other.SeriesInstanceUID, other.SOPInstanceUID)
    for url in urls:
        response = requests.get(live_server.url + url, headers=headers, timeout=10)
        assert response.status_code == 404, url
        assert "BRAVOSECRET" not in response.text and studies["b"] not in response.text
    denied = AuditEvent.objects.filter(action="dicomweb.denied", username="rad_a")
    assert denied.count() == len(urls)
    assert all(e.detail["uids"]["study"] == studies["b"] for e in denied)


def test_site_b_reads_its_own_study(studies, live_server, radiologist_b):
    key = Token.objects.create(user=radiologist_b).key
    client = DICOMwebClient(url=f"{live_server.url}/dicomweb", headers={"Authorization": f"Token {key}"})
    assert _uids(client.search_for_studies(), "0020000D") == {studies["b"]}


def test_it_refuses_anonymous_clients_and_sends_no_cors_headers(studies, live_server, token):
    other = studies["multi"]
    for url in ["/dicomweb/studies", *_urls(studies["a"], other.SeriesInstanceUID, other.SOPInstanceUID)]:
        response = requests.get(live_server.url + url, headers={"Origin": "https://evil.example"}, timeout=10)
        assert response.status_code in (401, 403), url
    response = requests.get(
        f"{live_server.url}/dicomweb/studies",
        headers={"Authorization": f"Token {token}", "Origin": "https://evil.example"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/dicom+json"
    assert not any(h.lower().startswith("access-control-") for h in response.headers)


def test_it_refuses_a_bad_query(studies, live_server, token):
    headers = {"Authorization": f"Token {token}"}
    for query in ("limit=x", "offset=-1", "StudyDate=2026"):
        response = requests.get(f"{live_server.url}/dicomweb/studies?{query}", headers=headers, timeout=10)
        assert response.status_code == 400, query


def test_a_whole_study_is_read_file_by_file_while_it_is_sent(studies, token, monkeypatch):
    # A 3,000-image CT must not sit whole in a web worker's memory: each file is read
    # when its part is sent, after the view has answered (and audited).
    from django.test import Client

    from dicom_gateway import dicomweb

    reads = []
    real_read = dicomweb._read
    monkeypatch.setattr(dicomweb, "_read", lambda instance: reads.append(instance.pk) or real_read(instance))
    url = reverse("dicomweb:study", kwargs={"study": studies["a"]})
    response = Client().get(
        url,
        HTTP_AUTHORIZATION=f"Token {token}",
        HTTP_ACCEPT='multipart/related; type="application/dicom"; transfer-syntax=*',
    )
    assert response.status_code == 200 and response.streaming
    assert reads == [] and AuditEvent.objects.filter(action="dicomweb.retrieve").exists()
    body = b"".join(response.streaming_content)
    assert len(reads) == 2
    assert studies["multi_bytes"] in body and studies["single_bytes"] in body
    boundary = response["Content-Type"].split("boundary=")[1]
    assert body.count(f"--{boundary}".encode()) == 3 and body.endswith(f"--{boundary}--\r\n".encode())


def test_frames_are_read_alone_from_the_file():
    # OHIF fetches a multi-frame instance frame by frame: each request must not read the whole file.
    from dicom_gateway.dicomweb import frames_read

    ds = make_ct_image(rows=64, columns=64, frames=50)
    source = CountingReader(encode(ds))
    _ds, (media_type, frames) = frames_read(source, [2, 50])
    size = 64 * 64 * 2
    assert media_type == "application/octet-stream"
    assert frames == [ds.PixelData[size : 2 * size], ds.PixelData[49 * size :]]
    assert source.bytes_read < 4 * size  # the header and two frames, of 50
    with pytest.raises(IndexError):
        frames_read(CountingReader(encode(ds)), [51])


@pytest.mark.parametrize("name", ["rtdose_rle.dcm", "SC_rgb_rle_2frame.dcm", "image_dfl.dcm", "MR_small_RLE.dcm"])
def test_frames_read_agrees_with_the_whole_dataset(name):
    from dicom_gateway.dicomweb import frames_extract, frames_read

    data = (Path(pydicom.__file__).parent / "data" / "test_files" / name).read_bytes()
    whole = pydicom.dcmread(BytesIO(data))
    numbers = list(range(1, int(whole.get("NumberOfFrames", 1) or 1) + 1))
    _ds, read = frames_read(BytesIO(data), numbers)
    assert read == frames_extract(whole, numbers) and read is not None


def test_big_endian_frames_are_not_served_and_a_missing_frame_is_still_an_error():
    from dicom_gateway.dicomweb import frames_read

    data = (Path(pydicom.__file__).parent / "data" / "test_files" / "MR_small_bigendian.dcm").read_bytes()
    assert frames_read(BytesIO(data), [1])[1] is None
    with pytest.raises(IndexError):
        frames_read(BytesIO(data), [2])


def _metadata_of_the_whole_file(data: bytes, url: str) -> dict:
    """What metadata_json gave when it parsed the whole file (the reference), but what follows
    the pixel data (trailing padding, say), which it no longer reads."""
    ds = pydicom.dcmread(BytesIO(data))
    for tag in [element.tag for element in ds if element.tag > 0x7FE00010]:
        del ds[tag]
    bulk = {}
    for tag in (0x7FE00010, 0x7FE00008, 0x7FE00009):
        if tag in ds:
            vr = ds[tag].VR
            if " or " in vr:
                vr = "OW" if int(ds.get("BitsAllocated", 8) or 8) > 8 else "OB"
            bulk[f"{tag:08X}"] = {"vr": vr, "BulkDataURI": f"{url}/bulkdata/{tag:08X}"}
            del ds[tag]
    return {**ds.to_json_dict(suppress_invalid_tags=True), **bulk}


@pytest.mark.parametrize(
    "name",
    ["CT_small.dcm", "rtdose_1frame.dcm", "rtdose_rle.dcm", "image_dfl.dcm", "MR_small_bigendian.dcm", "JPEG2000.dcm"],
)
def test_metadata_read_up_to_the_pixels_equals_that_of_the_whole_file(name):
    from dicom_gateway.dicomweb import metadata_json

    data = (Path(pydicom.__file__).parent / "data" / "test_files" / name).read_bytes()
    assert metadata_json(BytesIO(data), "u") == _metadata_of_the_whole_file(data, "u")


def test_metadata_does_not_read_the_images():
    # OHIF asks a study's metadata first: reading every image for it would read the whole study.
    from dicom_gateway.dicomweb import metadata_json

    ds = make_ct_image(rows=256, columns=256, frames=4)
    source = CountingReader(encode(ds))
    metadata = metadata_json(source, "u")
    assert metadata["7FE00010"] == {"vr": "OW", "BulkDataURI": "u/bulkdata/7FE00010"}
    assert source.bytes_read < len(ds.PixelData) // 10
