"""Reads behind DICOMweb (QIDO-RS and WADO-RS), always scoped to the user's sites.

Every lookup starts from worklist.selectors.exam_list_for_user, so a UID of an
exam of another site is exactly as unknown as a UID that does not exist (404).
UIDs from the URL are only ever compared in SQL: files are found through the
Instance row's storage key.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet
from django.http import Http404

from sites.models import User
from worklist.models import Exam, Instance, Series
from worklist.selectors import exam_list_for_user

# QIDO-RS query keys: keyword or tag (PS3.18 §8.3.4), folded to the keyword.
QUERY_KEYS = {
    "PatientID": "PatientID",
    "00100020": "PatientID",
    "PatientName": "PatientName",
    "00100010": "PatientName",
    "AccessionNumber": "AccessionNumber",
    "00080050": "AccessionNumber",
    "StudyInstanceUID": "StudyInstanceUID",
    "0020000D": "StudyInstanceUID",
    "StudyDate": "StudyDate",
    "00080020": "StudyDate",
    "ModalitiesInStudy": "ModalitiesInStudy",
    "00080061": "ModalitiesInStudy",
    "Modality": "Modality",
    "00080060": "Modality",
    "SeriesInstanceUID": "SeriesInstanceUID",
    "0020000E": "SeriesInstanceUID",
    "SeriesNumber": "SeriesNumber",
    "00200011": "SeriesNumber",
    "SOPInstanceUID": "SOPInstanceUID",
    "00080018": "SOPInstanceUID",
    "SOPClassUID": "SOPClassUID",
    "00080016": "SOPClassUID",
    "InstanceNumber": "InstanceNumber",
    "00200013": "InstanceNumber",
}

# Letters and their accented forms: a name typed without accents finds "Hélène".
_ACCENTS = {
    "A": "AÀÂÄÁÃÅ",
    "C": "CÇ",
    "E": "EÉÈÊË",
    "I": "IÎÏÍÌ",
    "N": "NÑ",
    "O": "OÔÖÓÒÕ",
    "U": "UÙÛÜÚ",
    "Y": "YŸÝ",
}


@dataclass(frozen=True)
class Query:
    """Validated QIDO-RS parameters: attribute filters, then paging."""

    filters: dict[str, str]
    limit: int
    offset: int


class InvalidQuery(ValueError):
    pass


MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def query_parse(params) -> Query:
    """Fold QIDO-RS query parameters (a QueryDict) into a Query; unknown keys are ignored.

    Raises:
        InvalidQuery: limit/offset not non-negative integers, or a malformed StudyDate.
    """
    filters: dict[str, str] = {}
    for key, value in params.items():
        keyword = QUERY_KEYS.get(key) or QUERY_KEYS.get(key.upper())
        if keyword and value not in ("", "*"):
            filters[keyword] = value
    try:
        limit = min(int(params.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
        offset = int(params.get("offset", 0))
    except ValueError:
        raise InvalidQuery("limit/offset") from None
    if limit < 0 or offset < 0:
        raise InvalidQuery("limit/offset")
    if "StudyDate" in filters:
        _date_range(filters["StudyDate"])
    return Query(filters=filters, limit=limit, offset=offset)


def _parse_da(value: str) -> datetime.date | None:
    if not value:
        return None
    try:
        return datetime.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise InvalidQuery("StudyDate") from None


def _date_range(value: str) -> tuple[datetime.date | None, datetime.date | None]:
    """A DA value or range (``A-B``, ``A-``, ``-B``) as inclusive bounds."""
    start, dash, end = value.partition("-")
    first = _parse_da(start)
    last = _parse_da(end) if dash else first
    if first is None and last is None:
        raise InvalidQuery("StudyDate")
    return first, last


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def name_regex(pattern: str) -> str:
    """A case- and accent-insensitive regular expression for a PN query (PS3.18 fuzzy matching).

    ``*`` and ``?`` are wildcards over the whole value; without them, the
    pattern matches the start of any name component ("dup" finds "DUPONT^Jean"
    and "MARTIN^Dupré").
    """
    parts = []
    for char in _strip_accents(pattern).upper():
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char in _ACCENTS:
            letters = _ACCENTS[char]
            parts.append(f"[{letters}{letters.lower()}]")
        else:
            parts.append(re.escape(char))
    body = "".join(parts)
    if "*" in pattern or "?" in pattern:
        return f"^{body}$"
    return rf"(^|[\^ =,-]){body}"


def _study_date_q(value: str, timezones: set[str]) -> Q:
    # Exams store an instant in UTC; a StudyDate is a day in the site's zone,
    # so the bounds are computed per time zone of the user's sites.
    first, last = _date_range(value)
    q = Q()
    for tz_name in timezones:
        tz = zoneinfo.ZoneInfo(tz_name)
        bounds = Q(site__timezone=tz_name)
        if first is not None:
            bounds &= Q(study_datetime__gte=datetime.datetime.combine(first, datetime.time.min, tz))
        if last is not None:
            end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tz)
            bounds &= Q(study_datetime__lt=end)
        q |= bounds
    return q or Q(pk__in=[])


def study_list_for_user(*, user: User, query: Query) -> QuerySet[Exam]:
    """Exams the user may see, narrowed by the QIDO-RS study-level filters (oldest study last)."""
    qs = exam_list_for_user(user=user)
    f = query.filters
    if "StudyInstanceUID" in f:
        qs = qs.filter(study_instance_uid__in=_uid_list(f["StudyInstanceUID"]))
    if "PatientID" in f:
        qs = qs.filter(patient_id=f["PatientID"])
    if "AccessionNumber" in f:
        qs = qs.filter(accession_number=f["AccessionNumber"])
    if "PatientName" in f:
        qs = qs.filter(patient_name__iregex=name_regex(f["PatientName"]))
    if "ModalitiesInStudy" in f:
        modalities = [m.strip().upper() for m in f["ModalitiesInStudy"].replace("\\", ",").split(",") if m.strip()]
        qs = qs.filter(Q(modality__in=modalities) | Q(series__modality__in=modalities)).distinct()
    if "StudyDate" in f:
        timezones = set(qs.values_list("site__timezone", flat=True).distinct())
        qs = qs.filter(_study_date_q(f["StudyDate"], timezones))
    return qs.order_by("-study_datetime", "-id")


def _uid_list(value: str) -> list[str]:
    return [uid.strip() for uid in value.replace("\\", ",").split(",") if uid.strip()]


def exam_get_by_uid_for_user(*, user: User, study_instance_uid: str) -> Exam:
    """The exam of ``study_instance_uid`` if the user may see it; Http404 otherwise."""
    exam = exam_list_for_user(user=user).filter(study_instance_uid=study_instance_uid).first()
    if exam is None:
        raise Http404
    return exam


def series_list_for_exam(*, exam: Exam, query: Query) -> QuerySet[Series]:
    """The series of an (already scoped) exam, narrowed by the QIDO-RS series-level filters."""
    return series_list_for_exams(exams=[exam], query=query)


def series_list_for_exams(*, exams, query: Query) -> QuerySet[Series]:
    """The series of (already scoped) exams, a list or a queryset, narrowed by the series-level filters."""
    qs = Series.objects.filter(exam__in=exams).select_related("exam")
    f = query.filters
    if "SeriesInstanceUID" in f:
        qs = qs.filter(series_instance_uid__in=_uid_list(f["SeriesInstanceUID"]))
    if "Modality" in f:
        qs = qs.filter(modality__iexact=f["Modality"])
    if "SeriesNumber" in f and f["SeriesNumber"].lstrip("-").isdigit():
        qs = qs.filter(series_number=int(f["SeriesNumber"]))
    return qs.order_by("exam_id", "series_number", "id")


def series_get_for_user(*, user: User, study_instance_uid: str, series_instance_uid: str) -> Series:
    """One series of a study the user may see; Http404 otherwise."""
    series = (
        Series.objects.filter(
            exam__in=exam_list_for_user(user=user),
            exam__study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
        )
        .select_related("exam")
        .first()
    )
    if series is None:
        raise Http404
    return series


def instance_list_for_series(*, series: Series, query: Query) -> QuerySet[Instance]:
    """The instances of an (already scoped) series, narrowed by the QIDO-RS instance-level filters."""
    return _instance_filter(Instance.objects.filter(series=series), query)


def instance_list_for_exams(*, exams, query: Query) -> QuerySet[Instance]:
    """The instances of (already scoped) exams, narrowed by the series- and instance-level filters."""
    series = series_list_for_exams(exams=exams, query=query)
    return _instance_filter(Instance.objects.filter(series__in=series), query)


def _instance_filter(qs: QuerySet[Instance], query: Query) -> QuerySet[Instance]:
    qs = qs.select_related("series__exam")
    f = query.filters
    if "SOPInstanceUID" in f:
        qs = qs.filter(sop_instance_uid__in=_uid_list(f["SOPInstanceUID"]))
    if "SOPClassUID" in f:
        qs = qs.filter(sop_class_uid__in=_uid_list(f["SOPClassUID"]))
    if "InstanceNumber" in f and f["InstanceNumber"].lstrip("-").isdigit():
        qs = qs.filter(instance_number=int(f["InstanceNumber"]))
    return qs.order_by("series__exam_id", "series__series_number", "series_id", "instance_number", "id")


def instance_list_for_exam(*, exam: Exam) -> QuerySet[Instance]:
    """Every instance of an (already scoped) exam, series by series, each along its slice normal.

    Images without a position (multi-frame, secondary captures) follow, by instance number.
    """
    return (
        Instance.objects.filter(series__exam=exam)
        .select_related("series__exam")
        .order_by(
            "series__series_number",
            "series_id",
            F("slice_position").asc(nulls_last=True),
            "instance_number",
            "id",
        )
    )


def instance_get_for_user(
    *, user: User, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str
) -> Instance:
    """One instance of a study the user may see; Http404 otherwise."""
    instance = (
        Instance.objects.filter(
            series__exam__in=exam_list_for_user(user=user),
            series__exam__study_instance_uid=study_instance_uid,
            series__series_instance_uid=series_instance_uid,
            sop_instance_uid=sop_instance_uid,
        )
        .select_related("series__exam__site")
        .first()
    )
    if instance is None:
        raise Http404
    return instance
