"""HL7 v2.5 ORU^R01 of a signed report, and its sending over MLLP to the site's RIS.

The message is built with hl7apy (which checks the ORU^R01 structure): PID from
the exam as received, ORC/OBR carrying the accession number (OBR-3, the filler
order number the RIS knows the exam by), one TX OBX per report section (LOINC
codes of radiology report sections), one per signed addendum, and the signer
as principal result interpreter (OBR-32, RPPS). UTF-8 (MSH-18).

Text is escaped here (PS 2.7: ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``), not by hl7apy,
whose TX escaping leaves ``^`` and ``&`` alone; each line of a section is one
repetition of OBX-5, as TX wants. The message control id (MSH-10) is derived
from the delivery, so a retried message is recognised by the RIS as the same.

MLLP (HL7 v2 transport): ``0x0B`` message ``0x1C 0x0D``; the RIS answers an ACK
whose MSA-1 is AA (or CA, enhanced mode) when it took the message.
"""

from __future__ import annotations

import socket
import zoneinfo
from datetime import datetime

from django.utils import timezone
from hl7apy.core import Message
from hl7apy.parser import parse_message

from reports.models import ReportDelivery, RisEndpoint
from reports.pdf import report_addenda_for_version

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
ACCEPTED_CODES = frozenset({"AA", "CA"})
MAX_ACK_BYTES = 1 << 20

# LOINC codes of the sections of a radiology report.
SECTION_CODES = (
    ("indication", "18785-6", "Radiology Reason for study"),
    ("technique", "55111-9", "Current imaging procedure descriptions"),
    ("dose", "73569-6", "Radiation exposure and protection information"),
    ("findings", "18782-3", "Radiology Study observation"),
    ("conclusion", "19005-8", "Radiology Imaging study [Impression]"),
)
ADDENDUM_CODE = ("ADDENDUM", "Addendum", "L")

_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


def escape(value: str) -> str:
    """Text as an HL7 v2 value: the escape character first, then the separators."""
    for char, sequence in _ESCAPES:
        value = value.replace(char, sequence)
    return value.replace("\r", " ").replace("\n", " ")


def unescape(value: str) -> str:
    """The inverse of ``escape`` (for ACK texts, and for tests reading messages back)."""
    for char, sequence in reversed(_ESCAPES):
        value = value.replace(sequence, char)
    return value


def _ts(moment: datetime | None, tz: zoneinfo.ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y%m%d%H%M%S%z") if moment else ""


def _xpn(dicom_name: str) -> str:
    """A DICOM PN (family^given^middle^prefix^suffix) as an HL7 XPN (family^given^middle^suffix^prefix)."""
    family, given, middle, prefix, suffix = ([*dicom_name.split("=", 1)[0].split("^"), "", "", "", ""])[:5]
    return "^".join(escape(part.strip()) for part in (family, given, middle, suffix, prefix)).rstrip("^")


def _lines(text: str) -> list[str]:
    return [escape(line) for line in text.strip().replace("\r\n", "\n").split("\n")]


def message_control_id(delivery: ReportDelivery) -> str:
    return f"TRCR{delivery.pk}"


def oru_message(*, delivery: ReportDelivery, endpoint: RisEndpoint) -> str:
    """The ORU^R01 (ER7, segments separated by CR) of ``delivery``'s report version."""
    report = delivery.report
    exam = report.exam
    tz = zoneinfo.ZoneInfo(exam.site.timezone)
    addenda = report_addenda_for_version(report=report, up_to=delivery.addendum)

    m = Message("ORU_R01", version="2.5")
    m.msh.msh_3 = escape(endpoint.sending_application)
    m.msh.msh_4 = escape(endpoint.sending_facility)
    m.msh.msh_5 = escape(endpoint.receiving_application)
    m.msh.msh_6 = escape(endpoint.receiving_facility)
    m.msh.msh_7 = _ts(timezone.now(), tz)
    m.msh.msh_9 = "ORU^R01^ORU_R01"
    m.msh.msh_10 = message_control_id(delivery)
    m.msh.msh_11 = "P"
    m.msh.msh_18 = "UNICODE UTF-8"

    result = m.add_group("ORU_R01_PATIENT_RESULT")
    pid = result.add_group("ORU_R01_PATIENT").add_segment("PID")
    pid.pid_1 = "1"
    pid.pid_3 = f"{escape(exam.patient_id)}^^^{escape(exam.issuer_of_patient_id)}".rstrip("^")
    pid.pid_5 = _xpn(exam.patient_name)
    if exam.patient_birth_date:
        pid.pid_7 = exam.patient_birth_date.strftime("%Y%m%d")
    pid.pid_8 = {"M": "M", "F": "F", "O": "O"}.get(exam.patient_sex, "U")

    order = result.add_group("ORU_R01_ORDER_OBSERVATION")
    orc = order.add_segment("ORC")
    orc.orc_1 = "RE"  # observations to follow
    orc.orc_3 = escape(exam.accession_number)
    obr = order.obr
    obr.obr_1 = "1"
    obr.obr_3 = escape(exam.accession_number)
    obr.obr_4 = f"{escape(exam.modality)}^{escape(exam.study_description)}^L"
    obr.obr_7 = _ts(exam.study_datetime, tz)
    obr.obr_22 = _ts(addenda[-1].signed_at if addenda else report.signed_at, tz)
    obr.obr_24 = "RAD"
    obr.obr_25 = "C" if addenda else "F"  # corrected once an addendum exists
    obr.obr_32 = f"{escape(report.signer_rpps)}&{escape(report.signer_name)}"

    observations: list[tuple[tuple[str, str, str], str]] = [
        ((code, label, "LN"), getattr(report, field)) for field, code, label in SECTION_CODES
    ]
    observations += [(ADDENDUM_CODE, addendum.text) for addendum in addenda]
    set_id = 0
    for (code, label, system), text in observations:
        if not text.strip():
            continue
        set_id += 1
        obx = order.add_group("ORU_R01_OBSERVATION").obx
        obx.obx_1 = str(set_id)
        obx.obx_2 = "TX"
        obx.obx_3 = f"{code}^{escape(label)}^{system}"
        for line in _lines(text):
            obx.add_field("OBX_5").value = line
        obx.obx_11 = "C" if addenda and code == ADDENDUM_CODE[0] else "F"
    m.validate()
    return m.to_er7()


def mllp_send(message: str, *, host: str, port: int, timeout: float) -> str:
    """Send ``message`` framed by MLLP and return the answer (the ACK), decoded.

    Raises:
        OSError: connection refused or reset, timeout, or the peer closed before a full answer.
    """
    payload = START_BLOCK + message.encode("utf-8") + END_BLOCK
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(payload)
        received = b""
        while END_BLOCK not in received:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the RIS closed the connection without an acknowledgement")
            received += chunk
            if len(received) > MAX_ACK_BYTES:
                raise ConnectionError("acknowledgement too long")
    start = received.find(START_BLOCK)
    return received[start + 1 : received.index(END_BLOCK)].decode("utf-8", errors="replace")


def ack_code(ack: str) -> tuple[str, str]:
    """(MSA-1, MSA-3 text) of an ACK; ``("", reason)`` if it cannot be read."""
    try:
        parsed = parse_message(ack.replace("\n", "\r"), find_groups=False)
        msa = parsed.msa
        return msa.msa_1.value, unescape(msa.msa_3.value or "")
    except Exception as exc:  # noqa: BLE001 - an unreadable answer is a refusal
        return "", f"unreadable acknowledgement ({type(exc).__name__})"
