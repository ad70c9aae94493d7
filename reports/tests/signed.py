"""Signed reports for the delivery, PDF, HL7 and FHIR tests, written as signing leaves them.

A row inserted already signed is what ``reports.services.report_sign`` writes
(the database freezes it afterwards); building it directly keeps these tests
about delivery, not about the signing flow (tested in test_services.py).
"""

import datetime

from django.utils import timezone

from reports.models import Addendum, Report
from sites.models import User
from worklist.models import Exam

TEXTS = {
    "indication": "Céphalées brutales, suspicion d'hémorragie méningée.",
    "technique": "Scanner cérébral sans injection, réalisé sur CT Landerneau.",
    "dose": "PDL total : 812,0 mGy·cm (source : rapport de dose DICOM)",
    "findings": "Pas d'hémorragie intracrânienne.\nPas d'effet de masse.\nSymboles : <b> & | ^ ~ \\ fin.",
    "conclusion": "Pas d'anomalie aiguë.",
}


def signed_report(
    *, exam: Exam, signer: User, signed_at: datetime.datetime | None = None, **texts: str | bool
) -> Report:
    values = {**TEXTS, **texts}
    return Report.objects.create(
        exam=exam,
        author=signer,
        signed_at=signed_at or timezone.now(),
        signed_by=signer,
        signer_name=str(signer),
        signer_rpps=signer.radiologist.rpps,
        **values,
    )


def signed_addendum(*, report: Report, signer: User, text: str = "Complément : pas de fracture.") -> Addendum:
    return Addendum.objects.create(
        report=report,
        text=text,
        signed_at=timezone.now(),
        signed_by=signer,
        signer_name=str(signer),
        signer_rpps=signer.radiologist.rpps,
    )
