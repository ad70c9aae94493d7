"""factory_boy factories for exams."""

import factory
from django.utils import timezone

from sites.tests.factories import SiteFactory
from worklist.models import Exam, Instance, Priority, Series


class ExamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exam

    site = factory.SubFactory(SiteFactory)
    study_instance_uid = factory.Sequence(lambda n: f"1.2.826.0.1.3680043.10.1.{n}")
    accession_number = factory.Sequence(lambda n: f"ACC{n:06d}")
    patient_name = factory.Sequence(lambda n: f"DUPONT^Jeanne^{n}")
    patient_id = factory.Sequence(lambda n: f"PID{n:06d}")
    patient_sex = "F"
    study_description = "Scanner cérébral sans injection"
    modality = "CT"
    body_part_examined = "HEAD"
    priority = Priority.STANDARD
    status = "READY"
    received_at = factory.LazyFunction(timezone.now)
    last_instance_at = factory.LazyFunction(timezone.now)
    number_of_series = 1
    number_of_instances = 3


class SeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Series

    exam = factory.SubFactory(ExamFactory)
    series_instance_uid = factory.Sequence(lambda n: f"1.2.826.0.1.3680043.10.2.{n}")
    series_number = 1
    modality = "CT"


class InstanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instance

    series = factory.SubFactory(SeriesFactory)
    sop_instance_uid = factory.Sequence(lambda n: f"1.2.826.0.1.3680043.10.3.{n}")
    sop_class_uid = "1.2.840.10008.5.1.4.1.1.2"
    storage_key = factory.Sequence(lambda n: f"ab/cd/{n:064x}")
    size = 1024


class ExamCatalogueItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "worklist.ExamCatalogueItem"

    ght = factory.SubFactory("sites.tests.factories.GhtFactory")
    code = factory.Sequence(lambda n: f"SCAN{n:03d}")
    name = "Scanner cérébral sans injection"
    modality = "CT"
    body_part = "HEAD"


class ExamRequestFactory(factory.django.DjangoModelFactory):
    """A request of ``site`` by ``created_by`` (a MERM of the site), not routed (use the service for that)."""

    class Meta:
        model = "worklist.ExamRequest"

    site = factory.SubFactory(SiteFactory)
    catalogue_item = factory.SubFactory(ExamCatalogueItemFactory, ght=factory.SelfAttribute("..site.ght"))
    patient_family_name = "Dupont"
    patient_given_name = "Jeanne"
    patient_birth_date = factory.LazyFunction(lambda: timezone.localdate().replace(year=1950))
    patient_sex = "F"
    patient_id = factory.Sequence(lambda n: f"IPP{n:06d}")
    requesting_physician = "Dr Urgentiste"
    clinical_question = "Déficit brutal du membre supérieur droit depuis 1 h."
    priority = "URGENT"
