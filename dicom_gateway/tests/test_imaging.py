from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from PIL import Image
from pydicom import dcmread

from core.testing import CountingReader
from dicom_gateway import imaging
from dicom_gateway.tests.dicom_factories import encode, make_ct_image, make_dataset

RENDERING = imaging.Rendering()


def test_a_frame_rendered_from_the_file_reads_that_frame_only():
    ds = make_ct_image(rows=256, columns=256, frames=50, WindowCenter=100, WindowWidth=200)
    data = encode(ds)
    source = CountingReader(data)
    header = dcmread(source, stop_before_pixels=True)
    png = imaging.frame_render(header, index=49, rendering=RENDERING, media_type="image/png", source=source)
    whole = imaging.frame_render(dcmread(BytesIO(data)), index=49, rendering=RENDERING, media_type="image/png")
    assert png == whole and Image.open(BytesIO(png)).size == (256, 256)
    assert source.bytes_read < len(ds.PixelData) // 10  # the header twice and one frame of fifty
    with pytest.raises(IndexError):
        imaging.frame_render(header, index=50, rendering=RENDERING, media_type="image/png", source=source)


def test_an_instance_without_pixels_cannot_be_rendered():
    source = BytesIO(encode(make_dataset()))
    header = dcmread(source, stop_before_pixels=True)
    with pytest.raises(imaging.CannotDecode):
        imaging.frame_render(header, index=0, rendering=RENDERING, media_type="image/png", source=source)


@pytest.mark.parametrize(
    "name", ["image_dfl.dcm", "MR_small_bigendian.dcm", "SC_rgb_rle_2frame.dcm", "JPEG2000.dcm", "rtdose_1frame.dcm"]
)
def test_rendering_from_the_file_equals_rendering_the_whole_dataset(name):
    data = (Path(pydicom.__file__).parent / "data" / "test_files" / name).read_bytes()
    source = BytesIO(data)
    header = dcmread(source, stop_before_pixels=True)
    from_file = imaging.frame_render(header, index=0, rendering=RENDERING, media_type="image/png", source=source)
    whole = imaging.frame_render(dcmread(BytesIO(data)), index=0, rendering=RENDERING, media_type="image/png")
    assert from_file == whole
