"""What a radiology report must contain before it can be signed (pure, no Django models).

Arrêté du 22 septembre 2006 (contenu du compte rendu d'un acte d'imagerie
médicale): patient identity, the radiologist's identity, the date, the
indication, the procedure and equipment, the dose information for ionising
procedures, the results and the conclusion. Identity, signer and date are
filled in by the platform; the reader writes the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

# Modalities that deliver ionising radiation: their report must state the dose.
IONISING = frozenset({"CT", "CR", "DX", "MG", "XA", "RF", "PT", "NM", "DR", "IO", "PX", "RG"})


@dataclass(frozen=True)
class ReportContent:
    patient_name: str
    patient_birth_date_known: bool
    modality: str
    indication: str
    technique: str
    dose: str
    findings: str
    conclusion: str


# Codes of the missing parts, in the order the reader should fix them.
PATIENT = "patient"
INDICATION = "indication"
TECHNIQUE = "technique"
DOSE = "dose"
FINDINGS = "findings"
CONCLUSION = "conclusion"


def dose_required(modality: str) -> bool:
    return modality.upper() in IONISING


def missing_parts(content: ReportContent) -> list[str]:
    """The mandatory parts that are empty (blank text counts as empty)."""
    missing = []
    if not content.patient_name.strip() or not content.patient_birth_date_known:
        missing.append(PATIENT)
    for code, text in ((INDICATION, content.indication), (TECHNIQUE, content.technique)):
        if not text.strip():
            missing.append(code)
    if dose_required(content.modality) and not content.dose.strip():
        missing.append(DOSE)
    for code, text in ((FINDINGS, content.findings), (CONCLUSION, content.conclusion)):
        if not text.strip():
            missing.append(code)
    return missing


def word_count(text: str) -> int:
    return len(text.split())
