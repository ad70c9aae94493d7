"""Synthetic studies for demos, tests and benchmarks (no patient data).

``build_study`` makes a realistic study: correct UIDs, geometry, rescale and
window values, and a simple phantom (an ellipse of skull around brain with a
"lesion") so that a viewer shows something. ``send_study`` pushes it over
DICOM C-STORE with pynetdicom, as a scanner would. ``worklist_find`` asks the
gateway's Modality Worklist first, and ``study_from_worklist`` copies an entry's
patient, AccessionNumber and StudyInstanceUID into the study, as a scanner does.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)


@dataclass(frozen=True)
class StudyShape:
    modality: str
    sop_class_uid: str
    rows: int
    columns: int
    count: int
    description: str
    series_description: str
    body_part: str
    pixel_spacing: float
    slice_thickness: float
    window: tuple[int, int]  # center, width


SHAPES: dict[str, StudyShape] = {
    "ct-head": StudyShape(
        "CT",
        CTImageStorage,
        512,
        512,
        40,
        "Scanner cérébral sans injection",
        "Cerveau 5 mm",
        "HEAD",
        0.45,
        5.0,
        (40, 80),
    ),
    "ct-chest": StudyShape(
        "CT", CTImageStorage, 512, 512, 300, "Angioscanner thoracique", "Thorax 1 mm", "CHEST", 0.7, 1.0, (40, 400)
    ),
    "mr-brain": StudyShape(
        "MR", MRImageStorage, 256, 256, 500, "IRM encéphale AVC", "Diffusion", "BRAIN", 0.9, 3.0, (600, 1200)
    ),
    "small": StudyShape("CT", CTImageStorage, 64, 64, 2000, "Petites images", "Test", "HEAD", 4.0, 2.0, (40, 80)),
}


def _phantom(rows: int, columns: int, z: float, modality: str) -> np.ndarray:
    """A head-like phantom slice: air, skull ring, brain, a small bright lesion."""
    y, x = np.ogrid[-1 : 1 : rows * 1j, -1 : 1 : columns * 1j]
    scale = max(0.2, 1 - abs(z) ** 2)  # the head narrows towards the ends
    r = (x / (0.75 * scale)) ** 2 + (y / (0.9 * scale)) ** 2
    image = np.full((rows, columns), -1000 if modality == "CT" else 0, dtype=np.int32)
    brain, skull = (35, 1000) if modality == "CT" else (700, 150)
    image[r <= 1.0] = skull
    image[r <= 0.8] = brain
    lesion = (x - 0.25) ** 2 + (y + 0.2) ** 2 <= (0.08 * scale) ** 2
    image[lesion & (r <= 0.8)] = 75 if modality == "CT" else 1400
    if modality == "CT":
        return (image + 1024).astype(np.uint16)  # stored values; RescaleIntercept -1024
    return image.astype(np.uint16)


def build_study(
    shape_name: str = "ct-head",
    *,
    count: int | None = None,
    patient_name: str = "DEMO^Patient",
    patient_id: str = "DEMO0001",
    accession_number: str = "",
    urgent: bool = False,
    study_instance_uid: str | None = None,
    when: datetime.datetime | None = None,
) -> Iterator[Dataset]:
    """Yield the instances of one synthetic study (each with file meta)."""
    shape = SHAPES[shape_name]
    n = count or shape.count
    when = when or datetime.datetime.now()
    study_uid = study_instance_uid or generate_uid()
    series_uid = generate_uid()
    frame_uid = generate_uid()
    # A few distinct slices are enough for realism and keep generation cheap.
    cache: dict[int, bytes] = {}
    for i in range(n):
        z = (2 * i / max(n - 1, 1)) - 1
        bucket = round(z * 20)
        if bucket not in cache:
            cache[bucket] = _phantom(shape.rows, shape.columns, bucket / 20, shape.modality).tobytes()
        ds = Dataset()
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.SOPClassUID = shape.sop_class_uid
        ds.SOPInstanceUID = generate_uid()
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.Modality = shape.modality
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = "19580412"
        ds.PatientSex = "M"
        ds.AccessionNumber = accession_number
        ds.StudyDate = when.strftime("%Y%m%d")
        ds.StudyTime = when.strftime("%H%M%S")
        ds.StudyDescription = shape.description
        ds.SeriesDescription = shape.series_description
        ds.BodyPartExamined = shape.body_part
        ds.Manufacturer = "Teleradio simulator"
        ds.ReferringPhysicianName = "URGENCES^Médecin"
        if urgent:
            ds.RequestedProcedurePriority = "STAT"
        ds.SeriesNumber = 1
        ds.InstanceNumber = i + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [
            -shape.columns * shape.pixel_spacing / 2,
            -shape.rows * shape.pixel_spacing / 2,
            round(i * shape.slice_thickness, 3),
        ]
        ds.SliceLocation = round(i * shape.slice_thickness, 3)
        ds.SliceThickness = shape.slice_thickness
        ds.PixelSpacing = [shape.pixel_spacing, shape.pixel_spacing]
        ds.Rows, ds.Columns = shape.rows, shape.columns
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = (
            16,
            12 if shape.modality == "CT" else 16,
            11 if shape.modality == "CT" else 15,
        )
        ds.PixelRepresentation = 0
        if shape.modality == "CT":
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
            ds.KVP = 120
        ds.WindowCenter, ds.WindowWidth = shape.window
        ds.PixelData = cache[bucket]
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        yield ds


def write_study(datasets: Iterator[Dataset], directory: Path) -> list[Path]:
    """Write the instances as Part 10 files (for dcmtk's storescu)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, ds in enumerate(datasets):
        path = directory / f"{index:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    statuses: dict[int, int] | None = None


def send_study(
    datasets: Iterator[Dataset], *, host: str, port: int, calling_ae: str, called_ae: str = "TELERADIO"
) -> SendResult:
    """C-STORE every instance over one association; raises ConnectionError if refused."""
    from pynetdicom import AE

    datasets = list(datasets)
    ae = AE(ae_title=calling_ae)
    for sop_class in sorted({ds.SOPClassUID for ds in datasets}):
        ae.add_requested_context(sop_class, ExplicitVRLittleEndian)
    assoc = ae.associate(host, port, ae_title=called_ae)
    if not assoc.is_established:
        raise ConnectionError(f"association refused by {called_ae}@{host}:{port}")
    result = SendResult(statuses={})
    try:
        for ds in datasets:
            status = assoc.send_c_store(ds)
            code = int(getattr(status, "Status", 0xFFFF)) if status else 0xFFFF
            result.statuses[code] = result.statuses.get(code, 0) + 1
            if code == 0x0000:
                result.sent += 1
            else:
                result.failed += 1
    finally:
        assoc.release()
    return result


# --- The scanner's side of the Modality Worklist ---------------------------------------------

# What a scanner asks for (return keys; empty values match everything).
_WORKLIST_RETURN_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "StudyInstanceUID",
    "RequestedProcedureDescription",
    "ReferringPhysicianName",
    "RequestedProcedurePriority",
)
_STEP_RETURN_KEYS = (
    "Modality",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
    "ScheduledProcedureStepDescription",
    "ScheduledProcedureStepID",
)


