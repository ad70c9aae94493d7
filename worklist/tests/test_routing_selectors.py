import datetime

import pytest

from sites.models import Subspecialty
from sites.tests.factories import CredentialFactory, RadiologistFactory, RegionFactory, SiteFactory
from worklist.models import RoutingRule
from worklist.routing import Level
from worklist.selectors import routing_inputs_for_exam
from worklist.tests import rota
from worklist.tests.factories import ExamFactory

UTC = datetime.UTC
START = datetime.datetime(2026, 1, 14, 22, 30, tzinfo=UTC)
END = datetime.datetime(2026, 1, 15, 7, 0, tzinfo=UTC)
AT = datetime.datetime(2026, 1, 15, 2, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def _on_duty(site, count):
    night = rota.line(sites=[site, SiteFactory(ght=site.ght)], modality_types="CT, mr")
    for _ in range(count):
        rad = RadiologistFactory(user__ght=site.ght)
        rad.subspecialties.set([Subspecialty.objects.get(code="neuro")])
        CredentialFactory(radiologist=rad, site=site)
        rota.shift(user=rad.user, on=night, start=START, end=END)
        ExamFactory(site=site, status="ASSIGNED", assigned_to=rad.user, modality="MR")
        ExamFactory(site=site, status="IN_READING", assigned_to=rad.user, modality="CR")
        ExamFactory(site=site, status="REPORTED", assigned_to=rad.user, modality="CT")
    RoutingRule.objects.create(
        ght=site.ght, name="Neuro", subspecialty=Subspecialty.objects.get(code="neuro"), body_part_pattern="HEAD"
    )


@pytest.mark.parametrize("count", [1, 20])
def test_it_loads_the_routing_inputs_in_a_constant_number_of_queries(site_a, count, django_assert_num_queries):
    _on_duty(site_a, count)
    exam = ExamFactory(site=site_a)
    # site, shifts, lines' sites, subspecialties, credentials, rules, load
    with django_assert_num_queries(7):
        inputs = routing_inputs_for_exam(exam=exam, at=AT)
    assert len(inputs.shifts) == count
    assert len(inputs.credentials) == count
    duty = inputs.shifts[0]
    assert duty.modalities == {"CT", "MR"} and duty.radiologist_subspecialties == {"neuro"}
    assert duty.level == Level.GHT and site_a.pk in duty.site_ids
    assert set(inputs.load.values()) == {1.5 + 0.3}  # MR + CR; the reported CT no longer counts
    assert [r.subspecialty for r in inputs.rules] == ["neuro"]


def test_it_ignores_shifts_not_covering_the_instant_or_the_site(site_a):
    other_site = SiteFactory(ght=site_a.ght)
    rad = RadiologistFactory(user__ght=site_a.ght)
    rota.shift(user=rad.user, on=rota.line(sites=[other_site]), start=START, end=END)
    rota.shift(user=rad.user, on=rota.line(sites=[site_a]), start=END, end=END + datetime.timedelta(hours=8))
    assert routing_inputs_for_exam(exam=ExamFactory(site=site_a), at=AT).shifts == []


def test_it_computes_the_level_of_each_line_relative_to_the_site(site_a):
    region = RegionFactory()
    site_a.ght.region = region
    site_a.ght.save()
    neighbour = SiteFactory(ght__region=region)
    lines = {
        Level.SITE: rota.line(sites=[site_a], name="own"),
        Level.GHT: rota.line(sites=[site_a, SiteFactory(ght=site_a.ght)], name="ght"),
        Level.REGION: rota.line(sites=[site_a], region=region, name="regional"),
    }
    other_ght_line = rota.line(sites=[site_a, neighbour], ght=neighbour.ght, name="neighbour GHT")
    for on in [*lines.values(), other_ght_line]:
        rad = RadiologistFactory(user__ght=site_a.ght)
        rota.shift(user=rad.user, on=on, start=START, end=END, ght=site_a.ght)
    levels = {d.line_name: d.level for d in routing_inputs_for_exam(exam=ExamFactory(site=site_a), at=AT).shifts}
    assert levels == {"own": Level.SITE, "ght": Level.GHT, "regional": Level.REGION, "neighbour GHT": Level.REGION}


def test_it_computes_the_patients_age_on_the_study_date(site_a):
    exam = ExamFactory(
        site=site_a,
        patient_birth_date=datetime.date(2016, 1, 16),
        study_datetime=datetime.datetime(2026, 1, 15, 1, 0, tzinfo=UTC),
    )
    assert routing_inputs_for_exam(exam=exam, at=AT).exam.patient_age_years == 9


@pytest.mark.django_db
def test_who_may_read_for_a_site_is_decided_on_the_sites_own_date():
    # 02:30 in Paris on 1 March is still 28 February in Cayenne (UTC-3): a credential
    # that ends on 28 February still lets a Guyane radiologist validate there.
    import datetime

    from freezegun import freeze_time

    from sites.tests.factories import CredentialFactory, RadiologistFactory, SiteFactory
    from worklist.selectors import radiologist_users_for_site

    cayenne = SiteFactory(name="CH Cayenne", timezone="America/Cayenne")
    rad = RadiologistFactory()
    CredentialFactory(
        radiologist=rad, site=cayenne, valid_from=datetime.date(2027, 1, 1), valid_until=datetime.date(2027, 2, 28)
    )
    with freeze_time("2027-03-01T01:30:00Z"):  # 02:30 on 1 March in Paris, 22:30 on 28 February in Cayenne
        assert list(radiologist_users_for_site(site=cayenne)) == [rad.user]
    with freeze_time("2027-03-01T12:00:00Z"):  # 1 March in both zones
        assert list(radiologist_users_for_site(site=cayenne)) == []
