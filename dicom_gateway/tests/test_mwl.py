"""The Modality Worklist's matching (pure) and its query of the site's scheduled requests."""

import datetime
import re
import string

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from core.models import AuditEvent
from dicom_gateway import mwl
from dicom_gateway.mwl import (
    InvalidQuery,
    MwlQuery,
    WorklistEntry,
    date_range,
    entry_dataset,
    entry_matches,
    mwl_find,
    parse_query,
    person_name_match,
    wildcard_match,
)
from sites.tests.factories import ModalityFactory
from worklist.models import ExamRequest
from worklist.tests.factories import ExamFactory, ExamRequestFactory

ENTRY = WorklistEntry(
    patient_name="LEFÈVRE^Hélène",
    patient_id="IPP000042",
    patient_birth_date="19500302",
    patient_sex="F",
    ins="",
    accession_number="TR0000000042",
    study_instance_uid="1.2.826.0.1.3680043.10.9.42",
    requested_procedure_id="TR0000000042",
    requested_procedure_description="Scanner cérébral sans injection",
    procedure_code="SCAN001",
    requesting_physician="Dr Urgentiste",
    priority="HIGH",
    modality="CT",
    station_ae_title="CT_A",
    station_name="Scanner A",
    start_date="20261126",
    start_time="101500",
    step_description="Scanner cérébral sans injection – hélicoïdal 5 mm",
    step_id="TR0000000042-1",
)


def _query(step: dict | None = None, **top) -> Dataset:
    ds = Dataset()
    for keyword, value in top.items():
        setattr(ds, keyword, value)
    if step is not None:
        item = Dataset()
        for keyword, value in step.items():
            setattr(item, keyword, value)
        ds.ScheduledProcedureStepSequence = [item]
    return ds


def _matches(step: dict | None = None, **top) -> bool:
    return entry_matches(ENTRY, parse_query(_query(step, **top)))


# --- Wildcards -----------------------------------------------------------------------------

text = st.text(alphabet=string.ascii_letters + string.digits + "^ .-_éÈ", max_size=20)


@settings(deadline=None)  # pure and fast, but the suite shares two cores
@given(text)
def test_it_matches_a_value_with_itself_and_with_a_star(value):
    assert wildcard_match(value, value)
    assert wildcard_match("*", value)
    assert wildcard_match("", value)


@settings(deadline=None)  # pure and fast, but the suite shares two cores
@given(text, st.data())
def test_a_question_mark_stands_for_exactly_one_character(value, data):
    if not value:
        return
    index = data.draw(st.integers(0, len(value) - 1))
    assert wildcard_match(value[:index] + "?" + value[index + 1 :], value)
    assert not wildcard_match(value + "?", value)


@settings(deadline=None)  # pure and fast, but the suite shares two cores
@given(text, text)
def test_a_star_matches_any_run_of_characters(prefix, rest):
    assert wildcard_match(prefix + "*", prefix + rest)
    assert wildcard_match("*" + rest, prefix + rest)


@settings(deadline=None)  # pure and fast, but the suite shares two cores
@given(st.text(alphabet=".+()[]{}|\\$", min_size=1, max_size=10))
def test_regex_characters_are_taken_literally(value):
    assert wildcard_match(value, value)
    assert not wildcard_match(value, value + "x")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("LEFÈVRE^Hélène", True),
        ("lefevre^helene", True),  # case- and accent-insensitive
        ("LEF*", True),
        ("lef*", True),
        ("LEFEVRE", True),  # family name alone
        ("LEFÈVRE^", True),
        ("*^H?l?ne", True),
        ("LEFÈVRE^Marie", False),
        ("DUPONT*", False),
        ("HÉLÈNE", False),
        ("*", True),
    ],
)
def test_patient_name_matching(pattern, expected):
    assert person_name_match(pattern, ENTRY.patient_name) is expected
    assert _matches(PatientName=pattern) is expected


# --- Dates and times ----------------------------------------------------------------------


