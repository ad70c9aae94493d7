"""Delivery of signed reports to a real dcmtk storescp on loopback: DICOM Encapsulated PDF, retries, sweep, failure."""

import datetime
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pydicom
import pytest
from django.db import connection
from django.utils import timezone
from pynetdicom import AE, evt
from pynetdicom.sop_class import EncapsulatedPDFStorage

from core.models import Notification
from core.testing import free_port
from reports import delivery as report_delivery
from reports import services
from reports.models import ReportDelivery
from reports.tests.signed import signed_addendum, signed_report
from sites.tests.factories import PacsNodeFactory
from worklist.models import ExamEvent
from worklist.services import exam_claim
from worklist.tests.factories import ExamFactory

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
PACS_AE = "PACS_SITE_A"


def dcmtk(tool: str) -> str:
    """dcmtk's ``tool`` (pynetdicom installs look-alikes in the venv, skipped here)."""
    for directory in ["/usr/bin", "/usr/local/bin", *os.environ.get("PATH", "").split(os.pathsep)]:
        candidate = shutil.which(tool, path=directory)
        if candidate and Path(candidate).parent.resolve() != VENV_BIN.resolve():
            return candidate
    pytest.fail(f"dcmtk's {tool} is missing: bin/test installs it (apt-get install dcmtk)")


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"nothing listens on {port}")


