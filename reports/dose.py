"""Dose information of a CT/X-ray study, read from its DICOM headers (pure: pydicom only).

Preferred source: the X-Ray Radiation Dose SR the scanner sends with the
study (TID 10011 "CT Radiation Dose": DLP total, CTDIvol of each irradiation
event). Fallback: the CTDIvol of the CT images themselves (0018,9345), which
gives no DLP.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydicom.dataset import Dataset

RDSR_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.88.67",  # X-Ray Radiation Dose SR
        "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR (some scanners)
    }
)
# DCM concept codes (PS3.16).
DLP_TOTAL = "113813"  # CT Dose Length Product Total
DLP_EVENT = "113838"  # DLP of one irradiation event
CTDIVOL = "113830"  # Mean CTDIvol


@dataclass(frozen=True)
class DoseSummary:
    dlp_mgycm: float | None
    ctdivol_max_mgy: float | None
    source: str  # "rdsr" or "images"


def _numeric_items(items: Iterable[Dataset]) -> Iterable[tuple[str, float]]:
    for item in items:
        if getattr(item, "ValueType", "") == "NUM" and "ConceptNameCodeSequence" in item:
            code = str(item.ConceptNameCodeSequence[0].CodeValue)
            for measured in getattr(item, "MeasuredValueSequence", []):
                try:
                    yield code, float(measured.NumericValue)
                except (AttributeError, TypeError, ValueError):
                    continue
        if "ContentSequence" in item:
            yield from _numeric_items(item.ContentSequence)


def dose_from_rdsr(sr: Dataset) -> DoseSummary | None:
    """The dose of a radiation dose SR, or None if it carries none."""
    total: float | None = None
    events: list[float] = []
    ctdis: list[float] = []
    for code, value in _numeric_items(getattr(sr, "ContentSequence", [])):
        if code == DLP_TOTAL:
            total = (total or 0.0) + value
        elif code == DLP_EVENT:
            events.append(value)
        elif code == CTDIVOL:
            ctdis.append(value)
    dlp = total if total is not None else (sum(events) if events else None)
    if dlp is None and not ctdis:
        return None
    return DoseSummary(dlp_mgycm=dlp, ctdivol_max_mgy=max(ctdis) if ctdis else None, source="rdsr")


def dose_from_images(images: Iterable[Dataset]) -> DoseSummary | None:
    """The highest CTDIvol of the images' headers, or None if none carries it."""
    values = []
    for image in images:
        try:
            values.append(float(image.CTDIvol))
        except (AttributeError, TypeError, ValueError):
            continue
    if not values:
        return None
    return DoseSummary(dlp_mgycm=None, ctdivol_max_mgy=max(values), source="images")


def dose_for_study(datasets: Iterable[Dataset]) -> DoseSummary | None:
    """The study's dose: its dose SR if it has a usable one, else its images' CTDIvol."""
    images = []
    for ds in datasets:
        if str(getattr(ds, "SOPClassUID", "")) in RDSR_SOP_CLASSES:
            summary = dose_from_rdsr(ds)
            if summary is not None:
                return summary
        else:
            images.append(ds)
    return dose_from_images(images)
