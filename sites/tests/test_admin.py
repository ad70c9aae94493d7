"""The organisation admin: French, and scoped by GHT.

The scoping tests run over every ModelAdmin registered for the sites app, so a
new model admin cannot escape them: it must be listed below with a factory.
"""

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.db import models
from django.forms.models import model_to_dict
from django.urls import reverse

from sites.identifiers import luhn_key
from sites.models import (
    Credential,
    Ght,
    Modality,
    PacsNode,
    Radiologist,
    Region,
    Role,
    RotaLine,
    Shift,
    Site,
    Subspecialty,
    Technologist,
    Unavailability,
    User,
)
from sites.tests.factories import (
    CredentialFactory,
    ModalityFactory,
    PacsNodeFactory,
    RadiologistFactory,
    RegionFactory,
    RotaSlotFactory,
    ShiftFactory,
    SiteFactory,
    TechnologistFactory,
    UnavailabilityFactory,
    UserFactory,
)

# For each GHT-scoped model: how to make one of the given site's GHT, and a
# field with a new value that a change form may set.
ScopedCase = tuple[Callable[[Site], models.Model], str, Any]
GHT_SCOPED: dict[type[models.Model], ScopedCase] = {
    Ght: (lambda site: site.ght, "short_name", "PIRATE"),
    Site: (lambda site: site, "short_name", "PIRATE"),
    Modality: (lambda site: ModalityFactory(site=site), "name", "PIRATE"),
    PacsNode: (lambda site: PacsNodeFactory(site=site), "host", "pirate.example.org"),
    User: (lambda site: UserFactory(ght=site.ght), "last_name", "PIRATE"),
    Radiologist: (lambda site: RadiologistFactory(user__ght=site.ght), "mobile_phone", "06 66 66 66 66"),
    Credential: (
        lambda site: CredentialFactory(site=site, radiologist__user__ght=site.ght),
        "contract_type",
        Credential.Contract.LOCUM,
    ),
    RotaLine: (lambda site: RotaSlotFactory(line__ght=site.ght, line__sites=[site]).line, "name", "PIRATE"),
    Shift: (
        lambda site: ShiftFactory(rota_month__ght=site.ght, line__sites=[site]),
        "end",
        datetime.datetime(2040, 1, 1, 12, tzinfo=datetime.UTC),
    ),
    Unavailability: (
        lambda site: UnavailabilityFactory(radiologist__user__ght=site.ght),
        "reason",
        "PIRATE",
    ),
}
# Models that belong to no GHT: the platform administrators' alone.
PLATFORM_ONLY: dict[type[models.Model], Callable[[], models.Model]] = {
    Region: lambda: RegionFactory(),
    Subspecialty: lambda: Subspecialty.objects.create(code="test-admin", name="Spécialité de test"),
}

scoped_models = pytest.mark.parametrize("model", list(GHT_SCOPED), ids=lambda m: m.__name__)


def admin_url(model: type[models.Model], view: str, *args: Any) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def assert_missing(response) -> None:
    """The admin answered as for an id that does not exist: 404 or back to the index."""
    assert response.status_code in (302, 404), response.status_code
    if response.status_code == 302:
        assert response.url == reverse("admin:index")


def _post_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return None if value is None else str(value)


