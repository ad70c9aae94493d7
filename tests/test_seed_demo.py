"""seed_demo: idempotent, valid identifiers everywhere, refused in production."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from sites.demo import DEMO_PASSWORD, SITES, demo_uid
from sites.models import Credential, Ght, Modality, PacsNode, Radiologist, Region, Role, Site, Technologist, User
from worklist.models import Exam

MODELS = [Region, Ght, Site, Modality, PacsNode, User, Radiologist, Technologist, Credential, Exam]


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", "--force", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seeding_twice_creates_nothing_new():
    _seed()
    first = _counts()
    _seed()
    assert _counts() == first
    assert first["Site"] == len(SITES) == 6
    assert first["Radiologist"] >= 15


@pytest.mark.django_db
def test_every_demo_object_is_valid():
    _seed()
    for model in MODELS:
        for obj in model.objects.all():
            # full_clean runs the FINESS, RPPS, AE title and time zone validators.
            obj.full_clean()


@pytest.mark.django_db
def test_cayenne_lives_in_its_own_time_zone_and_is_read_by_neuroradiologists():
    _seed()
    cayenne = Site.objects.get(name="CH de Cayenne")
    assert cayenne.timezone == "America/Cayenne"
    assert cayenne.ght.timezone == "America/Cayenne"
    readers = Radiologist.objects.filter(credentials__site=cayenne, credentials__active=True)
    assert readers.count() >= 2
    assert all(r.subspecialties.filter(code="neuro").exists() for r in readers)


@pytest.mark.django_db
def test_each_site_has_a_ct_an_mr_and_a_pacs_node():
    _seed()
    for site in Site.objects.all():
        types = set(site.modalities.values_list("modality_type", flat=True))
        assert {Modality.Type.CT, Modality.Type.MR} <= types, site
        assert PacsNode.objects.filter(site=site).exists()
    assert Modality.objects.filter(ae_title="CT_LANDERNEAU", site__name="CH de Landerneau").exists()


@pytest.mark.django_db
def test_roles_and_passwords():
    output = _seed()
    assert DEMO_PASSWORD in output
    admin = User.objects.get(username="admin")
    assert admin.role == Role.PLATFORM_ADMIN and admin.is_superuser
    assert admin.check_password(DEMO_PASSWORD)
    for ght in Ght.objects.all():
        assert ght.members.filter(role=Role.GHT_ADMIN).exists(), ght
    for site in Site.objects.all():
        assert site.technologists.exists(), site
    for username in ("admin", "admin.brest", "dr.martin", "merm.landerneau"):
        assert username in output


@pytest.mark.django_db
def test_demo_exams_have_fake_patients_and_2_25_uids():
    _seed()
    exams = Exam.objects.all()
    assert exams.exists()
    for exam in exams:
        assert exam.patient_name.startswith("DEMO^")
        assert exam.study_instance_uid.startswith("2.25.")
        assert len(exam.study_instance_uid) <= 64
    assert demo_uid("x") == demo_uid("x") != demo_uid("y")


@pytest.mark.django_db
def test_refuses_to_run_with_debug_off_unless_forced():
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=io.StringIO())
    assert not Site.objects.exists()
    with override_settings(DEBUG=True):
        call_command("seed_demo", stdout=io.StringIO())
    assert Site.objects.exists()
