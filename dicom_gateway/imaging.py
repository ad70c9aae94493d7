"""Pixel work behind DICOMweb: rendered images (PS3.18 §8.3.5) and transcoding (§8.7.3.5).

Pure functions over pydicom datasets and bytes (numpy and Pillow, no Django),
so they are tested without a server. Compressed transfer syntaxes are decoded
by pydicom's pixel plugins: RLE by pydicom itself, JPEG baseline/extended and
JPEG 2000 by Pillow or pylibjpeg, JPEG lossless and JPEG-LS by pylibjpeg-libjpeg,
JPEG 2000 also by pylibjpeg-openjpeg (requirements.txt).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import BinaryIO

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_rescale, pixel_array
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian

RENDERED_MEDIA_TYPES = ("image/jpeg", "image/png")
VOI_FUNCTIONS = ("linear", "linear_exact", "sigmoid")
DEFAULT_QUALITY = 90


class InvalidRendering(ValueError):
    """A rendering query parameter that cannot be applied (answered 400)."""


class CannotDecode(Exception):
    """Pixel data that no installed plugin decodes, or a transcoding we do not do (answered 406)."""


@dataclass(frozen=True)
class Window:
    center: float
    width: float
    function: str = "linear"


@dataclass(frozen=True)
class Rendering:
    """Validated rendering parameters (PS3.18 §8.3.5.1): window, quality, viewport."""

    window: Window | None = None
    quality: int = DEFAULT_QUALITY
    viewport: tuple[int, int] | None = None


def rendering_parse(params: Mapping[str, str]) -> Rendering:
    """``window=center,width[,function]``, ``quality=1..100``, ``viewport=w,h`` → Rendering.

    Raises:
        InvalidRendering: a malformed or out-of-range value.
    """
    window = None
    if params.get("window"):
        parts = [p.strip() for p in params["window"].split(",")]
        if len(parts) not in (2, 3):
            raise InvalidRendering("window")
        try:
            center, width = float(parts[0]), float(parts[1])
        except ValueError:
            raise InvalidRendering("window") from None
        function = (parts[2] if len(parts) == 3 else "linear").lower().replace("-", "_")
        if function not in VOI_FUNCTIONS or width <= 0 or (function == "linear" and width < 1):
            raise InvalidRendering("window")
        window = Window(center, width, function)
    quality = DEFAULT_QUALITY
    if params.get("quality"):
        try:
            quality = int(params["quality"])
        except ValueError:
            raise InvalidRendering("quality") from None
        if not 1 <= quality <= 100:
            raise InvalidRendering("quality")
    viewport = None
    if params.get("viewport"):
        try:
            width_px, height_px = (int(v) for v in params["viewport"].split(",")[:2])
        except ValueError:
            raise InvalidRendering("viewport") from None
        if width_px < 1 or height_px < 1:
            raise InvalidRendering("viewport")
        viewport = (width_px, height_px)
    return Rendering(window=window, quality=quality, viewport=viewport)


def _first(value) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    return None if value is None else float(value)


def default_window(ds: Dataset, values: np.ndarray) -> Window:
    """The dataset's first VOI window (WindowCenter/Width, VOILUTFunction), else the frame's range."""
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").lower()
    if center is not None and width is not None and width >= 1 and function in VOI_FUNCTIONS:
        return Window(center, width, function)
    low, high = float(values.min()), float(values.max())
    # A full-range linear window: low maps to 0, high to 255.
    return Window(center=(low + high + 1) / 2, width=max(high - low + 1, 1.0))


def voi_apply(values: np.ndarray, window: Window) -> np.ndarray:
    """Map modality values to 0..255 by a VOI window (PS3.3 C.11.2.1.2, C.11.2.1.3)."""
    x = values.astype(np.float64)
    c, w = window.center, window.width
    if window.function == "sigmoid":
        y = 255.0 / (1.0 + np.exp(-4.0 * (x - c) / w))
    elif window.function == "linear_exact":
        y = ((x - c) / w + 0.5) * 255.0
    elif w == 1:
        y = np.where(x <= c - 0.5, 0.0, 255.0)
    else:
        y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def frame_count(ds: Dataset) -> int:
    return int(ds.get("NumberOfFrames", 1) or 1)


def frame_render(
    ds: Dataset, *, index: int, rendering: Rendering, media_type: str, source: BinaryIO | None = None
) -> bytes:
    """One frame (0-based) of ``ds`` as an 8-bit JPEG or PNG.

    With ``source`` (the open file ``ds`` was read from, without its pixel data),
    only that frame is read from it and decoded, not the whole pixel data (a
    deflated file, compressed as a whole, is read whole).

    Greyscale: modality LUT (RescaleSlope/Intercept), then the asked window or
    the dataset's default VOI, then MONOCHROME1 inverted. Colour: decoded to RGB;
    8-bit values are kept unless a window is asked. The viewport only scales down,
    keeping the aspect ratio.

    Raises:
        CannotDecode: no installed plugin decodes the pixel data.
        IndexError: no such frame.
    """
    if source is not None and UID(ds.file_meta.TransferSyntaxUID).is_deflated:
        source.seek(0)
        ds, source = dcmread(source), None
    if source is None and "PixelData" not in ds:
        raise CannotDecode("no pixel data")
    if not 0 <= index < frame_count(ds):
        raise IndexError("no such frame")
    if source is not None:
        source.seek(0)
    try:
        pixels = pixel_array(ds if source is None else source, index=index if frame_count(ds) > 1 else None)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError, KeyError) as exc:
        raise CannotDecode(str(exc)) from exc  # no pixel data, or no plugin for them
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples == 1:
        values = apply_rescale(pixels, ds)
        image = voi_apply(values, rendering.window or default_window(ds, values))
        if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
            image = 255 - image
        mode = "L"
    else:
        if rendering.window is not None:
            image = voi_apply(pixels, rendering.window)
        elif pixels.dtype == np.uint8:
            image = pixels
        else:
            image = voi_apply(pixels, default_window(ds, pixels))
        mode = "RGB"
    picture = Image.fromarray(np.ascontiguousarray(image), mode=mode)
    if rendering.viewport is not None:
        picture.thumbnail(rendering.viewport, Image.Resampling.LANCZOS)
    buffer = BytesIO()
    if media_type == "image/png":
        picture.save(buffer, format="PNG")
    else:
        picture.save(buffer, format="JPEG", quality=rendering.quality)
    return buffer.getvalue()


def to_explicit_little_endian(data: bytes) -> bytes:
    """A stored Part 10 file re-encoded as Explicit VR Little Endian (decompressed if need be).

    The SOP Instance UID is kept: the pixel values are those of the stored
    image, only their encoding changes. An Explicit VR Little Endian file is
    returned untouched.

    Raises:
        CannotDecode: big endian data (not converted), or no plugin for the compression.
    """
    ds = dcmread(BytesIO(data))
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    if syntax == ExplicitVRLittleEndian:
        return data
    if syntax == ExplicitVRBigEndian:
        raise CannotDecode("big endian data is not converted")
    if syntax.is_compressed:
        try:
            ds.decompress(generate_instance_uid=False)
        except (NotImplementedError, RuntimeError, ValueError) as exc:
            raise CannotDecode(str(exc)) from exc
    # Implicit VR or deflated: the elements were read; only their encoding changes.
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
