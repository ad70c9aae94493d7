"""Delivery of signed reports back to the site: DICOM Encapsulated PDF to its PACS, HL7 ORU^R01 to its RIS.

The database is the source of truth (house style §5.4): a ReportDelivery row
is created pending when the report or addendum is signed, the task queued on
commit is only a hint, and the beat sweep ``report_deliveries_send_due``
re-queues every pending delivery whose next attempt is due. A lost message
delays a delivery, never loses it.

One sender at a time: a send first *claims* the delivery with a compare-and-set
that pushes ``next_attempt_at`` past the longest a send can take (a lease) and
counts the attempt. A second worker, or the sweep, finds the row not due and
does nothing; a worker that dies mid-send leaves the row due again when the
lease ends. No row lock is held during the network exchange.

Idempotent towards the site: the SOP Instance UID (and the HL7 message control
id) is fixed when the delivery is created, so a retry re-sends the same object
and the PACS keeps one copy; a delivered row is never sent again.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import EncapsulatedPDFStorage

from core.services import audit_log, notify
from reports import hl7
from reports.models import ReportDelivery
from reports.pdf import report_pdf
from sites.models import Role, User
from worklist.models import ExamRequest
from worklist.services import StaleStatus, exam_transition
from worklist.states import Status

logger = logging.getLogger(__name__)

# C-STORE answers that mean "stored" (PS3.4 B.2.3): success, and the warnings
# "coercion of data elements", "elements discarded", "data set does not match SOP class".
STORED_STATUSES = frozenset({0x0000, 0xB000, 0xB006, 0xB007})

# Returned by report_delivery_send (and so by its Celery task), for logs and tests.
DELIVERED = "delivered"
RETRY = "retry"
FAILED = "failed"
SKIPPED = "skipped"
HELD = "held"


class DeliveryError(Exception):
    """The site did not take the document; the message goes to ``last_error``."""


def _claim_seconds() -> float:
    """How long a claimed delivery stays out of the sweep: longer than any send can take."""
    dicom = settings.DICOM_ACSE_TIMEOUT + settings.DICOM_DIMSE_TIMEOUT
    return max(dicom, settings.REPORT_HL7_TIMEOUT_SECONDS * 2) + 60


def retry_delay(attempts: int) -> datetime.timedelta:
    """Back-off after the ``attempts``-th failure: base, 2×base, 4×base… capped at the maximum."""
    base = settings.REPORT_DELIVERY_RETRY_SECONDS
    seconds = min(base * 2 ** max(attempts - 1, 0), settings.REPORT_DELIVERY_RETRY_MAX_SECONDS)
    return datetime.timedelta(seconds=seconds)


def _due(now: datetime.datetime) -> Q:
    return Q(status=ReportDelivery.Status.PENDING) & (Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True))


# --- The DICOM document ---------------------------------------------------------


def _da_tm(moment: datetime.datetime, tz: zoneinfo.ZoneInfo) -> tuple[str, str, str]:
    local = moment.astimezone(tz)
    offset = local.strftime("%z") or "+0000"
    return local.strftime("%Y%m%d"), local.strftime("%H%M%S"), offset


def encapsulated_pdf_dataset(*, delivery: ReportDelivery, pdf: bytes) -> Dataset:
    """The Encapsulated PDF instance (PS3.3 A.45.1) of ``delivery``, in the exam's study.

    Patient and study modules are copied from the exam as received, so the
    PACS files the report with the images. The series UID is derived from the
    delivery's SOP Instance UID: a retry rebuilds exactly the same object.
    """
    report = delivery.report
    exam = report.exam
    tz = zoneinfo.ZoneInfo(exam.site.timezone)
    signed_at = delivery.addendum.signed_at if delivery.addendum_id else report.signed_at
    content_date, content_time, offset = _da_tm(signed_at, tz)

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: French names and text
    ds.SOPClassUID = EncapsulatedPDFStorage
    ds.SOPInstanceUID = delivery.sop_instance_uid
    ds.InstanceCreationDate = content_date
    ds.InstanceCreationTime = content_time
    ds.TimezoneOffsetFromUTC = offset
    # Patient module
    ds.PatientName = exam.patient_name
    ds.PatientID = exam.patient_id
    if exam.issuer_of_patient_id:
        ds.IssuerOfPatientID = exam.issuer_of_patient_id
    ds.PatientBirthDate = exam.patient_birth_date.strftime("%Y%m%d") if exam.patient_birth_date else ""
    ds.PatientSex = exam.patient_sex
    # General Study module
    ds.StudyInstanceUID = exam.study_instance_uid
    if exam.study_datetime:
        ds.StudyDate, ds.StudyTime, _offset = _da_tm(exam.study_datetime, tz)
    else:
        ds.StudyDate, ds.StudyTime = "", ""
    ds.ReferringPhysicianName = exam.referring_physician_name
    ds.StudyID = ""
    ds.AccessionNumber = exam.accession_number
    ds.StudyDescription = exam.study_description
    # Encapsulated Document Series module
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["teleradio-report-series", delivery.sop_instance_uid])
    # Addenda get their own series number so viewers list them after the report.
    ds.SeriesNumber = 9000 + (1 if delivery.addendum_id else 0)
    ds.SeriesDescription = _("Addendum au compte rendu") if delivery.addendum_id else _("Compte rendu")
    # General Equipment and SC Equipment modules
    ds.Manufacturer = "Téléradio"
    ds.ConversionType = "WSD"  # workstation
    # Encapsulated Document module
    ds.InstanceNumber = delivery.addendum_id or 1
    ds.ContentDate = content_date
    ds.ContentTime = content_time
    ds.AcquisitionDateTime = content_date + content_time + offset
    ds.BurnedInAnnotation = "YES"  # the document shows the patient's identity
    ds.DocumentTitle = ds.SeriesDescription
    ds.ConceptNameCodeSequence = Sequence(
        [_code("18748-4", "LN", "Diagnostic imaging report")]  # LOINC: what the document is
    )
    ds.VerificationFlag = "VERIFIED"  # signed by a radiologist
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    # OB must have an even length: pad with a NUL and keep the real length (PS3.3 C.24.2.1).
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.EncapsulatedDocument = pdf + (b"\x00" if len(pdf) % 2 else b"")

    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def dicom_store(*, dataset: Dataset, ae_title: str, host: str, port: int) -> int:
    """C-STORE ``dataset`` to a remote AE as our DICOM_AE_TITLE; returns the DIMSE status.

    Raises:
        DeliveryError: association refused, aborted or not possible (nothing
            listening), no presentation context, or no answer within the timeouts.
    """
    ae = AE(ae_title=settings.DICOM_AE_TITLE)
    ae.add_requested_context(EncapsulatedPDFStorage, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    ae.acse_timeout = settings.DICOM_ACSE_TIMEOUT
    ae.dimse_timeout = settings.DICOM_DIMSE_TIMEOUT
    ae.network_timeout = settings.DICOM_NETWORK_TIMEOUT
    ae.connection_timeout = settings.DICOM_ACSE_TIMEOUT
    assoc = ae.associate(host, port, ae_title=ae_title)
    if not assoc.is_established:
        if assoc.is_rejected:
            raise DeliveryError(_("Association refusée par %(ae)s.") % {"ae": ae_title})
        raise DeliveryError(_("Connexion impossible à %(ae)s (%(host)s:%(port)s).") % _where(ae_title, host, port))
    try:
        status = assoc.send_c_store(dataset)
    except (ValueError, RuntimeError) as exc:
        # No accepted presentation context for the Encapsulated PDF, for instance.
        raise DeliveryError(str(exc)) from exc
    finally:
        if assoc.is_established:
            assoc.release()
    if "Status" not in status:
        raise DeliveryError(_("Pas de réponse de %(ae)s (association interrompue).") % {"ae": ae_title})
    return int(status.Status)


def _where(ae_title: str, host: str, port: int) -> dict[str, object]:
    return {"ae": ae_title, "host": host, "port": port}


# --- Sending one delivery -------------------------------------------------------------


def _send_dicom(delivery: ReportDelivery) -> None:
    pacs = getattr(delivery.report.exam.site, "pacs_node", None)
    if pacs is None or not pacs.enabled:
        raise DeliveryError(_("Le PACS de l'établissement n'est pas configuré ou est désactivé."))
    pdf = report_pdf(report=delivery.report, up_to=delivery.addendum)
    dataset = encapsulated_pdf_dataset(delivery=delivery, pdf=pdf)
    status = dicom_store(dataset=dataset, ae_title=pacs.ae_title, host=pacs.host, port=pacs.port)
    if status not in STORED_STATUSES:
        raise DeliveryError(_("Le PACS %(ae)s a répondu 0x%(status)04X.") % {"ae": pacs.ae_title, "status": status})


def _send_hl7(delivery: ReportDelivery) -> None:
    endpoint = getattr(delivery.report.exam.site, "ris_endpoint", None)
    if endpoint is None or not endpoint.enabled:
        raise DeliveryError(_("Le RIS de l'établissement n'est pas configuré ou est désactivé."))
    message = hl7.oru_message(delivery=delivery, endpoint=endpoint)
    try:
        ack = hl7.mllp_send(
            message, host=endpoint.host, port=endpoint.port, timeout=settings.REPORT_HL7_TIMEOUT_SECONDS
        )
    except OSError as exc:
        raise DeliveryError(
            _("Connexion impossible au RIS %(host)s:%(port)s (%(error)s).")
            % {"host": endpoint.host, "port": endpoint.port, "error": exc}
        ) from exc
    code, text = hl7.ack_code(ack)
    if code not in hl7.ACCEPTED_CODES:
        raise DeliveryError(_("Le RIS a refusé le message (MSA-1 %(code)s) : %(text)s") % {"code": code, "text": text})


SENDERS = {
    ReportDelivery.Kind.DICOM_PDF: _send_dicom,
    ReportDelivery.Kind.HL7_ORU: _send_hl7,
}


def _identity_on_hold(delivery_id: int) -> bool:
    return ExamRequest.objects.filter(
        exam__report__deliveries__pk=delivery_id, identity_status=ExamRequest.IdentityStatus.OPEN
    ).exists()


def report_delivery_send(*, delivery_id: int) -> str:
    """Send one delivery if it is pending and due, and record the outcome.

    Args:
        delivery_id: the ReportDelivery's primary key.

    Returns:
        ``"delivered"``; ``"retry"`` (failed, next attempt scheduled with back-off);
        ``"failed"`` (failed for the REPORT_DELIVERY_MAX_ATTEMPTS-th time: the GHT's
        administrators are notified); ``"held"`` (an identity mismatch is open on the
        exam's request: not sent, retried later); ``"skipped"`` (already delivered or failed,
        not due, unknown, or another worker holds it).

    Never raises for a delivery problem: the row records it and the sweep retries.
    """
    now = timezone.now()
    if _identity_on_hold(delivery_id):
        # Identity vigilance: nothing leaves for the site while its request and the study disagree.
        ReportDelivery.objects.filter(_due(now), pk=delivery_id).update(
            next_attempt_at=now + retry_delay(1),
            last_error=_("En attente : discordance d'identité à résoudre par l'établissement."),
        )
        return HELD
    claimed = ReportDelivery.objects.filter(_due(now), pk=delivery_id).update(
        attempts=F("attempts") + 1, next_attempt_at=now + datetime.timedelta(seconds=_claim_seconds())
    )
    if claimed != 1:
        return SKIPPED
    delivery = ReportDelivery.objects.select_related(
        "report__exam__site__ght", "report__exam__site__pacs_node", "report__exam__site__ris_endpoint", "addendum"
    ).get(pk=delivery_id)
    try:
        SENDERS[ReportDelivery.Kind(delivery.kind)](delivery)
    except DeliveryError as exc:
        return _record_failure(delivery, str(exc))
    except Exception as exc:  # noqa: BLE001 - any bug or network oddity is a failed attempt, retried
        logger.exception("report delivery %s failed unexpectedly", delivery_id)
        return _record_failure(delivery, f"{type(exc).__name__}: {exc}")
    return _record_success(delivery)


@transaction.atomic
def _record_success(delivery: ReportDelivery) -> str:
    now = timezone.now()
    ReportDelivery.objects.filter(pk=delivery.pk, status=ReportDelivery.Status.PENDING).update(
        status=ReportDelivery.Status.DELIVERED, delivered_at=now, next_attempt_at=None, last_error=""
    )
    logger.info("report delivery %s (%s) delivered", delivery.pk, delivery.kind)
    if delivery.addendum_id is None:
        _exam_mark_delivered(delivery)
    return DELIVERED


def _exam_mark_delivered(delivery: ReportDelivery) -> None:
    """REPORTED → DELIVERED once every delivery of the report itself (not its addenda) is delivered."""
    from worklist.models import Exam

    # The exam row lock serialises the last two deliveries finishing at once:
    # the second one to get here sees the first one's committed status.
    exam = Exam.objects.select_for_update().get(pk=delivery.report.exam_id)
    if exam.status != Status.REPORTED:
        return  # already DELIVERED (idempotent), or moved on by someone else
    pending = (
        ReportDelivery.objects.filter(report_id=delivery.report_id, addendum__isnull=True)
        .exclude(status=ReportDelivery.Status.DELIVERED)
        .exists()
    )
    if pending:
        return
    # StaleStatus: someone else moved it first, nothing left to do here.
    with contextlib.suppress(StaleStatus):
        exam_transition(exam=exam, to=Status.DELIVERED, reason=_("Compte rendu transmis à l'établissement."))


def _record_failure(delivery: ReportDelivery, error: str) -> str:
    attempts = ReportDelivery.objects.values_list("attempts", flat=True).get(pk=delivery.pk)
    now = timezone.now()
    final = attempts >= settings.REPORT_DELIVERY_MAX_ATTEMPTS
    with transaction.atomic():
        updated = ReportDelivery.objects.filter(pk=delivery.pk, status=ReportDelivery.Status.PENDING).update(
            status=ReportDelivery.Status.FAILED if final else ReportDelivery.Status.PENDING,
            last_error=error[:2000],
            next_attempt_at=None if final else now + retry_delay(attempts),
        )
        if updated and final:
            _notify_failure(delivery, attempts)
    logger.warning("report delivery %s attempt %s failed: %s", delivery.pk, attempts, error)
    return FAILED if final else RETRY


def _notify_failure(delivery: ReportDelivery, attempts: int) -> None:
    site = delivery.report.exam.site
    admins = User.objects.filter(role=Role.GHT_ADMIN, ght_id=site.ght_id, is_active=True)
    # No patient data: the notification also goes out by e-mail.
    text = _(
        "Échec de transmission du compte rendu de l'examen n° %(exam)s (%(kind)s, %(site)s) après "
        "%(attempts)s tentatives : renvoyez-le depuis l'administration une fois la cause corrigée."
    ) % {"exam": delivery.report.exam_id, "kind": delivery.get_kind_display(), "site": site, "attempts": attempts}
    notify(users=admins, text=text, link=f"/admin/reports/reportdelivery/{delivery.pk}/change/")


# --- Sweep and manual resend --------------------------------------------------------


def report_deliveries_send_due(*, limit: int = 200) -> int:
    """Queue a send for every pending delivery whose next attempt is due (the beat sweep).

    Sending claims each row first, so a delivery queued twice (by this sweep
    and by its signing) is still sent once. Returns how many were queued.
    """
    from reports.tasks import report_delivery_send_task

    # Served by the partial index delivery_due_idx (next_attempt_at, not delivered).
    ids = list(
        ReportDelivery.objects.filter(_due(timezone.now()))
        .order_by(F("next_attempt_at").asc(nulls_first=True), "id")
        .values_list("id", flat=True)[:limit]
    )
    for delivery_id in ids:
        try:
            report_delivery_send_task.delay(delivery_id)
        except Exception:  # noqa: BLE001 - broker down: the next sweep tries again
            logger.warning("could not queue delivery %s", delivery_id, exc_info=True)
            break
    return len(ids)


@transaction.atomic
def report_delivery_resend(*, delivery: ReportDelivery, by: User) -> bool:
    """Make a pending or failed delivery due now with a fresh attempt budget, and queue it.

    A delivered one is left alone (the site has it). Returns whether it was reset.
    """
    reset = (
        ReportDelivery.objects.filter(pk=delivery.pk)
        .exclude(status=ReportDelivery.Status.DELIVERED)
        .update(status=ReportDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now())
    )
    if not reset:
        return False
    audit_log(action="report.delivery_resend", user=by, obj=delivery, detail={"report": delivery.report_id})

    def queue() -> None:
        from reports.tasks import report_delivery_send_task

        try:
            report_delivery_send_task.delay(delivery.pk)
        except Exception:  # noqa: BLE001 - the sweep sends it
            logger.warning("could not queue delivery %s; the sweep will", delivery.pk, exc_info=True)

    transaction.on_commit(queue)
    return True
