"""Mandatory content of a report (pure) and dose extraction from DICOM headers."""

import hypothesis.strategies as st
from hypothesis import given
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from reports import content
from reports.dose import dose_for_study, dose_from_images, dose_from_rdsr

FULL = content.ReportContent(
    patient_name="DUPONT^Jeanne",
    patient_birth_date_known=True,
    modality="CT",
    indication="Céphalées brutales.",
    technique="Scanner cérébral sans injection.",
    dose="PDL total : 800 mGy·cm",
    findings="Pas d'hémorragie.",
    conclusion="Normal.",
)


def _with(**changes):
    return content.ReportContent(**{**FULL.__dict__, **changes})


def test_a_complete_ct_report_misses_nothing():
    assert content.missing_parts(FULL) == []


def test_each_empty_part_is_named_in_order():
    report = _with(indication=" ", dose="", conclusion="\n")
    assert content.missing_parts(report) == [content.INDICATION, content.DOSE, content.CONCLUSION]


def test_patient_identity_needs_a_name_and_a_birth_date():
    assert content.missing_parts(_with(patient_name="")) == [content.PATIENT]
    assert content.missing_parts(_with(patient_birth_date_known=False)) == [content.PATIENT]


def test_mri_needs_no_dose_but_ct_does():
    assert content.missing_parts(_with(modality="MR", dose="")) == []
    assert content.missing_parts(_with(modality="ct", dose="")) == [content.DOSE]


@given(st.text(alphabet=" \t\n"))
def test_blank_text_never_counts_as_written(blank):
    assert content.FINDINGS in content.missing_parts(_with(findings=blank))


def test_word_count():
    assert content.word_count("  Pas   d'anomalie\naiguë. ") == 3


def _num(code: str, value: str) -> Dataset:
    item = Dataset()
    item.ValueType = "NUM"
    concept = Dataset()
    concept.CodeValue = code
    concept.CodingSchemeDesignator = "DCM"
    item.ConceptNameCodeSequence = Sequence([concept])
    measured = Dataset()
    measured.NumericValue = value
    item.MeasuredValueSequence = Sequence([measured])
    return item


def _container(*items: Dataset) -> Dataset:
    node = Dataset()
    node.ValueType = "CONTAINER"
    node.ContentSequence = Sequence(list(items))
    return node


def _rdsr(*items: Dataset) -> Dataset:
    sr = _container(*items)
    sr.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.67"
    return sr


def test_rdsr_total_dlp_and_highest_ctdivol_from_nested_events():
    sr = _rdsr(
        _container(_num("113813", "812.5")),
        _container(_num("113830", "40.1"), _num("113838", "400")),
        _container(_num("113830", "52.3"), _num("113838", "412.5")),
    )
    summary = dose_from_rdsr(sr)
    assert summary.dlp_mgycm == 812.5
    assert summary.ctdivol_max_mgy == 52.3
    assert summary.source == "rdsr"


def test_rdsr_without_total_sums_the_events():
    sr = _rdsr(_container(_num("113838", "100")), _container(_num("113838", "50.5")))
    assert dose_from_rdsr(sr).dlp_mgycm == 150.5


def test_rdsr_without_dose_falls_back_to_the_images():
    image = Dataset()
    image.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    image.CTDIvol = 33.3
    summary = dose_for_study([_rdsr(_container()), image])
    assert summary.source == "images"
    assert summary.ctdivol_max_mgy == 33.3
    assert summary.dlp_mgycm is None


def test_images_without_ctdivol_give_no_dose():
    assert dose_from_images([Dataset(), Dataset()]) is None
    assert dose_for_study([]) is None