def test_it_reads_single_dates_and_ranges():
    day = datetime.date
    assert date_range("20261126") == (day(2026, 11, 26), day(2026, 11, 26))
    assert date_range("20261120-20261130") == (day(2026, 11, 20), day(2026, 11, 30))
    assert date_range("-20261130") == (None, day(2026, 11, 30))
    assert date_range("20261120-") == (day(2026, 11, 20), None)


@pytest.mark.parametrize("value", ["2026-11-26", "20261326", "yesterday", "-", "20261126-2026"])
def test_a_malformed_date_is_refused(value):
    with pytest.raises(InvalidQuery):
        date_range(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20261126", True),
        ("20261125", False),
        ("20261120-20261126", True),
        ("20261127-20261130", False),
        ("-20261126", True),
        ("-20261125", False),
        ("20261126-", True),
        ("20261127-", False),
        ("", True),
    ],
)
def test_it_matches_the_scheduled_date(value, expected):
    assert _matches({"ScheduledProcedureStepStartDate": value}) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1015", True), ("1000-1100", True), ("-1014", False), ("1016-", False), ("10", True), ("", True)],
)
def test_it_matches_the_scheduled_time(value, expected):
    assert _matches({"ScheduledProcedureStepStartTime": value}) is expected


# --- Other keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "top", "expected"),
    [
        ({"Modality": "CT"}, {}, True),
        ({"Modality": "MR"}, {}, False),
        ({"ScheduledStationAETitle": "CT_A"}, {}, True),
        ({"ScheduledStationAETitle": "CT_B"}, {}, False),
        ({"ScheduledStationAETitle": "CT_*"}, {}, True),
        ({}, {"PatientID": "IPP000042"}, True),
        ({}, {"PatientID": "IPP000043"}, False),
        ({}, {"AccessionNumber": "TR0000000042"}, True),
        ({}, {"AccessionNumber": "TR*42"}, True),
        ({}, {"AccessionNumber": "TR0000000041"}, False),
        ({}, {"StudyInstanceUID": "1.2.826.0.1.3680043.10.9.42"}, True),
        ({}, {"StudyInstanceUID": "1.2.3"}, False),
        # A key we do not match on is matched universally.
        ({"ScheduledPerformingPhysicianName": "MARTIN"}, {"PatientWeight": "70"}, True),
    ],
)
def test_it_matches_the_usual_keys(step, top, expected):
    assert _matches(step, **top) is expected


def test_a_request_with_no_scheduled_station_is_for_every_station_of_the_site():
    anywhere = WorklistEntry(**{**ENTRY.__dict__, "station_ae_title": ""})
    assert entry_matches(anywhere, MwlQuery(station_ae_title="CT_B"))


# --- The answer ---------------------------------------------------------------------------


def test_the_answer_holds_only_what_was_asked_and_the_character_set():
    query = _query(
        {"Modality": "", "ScheduledProcedureStepStartDate": "", "ScheduledPerformingPhysicianName": ""},
        PatientName="",
        AccessionNumber="",
        PatientWeight="",
        OtherPatientIDsSequence=[],
    )
    answer = entry_dataset(ENTRY, query)
    assert {e.keyword for e in answer} == {
        "SpecificCharacterSet",
        "PatientName",
        "AccessionNumber",
        "PatientWeight",
        "OtherPatientIDsSequence",
        "ScheduledProcedureStepSequence",
    }
    assert answer.SpecificCharacterSet == "ISO_IR 192"
    assert answer.PatientName == "LEFÈVRE^Hélène"
    assert answer.PatientWeight is None  # not held: returned empty
    assert len(answer.OtherPatientIDsSequence) == 0  # no qualified INS
    step = answer.ScheduledProcedureStepSequence[0]
    assert {e.keyword for e in step} == {
        "Modality",
        "ScheduledProcedureStepStartDate",
        "ScheduledPerformingPhysicianName",
    }
    assert step.Modality == "CT" and step.ScheduledProcedureStepStartDate == "20261126"


