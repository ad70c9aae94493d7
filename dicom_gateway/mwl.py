"""The DICOM Modality Worklist (C-FIND, PS3.4 Annex K): a site's validated requests, as its scanners see them.

A scanner asks the gateway for its worklist; it gets the exam requests of its own
site that a radiologist validated (status ``scheduled``) and that no study has
answered yet, with the demographics, the AccessionNumber and the StudyInstanceUID
to copy into the images (docs/decisions/006: a scanner that copies the UID makes
the match exact).

The module has two halves:

- pure (no database): ``WorklistEntry`` (one answer's values), ``parse_query``
  (the identifier's matching keys), ``entry_matches`` (DICOM matching: universal,
  single value, wildcard ``*``/``?``, date and time ranges) and ``entry_dataset``
  (the answer, holding only what the identifier asked for plus SpecificCharacterSet,
  PS3.4 K.6.1.2.2);
- ``mwl_find``: loads the scheduled requests of the calling modality's site,
  filters them, audits the query and returns the answers.

Choices worth knowing:

- PatientName matching is case- and accent-insensitive on the ``FAMILY^Given``
  form (PS3.4 C.2.2.2.1 allows PN matching insensitive to case and accents), and
  a pattern without ``^`` also matches the family name alone ("DUPONT" or
  "DUP*" find "DUPONT^Jeanne"), as operators type at the console.
- ScheduledStationAETitle matches the request's scheduled modality, and also the
  requests with no scheduled modality (any scanner of the site may do them).
- Keys we do not match on (ScheduledPerformingPhysicianName…) are matched
  universally and returned with our value, or empty: a scanner asking for more
  than we hold still gets its worklist.
- The INS (French national identifier) is returned, only when asked, in
  OtherPatientIDsSequence and only once qualified (identity vigilance: a
  provisional INS must not travel), with its OID (1.2.250.1.213.1.4.8, INS-NIR).
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

if TYPE_CHECKING:
    from sites.models import Modality
    from worklist.models import ExamRequest

# C-FIND response statuses (PS3.4 C.4.1.1.4).
PENDING = 0xFF00
CANCELLED = 0xFE00
IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xA900
UNABLE_TO_PROCESS = 0xC000

CHARACTER_SET = "ISO_IR 192"  # UTF-8: French names keep their accents.
INS_ISSUER = "INS-NIR"
INS_OID = "1.2.250.1.213.1.4.8"
# The GHT catalogue's codes, a local coding scheme (PS3.16: private schemes start with 99).
CATALOGUE_SCHEME = "99TELERADIO"

# ExamRequest.priority -> RequestedProcedurePriority (PS3.3 C.4.11: STAT, HIGH, ROUTINE, MEDIUM, LOW).
DICOM_PRIORITY = {"VITAL": "STAT", "URGENT": "HIGH", "STANDARD": "ROUTINE", "SCHEDULED": "LOW"}

SPS = "ScheduledProcedureStepSequence"

# What a C-FIND handler yields: (status, answer or None).
FindResponses = Iterator[tuple[int, Dataset | None]]


class InvalidQuery(ValueError):
    """A matching key whose value cannot be read (a malformed date range…)."""


@dataclass(frozen=True)
class WorklistEntry:
    """What one worklist answer says, as DICOM strings (DA ``YYYYMMDD``, TM ``HHMMSS``)."""

    patient_name: str
    patient_id: str
    patient_birth_date: str
    patient_sex: str
    ins: str  # only a qualified INS, else ""
    accession_number: str
    study_instance_uid: str
    requested_procedure_id: str
    requested_procedure_description: str
    procedure_code: str
    requesting_physician: str
    priority: str
    modality: str
    station_ae_title: str
    station_name: str
    start_date: str
    start_time: str
    step_description: str
    step_id: str

    def top_level(self) -> dict[str, object]:
        """Values of the attributes outside the Scheduled Procedure Step (keyword -> value)."""
        code = Dataset()
        code.CodeValue = self.procedure_code
        code.CodingSchemeDesignator = CATALOGUE_SCHEME
        code.CodeMeaning = self.requested_procedure_description[:64]
        values: dict[str, object] = {
            "PatientName": self.patient_name,
            "PatientID": self.patient_id,
            "PatientBirthDate": self.patient_birth_date,
            "PatientSex": self.patient_sex,
            "AccessionNumber": self.accession_number,
            "StudyInstanceUID": self.study_instance_uid,
            "RequestedProcedureID": self.requested_procedure_id,
            "RequestedProcedureDescription": self.requested_procedure_description,
            "RequestedProcedureCodeSequence": [code],
            "RequestingPhysician": self.requesting_physician,
            "ReferringPhysicianName": self.requesting_physician,
            "RequestedProcedurePriority": self.priority,
        }
        if self.ins:
            qualifier = Dataset()
            qualifier.UniversalEntityID = INS_OID
            qualifier.UniversalEntityIDType = "ISO"
            other = Dataset()
            other.PatientID = self.ins
            other.IssuerOfPatientID = INS_ISSUER
            other.IssuerOfPatientIDQualifiersSequence = [qualifier]
            other.TypeOfPatientID = "TEXT"
            values["OtherPatientIDsSequence"] = [other]
        return values

    def step(self) -> dict[str, object]:
        """Values of the Scheduled Procedure Step item (keyword -> value)."""
        return {
            "Modality": self.modality,
            "ScheduledStationAETitle": self.station_ae_title,
            "ScheduledStationName": self.station_name,
            "ScheduledProcedureStepStartDate": self.start_date,
            "ScheduledProcedureStepStartTime": self.start_time,
            "ScheduledProcedureStepDescription": self.step_description,
            "ScheduledProcedureStepID": self.step_id,
            "ScheduledProcedureStepStatus": "SCHEDULED",
        }


# --- Matching (PS3.4 C.2.2.2) -----------------------------------------------------------


def _fold(text: str) -> str:
    """Case- and accent-insensitive form (Hélène, HELENE and hélène compare equal)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def wildcard_match(pattern: str, value: str, *, fold: bool = False) -> bool:
    """DICOM wildcard matching: ``*`` any run of characters (even none), ``?`` exactly one.

    An empty pattern, or one made only of ``*``, matches everything (universal matching).
    """
    if not pattern:
        return True
    if fold:
        pattern, value = _fold(pattern), _fold(value)
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def person_name_match(pattern: str, value: str) -> bool:
    """PN matching, case- and accent-insensitive, on the alphabetic ``FAMILY^Given`` group.

    Trailing empty components are ignored ("DUPONT^" is "DUPONT"); a pattern
    without ``^`` also matches the family name alone.
    """
    pattern = pattern.split("=")[0].rstrip("^ ")
    value = value.split("=")[0].rstrip("^ ")
    if not pattern.strip("*"):
        return True
    if wildcard_match(pattern, value, fold=True):
        return True
    return "^" not in pattern and wildcard_match(pattern, value.split("^")[0], fold=True)


