"""quickscan agrees with pydicom, or steps aside: it never accepts what pydicom's path refuses."""

from pathlib import Path

import pydicom
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
)

from dicom_gateway.handlers import part10_header
from dicom_gateway.indexing import index_dataset
from dicom_gateway.quickscan import scan_identifiers
from dicom_gateway.services import parse_part10
from dicom_gateway.tests.dicom_factories import encode, make_ct_image, make_dataset

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def _pydicoms_reading(data: bytes):
    """What the pydicom path makes of the bytes: the identifiers, or the exception it raises."""
    try:
        ds = parse_part10(data)
        index = index_dataset(ds)
    except Exception as exc:  # noqa: BLE001 - any refusal
        return type(exc)
    return (
        index.sop_class_uid,
        index.sop_instance_uid,
        index.study_instance_uid,
        index.series_instance_uid,
        index.instance["instance_number"],
        str(ds.file_meta.TransferSyntaxUID),
        index.instance["slice_position"],
    )


def _scanned(data: bytes):
    found = scan_identifiers(data)
    if found is None:
        return None
    return (
        found.sop_class_uid,
        found.sop_instance_uid,
        found.study_instance_uid,
        found.series_instance_uid,
        found.instance_number,
        found.transfer_syntax_uid,
        found.slice_position,
    )


def _agrees(data: bytes) -> bool:
    scanned = _scanned(data)
    return scanned is None or scanned == _pydicoms_reading(data)


def _with_sequence(ds: Dataset, undefined: bool) -> Dataset:
    item = Dataset()
    item.CodeValue = "T-A0100"
    item.CodingSchemeDesignator = "SRT"
    item.CodeMeaning = "Cerveau"
    inner = Dataset()
    inner.ReferencedSOPInstanceUID = "1.2.3.4"
    item.ReferencedImageSequence = Sequence([inner])
    ds.AnatomicRegionSequence = Sequence([item])
    if undefined:
        ds["AnatomicRegionSequence"].is_undefined_length = True
        item.is_undefined_length_sequence_item = True
        ds.AnatomicRegionSequence[0]["ReferencedImageSequence"].is_undefined_length = True
    return ds


instance_numbers = st.one_of(
    st.none(),
    st.integers(-5, 10**6).map(str),
    st.sampled_from(["", " 12 ", "1.0", "1.5", "1\\2", "abc", "+7", "0012"]),
)
syntaxes = st.sampled_from([ExplicitVRLittleEndian, ImplicitVRLittleEndian])
decimal = st.one_of(
    st.floats(-1e4, 1e4, allow_nan=False).map(lambda f: f"{f:.6g}"),
    st.sampled_from(["0", "-0.5", "1e2", " 12", "+3.", ".25"]),
)
geometries = st.one_of(
    st.none(),
    st.tuples(st.lists(decimal, min_size=2, max_size=4), st.lists(decimal, min_size=5, max_size=7)),
    st.tuples(st.lists(decimal, min_size=3, max_size=3), st.just(["1", "0", "0", "0", "1", "0"])),
)


@settings(max_examples=150)
@given(
    syntax=syntaxes,
    number=instance_numbers,
    sequence=st.sampled_from([None, False, True]),
    pixels=st.booleans(),
    cut=st.one_of(st.none(), st.integers(1, 400)),
    geometry=geometries,
)
def test_scanned_identifiers_are_pydicoms_or_none(syntax, number, sequence, pixels, cut, geometry):
    ds = make_ct_image(rows=8, columns=8) if pixels else make_dataset()
    if sequence is not None:
        _with_sequence(ds, undefined=sequence)
    try:
        if geometry is not None:
            ds.ImagePositionPatient, ds.ImageOrientationPatient = geometry
        if number is None:
            del ds.InstanceNumber
        else:
            ds.InstanceNumber = number
        data = encode(ds, transfer_syntax=syntax)
    except ValueError:
        assume(False)  # a value pydicom will not even write (no scanner sends it this way either)
    if cut is not None:
        data = data[: max(150, len(data) - cut)]
    assert _agrees(data)


