"""Writes on reports: draft, autosave, template, sign, addendum, and the deliveries they create.

Rules kept here and nowhere else:
- only the reader holding the exam (IN_READING, assigned to them) writes or signs its report;
- a draft is saved with a compare-and-set on its revision, so a stale tab cannot
  overwrite newer text (it gets a conflict and reloads);
- signing re-checks the password, refuses while a mandatory part is empty,
  freezes the row (the database then refuses any change, migration 0002) and
  moves the exam to REPORTED in the same transaction;
- after signing, corrections are addenda, each signed.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pydicom import dcmread
from pydicom.uid import generate_uid

from core.exceptions import ApplicationError, ConflictError
from core.services import audit_log
from dicom_gateway.storage import get_storage
from reports import content as report_content
from reports.defaults import DEFAULT_TEMPLATES
from reports.dose import RDSR_SOP_CLASSES, DoseSummary, dose_for_study
from reports.models import Addendum, Report, ReportDelivery, ReportTemplate
from sites.models import Ght, Role, User
from worklist.models import Exam, ExamRequest, Instance
from worklist.services import NotPermitted, exam_transition
from worklist.states import Status

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = ("indication", "technique", "dose", "findings", "conclusion", "critical_finding")

PART_LABELS = {
    report_content.PATIENT: gettext_lazy("identité du patient (nom et date de naissance)"),
    report_content.INDICATION: gettext_lazy("indication"),
    report_content.TECHNIQUE: gettext_lazy("technique (acte et appareil)"),
    report_content.DOSE: gettext_lazy("dosimétrie"),
    report_content.FINDINGS: gettext_lazy("résultats"),
    report_content.CONCLUSION: gettext_lazy("conclusion"),
}


class ReportFrozen(ConflictError):
    """The report is signed: only an addendum can follow."""


class StaleDraft(ConflictError):
    """The draft changed since this copy was loaded (another tab, another save)."""


class SignatureRefused(ApplicationError):
    """Wrong password, or a mandatory part is missing."""


def _require_holder(*, exam: Exam, by: User) -> None:
    if by.role != Role.RADIOLOGIST or exam.assigned_to_id != by.pk or exam.status != Status.IN_READING:
        raise NotPermitted(_("Seul le radiologue qui lit cet examen peut rédiger et signer son compte rendu."))


def _french_number(value: float) -> str:
    return number_format(round(value, 1), decimal_pos=1, use_l10n=True)


def dose_text(summary: DoseSummary | None) -> str:
    """The dose sentence of the report, in the UI language ("" if the study carries none)."""
    if summary is None:
        return ""
    parts = []
    if summary.dlp_mgycm is not None:
        parts.append(_("PDL total : %(value)s mGy·cm") % {"value": _french_number(summary.dlp_mgycm)})
    if summary.ctdivol_max_mgy is not None:
        parts.append(_("CTDIvol maximal : %(value)s mGy") % {"value": _french_number(summary.ctdivol_max_mgy)})
    source = _("rapport de dose DICOM") if summary.source == "rdsr" else _("en-têtes des images")
    return "{} ({})".format(" ; ".join(parts), _("source : %(source)s") % {"source": source})


# Images read per series for their CTDIvol when the study has no dose SR: enough to find the
# highest value of a modulated acquisition, few enough that a 300-image CT opens at once.
DOSE_SAMPLE_PER_SERIES = 8


def exam_dose(*, exam: Exam) -> DoseSummary | None:
    """The study's dose from its stored headers: its dose SR if it has one, else the CTDIvol of
    a sample of each series' images (evenly spaced, first and last included)."""
    storage = get_storage()
    instances = Instance.objects.filter(series__exam=exam).only("storage_key", "sop_class_uid", "series_id")
    srs = list(instances.filter(sop_class_uid__in=RDSR_SOP_CLASSES))
    if srs:
        chosen = srs
    else:
        by_series: dict[int, list[Instance]] = {}
        for instance in instances.order_by("series_id", "instance_number", "id"):
            by_series.setdefault(instance.series_id, []).append(instance)
        chosen = []
        for series in by_series.values():
            step = max(1, (len(series) - 1) // max(1, DOSE_SAMPLE_PER_SERIES - 1))
            chosen.extend(series[::step][: DOSE_SAMPLE_PER_SERIES - 1] + [series[-1]])

    def headers():
        for instance in chosen:
            try:
                with storage.open(instance.storage_key) as handle:
                    yield dcmread(handle, stop_before_pixels=True)
            except Exception:  # noqa: BLE001 - one unreadable file must not block the report
                logger.warning("dose: cannot read instance %s", instance.pk, exc_info=True)

    return dose_for_study(headers())


# The editor shows a preview of the draft on every GET until its first save, with the dose;
# reading the dose opens a sample of files, so its summary is kept while the images do not
# change (the key holds the exam's instance count and bytes, which every new image moves).
# The key names the study by its UID too: a row id can come back after a database restore,
# while the cache (Redis) keeps its keys.
DOSE_CACHE_SECONDS = 3600
_NOT_CACHED = object()


def exam_dose_cached(*, exam: Exam) -> DoseSummary | None:
    """``exam_dose``, read once per state of the exam's images.

    The cache only saves file reads: if it fails (Redis down), the dose is read
    and the editor still opens.
    """
    key = f"reports:exam-dose:{exam.pk}:{exam.study_instance_uid}:{exam.number_of_instances}:{exam.received_bytes}"
    try:
        summary = cache.get(key, _NOT_CACHED)
    except Exception:  # noqa: BLE001 - whatever the backend raises, reading is the fallback
        logger.warning("dose cache unavailable, reading the images", exc_info=True)
        return exam_dose(exam=exam)
    if summary is _NOT_CACHED:
        summary = exam_dose(exam=exam)
        try:
            cache.set(key, summary, DOSE_CACHE_SECONDS)
        except Exception:  # noqa: BLE001 - as above
            logger.warning("dose cache unavailable, not kept", exc_info=True)
    return summary


def _technique_text(exam: Exam) -> str:
    equipment = exam.source_modality.name if exam.source_modality_id else exam.modality
    description = exam.study_description or exam.modality
    return _("%(description)s, réalisé sur %(equipment)s (%(site)s).") % {
        "description": description,
        "equipment": equipment,
        "site": exam.site.name,
    }


def _indication_text(exam: Exam) -> str:
    """The request's clinical question and indication, when the study was matched to a request."""
    request = ExamRequest.objects.filter(exam=exam).first()
    if request is None:
        return ""
    parts = [request.clinical_question.strip(), request.indication.strip()]
    return "\n".join(p for p in parts if p)


def _draft_defaults(exam: Exam, by: User) -> dict[str, Any]:
    return {
        "author": by,
        "indication": _indication_text(exam),
        "technique": _technique_text(exam),
        "dose": dose_text(exam_dose_cached(exam=exam)),
    }


def report_draft_preview(*, exam: Exam, by: User) -> Report:
    """The draft its reader would start, not saved: what the editor shows before the first save.

    Opening the editor (a GET) writes nothing; the first autosave, template or
    signature (POSTs) creates the report through ``report_get_or_create_draft``.
    """
    return Report(exam=exam, **_draft_defaults(exam, by))


@transaction.atomic
def report_get_or_create_draft(*, exam: Exam, by: User) -> Report:
    """The exam's report; created for its reader with the request's question, technique and dose filled in.

    Raises:
        NotPermitted: ``by`` does not hold the exam (and there is no report yet).
    """
    existing = Report.objects.filter(exam=exam).first()
    if existing is not None:
        return existing
    _require_holder(exam=exam, by=by)
    report, created = Report.objects.get_or_create(exam=exam, defaults=_draft_defaults(exam, by))
    if created:
        audit_log(action="report.create", user=by, obj=report, detail={"exam": exam.pk})
    return report


@transaction.atomic
def report_save_draft(*, report: Report, by: User, revision: int, values: dict[str, Any]) -> Report:
    """Autosave: write the draft's fields if nobody saved since ``revision``.

    Args:
        report: the draft.
        by: the reader holding the exam.
        revision: the revision the editor loaded (or last saved).
        values: some of EDITABLE_FIELDS.

    Returns:
        The report with its new revision.

    Raises:
        ReportFrozen: the report is signed.
        NotPermitted: ``by`` does not hold the exam.
        StaleDraft: another save happened since ``revision``.
    """
    if report.is_signed:
        raise ReportFrozen(_("Ce compte rendu est signé : ajoutez un addendum."))
    _require_holder(exam=report.exam, by=by)
    changes = {field: values[field] for field in EDITABLE_FIELDS if field in values}
    now = timezone.now()
    rows = Report.objects.filter(pk=report.pk, revision=revision, signed_at__isnull=True).update(
        **changes, revision=F("revision") + 1, updated_at=now
    )
    if rows != 1:
        raise StaleDraft(
            _("Ce compte rendu a été modifié ailleurs (autre onglet ?) : rechargez la page."),
            extra={"revision": Report.objects.values_list("revision", flat=True).get(pk=report.pk)},
        )
    report.refresh_from_db()
    return report


def report_apply_template(*, report: Report, template: ReportTemplate, by: User, revision: int) -> Report:
    """Fill the draft's empty sections from ``template`` (never overwrites typed text)."""
    values: dict[str, Any] = {}
    for field in ("indication", "technique", "findings", "conclusion"):
        current = getattr(report, field).strip()
        wanted = getattr(template, field).strip()
        if wanted and not current:
            values[field] = wanted
    report = report_save_draft(report=report, by=by, revision=revision, values=values)
    Report.objects.filter(pk=report.pk, signed_at__isnull=True).update(template=template)
    report.template = template
    return report


def report_templates_install_defaults(*, ght: Ght) -> int:
    """Give ``ght`` the default French templates it does not have yet (by name); returns how many were added."""
    existing = set(ReportTemplate.objects.filter(ght=ght, owner__isnull=True).values_list("name", flat=True))
    new = [
        ReportTemplate(ght=ght, **dataclasses.asdict(default))
        for default in DEFAULT_TEMPLATES
        if default.name not in existing
    ]
    ReportTemplate.objects.bulk_create(new)
    return len(new)


def report_missing_parts(*, report: Report) -> list[str]:
    """Labels of the mandatory parts still empty (see reports.content)."""
    exam = report.exam
    parts = report_content.missing_parts(
        report_content.ReportContent(
            patient_name=exam.patient_name,
            patient_birth_date_known=exam.patient_birth_date is not None,
            modality=exam.modality,
            indication=report.indication,
            technique=report.technique,
            dose=report.dose,
            findings=report.findings,
            conclusion=report.conclusion,
        )
    )
    return [str(PART_LABELS[code]) for code in parts]


def _check_password(*, by: User, password: str) -> None:
    if settings.REPORT_SIGN_REAUTH == "password" and not by.check_password(password or ""):
        raise SignatureRefused(_("Mot de passe incorrect : le compte rendu n'est pas signé."))


def _rpps(user: User) -> str:
    radiologist = getattr(user, "radiologist", None)
    if radiologist is None or not radiologist.rpps:
        raise SignatureRefused(_("Votre profil de radiologue n'a pas de numéro RPPS : signature impossible."))
    return radiologist.rpps


@transaction.atomic
def report_sign(*, report: Report, by: User, password: str, revision: int | None = None) -> Report:
    """Sign the report: freeze it, record the signer, move the exam to REPORTED, queue its delivery.

    Raises:
        ReportFrozen: already signed.
        NotPermitted: ``by`` does not hold the exam.
        SignatureRefused: wrong password, no RPPS, or mandatory parts missing (``extra["missing"]``).
        StaleDraft: the text changed since ``revision`` (the signer must see what they sign).
    """
    report = Report.objects.select_for_update().select_related("exam", "exam__site").get(pk=report.pk)
    if report.is_signed:
        raise ReportFrozen(_("Ce compte rendu est déjà signé."))
    _require_holder(exam=report.exam, by=by)
    if revision is not None and revision != report.revision:
        raise StaleDraft(_("Le texte a changé depuis son affichage : relisez-le avant de signer."))
    _check_password(by=by, password=password)
    rpps = _rpps(by)
    missing = report_missing_parts(report=report)
    if missing:
        raise SignatureRefused(
            _("Signature impossible, à compléter : %(parts)s.") % {"parts": ", ".join(missing)},
            extra={"missing": missing},
        )
    now = timezone.now()
    Report.objects.filter(pk=report.pk, signed_at__isnull=True).update(
        signed_at=now, signed_by=by, signer_name=str(by), signer_rpps=rpps, updated_at=now
    )
    report.refresh_from_db()
    exam_transition(exam=report.exam, to=Status.REPORTED, by=by, reason=_("Compte rendu signé."))
    audit_log(action="report.sign", user=by, obj=report, detail={"exam": report.exam_id})
    if report.critical_finding:
        from reports.services.critical import critical_alert_raise

        critical_alert_raise(report=report)
    report_deliveries_create(report=report)
    return report


@transaction.atomic
def addendum_sign(*, report: Report, by: User, password: str, text: str) -> Addendum:
    """Add a signed addendum to a signed report (the only way to correct it).

    Raises:
        ApplicationError: the report is not signed yet, or the text is empty.
        NotPermitted: ``by`` is not a radiologist.
        SignatureRefused: wrong password or no RPPS.
    """
    if not report.is_signed:
        raise ApplicationError(_("Le compte rendu n'est pas encore signé : modifiez-le directement."))
    if by.role != Role.RADIOLOGIST:
        raise NotPermitted(_("Seul un radiologue peut signer un addendum."))
    if not text.strip():
        raise ApplicationError(_("L'addendum est vide."))
    _check_password(by=by, password=password)
    addendum = Addendum.objects.create(
        report=report,
        kind=Addendum.Kind.CORRECTION,
        text=text.strip(),
        signed_at=timezone.now(),
        signed_by=by,
        signer_name=str(by),
        signer_rpps=_rpps(by),
    )
    audit_log(action="report.addendum", user=by, obj=report, detail={"addendum": addendum.pk})
    report_deliveries_create(report=report, addendum=addendum)
    return addendum


def report_deliveries_create(*, report: Report, addendum: Addendum | None = None) -> list[ReportDelivery]:
    """Create the deliveries of a signed report or addendum to the site, and send them after commit.

    One per configured destination: a DICOM Encapsulated PDF when the site has
    an enabled PACS node, an HL7 ORU^R01 when it has an enabled RIS endpoint.
    With neither, nothing is created: the report is then available on the
    site's board and in the API only.
    """
    site = report.exam.site
    kinds = []
    pacs = getattr(site, "pacs_node", None)
    if pacs is not None and pacs.enabled:
        kinds.append(ReportDelivery.Kind.DICOM_PDF)
    ris = getattr(site, "ris_endpoint", None)
    if ris is not None and ris.enabled:
        kinds.append(ReportDelivery.Kind.HL7_ORU)
    deliveries = []
    for kind in kinds:
        delivery, _created = ReportDelivery.objects.get_or_create(
            report=report,
            addendum=addendum,
            kind=kind,
            defaults={"sop_instance_uid": generate_uid(), "next_attempt_at": timezone.now()},
        )
        transaction.on_commit(lambda pk=delivery.pk: _send_later(pk))
        deliveries.append(delivery)
    return deliveries


def _send_later(delivery_id: int) -> None:
    from reports.tasks import report_delivery_send_task

    try:
        report_delivery_send_task.delay(delivery_id)
    except Exception:  # noqa: BLE001 - the broker may be down; the retry sweep sends it later
        logger.warning("could not queue delivery %s; the sweep will retry", delivery_id, exc_info=True)
