"""Exam requests (demandes d'examen): create, route for protocol validation, validate, match to the study.

The French teleradiology charter has the remote radiologist validate the
indication and the protocol before acquisition. A request is routed like an
exam (worklist.routing.route, with the catalogue item's modality, body part
and subspecialty) to the reader on duty, with a short délai for urgent ones
(REQUEST_VALIDATION_MINUTES) and an escalation sweep. Accepted, it gets an
AccessionNumber and a StudyInstanceUID, published on the DICOM Modality
Worklist; the received study is matched to it (study UID, then accession
number, then patient + date + modality, flagged for a human to confirm).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pydicom.uid import generate_uid

from core.exceptions import ApplicationError, ConflictError
from core.services import audit_log, notify
from sites.models import Ght, Role, Site, Subspecialty, User
from sites.selectors import technologist_users_for_site, user_is_technologist_of
from worklist import identity
from worklist.defaults import DEFAULT_CATALOGUE
from worklist.models import (
    PRIORITY_RANK,
    REQUEST_DOCUMENT_TYPES,
    Exam,
    ExamCatalogueItem,
    ExamEvent,
    ExamRequest,
    RequestDocument,
)
from worklist.routing import route
from worklist.selectors import radiologist_users_for_site, routing_inputs_for_exam
from worklist.services.exams import NotPermitted
from worklist.states import Status

logger = logging.getLogger(__name__)

S = ExamRequest.Status


def _deadline(request: ExamRequest, at: datetime.datetime) -> datetime.datetime:
    minutes = settings.REQUEST_VALIDATION_MINUTES.get(request.priority, 240)
    return at + datetime.timedelta(minutes=minutes)


def _route(
    request: ExamRequest, *, at: datetime.datetime, exclude: frozenset[int] = frozenset()
) -> tuple[int | None, str]:
    """Who validates ``request`` now, and why: the exam routing decision for what is asked."""
    item = request.catalogue_item
    # An unsaved Exam carries what routing reads of an exam (site, modality, body part, age).
    probe = Exam(
        site_id=request.site_id,
        modality=item.modality,
        body_part_examined=item.body_part,
        study_description=item.name,
        patient_birth_date=request.patient_birth_date,
        study_datetime=at,
    )
    inputs = routing_inputs_for_exam(exam=probe, at=at)
    facts = inputs.exam
    if item.subspecialty_id:
        facts = dataclasses.replace(facts, requested_subspecialty=item.subspecialty.code)
    decision = route(facts, at, inputs.shifts, inputs.credentials, inputs.rules, inputs.load, exclude=exclude)
    if decision.to_pool:
        return None, _(
            "Aucun radiologue de garde pour valider : demande visible par les radiologues habilités de l'établissement."
        )
    return decision.reader_id, decision.reason


def _notify_validators(request: ExamRequest, text: str) -> None:
    link = reverse("request_detail", args=[request.pk])
    if request.assigned_to_id:
        notify(users=[request.assigned_to], text=text, link=link)
    else:
        admins = User.objects.filter(role=Role.GHT_ADMIN, ght_id=request.site.ght_id, is_active=True)
        notify(users=[*radiologist_users_for_site(site=request.site), *admins], text=text, link=link)


@transaction.atomic
def exam_request_create(*, by: User, site: Site, values: dict, at: datetime.datetime | None = None) -> ExamRequest:
    """A MERM asks for an exam; it is routed at once to the radiologist who validates the protocol.

    Args:
        by: a MERM of ``site``.
        site: the requesting site.
        values: the ExamRequest fields from the form (patient, question, urgency, catalogue item…).

    Raises:
        NotPermitted: ``by`` is not a MERM of ``site``.
        ApplicationError: the catalogue item or the modality belong to another GHT or site.
    """
    if not user_is_technologist_of(user=by, site_id=site.pk):
        raise NotPermitted(_("Seul un manipulateur de l'établissement peut demander un examen."))
    item = values["catalogue_item"]
    if item.ght_id != site.ght_id or not item.active:
        raise ApplicationError(_("Cet examen n'est pas au catalogue du GHT."))
    modality = values.get("scheduled_modality")
    if modality is not None and modality.site_id != site.pk:
        raise ApplicationError(_("Cet appareil n'est pas celui de l'établissement."))
    at = at or timezone.now()
    request = ExamRequest(site=site, created_by=by, **values)
    request.deadline_at = _deadline(request, at)
    request.assigned_to_id, request.routing_reason = _route(request, at=at)
    request.save()
    audit_log(action="request.create", user=by, obj=request, detail={"site": site.pk})
    _notify_validators(
        request,
        _("Demande %(priority)s à valider : %(exam)s (%(site)s).")
        % {"priority": request.get_priority_display(), "exam": item.name, "site": site.name},
    )
    return request


def _may_validate(user: User, request: ExamRequest) -> bool:
    return user.role == Role.RADIOLOGIST and radiologist_users_for_site(site=request.site).filter(pk=user.pk).exists()


def _accession_number(request: ExamRequest) -> str:
    # At most 16 characters (DICOM SH); unique as the request id is.
    return f"TR{request.pk:010d}"


@transaction.atomic
def exam_request_validate(
    *, request: ExamRequest, by: User, decision: str, protocol: str = "", comment: str = ""
) -> ExamRequest:
    """The radiologist's answer: ``accept`` (with the protocol), ``info`` (ask for more), or ``refuse`` (why).

    Raises:
        NotPermitted: ``by`` is not a radiologist credentialed for the site.
        ApplicationError: unknown decision, or the text it needs is missing.
        ConflictError: the request is no longer waiting for validation.
    """
    if not _may_validate(by, request):
        raise NotPermitted(_("Seul un radiologue habilité pour cet établissement peut valider cette demande."))
    now = timezone.now()
    values: dict = {"radiologist_comment": comment.strip(), "validated_by": by, "validated_at": now, "updated_at": now}
    if decision == "accept":
        if not protocol.strip():
            raise ApplicationError(_("Indiquez le protocole à réaliser."))
        values.update(
            status=S.SCHEDULED,
            protocol=protocol.strip(),
            accession_number=_accession_number(request),
            study_instance_uid=generate_uid(),
        )
        text = _("Demande validée : %(exam)s. Numéro d'accession %(acc)s.")
    elif decision == "info":
        if not comment.strip():
            raise ApplicationError(_("Précisez les informations attendues."))
        values.update(status=S.INFO_NEEDED)
        text = _("Complément demandé pour la demande %(exam)s.")
    elif decision == "refuse":
        if not comment.strip():
            raise ApplicationError(_("Donnez le motif du refus (examen non justifié…)."))
        values.update(status=S.REFUSED)
        text = _("Demande refusée : %(exam)s.")
    else:
        raise ApplicationError(_("Décision inconnue."))
    if ExamRequest.objects.filter(pk=request.pk, status=S.REQUESTED).update(**values) != 1:
        raise ConflictError(_("Cette demande n'attend plus de validation (déjà traitée ou annulée)."))
    request.refresh_from_db()
    notify(
        users=technologist_users_for_site(site_id=request.site_id),
        text=text % {"exam": request.catalogue_item.name, "acc": request.accession_number},
        link=reverse("site_board"),
    )
    audit_log(action=f"request.{decision}", user=by, obj=request, detail={"site": request.site_id})
    return request


@transaction.atomic
def exam_request_complete(*, request: ExamRequest, by: User, text: str) -> ExamRequest:
    """The MERM adds the information asked for; the request waits for validation again (same validator)."""
    if not user_is_technologist_of(user=by, site_id=request.site_id):
        raise NotPermitted(_("Seul un manipulateur de l'établissement peut compléter la demande."))
    if not text.strip():
        raise ApplicationError(_("Le complément est vide."))
    now = timezone.now()
    stamp = timezone.localtime(now).strftime("%d/%m %H:%M")
    question = f"{request.clinical_question}\n\n[{stamp}] {text.strip()}"
    rows = ExamRequest.objects.filter(pk=request.pk, status=S.INFO_NEEDED).update(
        status=S.REQUESTED, clinical_question=question, deadline_at=_deadline(request, now), escalated_at=None
    )
    if rows != 1:
        raise ConflictError(_("Cette demande n'attend pas de complément."))
    request.refresh_from_db()
    _notify_validators(request, _("Demande complétée, à valider : %(exam)s.") % {"exam": request.catalogue_item.name})
    audit_log(action="request.complete", user=by, obj=request)
    return request


@transaction.atomic
def exam_request_cancel(*, request: ExamRequest, by: User, reason: str) -> ExamRequest:
    """The MERM cancels a request not yet performed (a reason is required, kept with the request)."""
    if not user_is_technologist_of(user=by, site_id=request.site_id):
        raise NotPermitted(_("Seul un manipulateur de l'établissement peut annuler la demande."))
    if not reason.strip():
        raise ApplicationError(_("Donnez le motif de l'annulation."))
    open_statuses = [S.REQUESTED, S.INFO_NEEDED, S.SCHEDULED]
    if (
        ExamRequest.objects.filter(pk=request.pk, status__in=open_statuses).update(
            status=S.CANCELLED, cancel_reason=reason.strip()[:500]
        )
        != 1
    ):
        raise ConflictError(_("Cette demande ne peut plus être annulée."))
    request.refresh_from_db()
    if request.assigned_to_id:
        notify(users=[request.assigned_to], text=_("Demande annulée par le site : %(reason)s") % {"reason": reason})
    audit_log(action="request.cancel", user=by, obj=request, detail={"reason": reason[:200]})
    return request


def exam_requests_escalate(*, now: datetime.datetime | None = None) -> list[int]:
    """Requests not validated in time: re-routed once to another reader on duty, the site and admins told (beat)."""
    now = now or timezone.now()
    escalated = []
    late = ExamRequest.objects.filter(status=S.REQUESTED, deadline_at__lte=now, escalated_at__isnull=True)
    for request in late.select_related("site", "catalogue_item__subspecialty"):
        exclude = frozenset({request.assigned_to_id}) if request.assigned_to_id else frozenset()
        reader_id, reason = _route(request, at=now, exclude=exclude)
        changes: dict = {"escalated_at": now}
        if reader_id is not None and reader_id != request.assigned_to_id:
            changes.update(assigned_to_id=reader_id, routing_reason=reason, deadline_at=_deadline(request, now))
        if (
            ExamRequest.objects.filter(pk=request.pk, status=S.REQUESTED, escalated_at__isnull=True).update(**changes)
            != 1
        ):
            continue
        request.refresh_from_db()
        text = _("Demande non validée dans le délai : %(exam)s (%(site)s).") % {
            "exam": request.catalogue_item.name,
            "site": request.site.name,
        }
        _notify_validators(request, text)
        admins = User.objects.filter(role=Role.GHT_ADMIN, ght_id=request.site.ght_id, is_active=True)
        notify(
            users=[*admins, *technologist_users_for_site(site_id=request.site_id)],
            text=text,
            link=reverse("site_board"),
        )
        escalated.append(request.pk)
    return escalated


# --- Matching a received study to its request ------------------------------------

# How far apart the request and the study may be for a match on demographics alone.
DEMOGRAPHIC_WINDOW = datetime.timedelta(days=2)


def _find_request(exam: Exam) -> tuple[ExamRequest | None, str]:
    scheduled = ExamRequest.objects.filter(site_id=exam.site_id, status=S.SCHEDULED, exam__isnull=True)
    M = ExamRequest.MatchMethod
    if exam.study_instance_uid:
        found = scheduled.filter(study_instance_uid=exam.study_instance_uid).first()
        if found:
            return found, M.STUDY_UID
    if exam.accession_number:
        found = scheduled.filter(accession_number=exam.accession_number).first()
        if found:
            return found, M.ACCESSION
    if exam.patient_id:
        when = exam.study_datetime or exam.received_at or timezone.now()
        found = (
            scheduled.filter(
                patient_id=exam.patient_id,
                catalogue_item__modality__iexact=exam.modality,
                validated_at__gte=when - DEMOGRAPHIC_WINDOW,
                validated_at__lte=when + DEMOGRAPHIC_WINDOW,
            )
            .order_by("-validated_at")
            .first()
        )
        if found:
            return found, M.DEMOGRAPHICS
    return None, ""


@transaction.atomic
def exam_match_request(*, exam: Exam) -> ExamRequest | None:
    """Attach a received study to its scheduled request, if there is one; idempotent.

    The exam takes the request's urgency when it is more urgent (so an urgent
    request is announced at its first image), and a match on demographics
    alone is flagged for a human to confirm.
    """
    request, method = _find_request(exam)
    if request is None:
        return None
    confirmed = method != ExamRequest.MatchMethod.DEMOGRAPHICS
    found = identity.mismatches(_request_identity(request), _exam_identity(exam))
    vigilance = ExamRequest.IdentityStatus.OPEN if found or not confirmed else ExamRequest.IdentityStatus.NONE
    rows = ExamRequest.objects.filter(pk=request.pk, status=S.SCHEDULED, exam__isnull=True).update(
        exam=exam,
        status=S.DONE,
        match_method=method,
        match_confirmed=confirmed,
        identity_status=vigilance,
        identity_mismatches=found,
    )
    if rows != 1:
        return None
    changes = {
        "requested_subspecialty": request.catalogue_item.subspecialty.code
        if request.catalogue_item.subspecialty_id
        else ""
    }
    if PRIORITY_RANK.get(request.priority, 9) < PRIORITY_RANK.get(exam.priority, 9):
        changes["priority"] = request.priority
    Exam.objects.filter(pk=exam.pk).update(**changes)
    for field, value in changes.items():
        setattr(exam, field, value)
    reason = _("Rattaché à la demande %(acc)s (%(method)s).") % {
        "acc": request.accession_number,
        "method": ExamRequest.MatchMethod(method).label,
    }
    ExamEvent.objects.create(
        exam=exam, kind=ExamEvent.Kind.NOTE, from_status=exam.status, to_status=exam.status, reason=reason[:500]
    )
    if vigilance == ExamRequest.IdentityStatus.OPEN:
        fields = ", ".join(str(IDENTITY_LABELS[m["field"]]) for m in found) or _("rapprochement sur l'identité seule")
        text = _("Vigilance identité : l'examen reçu diffère de la demande (%(fields)s). À résoudre.") % {
            "fields": fields
        }
        ExamEvent.objects.create(
            exam=exam, kind=ExamEvent.Kind.NOTE, from_status=exam.status, to_status=exam.status, reason=text[:500]
        )
        audit_log(action="request.identity_mismatch", obj=request, detail={"exam": exam.pk, "mismatches": found})
        notify(
            users=technologist_users_for_site(site_id=exam.site_id),
            text=text,
            link=reverse("request_detail", args=[request.pk]),
        )
    request.refresh_from_db()
    return request


IDENTITY_LABELS = {
    "family_name": gettext_lazy("nom"),
    "given_name": gettext_lazy("prénom"),
    "birth_date": gettext_lazy("date de naissance"),
    "sex": gettext_lazy("sexe"),
    "patient_id": gettext_lazy("IPP"),
}


def _request_identity(request: ExamRequest) -> identity.Identity:
    return identity.Identity(
        family_name=request.patient_family_name,
        given_name=request.patient_given_name,
        birth_date=request.patient_birth_date,
        sex=request.patient_sex,
        patient_id=request.patient_id,
        birth_name=request.patient_birth_name,
    )


def _exam_identity(exam: Exam) -> identity.Identity:
    family, given = identity.from_dicom_name(exam.patient_name)
    return identity.Identity(
        family_name=family,
        given_name=given,
        birth_date=exam.patient_birth_date,
        sex=exam.patient_sex,
        patient_id=exam.patient_id,
    )


@transaction.atomic
def exam_request_identity_resolve(*, request: ExamRequest, by: User, action: str, note: str = "") -> ExamRequest:
    """The MERM resolves an identity mismatch: ``confirm`` (same patient; why) or ``correct`` (the request
    was wrong: its identity takes the study's). Until then the report is not delivered.

    Raises:
        NotPermitted: ``by`` is not a MERM of the site.
        ApplicationError: unknown action, or a confirmation without a note.
        ConflictError: no mismatch is open.
    """
    if not user_is_technologist_of(user=by, site_id=request.site_id):
        raise NotPermitted(_("Seul un manipulateur de l'établissement peut résoudre une discordance d'identité."))
    now = timezone.now()
    values: dict = {"identity_resolved_by": by, "identity_resolved_at": now, "match_confirmed": True}
    if action == "confirm":
        if not note.strip():
            raise ApplicationError(_("Expliquez pourquoi il s'agit bien du même patient."))
        values.update(identity_status=ExamRequest.IdentityStatus.CONFIRMED, identity_note=note.strip()[:500])
    elif action == "correct":
        study = _exam_identity(request.exam)
        values.update(
            identity_status=ExamRequest.IdentityStatus.CORRECTED,
            identity_note=note.strip()[:500],
            patient_family_name=study.family_name or request.patient_family_name,
            patient_given_name=study.given_name or request.patient_given_name,
            patient_birth_date=study.birth_date or request.patient_birth_date,
            patient_sex=study.sex or request.patient_sex,
            patient_id=study.patient_id or request.patient_id,
        )
    else:
        raise ApplicationError(_("Action inconnue."))
    rows = ExamRequest.objects.filter(pk=request.pk, identity_status=ExamRequest.IdentityStatus.OPEN).update(**values)
    if rows != 1:
        raise ConflictError(_("Aucune discordance d'identité n'est à résoudre sur cette demande."))
    before = {m["field"]: m for m in request.identity_mismatches}
    request.refresh_from_db()
    text = _("Discordance d'identité résolue par %(by)s : %(how)s.") % {
        "by": by,
        "how": request.get_identity_status_display(),
    }
    ExamEvent.objects.create(
        exam=request.exam,
        kind=ExamEvent.Kind.NOTE,
        from_status=request.exam.status,
        to_status=request.exam.status,
        actor=by,
        reason=text[:500],
    )
    audit_log(
        action=f"request.identity_{action}",
        user=by,
        obj=request,
        detail={"exam": request.exam_id, "mismatches": list(before.values()), "note": note[:200]},
    )
    return request


def exams_match_requests(*, now: datetime.datetime | None = None) -> list[int]:
    """Match the studies received in the last two days that have no request yet (beat, with the stability sweep)."""
    now = now or timezone.now()
    candidates = Exam.objects.filter(
        Q(status__in=[Status.RECEIVING, Status.READY]),
        received_at__gte=now - DEMOGRAPHIC_WINDOW,
        request__isnull=True,
        site__requests__status=S.SCHEDULED,
    ).distinct()
    matched = []
    for exam in candidates:
        if exam_match_request(exam=exam) is not None:
            matched.append(exam.pk)
    return matched


def exam_catalogue_install_defaults(*, ght: Ght) -> int:
    """Give ``ght`` the default exam catalogue items it does not have yet (by code); returns how many."""
    existing = set(ExamCatalogueItem.objects.filter(ght=ght).values_list("code", flat=True))
    subspecialties = {s.code: s for s in Subspecialty.objects.all()}
    new = [
        ExamCatalogueItem(
            ght=ght,
            code=item.code,
            name=item.name,
            modality=item.modality,
            body_part=item.body_part,
            subspecialty=subspecialties.get(item.subspecialty),
            contrast=item.contrast,
        )
        for item in DEFAULT_CATALOGUE
        if item.code not in existing
    ]
    ExamCatalogueItem.objects.bulk_create(new)
    return len(new)


# --- Documents of a request -------------------------------------------------------

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


def _sniff(head: bytes) -> str:
    """The document's type from its first bytes (the file name and the browser's word are not trusted)."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return ""


@transaction.atomic
def exam_request_document_add(*, request: ExamRequest, by: User, upload) -> RequestDocument:
    """Attach a referral (PDF, JPEG or PNG, at most 10 MB) to a request, stored under a random name.

    Raises:
        NotPermitted: ``by`` is not a MERM of the site.
        ApplicationError: too large, or not a PDF/JPEG/PNG.
    """
    if not user_is_technologist_of(user=by, site_id=request.site_id):
        raise NotPermitted(_("Seul un manipulateur de l'établissement peut joindre un document."))
    if upload.size > MAX_DOCUMENT_BYTES:
        raise ApplicationError(_("Document trop volumineux (10 Mo au plus)."))
    head = upload.read(16)
    upload.seek(0)
    content_type = _sniff(head)
    if content_type not in REQUEST_DOCUMENT_TYPES:
        raise ApplicationError(_("Seuls les documents PDF, JPEG et PNG sont acceptés."))
    document = RequestDocument(
        request=request,
        original_name=(upload.name or "document")[:200],
        content_type=content_type,
        size=upload.size,
        uploaded_by=by,
    )
    document.file.save("upload", upload, save=False)
    document.save()
    audit_log(action="request.document_add", user=by, obj=request, detail={"document": document.pk})
    return document
