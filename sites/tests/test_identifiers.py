from hypothesis import given
from hypothesis import strategies as st

from sites.identifiers import ae_title_error, finess_error, luhn_is_valid, luhn_key, rpps_error


def test_it_accepts_a_valid_finess():
    assert finess_error("290000017") is None  # CHU Brest


def test_it_rejects_a_finess_with_a_wrong_key():
    assert finess_error("290000018") == "checksum"


def test_it_rejects_a_finess_of_the_wrong_shape():
    for value in ["29000001", "2900000170", "29000001A", "", "AB0000017", "00 000017"]:
        assert finess_error(value) == "format", value


def test_it_accepts_corsican_and_overseas_department_codes():
    assert finess_error("2A0000010") is None
    assert finess_error("9C0000010") is None


def test_it_accepts_a_valid_rpps():
    body = "1000000123"
    assert rpps_error(body + luhn_key(body)) is None


def test_it_rejects_an_rpps_with_a_wrong_key_or_shape():
    body = "1000000123"
    wrong = str((int(luhn_key(body)) + 1) % 10)
    assert rpps_error(body + wrong) == "checksum"
    assert rpps_error("123") == "format"
    assert rpps_error("1000000123X") == "format"


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_it_always_makes_a_luhn_key_that_validates(digits):
    assert luhn_is_valid(digits + luhn_key(digits))


@given(st.text(alphabet="0123456789", min_size=1, max_size=20), st.integers(1, 9))
def test_it_detects_any_single_digit_change_of_the_key(digits, delta):
    key = luhn_key(digits)
    changed = str((int(key) + delta) % 10)
    assert not luhn_is_valid(digits + changed)


def test_it_validates_ae_titles():
    assert ae_title_error("CT_LANDERNEAU") is None
    assert ae_title_error("A" * 16) is None
    assert ae_title_error("A" * 17) == "length"
    assert ae_title_error("CT\\1") == "backslash"
    assert ae_title_error("CT\n1") == "control"
    assert ae_title_error("CT\x001") == "control"
    assert ae_title_error("   ") == "empty"
    assert ae_title_error("") == "empty"
    assert ae_title_error("SCANNÉ") == "charset"
