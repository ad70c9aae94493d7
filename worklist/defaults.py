"""The exam catalogue every GHT starts with (French labels: data, not UI strings)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DefaultCatalogueItem:
    code: str
    name: str
    modality: str
    body_part: str
    subspecialty: str = ""  # a Subspecialty code
    contrast: bool = False


DEFAULT_CATALOGUE = (
    DefaultCatalogueItem("TDMCRSI", "Scanner cérébral sans injection", "CT", "HEAD"),
    DefaultCatalogueItem("ANGIOTSA", "Angioscanner des troncs supra-aortiques", "CT", "NECK", "neuro", True),
    DefaultCatalogueItem("ANGIOEP", "Angioscanner thoracique – embolie pulmonaire", "CT", "CHEST", "thorax", True),
    DefaultCatalogueItem("TDMAP", "Scanner abdomino-pelvien avec injection", "CT", "ABDOMEN", "", True),
    DefaultCatalogueItem("IRMAVC", "IRM encéphale AVC", "MR", "HEAD", "neuro"),
    DefaultCatalogueItem("IRMGENOU", "IRM genou", "MR", "KNEE", "msk"),
)
