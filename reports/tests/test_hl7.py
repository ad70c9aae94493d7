"""HL7 v2 ORU^R01 to a site's RIS over MLLP: a small listener in the test parses the message back with hl7apy."""

import datetime
import socketserver
import threading

import pytest
from django.utils import timezone
from hl7apy.core import Message
from hl7apy.parser import parse_message

from core.testing import free_port
from reports import delivery as report_delivery
from reports import hl7, services
from reports.models import ReportDelivery, RisEndpoint
from reports.tests.signed import TEXTS, signed_addendum, signed_report
from worklist.tests.factories import ExamFactory


class MllpListener(socketserver.ThreadingTCPServer):
    """A RIS on loopback: keeps each message it receives and answers an ACK with ``ack_code``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, ack_code: str = "AA") -> None:
        self.ack_code = ack_code
        self.messages: list[str] = []
        super().__init__(("127.0.0.1", 0), MllpHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]


class MllpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data = b""
        while hl7.END_BLOCK not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        text = data[data.index(hl7.START_BLOCK) + 1 : data.index(hl7.END_BLOCK)].decode("utf-8")
        self.server.messages.append(text)
        received = parse_message(text, find_groups=False)
        ack = Message("ACK", version="2.5")
        ack.msh.msh_3 = "RIS"
        ack.msh.msh_9 = "ACK^R01^ACK"
        ack.msh.msh_10 = "ACK1"
        ack.msh.msh_11 = "P"
        ack.msa.msa_1 = self.server.ack_code
        ack.msa.msa_2 = received.msh.msh_10.value
        if self.server.ack_code != "AA":
            ack.msa.msa_3 = hl7.escape("Patient inconnu | IPP")
        self.request.sendall(hl7.START_BLOCK + ack.to_er7().encode("utf-8") + hl7.END_BLOCK)


@pytest.fixture
def ris():
    server = MllpListener()
    server.thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def endpoint(site_a, ris):
    return RisEndpoint.objects.create(
        site=site_a,
        host="127.0.0.1",
        port=ris.port,
        sending_facility="GHTA",
        receiving_application="RIS",
        receiving_facility="CHA",
    )


@pytest.fixture
def report_a(site_a, radiologist_a):
    exam = ExamFactory(
        site=site_a,
        status="REPORTED",
        patient_name="LE GALL^Anne-Marie^^Mme",
        patient_id="IPP-0042",
        issuer_of_patient_id="CHBREST",
        patient_birth_date=datetime.date(1950, 3, 2),
        accession_number="ACC778899",
        study_datetime=timezone.now() - datetime.timedelta(hours=1),
    )
    return signed_report(exam=exam, signer=radiologist_a)


def hl7_delivery(report, addendum=None) -> ReportDelivery:
    return ReportDelivery.objects.create(
        report=report,
        addendum=addendum,
        kind=ReportDelivery.Kind.HL7_ORU,
        sop_instance_uid=f"2.25.{report.pk}{addendum.pk if addendum else 0}",
        next_attempt_at=timezone.now(),
    )


def observations(message: str) -> dict[str, list[str]]:
    """OBX-3 code → the lines of OBX-5, unescaped, read back with hl7apy."""
    parsed = parse_message(message, find_groups=False)
    found = {}
    for obx in parsed.children.get("OBX"):
        assert obx.obx_2.value == "TX"
        found[obx.obx_3.ce_1.value] = [hl7.unescape(rep.value) for rep in obx.children.get("OBX_5")]
    return found


def test_it_sends_an_oru_r01_and_is_delivered_on_aa(report_a, endpoint, ris):
    delivery = hl7_delivery(report_a)

    assert report_delivery.report_delivery_send(delivery_id=delivery.pk) == "delivered"

    [message] = ris.messages
    parsed = parse_message(message, find_groups=True)
    assert parsed.msh.msh_9.to_er7() == "ORU^R01^ORU_R01"
    assert parsed.msh.msh_10.value == hl7.message_control_id(delivery)
    assert parsed.msh.msh_18.value == "UNICODE UTF-8"
    assert (parsed.msh.msh_4.value, parsed.msh.msh_5.value, parsed.msh.msh_6.value) == ("GHTA", "RIS", "CHA")
    pid = parsed.ORU_R01_PATIENT_RESULT.ORU_R01_PATIENT.PID
    assert pid.pid_3.cx_1.value == "IPP-0042"
    assert pid.pid_3.cx_4.to_er7() == "CHBREST"
    assert (pid.pid_5.xpn_1.value, pid.pid_5.xpn_2.value, pid.pid_5.xpn_5.value) == ("LE GALL", "Anne-Marie", "Mme")
    assert pid.pid_7.value == "19500302"
    assert pid.pid_8.value == "F"
    order = parsed.ORU_R01_PATIENT_RESULT.ORU_R01_ORDER_OBSERVATION
    assert order.OBR.obr_3.value == "ACC778899"
    assert order.OBR.obr_25.value == "F"
    assert order.OBR.obr_32.to_er7() == f"{report_a.signer_rpps}&{hl7.escape(report_a.signer_name)}"

    sections = observations(message)
    assert sections["18785-6"] == [TEXTS["indication"]]
    assert sections["19005-8"] == [TEXTS["conclusion"]]
    # One repetition per line, every separator character escaped and restored.
    assert sections["18782-3"] == TEXTS["findings"].split("\n")
    assert len(sections) == 5

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    report_a.exam.refresh_from_db()
    assert report_a.exam.status == "DELIVERED"


def test_an_addendum_is_sent_as_a_corrected_result(report_a, endpoint, ris, radiologist_a):
    addendum = signed_addendum(report=report_a, signer=radiologist_a, text="Complément : appel du Dr Kerjean.")
    assert report_delivery.report_delivery_send(delivery_id=hl7_delivery(report_a, addendum).pk) == "delivered"

    [message] = ris.messages
    assert observations(message)["ADDENDUM"] == ["Complément : appel du Dr Kerjean."]
    assert parse_message(message, find_groups=False).obr.obr_25.value == "C"


def test_a_refusal_by_the_ris_is_retried(report_a, endpoint, ris):
    ris.ack_code = "AE"
    delivery = hl7_delivery(report_a)

    assert report_delivery.report_delivery_send(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert "AE" in delivery.last_error
    assert "Patient inconnu | IPP" in delivery.last_error


def test_a_ris_down_is_retried(report_a, site_a):
    port = free_port()
    RisEndpoint.objects.create(site=site_a, host="127.0.0.1", port=port)
    delivery = hl7_delivery(report_a)

    assert report_delivery.report_delivery_send(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now()


def test_signing_creates_one_delivery_per_enabled_destination(report_a, endpoint, site_a):
    from sites.tests.factories import PacsNodeFactory

    pacs = PacsNodeFactory(site=site_a, enabled=False)
    kinds = {d.kind for d in services.report_deliveries_create(report=report_a)}
    assert kinds == {"hl7_oru"}

    pacs.enabled = True
    pacs.save()
    endpoint.enabled = False
    endpoint.save()
    assert {d.kind for d in services.report_deliveries_create(report=report_a)} == {"dicom_pdf"}
    assert ReportDelivery.objects.filter(report=report_a).count() == 2
