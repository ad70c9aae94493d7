"""A small greyscale PNG of one stored image, for the series strip of the viewer.

Pure apart from pydicom and numpy: a Part 10 file in, PNG bytes out.
Pixel data pydicom cannot decode here (a codec plugin not installed) gives
None, and the page shows the series without a picture.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import pixel_array

SIZE = 96  # longest side, in pixels


def _first(value) -> float | None:
    """The first value of a (possibly multi-valued) DS element, as a float."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if value else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _window(ds, pixels: np.ndarray) -> tuple[float, float]:
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is not None and width and width > 0:
        return center, width
    low, high = float(pixels.min()), float(pixels.max())
    return (low + high) / 2, max(high - low, 1.0)


def png_encode(grey: np.ndarray) -> bytes:
    """An 8-bit greyscale PNG (no filter: the images are tiny)."""
    height, width = grey.shape
    raw = b"".join(b"\x00" + grey[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def thumbnail_png(source: BinaryIO) -> bytes | None:
    """A PNG of the (first frame of the) image in ``source``, windowed like the modality asks, or None.

    Only the first frame is read and decoded: an enhanced multi-frame series is one
    file of hundreds of frames, which ``Dataset.pixel_array`` would decode whole.
    A deflated file (compressed as a whole) is read whole.
    """
    ds = Dataset()  # filled with the image pixel module (group 0028): size, window, rescale
    try:
        pixels = pixel_array(source, index=0, ds_out=ds)
    except Exception:  # noqa: BLE001 - any decoding failure means "no picture", never an error page
        try:
            source.seek(0)
            if not dcmread(source, stop_before_pixels=True).file_meta.TransferSyntaxUID.is_deflated:
                return None  # undecodable here: not worth reading the whole file to find out again
            source.seek(0)
            ds = dcmread(source)
            pixels = pixel_array(ds, index=0)
        except Exception:  # noqa: BLE001 - as above
            return None
    if pixels.ndim == 3 and ds.get("SamplesPerPixel", 1) == 1:
        pixels = pixels[0]
    if pixels.ndim == 3:  # colour: the luminance is enough for a thumbnail
        pixels = pixels[..., :3].mean(axis=2)
    if pixels.ndim != 2:
        return None
    step = max(1, -(-max(pixels.shape) // SIZE))
    small = pixels[::step, ::step].astype(np.float64)
    small = small * float(ds.get("RescaleSlope", 1) or 1) + float(ds.get("RescaleIntercept", 0) or 0)
    center, width = _window(ds, small)
    grey = np.clip((small - (center - width / 2)) / width * 255.0, 0, 255).astype(np.uint8)
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        grey = 255 - grey
    return png_encode(np.ascontiguousarray(grey))
