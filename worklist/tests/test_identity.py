"""Identity vigilance, pure: which fields of the study differ from the request."""

import datetime

import hypothesis.strategies as st
from hypothesis import given

from worklist.identity import Identity, from_dicom_name, mismatches, normalise

REQUEST = Identity("Le Gall-Hervé", "Anne-Sophie", datetime.date(1950, 3, 2), "F", "IPP42", birth_name="Kerouac")


def _dicom(**changes):
    values = {
        "family_name": "LE GALL HERVE",
        "given_name": "ANNE SOPHIE",
        "birth_date": datetime.date(1950, 3, 2),
        "sex": "F",
        "patient_id": "IPP42",
    }
    return Identity(**{**values, **changes})


def test_the_same_patient_written_differently_matches():
    assert mismatches(REQUEST, _dicom()) == []
    assert mismatches(REQUEST, _dicom(family_name="KEROUAC")) == []  # birth name


def test_each_differing_field_is_reported_with_both_values():
    found = mismatches(REQUEST, _dicom(birth_date=datetime.date(1950, 2, 3), sex="M", patient_id="IPP43"))
    assert [m["field"] for m in found] == ["birth_date", "sex", "patient_id"]
    assert found[0] == {"field": "birth_date", "request": "1950-03-02", "dicom": "1950-02-03"}


def test_a_missing_name_or_birth_date_in_the_study_is_a_mismatch():
    fields = [m["field"] for m in mismatches(REQUEST, _dicom(family_name="", birth_date=None))]
    assert fields == ["family_name", "birth_date"]


def test_dicom_person_name_groups():
    assert from_dicom_name("DUPONT^Jeanne^^^=ideographic") == ("DUPONT", "Jeanne")
    assert from_dicom_name("DUPONT") == ("DUPONT", "")


@given(st.text(min_size=1, max_size=30))
def test_normalising_ignores_case_and_accents(name):
    assert normalise(name.upper()) == normalise(name.lower()) or not name.isascii()
    assert normalise(name) == normalise(normalise(name))
