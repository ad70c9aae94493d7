import datetime
from io import BytesIO

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydicom import dcmread

from dicom_gateway.indexing import (
    InvalidDataset,
    decimal_strings,
    index_dataset,
    parse_da,
    parse_tm,
    slice_position,
    study_datetime_utc,
)
from dicom_gateway.tests.dicom_factories import encode, make_dataset, roundtrip


def test_it_indexes_the_worklist_fields():
    index = index_dataset(roundtrip(make_dataset()), tz_name="Europe/Paris")
    assert index.exam["patient_name"] == "DEMO^Patient"
    assert index.exam["patient_birth_date"] == datetime.date(1960, 1, 2)
    assert index.exam["patient_sex"] == "F"
    assert index.exam["accession_number"] == "ACC001"
    assert index.exam["study_description"] == "Scanner cérébral sans injection"
    assert index.series["series_number"] == 2
    assert index.instance["instance_number"] == 7
    # 10:30 in Paris in January is 09:30 UTC.
    assert index.exam["study_datetime"] == datetime.datetime(2026, 1, 15, 9, 30, tzinfo=datetime.UTC)


@pytest.mark.parametrize("charset", ["ISO_IR 100", "ISO_IR 192"])
def test_it_decodes_french_accents_with_the_datasets_charset(charset):
    ds = make_dataset(SpecificCharacterSet=charset, PatientName="LE FLOC'H^Gaëlle^Élodie")
    ds.StudyDescription = "IRM encéphale à l'entrée"
    index = index_dataset(roundtrip(ds))
    assert index.exam["patient_name"] == "LE FLOC'H^Gaëlle^Élodie"
    assert index.exam["study_description"] == "IRM encéphale à l'entrée"


def test_it_shows_times_in_the_sites_zone_to_utc_for_cayenne():
    assert study_datetime_utc("20260115", "090000", "America/Cayenne") == datetime.datetime(
        2026, 1, 15, 12, 0, tzinfo=datetime.UTC
    )


@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"])
def test_it_refuses_a_missing_uid(keyword):
    ds = make_dataset()
    delattr(ds, keyword)
    with pytest.raises(InvalidDataset, match=keyword):
        index_dataset(ds)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "1.2/3", "1.2\x003", "1." + "2" * 199, "1..2", "abc"])
def test_it_refuses_a_malformed_uid(bad):
    ds = make_dataset()
    ds.SOPInstanceUID = bad
    with pytest.raises(InvalidDataset, match="SOPInstanceUID"):
        index_dataset(ds)


def test_it_keeps_a_script_tag_as_text():
    index = index_dataset(roundtrip(make_dataset(PatientName="<script>alert(1)</script>")))
    assert index.exam["patient_name"] == "<script>alert(1)</script>"


def test_it_tolerates_malformed_dates_and_times():
    assert parse_da("2026-01-15") is None
    assert parse_da("20261315") is None
    assert parse_tm("25") is None
    assert parse_tm("1030") == datetime.time(10, 30)
    assert parse_tm("103000.5") == datetime.time(10, 30, 0, 500000)
    index = index_dataset(make_dataset(StudyDate="garbage", PatientBirthDate="19600231"))
    assert index.exam["study_datetime"] is None
    assert index.exam["patient_birth_date"] is None


# Characters representable in Latin-1 exercise ISO_IR 100; any text exercises UTF-8.
_latin1 = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\\^=\x7f"), max_size=60
)
_unicode = st.text(
    alphabet=st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp"], exclude_characters="\\^="), max_size=60
)


def _expected(text: str, limit: int) -> str:
    return text.replace("\x00", "").strip()[:limit]


@given(family=_latin1, given_name=_latin1)
def test_latin1_names_survive_encoding_and_indexing(family, given_name):
    ds = make_dataset(SpecificCharacterSet="ISO_IR 100", PatientName=f"{family}^{given_name}")
    name = index_dataset(roundtrip(ds)).exam["patient_name"]
    expected = _expected(f"{family}^{given_name}", 200)
    # pydicom may drop an empty trailing name component.
    assert name in {expected, expected.rstrip("^ ")}


