"""The identifiers of an instance, read straight from its Part 10 bytes.

The next instances of a series the gateway already indexed need only five
values (SOP class and instance, study and series UIDs, instance number), the
slice position (image position and orientation, for the viewer's order) and
the certainty that the dataset is whole. pydicom builds a Dataset for that
(about 1 ms of CPU for a 50-element header); walking the element headers
with ``struct`` takes a few tens of microseconds.

``scan_identifiers`` handles the usual case only: Little Endian (explicit or
implicit VR), not deflated, every element inside the bytes, plain single
values. Anything else returns None, and the caller parses with pydicom, which
then decides (truncated, malformed, big endian…). So this never accepts what
the pydicom path would refuse: it only answers sooner when both agree
(dicom_gateway/tests/test_quickscan.py checks that against pydicom).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from dicom_gateway.indexing import UID_RE, decimal_strings, slice_position

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
_LITTLE_ENDIAN = {
    IMPLICIT_VR_LITTLE_ENDIAN,
    "1.2.840.10008.1.2.1",  # explicit VR little endian
}
# Compressed pixel data is encapsulated in an explicit VR little endian dataset.
_ENCAPSULATED_PREFIX = "1.2.840.10008.1.2.4."
_ENCAPSULATED = {"1.2.840.10008.1.2.5"}  # RLE lossless

_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD

_WANTED = {
    0x00080016: "sop_class_uid",
    0x00080018: "sop_instance_uid",
    0x0020000D: "study_instance_uid",
    0x0020000E: "series_instance_uid",
    0x00200013: "instance_number",
    0x00200032: "image_position",
    0x00200037: "image_orientation",
}
_IDENTIFIERS = ("sop_class_uid", "sop_instance_uid", "study_instance_uid", "series_instance_uid")
_INTEGER = re.compile(r"[+-]?\d{1,12}")
_TAG = struct.Struct("<HH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class Identifiers:
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    instance_number: int | None
    transfer_syntax_uid: str
    slice_position: float | None = None


class _Unhandled(Exception):
    """Not the usual case: let pydicom read it."""


def _text(raw: bytes) -> str:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise _Unhandled from None
    text = text.rstrip("\x00 ").strip()
    if "\\" in text:
        raise _Unhandled  # several values: pydicom's reading decides
    return text


def _decimals(found: dict[str, bytes], name: str) -> list[float] | None:
    # A malformed position only loses the image its place in the stack, never the image.
    raw = found.get(name)
    if not raw:
        return None
    try:
        return decimal_strings(raw.decode("ascii"))
    except UnicodeDecodeError:
        return None


def _meta(data: bytes) -> tuple[int, str]:
    """(offset of the dataset, transfer syntax) from the preamble and File Meta Information."""
    if len(data) < 144 or data[128:132] != b"DICM" or data[132:140] != b"\x02\x00\x00\x00UL\x04\x00":
        raise _Unhandled
    start = 144
    end = start + _U32.unpack_from(data, 140)[0]
    if end > len(data):
        raise _Unhandled
    offset, syntax = start, ""
    while offset < end:
        if offset + 8 > end:
            raise _Unhandled
        group, element = _TAG.unpack_from(data, offset)
        vr = data[offset + 4 : offset + 6]
        if group != 0x0002:
            raise _Unhandled
        if vr in _LONG_VRS:
            length, offset = _U32.unpack_from(data, offset + 8)[0], offset + 12
        else:
            length, offset = _U16.unpack_from(data, offset + 6)[0], offset + 8
        if offset + length > end:
            raise _Unhandled
        if element == 0x0010:
            syntax = _text(data[offset : offset + length])
        offset += length
    return end, syntax


class _Walker:
    def __init__(self, data: bytes, implicit: bool):
        self.data = data
        self.size = len(data)
        self.implicit = implicit

    def header(self, offset: int) -> tuple[int, bytes | None, int, int]:
        """(tag, VR or None, value length, offset of the value)."""
        if offset + 8 > self.size:
            raise _Unhandled
        group, element = _TAG.unpack_from(self.data, offset)
        tag = group << 16 | element
        if self.implicit or group == 0xFFFE:  # items and delimiters have no VR
            return tag, None, _U32.unpack_from(self.data, offset + 4)[0], offset + 8
        vr = self.data[offset + 4 : offset + 6]
        if vr in _LONG_VRS:
            if offset + 12 > self.size:
                raise _Unhandled
            return tag, vr, _U32.unpack_from(self.data, offset + 8)[0], offset + 12
        return tag, vr, _U16.unpack_from(self.data, offset + 6)[0], offset + 8

    def skip_items(self, offset: int) -> int:
        """After an undefined-length value: items until the sequence delimiter; the offset past it."""
        while True:
            tag, _vr, length, offset = self.header(offset)
            if tag == _SEQUENCE_END:
                return offset
            if tag != _ITEM:
                raise _Unhandled
            if length == _UNDEFINED:
                offset = self.elements(offset, None, nested=True)
            elif offset + length > self.size:
                raise _Unhandled
            else:
                offset += length

    def elements(self, offset: int, found: dict | None, *, nested: bool = False) -> int:
        """Walk elements from ``offset``: to the end of the bytes, or past an item delimiter."""
        while offset < self.size:
            tag, vr, length, value = self.header(offset)
            if tag == _ITEM_END and nested:
                return value
            if tag >> 16 == 0xFFFE:
                raise _Unhandled  # an item or delimiter out of place
            if length == _UNDEFINED:
                if vr == b"UN":
                    raise _Unhandled  # its items are implicit VR (PS3.5 §6.2.2): pydicom handles it
                offset = self.skip_items(value)
                continue
            if value + length > self.size:
                raise _Unhandled  # truncated: pydicom's reading says so
            if found is not None and tag in _WANTED:
                found[_WANTED[tag]] = self.data[value : value + length]
            offset = value + length
        if nested or offset != self.size:
            raise _Unhandled
        return offset


def scan_identifiers(data: bytes) -> Identifiers | None:
    """The instance's identifiers, or None when pydicom must read it (see the module's docstring)."""
    try:
        start, syntax = _meta(data)
        if not (syntax in _LITTLE_ENDIAN or syntax in _ENCAPSULATED or syntax.startswith(_ENCAPSULATED_PREFIX)):
            raise _Unhandled
        found: dict[str, bytes] = {}
        _Walker(data, implicit=syntax == IMPLICIT_VR_LITTLE_ENDIAN).elements(start, found)
        if any(name not in found for name in _IDENTIFIERS):
            raise _Unhandled  # a UID is missing: pydicom's path names it
        uids = {name: _text(found[name]) for name in _IDENTIFIERS}
        if not all(len(uid) <= 64 and UID_RE.match(uid) for uid in uids.values()):
            raise _Unhandled
        number = _text(found["instance_number"]) if "instance_number" in found else ""
        if number and not _INTEGER.fullmatch(number):
            raise _Unhandled
        return Identifiers(
            **uids,
            instance_number=int(number) if number else None,
            transfer_syntax_uid=syntax,
            slice_position=slice_position(_decimals(found, "image_position"), _decimals(found, "image_orientation")),
        )
    except (_Unhandled, struct.error):
        return None