def _range(value: str, *, check: re.Pattern[str], what: str) -> tuple[str, str]:
    """``A``, ``A-B``, ``-B`` or ``A-`` as (low, high), "" for an open end."""
    low, dash, high = value.partition("-")
    if not dash:
        high = low
    for part in (low, high):
        if part and not check.fullmatch(part):
            raise InvalidQuery(f"{what}: {value!r} is not a value or a range")
    if not low and not high:
        raise InvalidQuery(f"{what}: {value!r} is not a value or a range")
    return low, high


_DATE = re.compile(r"\d{8}")
_TIME = re.compile(r"\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?")


def date_range(value: str) -> tuple[datetime.date | None, datetime.date | None]:
    """A DA matching key (single date or range, open ends allowed) as (first, last) days.

    Raises:
        InvalidQuery: not ``YYYYMMDD``, ``YYYYMMDD-YYYYMMDD``, ``-YYYYMMDD`` or ``YYYYMMDD-``.
    """
    low, high = _range(value.strip(), check=_DATE, what="date")
    try:
        first = datetime.datetime.strptime(low, "%Y%m%d").date() if low else None
        last = datetime.datetime.strptime(high, "%Y%m%d").date() if high else None
    except ValueError as exc:
        raise InvalidQuery(f"date: {value!r} is not a date") from exc
    return first, last


def _time_bounds(value: str) -> tuple[str, str]:
    """A TM matching key as comparable (low, high) ``HHMMSS.ffffff`` strings; a partial time covers its span."""
    low, high = _range(value.strip(), check=_TIME, what="time")
    digits_low = low.replace(".", "")
    digits_high = high.replace(".", "")
    return (digits_low.ljust(12, "0") if low else ""), (digits_high.ljust(12, "9") if high else "")


