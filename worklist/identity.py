"""Identity vigilance: does the received study's patient match the request's? (pure, no Django)

Names are compared without case, accents, spaces, hyphens or apostrophes
("Le Gall-Hervé" = "LEGALLHERVE"), ligatures spelt out ("Lœuilliet" =
"LOEUILLIET"), the DICOM family name against the request's usage name and
birth name; birth date, sex and patient ID exactly. An empty
DICOM value is a mismatch only for the patient ID (a scanner that sends no
name or birth date must still be checked by a person).
"""

from __future__ import annotations

import datetime
import unicodedata
from dataclasses import dataclass

FIELDS = ("family_name", "given_name", "birth_date", "sex", "patient_id")


@dataclass(frozen=True)
class Identity:
    family_name: str
    given_name: str
    birth_date: datetime.date | None
    sex: str
    patient_id: str
    birth_name: str = ""


# Ligatures have no Unicode decomposition, and scanners spell them out: "BŒUF" arrives as "BOEUF".
_LIGATURES = str.maketrans({"Œ": "OE", "œ": "oe", "Æ": "AE", "æ": "ae", "ß": "ss"})


def normalise(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.translate(_LIGATURES))
    return "".join(c for c in decomposed if c.isalnum()).upper()


def from_dicom_name(person_name: str) -> tuple[str, str]:
    """(family, given) from a DICOM PN's alphabetic group ("DUPONT^Jeanne^^^")."""
    parts = (person_name.split("=")[0] + "^^").split("^")
    return parts[0].strip(), parts[1].strip()


def mismatches(request: Identity, dicom: Identity) -> list[dict[str, str]]:
    """The fields that differ, each as {"field", "request", "dicom"} (strings, for the audit trail)."""
    found = []
    families = {normalise(request.family_name), normalise(request.birth_name)} - {""}
    if normalise(dicom.family_name) not in families:
        found.append(("family_name", request.family_name, dicom.family_name))
    if normalise(dicom.given_name) != normalise(request.given_name):
        found.append(("given_name", request.given_name, dicom.given_name))
    if dicom.birth_date != request.birth_date:
        found.append(("birth_date", _date(request.birth_date), _date(dicom.birth_date)))
    if (dicom.sex or "").upper() != (request.sex or "").upper():
        found.append(("sex", request.sex, dicom.sex))
    if dicom.patient_id.strip() != request.patient_id.strip():
        found.append(("patient_id", request.patient_id, dicom.patient_id))
    return [{"field": f, "request": r, "dicom": d} for f, r, d in found]


def _date(value: datetime.date | None) -> str:
    return value.isoformat() if value else ""
