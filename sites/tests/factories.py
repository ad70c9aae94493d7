"""factory_boy factories for the organisation."""

import datetime

import factory

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
    RotaMonth,
    RotaSlot,
    Shift,
    ShiftSwap,
    Site,
    Technologist,
    Unavailability,
    User,
)


def _finess(n: int) -> str:
    body = f"29{n:06d}"
    return body + luhn_key(body)


def _rpps(n: int) -> str:
    body = f"10{n:08d}"
    return body + luhn_key(body)


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    name = factory.Sequence(lambda n: f"Plateforme régionale {n}")


class GhtFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ght

    name = factory.Sequence(lambda n: f"GHT {n}")
    short_name = factory.Sequence(lambda n: f"GHT{n}")


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    ght = factory.SubFactory(GhtFactory)
    name = factory.Sequence(lambda n: f"CH Site {n}")
    finess = factory.Sequence(_finess)
    timezone = "Europe/Paris"
    duty_phone = "02 98 00 00 00"


class ModalityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Modality

    site = factory.SubFactory(SiteFactory)
    name = factory.Sequence(lambda n: f"Scanner {n}")
    ae_title = factory.Sequence(lambda n: f"CT_{n}")
    host = "127.0.0.1"
    port = 104
    modality_type = Modality.Type.CT


class PacsNodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PacsNode

    site = factory.SubFactory(SiteFactory)
    ae_title = factory.Sequence(lambda n: f"PACS_{n}")
    host = "127.0.0.1"
    port = 104


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Anne"
    last_name = factory.Sequence(lambda n: f"Le Gall {n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    role = Role.TECHNOLOGIST
    ght = factory.SubFactory(GhtFactory)
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class PlatformAdminFactory(UserFactory):
    role = Role.PLATFORM_ADMIN
    ght = None


class GhtAdminFactory(UserFactory):
    role = Role.GHT_ADMIN


class RadiologistFactory(factory.django.DjangoModelFactory):
    """A radiologist profile (with its user)."""

    class Meta:
        model = Radiologist

    user = factory.SubFactory(UserFactory, role=Role.RADIOLOGIST, first_name="Yann")
    rpps = factory.Sequence(_rpps)


class TechnologistFactory(factory.django.DjangoModelFactory):
    """A MERM profile (with its user); pass ``sites=[...]``."""

    class Meta:
        model = Technologist
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, role=Role.TECHNOLOGIST)

    @factory.post_generation
    def sites(obj, create, extracted, **kwargs):  # noqa: N805
        if create and extracted:
            obj.sites.set(extracted)


class CredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Credential

    radiologist = factory.SubFactory(RadiologistFactory)
    site = factory.SubFactory(SiteFactory)
    valid_from = factory.LazyFunction(lambda: datetime.date.today() - datetime.timedelta(days=30))
    valid_until = None
    contract_type = Credential.Contract.TELERADIOLOGY


# --- Rotas --------------------------------------------------------------------


class RotaLineFactory(factory.django.DjangoModelFactory):
    """A rota line of a GHT; pass ``sites=[...]`` (by default none)."""

    class Meta:
        model = RotaLine
        skip_postgeneration_save = True

    ght = factory.SubFactory(GhtFactory)
    name = factory.Sequence(lambda n: f"Ligne de garde {n}")
    kind = RotaLine.Kind.ON_CALL

    @factory.post_generation
    def sites(obj, create, extracted, **kwargs):  # noqa: N805
        if create and extracted:
            obj.sites.set(extracted)


class RotaSlotFactory(factory.django.DjangoModelFactory):
    """By default a Monday evening 18:00–23:30."""

    class Meta:
        model = RotaSlot

    line = factory.SubFactory(RotaLineFactory)
    name = "Soirée"
    days = "0"
    start_time = datetime.time(18, 0)
    end_time = datetime.time(23, 30)


def _months_ahead(n: int) -> datetime.date:
    today = datetime.date.today()
    index = today.year * 12 + today.month - 1 + n
    return datetime.date(index // 12, index % 12 + 1, 1)


class RotaMonthFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RotaMonth

    ght = factory.SubFactory(GhtFactory)
    # A different month each time (this month, the next, …): one rota per GHT and month.
    month = factory.Sequence(lambda n: _months_ahead(n))


class ShiftFactory(factory.django.DjangoModelFactory):
    """A shift of a month's rota, on a line of the same GHT, tomorrow evening by default."""

    class Meta:
        model = Shift

    rota_month = factory.SubFactory(RotaMonthFactory)
    line = factory.SubFactory(RotaLineFactory, ght=factory.SelfAttribute("..rota_month.ght"))
    radiologist = None
    start = factory.LazyFunction(
        lambda: (
            datetime.datetime.now(datetime.UTC).replace(hour=17, minute=0, second=0, microsecond=0)
            + datetime.timedelta(days=1)
        )
    )
    end = factory.LazyAttribute(lambda s: s.start + datetime.timedelta(hours=5, minutes=30))


class UnavailabilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unavailability

    radiologist = factory.SubFactory(RadiologistFactory)
    start = factory.LazyFunction(lambda: datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3))
    end = factory.LazyAttribute(lambda u: u.start + datetime.timedelta(days=2))
    reason = "Congés"


class ShiftSwapFactory(factory.django.DjangoModelFactory):
    """A proposed swap between two shifts of the same month."""

    class Meta:
        model = ShiftSwap

    shift_from = factory.SubFactory(ShiftFactory)
    shift_to = factory.SubFactory(ShiftFactory, rota_month=factory.SelfAttribute("..shift_from.rota_month"))
    requested_by = factory.SubFactory(RadiologistFactory)