def form_payload(response) -> dict[str, Any]:
    """The POST body a browser would send back from an admin add/change page, as shown."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms.append(formset.management_form)
        forms.extend(formset.forms)
    data: dict[str, Any] = {}
    for form in forms:
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value = _post_value(form[name].value())
            if value is not None:
                data[form.add_prefix(name)] = value
    return data


def test_it_covers_every_registered_sites_admin():
    registered = {model for model in admin.site._registry if model._meta.app_label == "sites"}
    assert registered == set(GHT_SCOPED) | set(PLATFORM_ONLY)


@scoped_models
def test_it_hides_another_ghts_objects_from_the_changelist(client, site_a, ght_admin_a, ght_admin_b, model):
    make, _, _ = GHT_SCOPED[model]
    obj = make(site_a)

    client.force_login(ght_admin_b)
    response = client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    assert obj.pk not in {row.pk for row in response.context["cl"].result_list}

    client.force_login(ght_admin_a)
    response = client.get(admin_url(model, "changelist"))
    assert obj.pk in {row.pk for row in response.context["cl"].result_list}


@scoped_models
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_it_answers_another_ghts_object_as_missing(client, site_a, ght_admin_a, ght_admin_b, model, view):
    make, _, _ = GHT_SCOPED[model]
    obj = make(site_a)
    url = admin_url(model, view, obj.pk)

    # A GHT admin may not delete a GHT at all, even their own: Django says
    # 403 before looking the id up, for any id, so nothing leaks either.
    forbidden_for_all = model is Ght and view == "delete"

    client.force_login(ght_admin_b)
    response = client.get(url)
    if forbidden_for_all:
        assert response.status_code == 403
    else:
        assert_missing(response)

    client.force_login(ght_admin_a)
    assert client.get(url).status_code == (403 if forbidden_for_all else 200)


@scoped_models
def test_it_does_not_change_another_ghts_object_on_post(client, site_a, ght_admin_a, ght_admin_b, model):
    make, field, new_value = GHT_SCOPED[model]
    obj = make(site_a)
    url = admin_url(model, "change", obj.pk)
    client.force_login(ght_admin_a)
    payload = form_payload(client.get(url))
    payload[field] = new_value
    before = model_to_dict(obj)

    client.force_login(ght_admin_b)
    assert_missing(client.post(url, payload))
    obj.refresh_from_db()
    assert model_to_dict(obj) == before

    # The same body from the GHT's own administrator is a valid change.
    client.force_login(ght_admin_a)
    response = client.post(url, payload)
    assert response.status_code == 302, response.context["adminform"].form.errors
    obj.refresh_from_db()
    assert getattr(obj, field) == new_value


@scoped_models
def test_it_does_not_delete_another_ghts_object(client, site_a, ght_admin_b, model):
    make, _, _ = GHT_SCOPED[model]
    obj = make(site_a)

    client.force_login(ght_admin_b)
    response = client.post(admin_url(model, "delete", obj.pk), {"post": "yes"})
    assert response.status_code in (302, 403, 404)
    assert model.objects.filter(pk=obj.pk).exists()


@scoped_models
def test_it_shows_every_ght_to_the_platform_admin(client, site_a, site_b, platform_admin, model):
    make, _, _ = GHT_SCOPED[model]
    obj_a, obj_b = make(site_a), make(site_b)

    client.force_login(platform_admin)
    response = client.get(admin_url(model, "changelist"))
    listed = {row.pk for row in response.context["cl"].result_list}
    assert {obj_a.pk, obj_b.pk} <= listed
    assert client.get(admin_url(model, "change", obj_b.pk)).status_code == 200


@pytest.mark.parametrize("model", list(PLATFORM_ONLY), ids=lambda m: m.__name__)
def test_it_keeps_platform_wide_lists_to_the_platform_admin(client, ght_admin_a, platform_admin, model):
    obj = PLATFORM_ONLY[model]()

    client.force_login(ght_admin_a)
    assert client.get(admin_url(model, "changelist")).status_code == 403
    assert client.get(admin_url(model, "add")).status_code == 403
    assert client.get(admin_url(model, "change", obj.pk)).status_code == 403

    client.force_login(platform_admin)
    assert client.get(admin_url(model, "changelist")).status_code == 200
    assert client.get(admin_url(model, "change", obj.pk)).status_code == 200


def test_it_lets_a_ght_admin_edit_their_ght_but_not_its_region(client, ght_a, ght_admin_a):
    region, other_region = RegionFactory(), RegionFactory()
    ght_a.region = region
    ght_a.save()
    url = admin_url(Ght, "change", ght_a.pk)

    client.force_login(ght_admin_a)
    payload = form_payload(client.get(url))
    payload.update(short_name="GHT-A2", region=str(other_region.pk))
    assert client.post(url, payload).status_code == 302

    ght_a.refresh_from_db()
    assert ght_a.short_name == "GHT-A2"
    assert ght_a.region == region


def test_it_forbids_a_ght_admin_to_add_a_ght(client, ght_admin_a):
    client.force_login(ght_admin_a)
    response = client.post(admin_url(Ght, "add"), {"name": "GHT pirate", "timezone": "Europe/Paris"})
    assert response.status_code == 403
    assert not Ght.objects.filter(name="GHT pirate").exists()


def _finess(n: int) -> str:
    body = f"29{n:06d}"
    return body + luhn_key(body)


def _site_payload(client, **fields: str) -> dict[str, Any]:
    payload = form_payload(client.get(admin_url(Site, "add")))
    payload.update(name="CH de Landerneau", finess=_finess(424242), sector="public", timezone="Europe/Paris")
    payload.update(fields)
    return payload


def test_it_lets_a_ght_admin_create_a_site_in_their_ght(client, ght_a, ght_admin_a):
    client.force_login(ght_admin_a)
    payload = _site_payload(client)
    assert payload["ght"] == str(ght_a.pk)  # offered by default

    response = client.post(admin_url(Site, "add"), payload)

    assert response.status_code == 302
    assert Site.objects.get(name="CH de Landerneau").ght == ght_a


def test_it_refuses_a_site_in_another_ght(client, ght_a, ght_b, ght_admin_a):
    client.force_login(ght_admin_a)
    response = client.post(admin_url(Site, "add"), _site_payload(client, ght=str(ght_b.pk)))

    assert response.status_code == 200
    assert "ght" in response.context["adminform"].form.errors
    assert not Site.objects.filter(name="CH de Landerneau").exists()


def test_it_refuses_a_finess_with_a_wrong_key_in_french(client, ght_a, ght_admin_a):
    good = _finess(424242)
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    client.force_login(ght_admin_a)
    response = client.post(admin_url(Site, "add"), _site_payload(client, finess=wrong))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["finess"] == ["La clé de contrôle de ce numéro FINESS est fausse."]
    assert "La clé de contrôle de ce numéro FINESS est fausse." in response.content.decode()
    assert not Site.objects.filter(finess=wrong).exists()


def test_it_offers_only_the_ghts_sites_and_radiologists_for_a_credential(
    client, site_a, site_b, radiologist_a, radiologist_b, ght_admin_a
):
    client.force_login(ght_admin_a)
    form = client.get(admin_url(Credential, "add")).context["adminform"].form

    assert list(form.fields["site"].queryset) == [site_a]
    radiologists = set(form.fields["radiologist"].queryset)
    assert radiologist_a.radiologist in radiologists
    assert radiologist_b.radiologist not in radiologists


def test_it_offers_a_radiologist_of_the_same_region_for_a_credential(client, ght_a, ght_b, ght_admin_a, radiologist_b):
    region = RegionFactory()
    Ght.objects.filter(pk__in=[ght_a.pk, ght_b.pk]).update(region=region)

    client.force_login(ght_admin_a)
    form = client.get(admin_url(Credential, "add")).context["adminform"].form

    assert radiologist_b.radiologist in set(form.fields["radiologist"].queryset)


def test_it_forbids_a_ght_admin_to_promote_a_user_to_platform_admin(client, merm_a, ght_admin_a, platform_admin):
    url = admin_url(User, "change", merm_a.pk)
    client.force_login(ght_admin_a)
    payload = form_payload(client.get(url))
    payload["role"] = Role.PLATFORM_ADMIN

    response = client.post(url, payload)

    assert response.status_code == 200
    assert "role" in response.context["adminform"].form.errors
    merm_a.refresh_from_db()
    assert (merm_a.role, merm_a.is_superuser, merm_a.is_staff) == (Role.TECHNOLOGIST, False, False)

    # The platform administrator may, with the very same body.
    client.force_login(platform_admin)
    assert client.post(url, payload).status_code == 302
    merm_a.refresh_from_db()
    assert (merm_a.role, merm_a.is_superuser) == (Role.PLATFORM_ADMIN, True)


def _user_add_payload(**fields: str) -> dict[str, str]:
    payload = {
        "username": "nouveau",
        "usable_password": "true",
        "password1": "Une-phrase-de-passe-2024",
        "password2": "Une-phrase-de-passe-2024",
        "first_name": "Gwen",
        "last_name": "Le Bihan",
        "email": "gwen@example.org",
        "role": Role.TECHNOLOGIST,
    }
    payload.update(fields)
    return payload


def test_it_lets_a_ght_admin_create_a_merm_of_their_ght(client, ght_a, ght_admin_a):
    client.force_login(ght_admin_a)
    response = client.post(admin_url(User, "add"), _user_add_payload(ght=str(ght_a.pk)))

    assert response.status_code == 302
    user = User.objects.get(username="nouveau")
    assert (user.ght, user.role, user.is_staff) == (ght_a, Role.TECHNOLOGIST, False)


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"role": Role.PLATFORM_ADMIN}, "role"),
        ({"ght": "other"}, "ght"),
        ({"ght": ""}, "ght"),
    ],
    ids=["platform-admin-role", "other-ght", "no-ght"],
)
def test_it_refuses_an_account_outside_the_ght_admins_reach(client, ght_a, ght_b, ght_admin_a, fields, error_field):
    fields = {"ght": str(ght_a.pk), **fields}
    if fields["ght"] == "other":
        fields["ght"] = str(ght_b.pk)
    client.force_login(ght_admin_a)

    response = client.post(admin_url(User, "add"), _user_add_payload(**fields))

    assert response.status_code == 200
    assert error_field in response.context["adminform"].form.errors
    assert not User.objects.filter(username="nouveau").exists()


def test_it_hides_the_flags_derived_from_the_role(client, merm_a, ght_admin_a, platform_admin):
    for user in (ght_admin_a, platform_admin):
        client.force_login(user)
        for url in (admin_url(User, "change", merm_a.pk), admin_url(User, "add")):
            form = client.get(url).context["adminform"].form
            assert "role" in form.fields
            assert not {"is_staff", "is_superuser", "groups", "user_permissions"} & set(form.fields)


def test_it_does_not_let_a_ght_admin_change_another_ghts_password(client, merm_a, merm_b, ght_admin_a):
    client.force_login(ght_admin_a)
    url_b = reverse("admin:auth_user_password_change", args=[merm_b.pk])
    response = client.post(url_b, {"password1": "Pirate-pirate-2024", "password2": "Pirate-pirate-2024"})

    assert response.status_code == 404
    merm_b.refresh_from_db()
    assert merm_b.check_password("password")
    url_a = reverse("admin:auth_user_password_change", args=[merm_a.pk])
    assert client.get(url_a).status_code == 200


def test_it_hides_platform_admins_from_a_ght_admin(client, ght_a, ght_admin_a):
    # A platform administrator attached to GHT A is still not the GHT's to manage.
    boss = UserFactory(role=Role.PLATFORM_ADMIN, ght=ght_a)
    client.force_login(ght_admin_a)
    assert_missing(client.get(admin_url(User, "change", boss.pk)))


def test_it_offers_only_the_ghts_sites_to_a_merm_and_keeps_the_others(client, site_a, site_b, ght_admin_a):
    merm = TechnologistFactory(user__ght=site_a.ght, sites=[site_a, site_b])
    other_site_a = SiteFactory(ght=site_a.ght)
    url = admin_url(User, "change", merm.user.pk)
    client.force_login(ght_admin_a)
    response = client.get(url)
    formset = response.context["inline_admin_formsets"][0].formset
    assert set(formset.forms[0].fields["sites"].queryset) == {site_a, other_site_a}

    payload = form_payload(response)
    payload[f"{formset.prefix}-0-sites"] = [str(other_site_a.pk)]
    assert client.post(url, payload).status_code == 302

    # Site A was removed, site B (of another GHT, not shown) was kept.
    assert set(merm.sites.all()) == {other_site_a, site_b}


def test_it_shows_the_profile_that_goes_with_the_role(client, radiologist_a, merm_a, ght_admin_a):
    client.force_login(ght_admin_a)
    for user, profile in ((radiologist_a, Radiologist), (merm_a, Technologist)):
        response = client.get(admin_url(User, "change", user.pk))
        assert [inline.formset.model for inline in response.context["inline_admin_formsets"]] == [profile]
    response = client.get(admin_url(User, "change", ght_admin_a.pk))
    assert response.context["inline_admin_formsets"] == []


@pytest.mark.parametrize("who", ["radiologist_a", "merm_a"])
def test_it_sends_radiologists_and_merms_to_the_admin_login(client, request, who):
    client.force_login(request.getfixturevalue(who))
    for url in (reverse("admin:index"), admin_url(Site, "changelist")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


def test_it_titles_the_admin_in_french(client, ght_admin_a):
    client.force_login(ght_admin_a)
    response = client.get(reverse("admin:index"))

    assert "Administration Téléradio" in response.content.decode()
    models_shown = {m["object_name"] for app in response.context["app_list"] for m in app["models"]}
    assert {"Site", "Modality", "User", "Credential"} <= models_shown
    assert not {"Region", "Subspecialty", "AuditEvent"} & models_shown


def test_it_adds_a_radiologist_profile_with_a_valid_rpps_only(client, ght_a, ght_admin_a):
    user = UserFactory(ght=ght_a, role=Role.RADIOLOGIST)
    url = admin_url(User, "change", user.pk)
    client.force_login(ght_admin_a)
    response = client.get(url)
    prefix = response.context["inline_admin_formsets"][0].formset.prefix
    payload = form_payload(response)
    body = "10" + "12345678"

    payload[f"{prefix}-0-rpps"] = body + str((int(luhn_key(body)) + 1) % 10)
    response = client.post(url, payload)
    assert response.status_code == 200
    assert "La clé de contrôle de ce numéro RPPS est fausse." in response.content.decode()
    assert not Radiologist.objects.filter(user=user).exists()

    payload[f"{prefix}-0-rpps"] = body + luhn_key(body)
    assert client.post(url, payload).status_code == 302
    assert Radiologist.objects.get(user=user).rpps == body + luhn_key(body)


def test_it_keeps_regional_lines_without_a_ght_to_the_platform_admin(client, site_a, ght_admin_a, platform_admin):
    region = RegionFactory()
    site_a.ght.region = region
    site_a.ght.save()
    regional = RotaLine.objects.create(region=region, name="Neuro AVC régional")
    regional.sites.set([site_a])

    client.force_login(ght_admin_a)
    assert regional not in client.get(admin_url(RotaLine, "changelist")).context["cl"].result_list
    assert_missing(client.get(admin_url(RotaLine, "change", regional.pk)))

    client.force_login(platform_admin)
    assert client.get(admin_url(RotaLine, "change", regional.pk)).status_code == 200