@given(description=_unicode)
def test_utf8_descriptions_survive_encoding_and_indexing(description):
    ds = make_dataset(SpecificCharacterSet="ISO_IR 192", StudyDescription=description)
    assert index_dataset(roundtrip(ds)).exam["study_description"] == _expected(description, 200)


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
@given(st.text(max_size=80))
def test_any_text_uid_is_either_valid_or_refused_never_a_crash(value):
    ds = make_dataset()
    ds.SOPInstanceUID = value
    try:
        index = index_dataset(ds)
    except InvalidDataset:
        return
    assert set(index.sop_instance_uid) <= set("0123456789.")


# --- slice position: the viewer's order along the stack ---

AXIAL, SAGITTAL, CORONAL = [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, -1], [1, 0, 0, 0, 0, -1]


@pytest.mark.parametrize(
    ("orientation", "position", "expected"),
    [
        (AXIAL, [-125, -125, 42.5], 42.5),  # normal +z (towards the head)
        (SAGITTAL, [12, -100, 80], -12),  # row +y × column -z = -x
        (CORONAL, [-100, 30, 80], 30),  # row +x × column -z = +y
    ],
)
def test_the_slice_position_is_the_position_along_the_normal(orientation, position, expected):
    ds = roundtrip(make_dataset(ImageOrientationPatient=orientation, ImagePositionPatient=position))
    assert index_dataset(ds).instance["slice_position"] == pytest.approx(expected)


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # no geometry (secondary capture, multi-frame)
        {"ImagePositionPatient": [1, 2, 3]},
        {"ImagePositionPatient": [1, 2], "ImageOrientationPatient": AXIAL},
        {"ImagePositionPatient": [1, 2, 3], "ImageOrientationPatient": [1, 0, 0, 1, 0, 0]},  # no normal
        {"ImagePositionPatient": [1, 2, 3], "ImageOrientationPatient": [1, 0, 0, 0, 1]},
    ],
)
def test_no_usable_geometry_gives_no_slice_position(overrides):
    assert index_dataset(roundtrip(make_dataset(**overrides))).instance["slice_position"] is None


def test_a_malformed_position_loses_its_place_in_the_stack_not_the_image():
    # As a scanner would send it (pydicom refuses to write it).
    data = encode(make_dataset(ImageOrientationPatient=AXIAL, ImagePositionPatient=["1", "222", "3"]))
    index = index_dataset(dcmread(BytesIO(data.replace(b"1\\222\\3", b"1\\abc\\3"))))
    assert index.instance["slice_position"] is None
    assert index.instance["instance_number"] == 7


def test_decimal_strings_take_only_what_ds_allows():
    assert decimal_strings(" -125.5\\.5\\1e3 \x00") == [-125.5, 0.5, 1000.0]
    for bad in ["nan\\1", "1_0", "inf", "", "1\\\\2", "0x10"]:
        assert decimal_strings(bad) is None


unit = st.floats(-1, 1, allow_nan=False)
coordinate = st.floats(-1000, 1000, allow_nan=False)


@given(
    row=st.tuples(unit, unit, unit),
    column=st.tuples(unit, unit, unit),
    origin=st.tuples(coordinate, coordinate, coordinate),
    steps=st.lists(st.floats(-500, 500, allow_nan=False), min_size=2, max_size=10),
)
def test_images_sort_along_the_stack_whatever_the_orientation(row, column, origin, steps):
    # Images moved by ``step`` along the plane's normal sort in the order of their steps.
    normal = (
        row[1] * column[2] - row[2] * column[1],
        row[2] * column[0] - row[0] * column[2],
        row[0] * column[1] - row[1] * column[0],
    )
    length = sum(n * n for n in normal) ** 0.5
    assume(length > 0.1)
    unit_normal = [n / length for n in normal]
    orientation = [*row, *column]
    positions = [
        slice_position([o + step * n for o, n in zip(origin, unit_normal, strict=True)], orientation) for step in steps
    ]
    base = slice_position(list(origin), orientation)
    for step, position in zip(steps, positions, strict=True):
        assert position - base == pytest.approx(step * length, abs=1e-6 * (1 + abs(step) * length + abs(base)))
    by_position = sorted(range(len(steps)), key=lambda i: positions[i])
    assert [steps[i] for i in by_position] == pytest.approx(sorted(steps), abs=1e-6 * 2000)
