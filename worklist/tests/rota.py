"""Published rotas for routing tests: lines and shifts built directly (no planner needed)."""

import datetime

from sites.models import Ght, Region, RotaLine, RotaMonth, Shift, Site, Subspecialty, User


def rota_month(*, ght: Ght, day: datetime.date, published: bool = True) -> RotaMonth:
    month, _ = RotaMonth.objects.get_or_create(
        ght=ght,
        month=day.replace(day=1),
        defaults={"state": RotaMonth.State.PUBLISHED if published else RotaMonth.State.DRAFT},
    )
    return month


def line(
    *,
    sites: list[Site],
    ght: Ght | None = None,
    region: Region | None = None,
    name: str = "Garde de nuit",
    subspecialty: str = "",
    modality_types: str = "",
) -> RotaLine:
    if ght is None and region is None:
        ght = sites[0].ght
    rota_line = RotaLine.objects.create(
        ght=ght,
        region=region,
        name=name,
        subspecialty=Subspecialty.objects.get(code=subspecialty) if subspecialty else None,
        modality_types=modality_types,
    )
    rota_line.sites.set(sites)
    return rota_line


def shift(
    *,
    user: User,
    on: RotaLine,
    start: datetime.datetime,
    end: datetime.datetime,
    published: bool = True,
    ght: Ght | None = None,
) -> Shift:
    """A shift of ``user`` (a radiologist's account) on line ``on``, in the month of ``start``."""
    owner = ght or on.ght or on.sites.first().ght
    month = rota_month(ght=owner, day=start.date(), published=published)
    return Shift.objects.create(rota_month=month, line=on, radiologist=user.radiologist, start=start, end=end)
