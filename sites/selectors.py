"""Who may see what: the one place that scopes organisation data to a user.

Every page, API and image endpoint goes through these functions (or through
worklist.selectors, which builds on ``site_list_for_user``).
"""

import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from sites.models import Credential, Ght, Modality, Radiologist, Role, Site, User


def _today() -> datetime.date:
    return timezone.localdate()


def credential_valid_q(day: datetime.date, prefix: str = "") -> Q:
    """Q for credentials valid on ``day`` (``prefix`` e.g. ``credentials__``)."""
    return Q(**{f"{prefix}active": True, f"{prefix}valid_from__lte": day}) & (
        Q(**{f"{prefix}valid_until__isnull": True}) | Q(**{f"{prefix}valid_until__gte": day})
    )


def site_list_for_user(*, user: User, day: datetime.date | None = None) -> QuerySet[Site]:
    """The sites whose data ``user`` may see.

    - platform administrator: every site;
    - GHT administrator: the sites of their GHT;
    - MERM: the sites they are attached to;
    - radiologist: the sites they hold a valid credential for today.
    """
    if not user.is_authenticated or not user.is_active:
        return Site.objects.none()
    if user.role == Role.PLATFORM_ADMIN:
        return Site.objects.all()
    if user.role == Role.GHT_ADMIN:
        return Site.objects.filter(ght_id=user.ght_id) if user.ght_id else Site.objects.none()
    if user.role == Role.TECHNOLOGIST:
        return Site.objects.filter(technologists__user=user).distinct()
    if user.role == Role.RADIOLOGIST:
        valid = Credential.objects.filter(credential_valid_q(day or _today()), radiologist__user=user).values("site_id")
        return Site.objects.filter(pk__in=valid)
    return Site.objects.none()


def ght_list_for_user(*, user: User) -> QuerySet[Ght]:
    """GHTs visible to ``user``: their own, or those of the sites they see."""
    if not user.is_authenticated or not user.is_active:
        return Ght.objects.none()
    if user.role == Role.PLATFORM_ADMIN:
        return Ght.objects.all()
    site_ghts = site_list_for_user(user=user).values("ght_id")
    return Ght.objects.filter(Q(pk=user.ght_id) | Q(pk__in=site_ghts)).distinct()


def modality_list_for_user(*, user: User) -> QuerySet[Modality]:
    return Modality.objects.filter(site__in=site_list_for_user(user=user)).select_related("site")


def radiologist_list_for_user(*, user: User) -> QuerySet[Radiologist]:
    """Radiologists visible to ``user``.

    Administrators see those of their GHT and those credentialed for its sites;
    other staff see the radiologists credentialed for the sites they see.
    """
    if not user.is_authenticated or not user.is_active:
        return Radiologist.objects.none()
    qs = Radiologist.objects.select_related("user").prefetch_related("subspecialties")
    if user.role == Role.PLATFORM_ADMIN:
        return qs
    sites = site_list_for_user(user=user)
    credentialed = Credential.objects.filter(site__in=sites).values("radiologist_id")
    scope = Q(pk__in=credentialed)
    if user.role == Role.GHT_ADMIN:
        scope |= Q(user__ght_id=user.ght_id)
    return qs.filter(scope).distinct()


def user_list_for_admin(*, user: User) -> QuerySet[User]:
    """Accounts an administrator may see and change: all, or those of their GHT."""
    if user.role == Role.PLATFORM_ADMIN and user.is_active:
        return User.objects.all()
    if user.role == Role.GHT_ADMIN and user.is_active and user.ght_id:
        return User.objects.filter(ght_id=user.ght_id).exclude(role=Role.PLATFORM_ADMIN)
    return User.objects.none()


def radiologist_choices_for_admin(*, user: User) -> QuerySet[Radiologist]:
    """Radiologists an administrator may credential for their sites.

    A GHT pools readers with the other GHTs of its region (subsidiarity), so a
    GHT admin may pick radiologists of their GHT or of a GHT of the same region.
    """
    qs = Radiologist.objects.select_related("user")
    if user.role == Role.PLATFORM_ADMIN:
        return qs
    if user.role != Role.GHT_ADMIN or not user.ght_id:
        return qs.none()
    region_id = user.ght.region_id
    scope = Q(user__ght_id=user.ght_id)
    if region_id:
        scope |= Q(user__ght__region_id=region_id)
    return qs.filter(scope)


def ght_list_for_admin(*, user: User) -> QuerySet[Ght]:
    """GHTs ``user`` administers: every GHT for the platform admin, their own for a GHT admin."""
    if not user.is_authenticated or not user.is_active:
        return Ght.objects.none()
    if user.role == Role.PLATFORM_ADMIN:
        return Ght.objects.all()
    if user.role == Role.GHT_ADMIN and user.ght_id:
        return Ght.objects.filter(pk=user.ght_id)
    return Ght.objects.none()


def site_list_for_admin(*, user: User) -> QuerySet[Site]:
    """Sites ``user`` may configure: those of the GHTs they administer."""
    return Site.objects.filter(ght__in=ght_list_for_admin(user=user))


def modality_list_for_admin(*, user: User) -> QuerySet[Modality]:
    """Modalities ``user`` may configure: those of the sites they administer."""
    return Modality.objects.filter(site__in=site_list_for_admin(user=user)).select_related("site")


def radiologist_list_for_admin(*, user: User) -> QuerySet[Radiologist]:
    """Radiologist profiles ``user`` may change: those attached to a GHT they administer.

    A GHT admin sees the radiologists of other GHTs credentialed for its sites
    (radiologist_list_for_user) but changes only the profiles of its own GHT.
    """
    return (
        Radiologist.objects.filter(user__ght__in=ght_list_for_admin(user=user))
        .select_related("user")
        .prefetch_related("subspecialties")
    )
