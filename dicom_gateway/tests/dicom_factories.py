"""Synthetic DICOM datasets for tests (no patient data)."""

from io import BytesIO

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def make_dataset(**overrides) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "DEMO^Patient"
    ds.PatientID = "PID001"
    ds.PatientBirthDate = "19600102"
    ds.PatientSex = "F"
    ds.AccessionNumber = "ACC001"
    ds.StudyDate = "20260115"
    ds.StudyTime = "103000"
    ds.StudyDescription = "Scanner cérébral sans injection"
    ds.Modality = "CT"
    ds.BodyPartExamined = "HEAD"
    ds.SeriesNumber = 2
    ds.InstanceNumber = 7
    for key, value in overrides.items():
        setattr(ds, key, value)
    return ds


def encode(ds: Dataset, transfer_syntax=ExplicitVRLittleEndian) -> bytes:
    """The dataset as a DICOM Part 10 file (with meta), as storescu would send it."""
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def roundtrip(ds: Dataset) -> Dataset:
    return dcmread(BytesIO(encode(ds)))


def make_ct_image(*, rows: int = 4, columns: int = 4, frames: int = 1, **overrides) -> Dataset:
    """A CT image with native 16-bit pixel data, each frame distinct (for frame retrieval)."""
    ds = make_dataset(**overrides)
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = bytes((i * 7 + 3) % 256 for i in range(rows * columns * 2 * frames))
    return ds
