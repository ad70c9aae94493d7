"""Dataset → index fields: what the worklist needs from each instance.

Pure functions (pydicom only, no Django) so that they can be property-tested.
Text values are decoded with the dataset's SpecificCharacterSet by pydicom;
invalid dates or times become None rather than failing the store: a scanner's
malformed StudyTime must not lose the images.
"""

from __future__ import annotations

import datetime
import math
import re
import zoneinfo
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_DA_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TM_RE = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?$")


# RequestedProcedurePriority (0040,1003) values that mean "read now".
_URGENT_PRIORITIES = {"STAT", "HIGH"}


class InvalidDataset(ValueError):
    """The dataset cannot be indexed (missing or malformed identifiers)."""


@dataclass(frozen=True)
class InstanceIndex:
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    urgent: bool = False  # the scanner marked the request STAT/HIGH
    exam: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict)
    instance: dict = field(default_factory=dict)


def check_uid(value: object, name: str) -> str:
    """The UID as a string, or InvalidDataset if absent or not a valid UID (PS3.5 §9.1)."""
    text = str(value or "").strip().rstrip("\x00")
    if not text:
        raise InvalidDataset(f"missing {name}")
    if len(text) > 64 or not UID_RE.match(text):
        raise InvalidDataset(f"malformed {name}")
    return text


def parse_da(value: object) -> datetime.date | None:
    match = _DA_RE.match(str(value or "").strip())
    if not match:
        return None
    try:
        return datetime.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def parse_tm(value: object) -> datetime.time | None:
    match = _TM_RE.match(str(value or "").strip())
    if not match:
        return None
    hour, minute, second, fraction = match.groups()
    try:
        return datetime.time(
            int(hour), int(minute or 0), min(int(second or 0), 59), int((fraction or "0").ljust(6, "0"))
        )
    except ValueError:
        return None


def study_datetime_utc(da: object, tm: object, tz_name: str) -> datetime.datetime | None:
    """StudyDate + StudyTime, in the site's zone, as an aware UTC datetime."""
    day = parse_da(da)
    if day is None:
        return None
    local = datetime.datetime.combine(day, parse_tm(tm) or datetime.time(0, 0))
    return local.replace(tzinfo=zoneinfo.ZoneInfo(tz_name)).astimezone(datetime.UTC)


def _text(ds: Dataset, keyword: str, max_length: int) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        value = "\\".join(str(v) for v in value)
    text = str(value).replace("\x00", "").strip()
    return text[:max_length]


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# A Decimal String value (PS3.5 §6.2, DS): what float() accepts, less its extras ("nan", "1_0"…).
_DS_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def decimal_strings(text: str) -> list[float] | None:
    """The numbers of a multi-valued DS text ("-125.5\\-130\\42"), or None if one is not a number."""
    values = []
    for part in text.split("\\"):
        part = part.strip(" \x00")
        if not _DS_RE.fullmatch(part):
            return None
        values.append(float(part))
    return values


def slice_position(position: list[float] | None, orientation: list[float] | None) -> float | None:
    """Where an image lies along its slice normal, in mm: how the viewer orders a series' images.

    ImagePositionPatient · (row direction × column direction) of ImageOrientationPatient,
    so that a series sorts along the stack whatever order the scanner numbered it
    in. None when either attribute is absent or unusable (multi-frame, secondary
    capture, a malformed value): such images keep their instance number's order.
    """
    if not position or not orientation or len(position) != 3 or len(orientation) != 6:
        return None
    rx, ry, rz, cx, cy, cz = orientation
    normal = (ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx)
    if not all(math.isfinite(v) for v in (*position, *normal)) or not any(normal):
        return None
    value = sum(p * n for p, n in zip(position, normal, strict=True))
    return value if math.isfinite(value) else None


def _decimals(ds: Dataset, keyword: str) -> list[float] | None:
    # From the element's text, as quickscan reads it, so both paths agree to the bit.
    try:
        value = ds.get(keyword)
    except (TypeError, ValueError):  # pydicom could not convert a malformed DS
        return None
    if value is None or value == "":
        return None
    values = value if isinstance(value, MultiValue | list | tuple) else [value]
    return decimal_strings("\\".join(str(v) for v in values))


def _sex(ds: Dataset) -> str:
    value = _text(ds, "PatientSex", 16).upper()
    return value if value in {"M", "F", "O"} else ""


def index_dataset(ds: Dataset, *, tz_name: str = "Europe/Paris") -> InstanceIndex:
    """Extract the identifiers and the worklist fields of one instance.

    (The next instances of a series the gateway already indexed need only their
    identifiers: dicom_gateway.quickscan reads those without pydicom.)

    Raises:
        InvalidDataset: a required UID is missing or malformed.
    """
    sop_class_uid = check_uid(ds.get("SOPClassUID"), "SOPClassUID")
    sop_instance_uid = check_uid(ds.get("SOPInstanceUID"), "SOPInstanceUID")
    study_uid = check_uid(ds.get("StudyInstanceUID"), "StudyInstanceUID")
    series_uid = check_uid(ds.get("SeriesInstanceUID"), "SeriesInstanceUID")
    instance = {
        "instance_number": _int(ds, "InstanceNumber"),
        "slice_position": slice_position(
            _decimals(ds, "ImagePositionPatient"), _decimals(ds, "ImageOrientationPatient")
        ),
    }
    modality = _text(ds, "Modality", 16)
    body_part = _text(ds, "BodyPartExamined", 64)
    exam = {
        "accession_number": _text(ds, "AccessionNumber", 16),
        "patient_name": _text(ds, "PatientName", 200),
        "patient_id": _text(ds, "PatientID", 64),
        "issuer_of_patient_id": _text(ds, "IssuerOfPatientID", 64),
        "patient_birth_date": parse_da(ds.get("PatientBirthDate")),
        "patient_sex": _sex(ds),
        "study_datetime": study_datetime_utc(ds.get("StudyDate"), ds.get("StudyTime"), tz_name),
        "study_description": _text(ds, "StudyDescription", 200),
        "modality": modality,
        "body_part_examined": body_part,
        "referring_physician_name": _text(ds, "ReferringPhysicianName", 200),
    }
    series = {
        "series_number": _int(ds, "SeriesNumber"),
        "series_description": _text(ds, "SeriesDescription", 200),
        "modality": modality,
        "body_part_examined": body_part,
    }
    return InstanceIndex(
        study_instance_uid=study_uid,
        series_instance_uid=series_uid,
        sop_instance_uid=sop_instance_uid,
        sop_class_uid=sop_class_uid,
        urgent=_text(ds, "RequestedProcedurePriority", 16).upper() in _URGENT_PRIORITIES,
        exam=exam,
        series=series,
        instance=instance,
    )
