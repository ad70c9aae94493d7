import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from sites.models import Credential, Role, User
from sites.tests.factories import (
    CredentialFactory,
    ModalityFactory,
    RadiologistFactory,
    SiteFactory,
)


@pytest.mark.django_db
def test_a_site_with_a_wrong_finess_key_is_invalid(ght_a):
    site = SiteFactory.build(ght=ght_a, finess="290000018")
    with pytest.raises(ValidationError) as error:
        site.full_clean()
    assert "finess" in error.value.message_dict
    assert "clé de contrôle" in error.value.message_dict["finess"][0]


@pytest.mark.django_db
def test_a_site_with_an_unknown_time_zone_is_invalid(ght_a):
    with pytest.raises(ValidationError) as error:
        SiteFactory.build(ght=ght_a, timezone="Europe/Brest").full_clean()
    assert "timezone" in error.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("ae_title", ["A" * 17, "CT\\1", "CT\t1", "   "])
def test_a_modality_with_a_bad_ae_title_is_invalid(site_a, ae_title):
    with pytest.raises(ValidationError) as error:
        ModalityFactory.build(site=site_a, ae_title=ae_title).full_clean()
    assert "ae_title" in error.value.message_dict


@pytest.mark.django_db
def test_ae_titles_are_unique_and_stripped(site_a):
    ModalityFactory(site=site_a, ae_title=" CT_A ")
    with pytest.raises(IntegrityError):
        ModalityFactory(site=site_a, ae_title="CT_A")


@pytest.mark.django_db
def test_a_radiologist_with_a_bad_rpps_is_invalid(ght_a):
    rad = RadiologistFactory(user__ght=ght_a)
    rad.rpps = "10000001235"
    with pytest.raises(ValidationError) as error:
        rad.full_clean()
    assert "rpps" in error.value.message_dict


@pytest.mark.django_db
def test_a_credential_cannot_end_before_it_starts(site_a):
    credential = CredentialFactory.build(
        radiologist=RadiologistFactory(user__ght=site_a.ght),
        site=site_a,
        valid_from=datetime.date(2026, 5, 1),
        valid_until=datetime.date(2026, 4, 1),
    )
    with pytest.raises(ValidationError):
        credential.full_clean()
    with pytest.raises(IntegrityError):
        credential.save()


@pytest.mark.django_db
def test_credential_validity_is_inclusive():
    credential = Credential(valid_from=datetime.date(2026, 1, 1), valid_until=datetime.date(2026, 1, 31), active=True)
    assert credential.is_valid_on(datetime.date(2026, 1, 1))
    assert credential.is_valid_on(datetime.date(2026, 1, 31))
    assert not credential.is_valid_on(datetime.date(2026, 2, 1))
    credential.active = False
    assert not credential.is_valid_on(datetime.date(2026, 1, 15))


@pytest.mark.django_db
def test_admin_access_follows_the_role(ght_a):
    user = User.objects.create_user("x", password="pw-123456789", role=Role.GHT_ADMIN, ght=ght_a)
    assert (user.is_staff, user.is_superuser) == (True, False)
    user.role = Role.RADIOLOGIST
    user.save(update_fields=["role"])
    user.refresh_from_db()
    assert (user.is_staff, user.is_superuser) == (False, False)
    admin = User.objects.create_superuser("root", password="pw-123456789")
    assert (admin.role, admin.is_staff, admin.is_superuser) == (Role.PLATFORM_ADMIN, True, True)


@pytest.mark.django_db
def test_everyone_but_a_platform_admin_needs_a_ght():
    with pytest.raises(ValidationError):
        User(username="lost", role=Role.TECHNOLOGIST).full_clean()
    with pytest.raises(IntegrityError):
        User.objects.create_user("lost", role=Role.TECHNOLOGIST)
