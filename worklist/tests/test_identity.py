"""Identity vigilance, pure: which fields of the study differ from the request."""

import datetime
import string
import unicodedata

import hypothesis.strategies as st
import pytest
from hypothesis import assume, given, settings

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


@pytest.mark.parametrize(("written", "sent"), [("BŒUF", "BOEUF"), ("Lætitia", "LAETITIA"), ("Strauß", "STRAUSS")])
def test_ligatures_match_their_spelling_out(written, sent):
    assert normalise(written) == normalise(sent)


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


# Properties of the name comparison, on names drawn letter by letter and then written the ways
# a request form or a scanner's console writes them. Derandomised: the same examples each run.

# Each letter with its accented forms in Latin-1 and Latin Extended-A ("E": É È Ê Ë Ē Ė Ę Ě ...);
# and letters that are no letter with an accent (Ø is not O, Ł not L; Œ and Æ are spelt OE and AE).
ALPHABET = string.ascii_uppercase + "ŒÆØŁ"
ACCENTED = {letter: [] for letter in ALPHABET}
for _char in map(chr, range(0xC0, 0x180)):
    _parts = unicodedata.normalize("NFKD", _char)
    if len(_parts) > 1 and _parts[0].upper() in ACCENTED and all(unicodedata.combining(c) for c in _parts[1:]):
        ACCENTED[_parts[0].upper()].append(_char)

LETTERS = st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=20).map("".join)
SEPARATORS = ["", "", "", " ", "-", "'", "\u2019"]  # mostly none; else a space, a hyphen, an apostrophe
PROPERTY = settings(derandomize=True, max_examples=300)


@st.composite
def written(draw, letters: str) -> str:
    """``letters`` in any case, with or without their accents, with spaces, hyphens or apostrophes between."""
    out = []
    for i, letter in enumerate(letters):
        form = draw(st.sampled_from([letter, *ACCENTED[letter]]))
        out.append(form.lower() if draw(st.booleans()) else form)
        if i < len(letters) - 1:
            out.append(draw(st.sampled_from(SEPARATORS)))
    return "".join(out)


def _name_fields(request_family, request_given, dicom_family, dicom_given, birth_name=""):
    request = Identity(request_family, request_given, datetime.date(1950, 3, 2), "F", "IPP42", birth_name=birth_name)
    found = mismatches(request, _dicom(family_name=dicom_family, given_name=dicom_given))
    return [m["field"] for m in found]


@st.composite
def a_name_written_twice(draw):
    letters = draw(LETTERS)
    return letters, draw(written(letters)), draw(written(letters))


@st.composite
def two_names_a_letter_apart(draw):
    """Two letter sequences that differ by one letter changed, dropped or added, each written any way."""
    letters = draw(LETTERS)
    i = draw(st.integers(0, len(letters) - 1))
    change = draw(st.sampled_from(["replace", "drop", "add"]))
    if change == "replace":
        other = draw(st.sampled_from([c for c in ALPHABET if c != letters[i]]))
        changed = letters[:i] + other + letters[i + 1 :]
    elif change == "drop":
        changed = letters[:i] + letters[i + 1 :]
    else:
        changed = letters[:i] + draw(st.sampled_from(ALPHABET)) + letters[i:]
    if not changed:  # one letter dropped from a one-letter name: an empty name is another case
        changed = letters + letters
    return draw(written(letters)), draw(written(changed))


def test_the_accented_forms_are_there():
    assert {"É", "È", "Ê", "Ë"} <= set(ACCENTED["E"]) and "Ç" in ACCENTED["C"] and "Ÿ" in ACCENTED["Y"]


@PROPERTY
@given(a_name_written_twice())
def test_a_name_matches_itself_however_it_is_written(name):
    letters, one, other = name
    assert normalise(one) == normalise(other) == letters.replace("Œ", "OE").replace("Æ", "AE")
    assert _name_fields(one, other, other, one) == []


@PROPERTY
@given(a_name_written_twice(), LETTERS)
def test_the_study_may_carry_the_birth_name(name, usage_letters):
    letters, birth_name, dicom = name
    assume(usage_letters != letters)
    assert _name_fields(usage_letters, "Anne", dicom, "ANNE", birth_name=birth_name) == []
    assert _name_fields(usage_letters, "Anne", dicom, "ANNE") == ["family_name"]  # the birth name not recorded


@PROPERTY
@given(two_names_a_letter_apart(), st.one_of(st.none(), LETTERS))
def test_names_a_letter_apart_never_match(names, usage_letters):
    """Neither as family name (usage or, when the request has another usage name, birth name) nor as given name."""
    one, other = names
    assert normalise(one) != normalise(other)
    assert _name_fields(one, one, other, other) == ["family_name", "given_name"]
    if usage_letters is not None:
        assume(usage_letters != normalise(other))
        assert _name_fields(usage_letters, one, other, one, birth_name=one) == ["family_name"]


@PROPERTY
@given(a_name_written_twice(), a_name_written_twice())
def test_family_and_given_names_swapped_do_not_match(family, given_name):
    """PAUL^MARTIN for Martin Paul: each name is compared with its own field only."""
    family_letters, family, dicom_family = family
    given_letters, given_name, dicom_given = given_name
    assume(family_letters != given_letters)
    assert _name_fields(family, given_name, dicom_given, dicom_family) == ["family_name", "given_name"]
    assert _name_fields(family, given_name, dicom_family, dicom_given) == []