@dataclass(frozen=True)
class MwlQuery:
    """The matching keys we apply; None means universal matching."""

    patient_name: str | None = None
    patient_id: str | None = None
    accession_number: str | None = None
    study_instance_uids: tuple[str, ...] | None = None
    modality: str | None = None
    station_ae_title: str | None = None
    first_day: datetime.date | None = None
    last_day: datetime.date | None = None
    time_low: str = ""
    time_high: str = ""


def _text(ds: Dataset | None, keyword: str) -> str | None:
    """The key's value as text, or None for an absent or empty key (universal matching)."""
    if ds is None or keyword not in ds:
        return None
    value = ds[keyword].value
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple | MultiValue):
        return "\\".join(str(v) for v in value) or None
    text = str(value).strip()
    return text or None


def parse_query(identifier: Dataset) -> MwlQuery:
    """Read the matching keys of a C-FIND MWL identifier.

    Raises:
        InvalidQuery: a date or time key that is neither a value nor a range.
    """
    step = None
    if SPS in identifier and identifier[SPS].value:
        step = identifier[SPS].value[0]
    uids = _text(identifier, "StudyInstanceUID")
    first = last = None
    dates = _text(step, "ScheduledProcedureStepStartDate")
    if dates:
        first, last = date_range(dates)
    time_low = time_high = ""
    times = _text(step, "ScheduledProcedureStepStartTime")
    if times:
        time_low, time_high = _time_bounds(times)
    return MwlQuery(
        patient_name=_text(identifier, "PatientName"),
        patient_id=_text(identifier, "PatientID"),
        accession_number=_text(identifier, "AccessionNumber"),
        study_instance_uids=tuple(uids.split("\\")) if uids else None,
        modality=_text(step, "Modality"),
        station_ae_title=_text(step, "ScheduledStationAETitle"),
        first_day=first,
        last_day=last,
        time_low=time_low,
        time_high=time_high,
    )


def entry_matches(entry: WorklistEntry, query: MwlQuery) -> bool:
    """Whether ``entry`` answers ``query`` (every non-universal key must match)."""
    if query.patient_name is not None and not person_name_match(query.patient_name, entry.patient_name):
        return False
    if query.patient_id is not None and not wildcard_match(query.patient_id, entry.patient_id):
        return False
    if query.accession_number is not None and not wildcard_match(query.accession_number, entry.accession_number):
        return False
    if query.study_instance_uids is not None and entry.study_instance_uid not in query.study_instance_uids:
        return False
    if query.modality is not None and not wildcard_match(query.modality.upper(), entry.modality.upper()):
        return False
    if (
        query.station_ae_title is not None
        and entry.station_ae_title
        and not wildcard_match(query.station_ae_title, entry.station_ae_title)
    ):
        return False
    day = datetime.datetime.strptime(entry.start_date, "%Y%m%d").date()
    if query.first_day is not None and day < query.first_day:
        return False
    if query.last_day is not None and day > query.last_day:
        return False
    time = entry.start_time.ljust(12, "0")
    if query.time_low and time < query.time_low:
        return False
    return not (query.time_high and time > query.time_high)


# --- The answer ---------------------------------------------------------------------------


def _element(elem: DataElement, value: object) -> DataElement:
    """``elem`` (an identifier's key) holding our ``value``."""
    if elem.VR == "SQ":
        return DataElement(elem.tag, "SQ", Sequence(value if isinstance(value, list) else []))
    return DataElement(elem.tag, elem.VR, value)


def _fill(requested: Dataset, values: dict[str, object]) -> Dataset:
    """A copy of ``requested`` whose every element holds our value, or is empty when we hold none."""
    answer = Dataset()
    for elem in requested:
        if elem.tag == 0x00080005:  # SpecificCharacterSet: ours, set by the caller
            continue
        keyword = elem.keyword
        if keyword in values:
            answer.add(_element(elem, values[keyword]))
        elif elem.VR == "SQ":
            answer.add(DataElement(elem.tag, "SQ", Sequence([])))
        else:
            vr = elem.VR
            if elem.tag.is_private or vr in ("UN", None):
                vr = "UN"
            else:
                try:
                    vr = dictionary_VR(elem.tag)
                except KeyError:
                    vr = elem.VR
            answer.add(DataElement(elem.tag, vr, None))
    return answer


