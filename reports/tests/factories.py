"""factory_boy factories for reports."""

import factory

from reports.models import ReportTemplate
from sites.tests.factories import GhtFactory


class ReportTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReportTemplate

    ght = factory.SubFactory(GhtFactory)
    name = "Scanner cérébral sans injection – AVC"
    modality = "CT"
    indication = "Suspicion d'AVC."
    technique = "Acquisition hélicoïdale sans injection."
    findings = "Pas d'hémorragie intracrânienne."
    conclusion = "Pas d'anomalie aiguë."
