"""API of the organisation: GHTs, sites, modalities, radiologists, and token auth."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sites.models import Ght, Modality, Radiologist, Role, Site, User
from sites.tests.factories import GhtFactory, ModalityFactory, RegionFactory, _finess, _rpps
from worklist.tests.factories import ExamFactory

pytestmark = pytest.mark.django_db

VALID_FINESS = _finess(900001)
VALID_RPPS = _rpps(90000001)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


def assert_field_error(response, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert field in body["extra"]["fields"], body


# --- GHTs -------------------------------------------------------------------------------------


def test_it_lists_only_the_users_ght(radiologist_a, ght_a, ght_b):
    assert ids(client_for(radiologist_a).get(reverse("api:ght-list"))) == {ght_a.pk}


def test_it_lists_every_ght_to_the_platform_admin(platform_admin, ght_a, ght_b):
    assert ids(client_for(platform_admin).get(reverse("api:ght-list"))) == {ght_a.pk, ght_b.pk}


def test_it_shows_a_ght_to_its_members_and_404_to_others(merm_a, ght_admin_b, ght_a):
    url = reverse("api:ght-detail", kwargs={"ght_id": ght_a.pk})
    response = client_for(merm_a).get(url)
    assert response.status_code == 200
    assert response.json() == {
        "id": ght_a.pk,
        "name": "GHT A",
        "short_name": "GHTA",
        "region": None,
        "timezone": "Europe/Paris",
    }
    assert client_for(ght_admin_b).get(url).status_code == 404


def test_it_lets_the_platform_admin_create_a_ght(platform_admin):
    region = RegionFactory()
    response = client_for(platform_admin).post(
        reverse("api:ght-create"), {"name": "GHT Cœur Grand Est", "region": region.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    ght = Ght.objects.get(pk=response.json()["id"])
    assert (ght.name, ght.region, ght.timezone) == ("GHT Cœur Grand Est", region, "Europe/Paris")


def test_it_forbids_ght_creation_to_a_ght_admin(ght_admin_a):
    response = client_for(ght_admin_a).post(reverse("api:ght-create"), {"name": "GHT pirate"}, format="json")
    assert response.status_code == 403
    assert not Ght.objects.filter(name="GHT pirate").exists()


def test_it_rejects_an_unknown_time_zone_with_the_error_shape(platform_admin):
    response = client_for(platform_admin).post(
        reverse("api:ght-create"), {"name": "GHT Outre-mer", "timezone": "America/Nowhere"}, format="json"
    )
    assert_field_error(response, "timezone")
    assert not Ght.objects.filter(name="GHT Outre-mer").exists()


def test_it_lets_a_ght_admin_update_their_own_ght(ght_admin_a, ght_a):
    response = client_for(ght_admin_a).patch(
        reverse("api:ght-update", kwargs={"ght_id": ght_a.pk}),
        {"short_name": "GHT-A", "timezone": "America/Cayenne"},
        format="json",
    )
    assert response.status_code == 200, response.content
    ght_a.refresh_from_db()
    assert (ght_a.short_name, ght_a.timezone, ght_a.name) == ("GHT-A", "America/Cayenne", "GHT A")


def test_it_answers_404_to_a_ght_admin_updating_another_ght(ght_admin_b, ght_a):
    response = client_for(ght_admin_b).patch(
        reverse("api:ght-update", kwargs={"ght_id": ght_a.pk}), {"name": "Pris"}, format="json"
    )
    assert response.status_code == 404
    ght_a.refresh_from_db()
    assert ght_a.name == "GHT A"


def test_it_keeps_the_region_for_the_platform_admin(ght_admin_a, ght_a):
    response = client_for(ght_admin_a).patch(
        reverse("api:ght-update", kwargs={"ght_id": ght_a.pk}), {"region": RegionFactory().pk}, format="json"
    )
    assert_field_error(response, "region")
    ght_a.refresh_from_db()
    assert ght_a.region is None


def test_it_forbids_ght_updates_to_other_roles(radiologist_a, ght_a):
    response = client_for(radiologist_a).patch(
        reverse("api:ght-update", kwargs={"ght_id": ght_a.pk}), {"name": "Pris"}, format="json"
    )
    assert response.status_code == 403


def test_it_deletes_an_empty_ght_and_refuses_one_with_sites(platform_admin, ght_admin_a, site_a):
    empty = GhtFactory()
    client = client_for(platform_admin)
    assert client.delete(reverse("api:ght-delete", kwargs={"ght_id": empty.pk})).status_code == 204
    assert not Ght.objects.filter(pk=empty.pk).exists()
    response = client.delete(reverse("api:ght-delete", kwargs={"ght_id": site_a.ght_id}))
    assert response.status_code == 409
    assert set(response.json()) == {"message", "extra"}
    assert Ght.objects.filter(pk=site_a.ght_id).exists()
    assert (
        client_for(ght_admin_a).delete(reverse("api:ght-delete", kwargs={"ght_id": site_a.ght_id})).status_code == 403
    )


# --- Sites ------------------------------------------------------------------------------------


def test_it_lists_the_sites_of_the_user(merm_a, radiologist_b, site_a, site_b):
    assert ids(client_for(merm_a).get(reverse("api:site-list"))) == {site_a.pk}
    assert ids(client_for(radiologist_b).get(reverse("api:site-list"))) == {site_b.pk}


def test_it_shows_a_site_and_404_to_other_ghts(radiologist_a, radiologist_b, site_a):
    url = reverse("api:site-detail", kwargs={"site_id": site_a.pk})
    response = client_for(radiologist_a).get(url)
    assert response.status_code == 200
    assert response.json()["finess"] == site_a.finess
    assert response.json()["ght_name"] == "GHT A"
    assert client_for(radiologist_b).get(url).status_code == 404


def test_it_lets_a_ght_admin_create_a_site_in_their_ght(ght_admin_a, ght_a):
    response = client_for(ght_admin_a).post(
        reverse("api:site-create"),
        {"ght": ght_a.pk, "name": "CH Landerneau", "finess": VALID_FINESS, "timezone": "Europe/Paris"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Site.objects.get(pk=response.json()["id"]).ght == ght_a


def test_it_refuses_a_site_in_another_ght_with_a_400_on_ght(ght_admin_a, ght_b):
    response = client_for(ght_admin_a).post(
        reverse("api:site-create"), {"ght": ght_b.pk, "name": "CH Intrus", "finess": VALID_FINESS}, format="json"
    )
    assert_field_error(response, "ght")
    assert not Site.objects.filter(name="CH Intrus").exists()


def test_it_lets_the_platform_admin_create_a_site_in_any_ght(platform_admin, ght_b):
    response = client_for(platform_admin).post(
        reverse("api:site-create"), {"ght": ght_b.pk, "name": "CH Cayenne", "finess": VALID_FINESS}, format="json"
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("finess", ["123", "290000000", "29000000X"])
def test_it_rejects_a_bad_finess_with_a_400(ght_admin_a, ght_a, finess):
    response = client_for(ght_admin_a).post(
        reverse("api:site-create"), {"ght": ght_a.pk, "name": "CH Faux", "finess": finess}, format="json"
    )
    assert_field_error(response, "finess")
    assert not Site.objects.filter(name="CH Faux").exists()


def test_it_rejects_a_duplicate_finess(ght_admin_a, site_a):
    response = client_for(ght_admin_a).post(
        reverse("api:site-create"), {"ght": site_a.ght_id, "name": "CH Double", "finess": site_a.finess}, format="json"
    )
    assert_field_error(response, "finess")


def test_it_forbids_site_creation_to_a_merm(merm_a, ght_a):
    response = client_for(merm_a).post(
        reverse("api:site-create"), {"ght": ght_a.pk, "name": "CH MERM", "finess": VALID_FINESS}, format="json"
    )
    assert response.status_code == 403


def test_it_updates_a_site_of_the_admins_ght(ght_admin_a, site_a):
    response = client_for(ght_admin_a).patch(
        reverse("api:site-update", kwargs={"site_id": site_a.pk}),
        {"duty_phone": "02 98 11 22 33", "timezone": "America/Guadeloupe"},
        format="json",
    )
    assert response.status_code == 200, response.content
    site_a.refresh_from_db()
    assert (site_a.duty_phone, site_a.timezone, site_a.name) == ("02 98 11 22 33", "America/Guadeloupe", "CH Site A")


def test_it_refuses_to_move_a_site_to_a_ght_the_admin_does_not_run(ght_admin_a, site_a, ght_b):
    response = client_for(ght_admin_a).patch(
        reverse("api:site-update", kwargs={"site_id": site_a.pk}), {"ght": ght_b.pk}, format="json"
    )
    assert_field_error(response, "ght")
    site_a.refresh_from_db()
    assert site_a.ght_id != ght_b.pk


def test_it_rejects_an_unknown_site_time_zone(ght_admin_a, site_a):
    response = client_for(ght_admin_a).patch(
        reverse("api:site-update", kwargs={"site_id": site_a.pk}), {"timezone": "Mars/Olympus"}, format="json"
    )
    assert_field_error(response, "timezone")
    site_a.refresh_from_db()
    assert site_a.timezone == "Europe/Paris"


def test_it_answers_404_to_another_ghts_admin_on_site_writes(ght_admin_b, site_a):
    client = client_for(ght_admin_b)
    update = client.patch(reverse("api:site-update", kwargs={"site_id": site_a.pk}), {"name": "Pris"}, format="json")
    delete = client.delete(reverse("api:site-delete", kwargs={"site_id": site_a.pk}))
    assert (update.status_code, delete.status_code) == (404, 404)
    site_a.refresh_from_db()
    assert site_a.name == "CH Site A"


def test_it_deletes_a_site_without_exams_and_refuses_one_with_exams(ght_admin_a, site_a, exam_a, ght_a):
    from sites.tests.factories import SiteFactory

    empty = SiteFactory(ght=ght_a)
    client = client_for(ght_admin_a)
    assert client.delete(reverse("api:site-delete", kwargs={"site_id": empty.pk})).status_code == 204
    assert not Site.objects.filter(pk=empty.pk).exists()
    assert client.delete(reverse("api:site-delete", kwargs={"site_id": site_a.pk})).status_code == 409
    assert Site.objects.filter(pk=site_a.pk).exists()


# --- Modalities -------------------------------------------------------------------------------


@pytest.fixture
def modality_a(site_a):
    return ModalityFactory(site=site_a, ae_title="CT_BREST")


@pytest.fixture
def modality_b(site_b):
    return ModalityFactory(site=site_b, ae_title="CT_REIMS")


def test_it_lists_the_modalities_of_the_users_sites(merm_a, modality_a, modality_b):
    response = client_for(merm_a).get(reverse("api:modality-list"))
    assert ids(response) == {modality_a.pk}
    assert response.json()["results"][0]["site_name"] == "CH Site A"


def test_it_shows_a_modality_and_404_to_other_ghts(radiologist_a, merm_b, modality_a):
    url = reverse("api:modality-detail", kwargs={"modality_id": modality_a.pk})
    assert client_for(radiologist_a).get(url).json()["ae_title"] == "CT_BREST"
    assert client_for(merm_b).get(url).status_code == 404


def test_it_creates_a_modality_with_a_stripped_ae_title(ght_admin_a, site_a):
    response = client_for(ght_admin_a).post(
        reverse("api:modality-create"),
        {"site": site_a.pk, "name": "IRM 1", "ae_title": " MR_BREST ", "modality_type": "MR", "port": 11112},
        format="json",
    )
    assert response.status_code == 201, response.content
    modality = Modality.objects.get(pk=response.json()["id"])
    assert (modality.ae_title, modality.site, modality.port) == ("MR_BREST", site_a, 11112)


def test_it_refuses_a_modality_on_another_ghts_site_with_a_400_on_site(ght_admin_a, site_b):
    response = client_for(ght_admin_a).post(
        reverse("api:modality-create"), {"site": site_b.pk, "name": "Intrus", "ae_title": "CT_INTRUS"}, format="json"
    )
    assert_field_error(response, "site")
    assert not Modality.objects.filter(ae_title="CT_INTRUS").exists()


@pytest.mark.parametrize("ae_title", ["CT\\BREST", "CT_BEAUCOUP_TROP_LONG", "SCANNER_É"])
def test_it_rejects_a_bad_ae_title_with_a_400(ght_admin_a, site_a, ae_title):
    response = client_for(ght_admin_a).post(
        reverse("api:modality-create"), {"site": site_a.pk, "name": "Faux", "ae_title": ae_title}, format="json"
    )
    assert_field_error(response, "ae_title")
    assert not Modality.objects.filter(name="Faux").exists()


def test_it_rejects_a_duplicate_ae_title(ght_admin_a, site_a, modality_b):
    response = client_for(ght_admin_a).post(
        reverse("api:modality-create"), {"site": site_a.pk, "name": "Doublon", "ae_title": "CT_REIMS"}, format="json"
    )
    assert_field_error(response, "ae_title")


def test_it_updates_and_deletes_a_modality(ght_admin_a, modality_a):
    client = client_for(ght_admin_a)
    response = client.patch(
        reverse("api:modality-update", kwargs={"modality_id": modality_a.pk}),
        {"enabled": False, "port": 4242},
        format="json",
    )
    assert response.status_code == 200, response.content
    modality_a.refresh_from_db()
    assert (modality_a.enabled, modality_a.port) == (False, 4242)
    assert client.delete(reverse("api:modality-delete", kwargs={"modality_id": modality_a.pk})).status_code == 204
    assert not Modality.objects.filter(pk=modality_a.pk).exists()


def test_it_keeps_exams_when_their_modality_is_deleted(ght_admin_a, modality_a, site_a):
    exam = ExamFactory(site=site_a, source_modality=modality_a)
    client_for(ght_admin_a).delete(reverse("api:modality-delete", kwargs={"modality_id": modality_a.pk}))
    exam.refresh_from_db()
    assert exam.source_modality is None


def test_it_answers_404_to_another_ghts_admin_on_modality_writes(ght_admin_b, modality_a):
    client = client_for(ght_admin_b)
    update = client.patch(
        reverse("api:modality-update", kwargs={"modality_id": modality_a.pk}), {"enabled": False}, format="json"
    )
    delete = client.delete(reverse("api:modality-delete", kwargs={"modality_id": modality_a.pk}))
    assert (update.status_code, delete.status_code) == (404, 404)
    modality_a.refresh_from_db()
    assert modality_a.enabled


def test_it_forbids_modality_writes_to_a_radiologist(radiologist_a, modality_a):
    response = client_for(radiologist_a).patch(
        reverse("api:modality-update", kwargs={"modality_id": modality_a.pk}), {"enabled": False}, format="json"
    )
    assert response.status_code == 403


# --- Radiologists -----------------------------------------------------------------------------


def test_it_lists_the_radiologists_of_the_users_sites(merm_a, radiologist_a, radiologist_b):
    response = client_for(merm_a).get(reverse("api:radiologist-list"))
    assert ids(response) == {radiologist_a.radiologist.pk}
    item = response.json()["results"][0]
    assert item["rpps"] == radiologist_a.radiologist.rpps
    assert item["ght"] == radiologist_a.ght_id
    assert item["username"] == "rad_a"


def test_it_shows_a_radiologist_and_404_to_other_ghts(ght_admin_a, merm_b, radiologist_a):
    url = reverse("api:radiologist-detail", kwargs={"radiologist_id": radiologist_a.radiologist.pk})
    assert client_for(ght_admin_a).get(url).status_code == 200
    assert client_for(merm_b).get(url).status_code == 404


def test_it_creates_a_radiologist_without_a_usable_password(ght_admin_a, ght_a):
    response = client_for(ght_admin_a).post(
        reverse("api:radiologist-create"),
        {
            "username": "dr_kerlan",
            "first_name": "Morgane",
            "last_name": "Kerlan",
            "ght": ght_a.pk,
            "rpps": VALID_RPPS,
            "subspecialties": ["neuro", "pediatric"],
            "email": "m.kerlan@example.org",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert sorted(response.json()["subspecialties"]) == ["neuro", "pediatric"]
    user = User.objects.get(username="dr_kerlan")
    assert (user.role, user.ght, user.has_usable_password()) == (Role.RADIOLOGIST, ght_a, False)
    assert user.radiologist.rpps == VALID_RPPS


def test_it_rejects_a_bad_rpps_and_creates_no_account(ght_admin_a, ght_a):
    response = client_for(ght_admin_a).post(
        reverse("api:radiologist-create"),
        {"username": "dr_faux", "first_name": "A", "last_name": "B", "ght": ght_a.pk, "rpps": "10000000000"},
        format="json",
    )
    assert_field_error(response, "rpps")
    assert not User.objects.filter(username="dr_faux").exists()


def test_it_refuses_a_radiologist_in_another_ght_with_a_400_on_ght(ght_admin_a, ght_b):
    response = client_for(ght_admin_a).post(
        reverse("api:radiologist-create"),
        {"username": "dr_b", "first_name": "A", "last_name": "B", "ght": ght_b.pk, "rpps": VALID_RPPS},
        format="json",
    )
    assert_field_error(response, "ght")
    assert not User.objects.filter(username="dr_b").exists()


def test_it_rejects_an_unknown_subspecialty(ght_admin_a, radiologist_a):
    response = client_for(ght_admin_a).patch(
        reverse("api:radiologist-update", kwargs={"radiologist_id": radiologist_a.radiologist.pk}),
        {"subspecialties": ["astrologie"]},
        format="json",
    )
    assert_field_error(response, "subspecialties")


def test_it_updates_subspecialties_and_phone(ght_admin_a, radiologist_a):
    rad = radiologist_a.radiologist
    response = client_for(ght_admin_a).patch(
        reverse("api:radiologist-update", kwargs={"radiologist_id": rad.pk}),
        {"subspecialties": ["msk"], "mobile_phone": "06 12 34 56 78"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["subspecialties"] == ["msk"]
    rad = Radiologist.objects.get(pk=rad.pk)
    assert rad.mobile_phone == "06 12 34 56 78"
    assert list(rad.subspecialties.values_list("code", flat=True)) == ["msk"]


def test_it_answers_404_to_another_ghts_admin_on_radiologist_update(ght_admin_b, radiologist_a):
    response = client_for(ght_admin_b).patch(
        reverse("api:radiologist-update", kwargs={"radiologist_id": radiologist_a.radiologist.pk}),
        {"mobile_phone": "06 00 00 00 00"},
        format="json",
    )
    assert response.status_code == 404
    radiologist_a.radiologist.refresh_from_db()
    assert radiologist_a.radiologist.mobile_phone == ""


def test_it_forbids_radiologist_updates_to_the_radiologist(radiologist_a):
    response = client_for(radiologist_a).patch(
        reverse("api:radiologist-update", kwargs={"radiologist_id": radiologist_a.radiologist.pk}),
        {"subspecialties": ["neuro"]},
        format="json",
    )
    assert response.status_code == 403


def test_it_lists_subspecialty_codes(merm_a):
    response = client_for(merm_a).get(reverse("api:subspecialty-list"))
    assert response.status_code == 200
    assert "neuro" in {item["code"] for item in response.json()["results"]}


# --- Authentication ---------------------------------------------------------------------------


def test_it_authenticates_with_a_token(merm_a, site_a, site_b):
    token = Token.objects.create(user=merm_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert ids(client.get(reverse("api:site-list"))) == {site_a.pk}


# Session authentication comes first and sends no WWW-Authenticate header, so
# DRF answers 403 (not 401) to unauthenticated requests.


def test_it_refuses_a_wrong_token_and_anonymous_requests(merm_a, site_a):
    Token.objects.create(user=merm_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = client.get(reverse("api:site-list"))
    assert response.status_code == 403
    assert "results" not in response.json()
    assert APIClient().get(reverse("api:site-list")).status_code == 403


def test_it_refuses_an_inactive_users_token(merm_a):
    token = Token.objects.create(user=merm_a)
    User.objects.filter(pk=merm_a.pk).update(is_active=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(reverse("api:site-list")).status_code == 403
