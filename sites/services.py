"""Writes on the organisation: GHTs, sites, modalities and radiologist profiles.

Every write runs the model validators (``full_clean``): FINESS, RPPS, AE title
and time zone checks live on the models, and a Django ValidationError becomes
a 400 ``{"message", "extra"}`` answer in the API (core.exception_handlers).
Who may write what is decided before these functions, by the scoped
selectors of sites.selectors.
"""

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from core.exceptions import ConflictError
from sites.models import Ght, Modality, Radiologist, Region, Role, Site, Subspecialty, User


def _model_update(*, instance: models.Model, fields: Iterable[str], data: dict[str, Any]) -> list[str]:
    """Set the ``fields`` present in ``data`` on ``instance``, validate and save them.

    Returns the names of the fields that changed (nothing is saved if none did).
    """
    changed = [f for f in fields if f in data and getattr(instance, f) != data[f]]
    for field in changed:
        setattr(instance, field, data[field])
    if changed:
        instance.full_clean()
        # update_fields: a concurrent request cannot overwrite fields it never meant to change.
        instance.save(update_fields=changed)
    return changed


def _delete(instance: models.Model) -> None:
    """Delete ``instance``; refuse (409) while other rows still depend on it."""
    try:
        with transaction.atomic():
            instance.delete()
    except ProtectedError:
        raise ConflictError(
            _("Suppression impossible : des données dépendent encore de cet objet."),
            extra={"object": instance._meta.model_name},
        ) from None


GHT_FIELDS = ("name", "short_name", "region", "timezone")


def ght_create(*, name: str, short_name: str = "", region: Region | None = None, timezone: str = "Europe/Paris") -> Ght:
    """Create a GHT (platform administrator only, checked by the caller).

    Raises:
        django.core.exceptions.ValidationError: duplicate name, unknown time zone.
    """
    ght = Ght(name=name, short_name=short_name, region=region, timezone=timezone)
    ght.full_clean()
    ght.save()
    return ght


def ght_update(*, ght: Ght, data: dict[str, Any]) -> Ght:
    """Change the given fields of ``ght`` (any of GHT_FIELDS)."""
    _model_update(instance=ght, fields=GHT_FIELDS, data=data)
    return ght


def ght_delete(*, ght: Ght) -> None:
    """Delete an empty GHT. Raises ConflictError while it has sites or members."""
    _delete(ght)


SITE_FIELDS = ("ght", "name", "short_name", "finess", "sector", "timezone", "address", "duty_phone", "active")


def site_create(
    *,
    ght: Ght,
    name: str,
    finess: str,
    short_name: str = "",
    sector: str = Site.Sector.PUBLIC,
    timezone: str = "Europe/Paris",
    address: str = "",
    duty_phone: str = "",
    active: bool = True,
) -> Site:
    """Create a site in ``ght``.

    Raises:
        django.core.exceptions.ValidationError: bad or duplicate FINESS, unknown
            time zone, name already used in the GHT.
    """
    site = Site(
        ght=ght,
        name=name,
        finess=finess,
        short_name=short_name,
        sector=sector,
        timezone=timezone,
        address=address,
        duty_phone=duty_phone,
        active=active,
    )
    site.full_clean()
    site.save()
    return site


def site_update(*, site: Site, data: dict[str, Any]) -> Site:
    """Change the given fields of ``site`` (any of SITE_FIELDS)."""
    _model_update(instance=site, fields=SITE_FIELDS, data=data)
    return site


def site_delete(*, site: Site) -> None:
    """Delete a site. Raises ConflictError while it has exams or modalities."""
    _delete(site)


MODALITY_FIELDS = ("site", "name", "ae_title", "host", "port", "modality_type", "urgent_by_default", "enabled")


def modality_create(
    *,
    site: Site,
    name: str,
    ae_title: str,
    host: str = "",
    port: int = 104,
    modality_type: str = Modality.Type.CT,
    urgent_by_default: bool = False,
    enabled: bool = True,
) -> Modality:
    """Declare a scanner of ``site``; the gateway then accepts its AE title.

    Raises:
        django.core.exceptions.ValidationError: invalid or duplicate AE title, bad port.
    """
    # DICOM ignores leading and trailing spaces of an AE title (PS3.5 §6.2):
    # strip before validation so that uniqueness is checked on the real value.
    modality = Modality(
        site=site,
        name=name,
        ae_title=ae_title.strip(),
        host=host,
        port=port,
        modality_type=modality_type,
        urgent_by_default=urgent_by_default,
        enabled=enabled,
    )
    modality.full_clean()
    modality.save()
    return modality


def modality_update(*, modality: Modality, data: dict[str, Any]) -> Modality:
    """Change the given fields of ``modality`` (any of MODALITY_FIELDS)."""
    if "ae_title" in data:
        data = {**data, "ae_title": data["ae_title"].strip()}
    _model_update(instance=modality, fields=MODALITY_FIELDS, data=data)
    return modality


def modality_delete(*, modality: Modality) -> None:
    """Delete a modality (its past exams keep their data, source_modality becomes null)."""
    _delete(modality)


@transaction.atomic
def radiologist_create(
    *,
    username: str,
    first_name: str,
    last_name: str,
    ght: Ght,
    rpps: str,
    email: str = "",
    subspecialties: Iterable[Subspecialty] = (),
    mobile_phone: str = "",
) -> Radiologist:
    """Create a radiologist's account (without a usable password) and profile.

    The radiologist sets a password through the password-reset flow; their
    credentials (habilitations) are given separately.

    Raises:
        django.core.exceptions.ValidationError: duplicate username, bad or duplicate RPPS.
    """
    user = User(
        username=username, first_name=first_name, last_name=last_name, email=email, role=Role.RADIOLOGIST, ght=ght
    )
    user.set_unusable_password()
    user.full_clean()
    user.save()
    radiologist = Radiologist(user=user, rpps=rpps, mobile_phone=mobile_phone)
    radiologist.full_clean()
    radiologist.save()
    radiologist.subspecialties.set(subspecialties)
    return radiologist


@transaction.atomic
def radiologist_update(
    *,
    radiologist: Radiologist,
    subspecialties: Iterable[Subspecialty] | None = None,
    mobile_phone: str | None = None,
) -> Radiologist:
    """Change the subspecialties and/or the mobile phone of a radiologist (None: unchanged)."""
    if mobile_phone is not None:
        _model_update(instance=radiologist, fields=["mobile_phone"], data={"mobile_phone": mobile_phone})
    if subspecialties is not None:
        radiologist.subspecialties.set(subspecialties)
    return radiologist
