"""Pure checks of French and DICOM identifiers (no Django import).

FINESS (établissement): 9 characters, a department code (01–95, 2A/2B for
Corsica, 9A–9F for overseas), then digits, the last one a Luhn key. The Luhn
key is only defined on all-digit numbers, so it is checked only there.
RPPS (health professional): 11 digits, the last one a Luhn key.
AE title (DICOM PS3.5 §6.2, VR AE): 1–16 characters of the default character
repertoire, no backslash, no control characters, not only spaces.
"""

import re

_FINESS_RE = re.compile(r"^(?:\d{2}|2[AB]|9[A-F])\d{7}$")
_RPPS_RE = re.compile(r"^\d{11}$")


def luhn_is_valid(digits: str) -> bool:
    """True if the digit string passes the Luhn (mod 10) check."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def luhn_key(digits: str) -> str:
    """The Luhn key digit to append to ``digits``."""
    for key in "0123456789":
        if luhn_is_valid(digits + key):
            return key
    raise ValueError(f"not digits: {digits!r}")  # pragma: no cover - unreachable for digits


def finess_error(value: str) -> str | None:
    """Why ``value`` is not a FINESS number, or None if it is one."""
    if not _FINESS_RE.match(value):
        return "format"
    if value.isdigit() and not luhn_is_valid(value):
        return "checksum"
    return None


def rpps_error(value: str) -> str | None:
    """Why ``value`` is not an RPPS number, or None if it is one."""
    if not _RPPS_RE.match(value):
        return "format"
    if not luhn_is_valid(value):
        return "checksum"
    return None


def ae_title_error(value: str) -> str | None:
    """Why ``value`` is not a usable DICOM AE title, or None if it is one."""
    if not value or not value.strip(" "):
        return "empty"
    if len(value) > 16:
        return "length"
    if "\\" in value:
        return "backslash"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "control"
    if any(ord(c) > 0x7E for c in value):
        return "charset"
    return None
