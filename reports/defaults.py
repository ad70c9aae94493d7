"""The report templates every GHT starts with (French clinical text: data, not UI strings)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DefaultTemplate:
    name: str
    modality: str
    body_part: str
    indication: str
    technique: str
    findings: str
    conclusion: str


DEFAULT_TEMPLATES = (
    DefaultTemplate(
        name="Scanner cérébral sans injection – AVC",
        modality="CT",
        body_part="HEAD",
        indication="Déficit neurologique brutal, suspicion d'AVC. Heure de début des symptômes : ",
        technique="Acquisition hélicoïdale sans injection de produit de contraste, reconstructions en coupes fines.",
        findings=(
            "Absence d'hémorragie intra- ou extra-axiale.\n"
            "Pas d'hypodensité systématisée récente visible (score ASPECTS : 10).\n"
            "Pas de signe de l'artère hyperdense.\n"
            "Système ventriculaire de taille normale, sans effet de masse ; structures médianes en place."
        ),
        conclusion="Pas d'hémorragie intracrânienne. Pas de signe précoce d'ischémie.",
    ),
    DefaultTemplate(
        name="Angioscanner thoracique – EP",
        modality="CT",
        body_part="CHEST",
        indication="Suspicion d'embolie pulmonaire.",
        technique=(
            "Acquisition hélicoïdale après injection intraveineuse de produit de contraste iodé "
            "au temps artériel pulmonaire."
        ),
        findings=(
            "Bonne opacification des artères pulmonaires.\n"
            "Absence de défect endoluminal jusqu'au niveau segmentaire.\n"
            "Rapport VD/VG inférieur à 1.\n"
            "Parenchyme pulmonaire : pas de condensation ; pas d'épanchement pleural ni péricardique."
        ),
        conclusion="Pas d'embolie pulmonaire.",
    ),
    DefaultTemplate(
        name="IRM genou",
        modality="MR",
        body_part="KNEE",
        indication="Gonalgie ",
        technique=(
            "IRM du genou : séquences densité de protons avec saturation de la graisse "
            "dans les trois plans, T1 sagittale."
        ),
        findings=(
            "Ménisques : pas de fissure ni de languette.\n"
            "Ligaments croisés antérieur et postérieur continus.\n"
            "Ligaments collatéraux sans anomalie.\n"
            "Cartilages fémoro-tibiaux et fémoro-patellaire d'épaisseur normale.\n"
            "Pas d'épanchement articulaire ; pas d'œdème osseux."
        ),
        conclusion="IRM du genou sans anomalie.",
    ),
)
