from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from dicom_gateway.tests.dicom_factories import encode, make_ct_image
from dicom_gateway.thumbnails import thumbnail_png


def _grey(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(BytesIO(png)))


def test_it_windows_the_image_like_the_modality_asks():
    ds = make_ct_image(rows=2, columns=2, WindowCenter=100, WindowWidth=200)
    ds.PixelData = np.array([[0, 100], [200, 300]], dtype=np.uint16).tobytes()
    assert _grey(thumbnail_png(BytesIO(encode(ds)))).tolist() == [[0, 127], [255, 255]]


def test_a_multiframe_image_gives_its_first_frame_without_reading_the_others():
    ds = make_ct_image(rows=2, columns=2, frames=50, WindowCenter=100, WindowWidth=200)
    frames = np.full((50, 2, 2), 300, dtype=np.uint16)
    frames[0] = [[0, 100], [200, 300]]
    ds.PixelData = frames.tobytes()
    data = encode(ds)
    # Cut after the first frame: decoding every frame would fail.
    first_frame_end = len(data) - 49 * 2 * 2 * 2
    assert _grey(thumbnail_png(BytesIO(data[:first_frame_end]))).tolist() == [[0, 127], [255, 255]]


def test_undecodable_bytes_give_no_picture_rather_than_an_error():
    assert thumbnail_png(BytesIO(b"not dicom at all")) is None


def test_a_deflated_file_gives_its_picture_too():
    path = Path(pydicom.__file__).parent / "data" / "test_files" / "image_dfl.dcm"
    png = thumbnail_png(BytesIO(path.read_bytes()))
    assert png is not None and max(Image.open(BytesIO(png)).size) <= 96