def worklist_find(
    *, host: str, port: int, calling_ae: str, called_ae: str = "TELERADIO", accession_number: str = ""
) -> list[Dataset]:
    """C-FIND on the Modality Worklist for this station's entries (or one AccessionNumber).

    Raises:
        ConnectionError: the association was refused, or the query failed.
    """
    from pynetdicom import AE
    from pynetdicom.sop_class import ModalityWorklistInformationFind

    query = Dataset()
    query.SpecificCharacterSet = "ISO_IR 192"
    for keyword in _WORKLIST_RETURN_KEYS:
        setattr(query, keyword, "")
    query.AccessionNumber = accession_number
    step = Dataset()
    for keyword in _STEP_RETURN_KEYS:
        setattr(step, keyword, "")
    step.ScheduledStationAETitle = calling_ae
    query.ScheduledProcedureStepSequence = [step]

    ae = AE(ae_title=calling_ae)
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate(host, port, ae_title=called_ae)
    if not assoc.is_established:
        raise ConnectionError(f"association refused by {called_ae}@{host}:{port}")
    entries: list[Dataset] = []
    try:
        for status, identifier in assoc.send_c_find(query, ModalityWorklistInformationFind):
            code = int(getattr(status, "Status", 0xFFFF)) if status else 0xFFFF
            if code in (0xFF00, 0xFF01) and identifier is not None:
                entries.append(identifier)
            elif code != 0x0000:
                raise ConnectionError(f"worklist query failed with status 0x{code:04X}")
    finally:
        assoc.release()
    return entries


def study_from_worklist(
    entry: Dataset, shape_name: str | None = None, *, count: int | None = None
) -> Iterator[Dataset]:
    """The study a scanner acquires for a worklist entry: its patient, accession number and study UID.

    Without ``shape_name``, the entry's modality picks the shape (MR: ``mr-brain``, else ``ct-head``).
    """
    step = entry.ScheduledProcedureStepSequence[0] if entry.get("ScheduledProcedureStepSequence") else Dataset()
    if shape_name is None:
        shape_name = "mr-brain" if step.get("Modality", "") == "MR" else "ct-head"
    datasets = build_study(
        shape_name,
        count=count,
        patient_name=str(entry.get("PatientName", "")),
        patient_id=str(entry.get("PatientID", "")),
        accession_number=str(entry.get("AccessionNumber", "")),
        urgent=entry.get("RequestedProcedurePriority", "") == "STAT",
        study_instance_uid=str(entry.get("StudyInstanceUID", "")) or None,
    )
    for ds in datasets:
        ds.PatientBirthDate = entry.get("PatientBirthDate", "")
        ds.PatientSex = entry.get("PatientSex", "")
        if entry.get("RequestedProcedureDescription"):
            ds.StudyDescription = entry.RequestedProcedureDescription
        ds.ReferringPhysicianName = entry.get("ReferringPhysicianName", "")
        yield ds