def test_an_empty_step_sequence_gets_the_whole_step_and_a_qualified_ins_is_returned():
    entry = WorklistEntry(**{**ENTRY.__dict__, "ins": "250037512345678"})
    query = _query(PatientID="", OtherPatientIDsSequence=[])
    query.ScheduledProcedureStepSequence = []
    answer = entry_dataset(entry, query)
    other = answer.OtherPatientIDsSequence[0]
    assert other.PatientID == "250037512345678"
    assert other.IssuerOfPatientIDQualifiersSequence[0].UniversalEntityID == mwl.INS_OID
    step = answer.ScheduledProcedureStepSequence[0]
    assert step.ScheduledStationAETitle == "CT_A"
    assert step.ScheduledProcedureStepID == "TR0000000042-1"
    assert step.ScheduledProcedureStepDescription.endswith("hélicoïdal 5 mm")


# --- mwl_find: the site's scheduled requests ------------------------------------------------


def _scheduled(site, by, *, n, modality=None, **values):
    values.setdefault("validated_at", timezone.now())
    return ExamRequestFactory(
        site=site,
        created_by=by,
        status=ExamRequest.Status.SCHEDULED,
        accession_number=f"TRT{n:09d}",
        study_instance_uid=f"1.2.826.0.1.3680043.10.8.{n}",
        scheduled_modality=modality,
        protocol="Hélicoïdal 5 mm",
        **values,
    )


@pytest.fixture
def scanner_a(site_a):
    return ModalityFactory(site=site_a, ae_title="CT_A")


def test_it_finds_only_the_callers_sites_scheduled_unmatched_requests(site_a, site_b, merm_a, scanner_a):
    mine = _scheduled(site_a, merm_a, n=1, modality=scanner_a, patient_family_name="Lefèvre")
    anywhere = _scheduled(site_a, merm_a, n=2)
    _scheduled(site_b, merm_a, n=3, modality=ModalityFactory(site=site_b))
    done = _scheduled(site_a, merm_a, n=4)
    done.exam = ExamFactory(site=site_a)
    done.status = ExamRequest.Status.DONE
    done.save()
    ExamRequestFactory(site=site_a, created_by=merm_a)  # requested, not validated
    cancelled = _scheduled(site_a, merm_a, n=5)
    ExamRequest.objects.filter(pk=cancelled.pk).update(status=ExamRequest.Status.CANCELLED)

    answers = mwl_find(identifier=_query(AccessionNumber="", PatientName=""), modality=scanner_a)

    assert [a.AccessionNumber for a in answers] == [mine.accession_number, anywhere.accession_number]
    assert answers[0].PatientName == "LEFÈVRE^Jeanne"
    event = AuditEvent.objects.get(action="mwl.find")
    assert event.detail == {"calling_ae": "CT_A", "site": site_a.pk, "answers": 2}


def test_the_step_is_dated_in_the_sites_time_zone(site_a, merm_a, scanner_a):
    site_a.timezone = "America/Cayenne"
    site_a.save()
    at = datetime.datetime(2026, 11, 26, 1, 30, tzinfo=datetime.UTC)  # 22:30 the day before in Cayenne
    _scheduled(site_a, merm_a, n=1, modality=scanner_a, validated_at=at)
    query = _query({"ScheduledProcedureStepStartDate": "20261125", "ScheduledProcedureStepStartTime": ""})
    [answer] = mwl_find(identifier=query, modality=scanner_a)
    assert answer.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime == "223000"


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_a_malformed_query_is_refused_and_audited(site_a, scanner_a):
    with pytest.raises(InvalidQuery):
        mwl_find(identifier=_query({"ScheduledProcedureStepStartDate": "26/11/2026"}), modality=scanner_a)
    event = AuditEvent.objects.get(action="mwl.find")
    assert event.detail["answers"] == 0 and re.search("date", event.detail["error"])