def test_the_usual_instance_is_read_without_pydicom():
    ds = make_ct_image(rows=8, columns=8, InstanceNumber=42)
    _with_sequence(ds, undefined=True)
    for syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
        data = encode(ds, transfer_syntax=syntax)
        assert _scanned(data) == _pydicoms_reading(data)
        assert scan_identifiers(data).instance_number == 42


def test_the_slice_position_is_read_without_pydicom_and_a_bad_one_costs_only_itself():
    ds = make_ct_image(rows=8, columns=8, ImagePositionPatient=["-125", "-125", "42.5"])
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    for syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
        data = encode(ds, transfer_syntax=syntax)
        assert scan_identifiers(data).slice_position == 42.5
        bad = data.replace(b"-125\\-125\\42.5", b"-125\\-125\\4x.5")
        assert scan_identifiers(bad).slice_position is None
        assert _scanned(bad) == _pydicoms_reading(bad)


def test_encapsulated_pixel_data_is_walked_through():
    ds = make_dataset(InstanceNumber=3)
    ds.Rows = ds.Columns = 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = encapsulate([b"\xff\xd8" + b"\x00" * 61 + b"\xd9", b"\x01" * 32])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    data = encode(ds, transfer_syntax=JPEGBaseline8Bit)
    assert scan_identifiers(data) is not None
    assert _scanned(data) == _pydicoms_reading(data)
    assert scan_identifiers(data[:-4]) is None  # the sequence delimiter cut off


@pytest.mark.parametrize("syntax", [ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian])
def test_big_endian_and_deflated_are_left_to_pydicom(syntax):
    assert scan_identifiers(encode(make_dataset(), transfer_syntax=syntax)) is None


@pytest.mark.parametrize("cut", [1, 2, 7, 100])
def test_a_truncated_instance_is_never_accepted(cut):
    data = encode(make_ct_image(rows=16, columns=16))
    assert scan_identifiers(data[:-cut]) is None
    assert _pydicoms_reading(data[:-cut]) is not None  # (pydicom's path refuses it: TruncatedDataset)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "1.2/3", "1.2\x003", "9" * 70, "1..2"])
def test_hostile_uids_are_left_to_pydicoms_refusal(bad):
    ds = make_dataset()
    ds.SOPInstanceUID = bad
    assert scan_identifiers(encode(ds)) is None


@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "SeriesInstanceUID"])
def test_a_missing_uid_is_left_to_pydicoms_refusal(keyword):
    ds = make_dataset()
    delattr(ds, keyword)
    assert scan_identifiers(encode(ds)) is None


def test_bytes_that_are_not_dicom_are_left_to_pydicom():
    assert scan_identifiers(b"") is None
    assert scan_identifiers(b"\x00" * 128 + b"DICM" + b"garbage" * 10) is None
    assert scan_identifiers(b"GET / HTTP/1.1\r\n" * 20) is None


@pytest.mark.parametrize("path", sorted(TEST_FILES.glob("*.dcm"))[:80], ids=lambda p: p.name)
def test_pydicoms_test_files_as_a_scanner_sends_them(path):
    # As the gateway builds them: our File Meta Information, then the dataset as received.
    try:
        ds = pydicom.dcmread(path)
        syntax = str(ds.file_meta.TransferSyntaxUID)
        raw = path.read_bytes()
        body = raw[ds.file_meta.get("FileMetaInformationGroupLength", 0) + 144 :] if raw[128:132] == b"DICM" else None
        sop_class, sop_instance = str(ds.SOPClassUID), str(ds.SOPInstanceUID)
    except Exception:  # noqa: BLE001 - files without meta or identifiers are not what a scanner sends
        pytest.skip("not a Part 10 file with identifiers")
    if body is None:
        pytest.skip("no preamble")
    data = part10_header(sop_class, sop_instance, syntax) + body
    assert _agrees(data)
