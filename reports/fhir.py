"""The FHIR R4 DiagnosticReport of a signed report (plain JSON; tests validate it with fhir.resources).

The patient and the signer travel as contained resources so a site system
needs no other endpoint: the patient with the site's identifier (IPP, its
issuer as system when known), the signer as a Practitioner identified by RPPS
(urn:oid:1.2.250.1.71.4.2.1, the French national health professional
directory). ``presentedForm`` is the signed PDF, the document of record.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from core.templatetags.dicom import person_name
from reports.models import Report
from reports.pdf import report_addenda_for_version, report_pdf

RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
LOINC = "http://loinc.org"
GENDERS = {"M": "male", "F": "female", "O": "other"}


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _human_name(dicom_name: str) -> dict[str, Any]:
    family, given, middle, prefix, suffix = ([*dicom_name.split("=", 1)[0].split("^"), "", "", "", ""])[:5]
    name: dict[str, Any] = {"text": person_name(dicom_name)}
    if family:
        name["family"] = family
    if given or middle:
        name["given"] = [part for part in (given, middle) if part]
    if prefix:
        name["prefix"] = [prefix]
    if suffix:
        name["suffix"] = [suffix]
    return name


def report_fhir(*, report: Report, pdf: bytes | None = None) -> dict[str, Any]:
    """The DiagnosticReport (R4) of the signed ``report`` with all its addenda, as a JSON-ready dict.

    Status is ``final``, or ``amended`` once an addendum is signed; ``issued``
    is the time of the latest signature.
    """
    exam = report.exam
    addenda = report_addenda_for_version(report=report)
    pdf = pdf if pdf is not None else report_pdf(report=report)

    patient: dict[str, Any] = {"resourceType": "Patient", "id": "patient", "name": [_human_name(exam.patient_name)]}
    if exam.patient_id:
        identifier: dict[str, Any] = {"value": exam.patient_id}
        if exam.issuer_of_patient_id:
            identifier["assigner"] = {"display": exam.issuer_of_patient_id}
        patient["identifier"] = [identifier]
    if exam.patient_birth_date:
        patient["birthDate"] = exam.patient_birth_date.isoformat()
    patient["gender"] = GENDERS.get(exam.patient_sex, "unknown")

    rpps = {"system": RPPS_SYSTEM, "value": report.signer_rpps}
    signer = {
        "resourceType": "Practitioner",
        "id": "signer",
        "identifier": [rpps],
        "name": [{"text": report.signer_name}],
    }
    signer_ref = {"reference": "#signer", "identifier": rpps, "display": report.signer_name}

    data: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": f"cr-{report.pk}",
        "contained": [patient, signer],
        "status": "amended" if addenda else "final",
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD", "display": "Radiology"}
                ]
            }
        ],
        "code": {
            "coding": [{"system": LOINC, "code": "18748-4", "display": "Diagnostic imaging study"}],
            "text": exam.study_description or exam.modality,
        },
        "subject": {"reference": "#patient", "display": person_name(exam.patient_name)},
        "issued": _instant(addenda[-1].signed_at if addenda else report.signed_at),
        "performer": [signer_ref],
        "resultsInterpreter": [signer_ref],
        "conclusion": report.conclusion,
        "presentedForm": [
            {
                "contentType": "application/pdf",
                "language": "fr",
                "data": base64.b64encode(pdf).decode("ascii"),
                "title": f"Compte rendu {exam.accession_number}".strip(),
                "creation": _instant(report.signed_at),
            }
        ],
    }
    if exam.accession_number:
        data["identifier"] = [
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]},
                "value": exam.accession_number,
            }
        ]
    if exam.study_datetime:
        data["effectiveDateTime"] = _instant(exam.study_datetime)
    return data