def entry_dataset(entry: WorklistEntry, identifier: Dataset) -> Dataset:
    """The C-FIND answer for ``entry``: the identifier's attributes with our values (PS3.4 K.6.1.2.2).

    An attribute we do not hold is returned empty. A Scheduled Procedure Step
    Sequence asked with no item, or with one empty item, gets the whole item
    (universal matching of the sequence, PS3.4 C.2.2.2.6).
    """
    top = entry.top_level()
    step_values = entry.step()
    step_item = Dataset()
    if SPS in identifier and identifier[SPS].value and len(identifier[SPS].value[0]):
        step_item = _fill(identifier[SPS].value[0], step_values)
    else:
        for keyword, value in step_values.items():
            setattr(step_item, keyword, value)
    answer = _fill(identifier, {**top, SPS: [step_item]})
    answer.SpecificCharacterSet = CHARACTER_SET
    return answer


# --- The service ---------------------------------------------------------------------------


_MIDNIGHT = datetime.time(0, 0)


def _dicom_date(value: datetime.date | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def entry_for_request(request: ExamRequest) -> WorklistEntry:
    """The worklist values of a scheduled request (its site's local date and time for the step)."""
    local = request.validated_at.astimezone(ZoneInfo(request.site.timezone))
    item = request.catalogue_item
    station = request.scheduled_modality
    description = item.name if not request.protocol else f"{item.name} – {request.protocol}"
    qualified = request.ins_status == "qualified"
    return WorklistEntry(
        patient_name=request.patient_name,
        patient_id=request.patient_id,
        patient_birth_date=_dicom_date(request.patient_birth_date),
        patient_sex=request.patient_sex,
        ins=request.ins if qualified else "",
        accession_number=request.accession_number,
        study_instance_uid=request.study_instance_uid,
        requested_procedure_id=request.accession_number,
        requested_procedure_description=item.name[:64],
        procedure_code=item.code,
        requesting_physician=request.requesting_physician[:64],
        priority=DICOM_PRIORITY.get(request.priority, "ROUTINE"),
        modality=item.modality.upper(),
        station_ae_title=station.ae_title if station else "",
        station_name=station.name[:16] if station else "",
        start_date=local.strftime("%Y%m%d"),
        start_time=local.strftime("%H%M%S"),
        step_description=description[:64],
        step_id=f"{request.accession_number}-1"[:16],
    )


def mwl_find(*, identifier: Dataset, modality: Modality) -> list[Dataset]:
    """Answer a Modality Worklist C-FIND from ``modality``: its site's scheduled, unmatched requests.

    Args:
        identifier: the C-FIND identifier (matching and return keys).
        modality: the calling scanner (already vetted at association).

    Returns:
        One dataset per matching request, oldest validation first.

    Raises:
        InvalidQuery: a malformed date or time key (audited too).
    """
    from core.services import audit_log
    from worklist.models import ExamRequest

    detail: dict[str, object] = {"calling_ae": modality.ae_title, "site": modality.site_id}
    try:
        query = parse_query(identifier)
    except InvalidQuery as exc:
        audit_log(action="mwl.find", detail={**detail, "answers": 0, "error": str(exc)[:200]})
        raise
    requests = (
        ExamRequest.objects.filter(site_id=modality.site_id, status=ExamRequest.Status.SCHEDULED, exam__isnull=True)
        .select_related("site", "catalogue_item", "scheduled_modality")
        .order_by("validated_at", "pk")
    )
    # Narrow in SQL what is cheap to narrow (requests left unperformed pile up); entry_matches decides.
    if query.accession_number and not any(c in query.accession_number for c in "*?"):
        requests = requests.filter(accession_number=query.accession_number)  # the scanner's "find by accession"
    zone = ZoneInfo(modality.site.timezone)
    if query.first_day is not None:
        requests = requests.filter(validated_at__gte=datetime.datetime.combine(query.first_day, _MIDNIGHT, zone))
    if query.last_day is not None:
        after = query.last_day + datetime.timedelta(days=1)
        requests = requests.filter(validated_at__lt=datetime.datetime.combine(after, _MIDNIGHT, zone))
    entries = [entry_for_request(request) for request in requests if request.validated_at is not None]
    answers = [entry_dataset(entry, identifier) for entry in entries if entry_matches(entry, query)]
    audit_log(action="mwl.find", detail={**detail, "answers": len(answers)})
    return answers