class StoreSCP:
    """dcmtk's storescp on a loopback port; +uf keeps every received copy (a duplicate would show)."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> "StoreSCP":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [dcmtk("storescp"), "-aet", PACS_AE, "-od", str(self.directory), "+uf", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def received(self) -> list[pydicom.Dataset]:
        return [pydicom.dcmread(path) for path in sorted(self.directory.iterdir()) if path.is_file()]


@pytest.fixture
def storescp(tmp_path):
    scp = StoreSCP(tmp_path / "pacs").start()
    yield scp
    scp.stop()


@pytest.fixture
def pacs_a(site_a, storescp):
    return PacsNodeFactory(site=site_a, ae_title=PACS_AE, host="127.0.0.1", port=storescp.port)


@pytest.fixture
def report_a(site_a, radiologist_a):
    exam = ExamFactory(site=site_a, status="REPORTED", patient_name="LE GALL^Anne-Marie", patient_id="IPP-0042")
    return signed_report(exam=exam, signer=radiologist_a)


def make_delivery(report, addendum=None, kind=ReportDelivery.Kind.DICOM_PDF) -> ReportDelivery:
    return ReportDelivery.objects.create(
        report=report,
        addendum=addendum,
        kind=kind,
        sop_instance_uid=pydicom.uid.generate_uid(),
        next_attempt_at=timezone.now(),
    )


def make_due(delivery: ReportDelivery) -> None:
    """As if the back-off delay had passed."""
    ReportDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))


def test_signing_delivers_an_encapsulated_pdf_in_the_exams_study(
    site_a, radiologist_a, pacs_a, storescp, django_capture_on_commit_callbacks
):
    exam = ExamFactory(
        site=site_a,
        status="ASSIGNED",
        assigned_to=radiologist_a,
        patient_name="LE GALL^Anne-Marie",
        patient_birth_date=datetime.date(1950, 3, 2),
        issuer_of_patient_id="CHBREST",
    )
    exam = exam_claim(exam=exam, by=radiologist_a)
    draft = services.report_get_or_create_draft(exam=exam, by=radiologist_a)
    draft = services.report_save_draft(
        report=draft,
        by=radiologist_a,
        revision=draft.revision,
        values={"indication": "Chute.", "dose": "PDL 800 mGy·cm", "findings": "Normal.", "conclusion": "RAS."},
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.report_sign(report=draft, by=radiologist_a, password="password")

    delivery = ReportDelivery.objects.get(report__exam=exam)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, "")
    assert delivery.delivered_at is not None
    exam.refresh_from_db()
    assert exam.status == "DELIVERED"
    assert ExamEvent.objects.filter(exam=exam, from_status="REPORTED", to_status="DELIVERED").count() == 1

    [received] = storescp.received()
    assert received.SOPClassUID == EncapsulatedPDFStorage
    assert received.SOPInstanceUID == delivery.sop_instance_uid
    assert received.StudyInstanceUID == exam.study_instance_uid
    assert received.SeriesInstanceUID not in (exam.study_instance_uid, delivery.sop_instance_uid)
    assert (str(received.PatientName), received.PatientID, received.IssuerOfPatientID) == (
        "LE GALL^Anne-Marie",
        exam.patient_id,
        "CHBREST",
    )
    assert received.PatientBirthDate == "19500302"
    assert received.AccessionNumber == exam.accession_number
    assert received.Modality == "DOC"
    assert received.SpecificCharacterSet == "ISO_IR 192"
    assert received.MIMETypeOfEncapsulatedDocument == "application/pdf"
    document = received.EncapsulatedDocument[: received.EncapsulatedDocumentLength]
    assert document.startswith(b"%PDF-")
    assert document.rstrip().endswith(b"%%EOF")
    assert b"LE GALL Anne-Marie" in document


def test_a_pacs_down_is_retried_later_then_delivered_once(report_a, site_a, tmp_path):
    port = free_port()  # nothing listens there yet
    PacsNodeFactory(site=site_a, ae_title=PACS_AE, host="127.0.0.1", port=port)
    delivery = make_delivery(report_a)

    assert report_delivery.report_delivery_send(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at > timezone.now()
    assert "127.0.0.1" in delivery.last_error
    # Not due yet: the sweep leaves it alone.
    assert report_delivery.report_deliveries_send_due() == 0

    pacs = StoreSCP(tmp_path / "pacs", port=port).start()
    try:
        make_due(delivery)
        assert report_delivery.report_deliveries_send_due() == 1  # eager Celery: sent now
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("delivered", 2)
        report_a.exam.refresh_from_db()
        assert report_a.exam.status == "DELIVERED"

        # Sent again by a late message or a second sweep: nothing is re-sent.
        assert report_delivery.report_delivery_send(delivery_id=delivery.pk) == "skipped"
        assert report_delivery.report_deliveries_send_due() == 0
        copies = [ds for ds in pacs.received() if ds.SOPInstanceUID == delivery.sop_instance_uid]
        assert len(copies) == 1
    finally:
        pacs.stop()


def test_a_retry_resends_the_same_object(report_a, pacs_a, storescp):
    delivery = make_delivery(report_a)
    assert report_delivery.report_delivery_send(delivery_id=delivery.pk) == "delivered"
    # The admin's "resend" of a delivery the PACS lost: the same SOP instance, the same bytes.
    ReportDelivery.objects.filter(pk=delivery.pk).update(status="pending", next_attempt_at=timezone.now())
    assert report_delivery.report_delivery_send(delivery_id=delivery.pk) == "delivered"

    first, second = storescp.received()
    assert first.SOPInstanceUID == second.SOPInstanceUID == delivery.sop_instance_uid
    assert first.SeriesInstanceUID == second.SeriesInstanceUID
    assert first.EncapsulatedDocument == second.EncapsulatedDocument


def test_back_off_doubles_up_to_the_maximum(settings):
    settings.REPORT_DELIVERY_RETRY_SECONDS = 30
    settings.REPORT_DELIVERY_RETRY_MAX_SECONDS = 3600
    delays = [report_delivery.retry_delay(n).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_after_the_last_attempt_it_fails_and_tells_the_ghts_admins(
    settings, report_a, site_a, ght_admin_a, ght_admin_b, mailoutbox, django_capture_on_commit_callbacks
):
    settings.REPORT_DELIVERY_MAX_ATTEMPTS = 2
    PacsNodeFactory(site=site_a, ae_title=PACS_AE, host="127.0.0.1", port=free_port())
    delivery = make_delivery(report_a)

    assert report_delivery.report_delivery_send(delivery_id=delivery.pk) == "retry"
    assert not Notification.objects.exists()
    make_due(delivery)
    with django_capture_on_commit_callbacks(execute=True):
        assert report_delivery.report_delivery_send(delivery_id=delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)
    [note] = Notification.objects.all()
    assert note.user == ght_admin_a
    assert str(report_a.exam_id) in note.text
    assert "LE GALL" not in note.text  # no patient data: it is also e-mailed
    assert [m.to for m in mailoutbox] == [[ght_admin_a.email]]
    # A failed delivery waits for a person: the sweep does not pick it up.
    assert report_delivery.report_deliveries_send_due() == 0
    report_a.exam.refresh_from_db()
    assert report_a.exam.status == "REPORTED"


def test_a_failure_status_from_the_pacs_is_a_failed_attempt(report_a, site_a):
    """A real pynetdicom SCP that answers "out of resources" (0xA700) to every C-STORE."""
    scp = AE(ae_title=PACS_AE)
    scp.add_supported_context(EncapsulatedPDFStorage)
    port = free_port()
    server = scp.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, lambda event: 0xA700)])
    try:
        PacsNodeFactory(site=site_a, ae_title=PACS_AE, host="127.0.0.1", port=port)
        delivery = make_delivery(report_a)
        assert report_delivery.report_delivery_send(delivery_id=delivery.pk) == "retry"
    finally:
        server.shutdown()
    delivery.refresh_from_db()
    assert "0xA700" in delivery.last_error
    assert delivery.status == "pending"


def test_an_addendum_is_delivered_in_the_same_study_without_moving_the_exam(report_a, radiologist_a, pacs_a, storescp):
    first = make_delivery(report_a)
    assert report_delivery.report_delivery_send(delivery_id=first.pk) == "delivered"
    addendum = signed_addendum(report=report_a, signer=radiologist_a, text="Complément : appel du Dr Kerjean.")
    second = make_delivery(report_a, addendum=addendum)

    assert report_delivery.report_delivery_send(delivery_id=second.pk) == "delivered"

    report, amended = storescp.received()
    assert amended.SOPInstanceUID == second.sop_instance_uid != report.SOPInstanceUID
    assert amended.StudyInstanceUID == report.StudyInstanceUID
    assert amended.SeriesInstanceUID != report.SeriesInstanceUID
    assert b"Kerjean" in amended.EncapsulatedDocument
    assert ExamEvent.objects.filter(exam=report_a.exam, to_status="DELIVERED").count() == 1


def test_the_exam_is_delivered_only_when_every_destination_has_it(report_a, pacs_a, site_a):
    from reports.models import RisEndpoint

    RisEndpoint.objects.create(site=site_a, host="127.0.0.1", port=free_port())  # nothing listens
    dicom = make_delivery(report_a)
    hl7 = make_delivery(report_a, kind=ReportDelivery.Kind.HL7_ORU)

    assert report_delivery.report_delivery_send(delivery_id=dicom.pk) == "delivered"
    assert report_delivery.report_delivery_send(delivery_id=hl7.pk) == "retry"
    report_a.exam.refresh_from_db()
    assert report_a.exam.status == "REPORTED"


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_at_once_send_it_once(site_a, radiologist_a, tmp_path):
    exam = ExamFactory(site=site_a, status="REPORTED")
    report = signed_report(exam=exam, signer=radiologist_a)
    pacs = StoreSCP(tmp_path / "pacs").start()
    try:
        PacsNodeFactory(site=site_a, ae_title=PACS_AE, host="127.0.0.1", port=pacs.port)
        delivery = make_delivery(report)
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def worker() -> None:
            try:
                barrier.wait()
                outcomes.append(report_delivery.report_delivery_send(delivery_id=delivery.pk))
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert sorted(outcomes) == ["delivered", "skipped"]
        assert len(pacs.received()) == 1
    finally:
        pacs.stop()


def test_the_sweep_is_scheduled_in_beat():
    from teleradio.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "reports.deliveries_send_due" in tasks
    assert "reports.deliveries_send_due" in app.tasks
