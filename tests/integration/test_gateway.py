"""The gateway against dcmtk's echoscu/storescu and pynetdicom, on real PostgreSQL."""

import dataclasses
import re
import shutil
import time

import pydicom
import pytest
from pynetdicom import AE

from core.models import AuditEvent
from dicom_gateway.simulator import build_study, send_study, write_study
from dicom_gateway.storage import FileSystemStorage
from tests.integration.conftest import TEST_FILES, run_dcmtk
from worklist.models import Exam, Instance

pytestmark = pytest.mark.integration


def _store_files(settings):
    root = FileSystemStorage(settings.STORAGE_ROOT).root
    return sorted(p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp")


def test_it_answers_c_echo_to_a_known_modality(gateway, ct_modality):
    result = run_dcmtk("echoscu", "-aet", "CT_LANDERNEAU", "-aec", "TELERADIO", "127.0.0.1", str(gateway.port))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("enabled", [None, False])
def test_it_rejects_unknown_and_disabled_modalities_and_audits_it(gateway, ct_modality, enabled):
    calling = "CT_LANDERNEAU"
    if enabled is None:
        calling = "INTRUDER"
    else:
        ct_modality.enabled = False
        ct_modality.save()
    result = run_dcmtk("echoscu", "-aet", calling, "-aec", "TELERADIO", "127.0.0.1", str(gateway.port))
    assert result.returncode != 0
    assert "Rejected" in result.stdout + result.stderr
    event = AuditEvent.objects.get(action="gateway.association_rejected")
    assert event.detail["calling_ae"] == calling


def test_storescu_stores_ct_and_mr_and_a_resend_duplicates_nothing(gateway, ct_modality, settings, tmp_path):
    files = [str(TEST_FILES / "CT_small.dcm"), str(TEST_FILES / "MR_small.dcm")]
    for _ in range(2):
        result = run_dcmtk(
            "storescu", "-aet", "CT_LANDERNEAU", "-aec", "TELERADIO", "127.0.0.1", str(gateway.port), *files
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert Exam.objects.count() == 2
    assert Instance.objects.count() == 2
    assert len(_store_files(settings)) == 2
    ct = Exam.objects.get(modality="CT")
    assert ct.status == "RECEIVING" and ct.site == ct_modality.site and ct.number_of_instances == 1


@pytest.mark.parametrize(
    ("name", "propose"),
    [
        ("MR_small_RLE.dcm", "-xr"),  # RLE lossless
        ("MR_small_jpeg_ls_lossless.dcm", "-xt"),  # JPEG-LS lossless
        ("MR_small_jp2klossless.dcm", "-xv"),  # JPEG 2000 lossless
        ("JPEG2000.dcm", "-xw"),  # JPEG 2000
        ("SC_rgb_jpeg_dcmtk.dcm", "-xy"),  # JPEG baseline
        ("JPGExtended.dcm", "-xx"),  # JPEG extended (12 bit)
        ("SC_rgb_jpeg_gdcm.dcm", "-xs"),  # JPEG lossless SV1
        ("image_dfl.dcm", "-xd"),  # deflated explicit VR little endian
    ],
)
def test_storescu_sends_compressed_transfer_syntaxes_as_they_are(gateway, ct_modality, settings, name, propose):
    # Propose the file's own (compressed) transfer syntax, as a scanner configured to compress.
    result = run_dcmtk(
        "storescu",
        propose,
        "-aet",
        "CT_LANDERNEAU",
        "-aec",
        "TELERADIO",
        "127.0.0.1",
        str(gateway.port),
        str(TEST_FILES / name),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sent_syntax = pydicom.dcmread(TEST_FILES / name, stop_before_pixels=True).file_meta.TransferSyntaxUID
    assert Instance.objects.get().transfer_syntax_uid == sent_syntax
    stored = _store_files(settings)
    assert len(stored) == 1
    assert stored[0].read_bytes()[128:132] == b"DICM"


def test_a_simulated_urgent_study_arrives_whole_and_urgent(gateway, ct_modality, settings):
    result = send_study(
        build_study("ct-head", count=12, urgent=True), host="127.0.0.1", port=gateway.port, calling_ae="CT_LANDERNEAU"
    )
    assert (result.sent, result.failed) == (12, 0)
    exam = Exam.objects.get()
    assert (exam.priority, exam.number_of_instances, exam.number_of_series) == ("URGENT", 12, 1)
    assert exam.received_bytes == sum(p.stat().st_size for p in _store_files(settings))


def test_storescu_sends_a_simulated_study_from_files(gateway, ct_modality, tmp_path):
    paths = write_study(build_study("mr-brain", count=20), tmp_path / "study")
    result = run_dcmtk(
        "storescu",
        "-aet",
        "CT_LANDERNEAU",
        "-aec",
        "TELERADIO",
        "127.0.0.1",
        str(gateway.port),
        "--scan-directories",
        str(tmp_path / "study"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert Instance.objects.count() == len(paths) == 20


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_hostile_uids_get_a_failure_status_and_nothing_is_written(gateway, ct_modality, settings):
    ds = next(build_study("small", count=1))
    ds.SOPInstanceUID = "1.2.3.4"  # the request's UID: valid
    ds.StudyInstanceUID = "../../etc/passwd"
    ae = AE(ae_title="CT_LANDERNEAU")
    ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", gateway.port, ae_title="TELERADIO")
    assert assoc.is_established
    try:
        status = assoc.send_c_store(ds)
    finally:
        assoc.release()
    assert status.Status == 0xC000
    assert not Exam.objects.exists()
    assert _store_files(settings) == []


def test_a_script_in_the_patient_name_is_stored_as_text(gateway, ct_modality):
    result = send_study(
        build_study("small", count=1, patient_name="<script>alert(1)</script>"),
        host="127.0.0.1",
        port=gateway.port,
        calling_ae="CT_LANDERNEAU",
    )
    assert result.sent == 1
    assert Exam.objects.get().patient_name == "<script>alert(1)</script>"


def test_a_full_disk_answers_out_of_resources_so_the_scanner_retries(gateway, ct_modality, settings, tmp_path):
    # The store's root is a file: every write fails as on a full or broken disk.
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    settings.STORAGE_ROOT = blocker / "storage"
    result = send_study(build_study("small", count=2), host="127.0.0.1", port=gateway.port, calling_ae="CT_LANDERNEAU")
    assert result.statuses == {0xA700: 2}
    assert not Exam.objects.exists()


def test_a_dropped_association_leaves_nothing_half_written(gateway, ct_modality, settings, tmp_path):
    import subprocess
    import time

    from tests.integration.conftest import dcmtk

    paths = write_study(build_study("ct-chest", count=60), tmp_path / "study")
    proc = subprocess.Popen(
        [
            dcmtk("storescu"),
            "-aet",
            "CT_LANDERNEAU",
            "-aec",
            "TELERADIO",
            "127.0.0.1",
            str(gateway.port),
            *map(str, paths),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    proc.kill()
    proc.wait()
    time.sleep(0.5)
    stored = Instance.objects.count()
    assert len(_store_files(settings)) >= stored
    tmp = FileSystemStorage(settings.STORAGE_ROOT).tmp
    assert not tmp.exists() or list(tmp.iterdir()) == []
    for instance in Instance.objects.all():
        assert FileSystemStorage(settings.STORAGE_ROOT).exists(instance.storage_key)
    shutil.rmtree(tmp_path / "study")


def test_it_counts_instances_and_bytes_for_prometheus(gateway, ct_modality):
    from prometheus_client import REGISTRY

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0

    before = sample("teleradio_gateway_instances_total", outcome="success")
    before_bytes = sample("teleradio_gateway_bytes_total")
    before_rejected = sample("teleradio_gateway_associations_total", outcome="rejected")
    send_study(build_study("small", count=3), host="127.0.0.1", port=gateway.port, calling_ae="CT_LANDERNEAU")
    run_dcmtk("echoscu", "-aet", "NOBODY", "-aec", "TELERADIO", "127.0.0.1", str(gateway.port))
    assert sample("teleradio_gateway_instances_total", outcome="success") == before + 3
    assert sample("teleradio_gateway_bytes_total") > before_bytes
    assert sample("teleradio_gateway_associations_total", outcome="rejected") == before_rejected + 1
    assert sample("teleradio_gateway_store_seconds_count") >= 3


def test_each_association_and_study_gets_one_info_line_without_the_patients_name(
    gateway, ct_modality, tmp_path, caplog
):
    paths = write_study(build_study("small", count=3, patient_name="SECRETNAME^Jeanne"), tmp_path / "study")
    with caplog.at_level("INFO", logger="dicom_gateway"):
        result = run_dcmtk(
            "storescu", "-aet", "CT_LANDERNEAU", "-aec", "TELERADIO", "127.0.0.1", str(gateway.port), *map(str, paths)
        )
        assert result.returncode == 0, result.stdout + result.stderr
        # The summary is written when the association's thread ends, just after storescu's.
        deadline = time.monotonic() + 10
        while "association closed" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    exam = Exam.objects.get()
    size = sum(Instance.objects.values_list("size", flat=True))
    [study] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("study received")]
    assert re.fullmatch(
        rf"study received: exam={exam.pk} calling_ae=CT_LANDERNEAU instances=3 bytes={size} duration=\d+\.\d{{3}}s",
        study,
    )
    [association] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("association closed")]
    assert "calling_ae=CT_LANDERNEAU" in association and f"instances=3 failures=0 bytes={size}" in association
    assert "SECRETNAME" not in caplog.text


def test_an_instance_over_the_size_limit_is_refused_and_the_association_goes_on(gateway, ct_modality, caplog):
    # Each instance is held in memory until stored: a peer cannot make the gateway hold more.
    gateway.server.config = dataclasses.replace(gateway.server.config, max_instance_bytes=20_000)
    files = [str(TEST_FILES / "CT_small.dcm"), str(TEST_FILES / "MR_small.dcm")]  # 39 kB, then 10 kB
    with caplog.at_level("WARNING", logger="dicom_gateway"):
        result = run_dcmtk(
            "storescu", "-v", "--no-halt", "-aet", "CT_LANDERNEAU", "-aec", "TELERADIO", "127.0.0.1",
            str(gateway.port), *files,
        )  # fmt: skip
    output = result.stdout + result.stderr
    # The CT refused as "out of resources", then the MR stored in the same association.
    assert output.count("Received Store Response") == 2 and "Refused: OutOfResources" in output, output
    assert output.count("Requesting Association") == 1, output
    assert list(Instance.objects.values_list("sop_class_uid", flat=True)) == ["1.2.840.10008.5.1.4.1.1.4"]  # MR
    assert "over DICOM_MAX_INSTANCE_BYTES=20000" in caplog.text
