"""Who may see what: the one place that scopes organisation data to a user.

Every page, API and image endpoint goes through these functions (or through
worklist.selectors, which builds on ``site_list_for_user``).
"""

import datetime
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from sites.models import (
    CalendarToken,
    Credential,
    Ght,
    Modality,
    Radiologist,
    Role,
    RotaLine,
    RotaMonth,
    RotaMonthEvent,
    RotaSlot,
    Shift,
    ShiftSwap,
    Site,
    Unavailability,
    User,
)
from sites.rota import HolidayMode, Slot, expand_month, french_holidays, month_days
from sites.rota_validation import (
    CredentialInfo,
    LineInfo,
    Period,
    Report,
    ShiftInfo,
    shift_counts,
    validate,
)


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


# --- Rotas --------------------------------------------------------------------


def month_bounds(*, month: datetime.date, tz_name: str) -> tuple[datetime.datetime, datetime.datetime]:
    """The UTC instants of local midnight on the first day of ``month`` and of the next month."""
    tz = zoneinfo.ZoneInfo(tz_name)
    first = month.replace(day=1)
    following = (first + datetime.timedelta(days=32)).replace(day=1)
    return (
        datetime.datetime.combine(first, datetime.time(0), tzinfo=tz).astimezone(datetime.UTC),
        datetime.datetime.combine(following, datetime.time(0), tzinfo=tz).astimezone(datetime.UTC),
    )


def line_holidays(*, subdivisions: set[str], years: list[int]) -> frozenset[datetime.date]:
    """The union of the French public holidays of the line's sites' subdivisions."""
    days: set[datetime.date] = set()
    for subdivision in subdivisions or {""}:
        days |= french_holidays(years, subdivision or None)
    return frozenset(days)


def rota_month_list_for_admin(*, user: User) -> QuerySet[RotaMonth]:
    """Monthly rotas of the GHTs ``user`` administers, latest first."""
    return RotaMonth.objects.filter(ght__in=ght_list_for_admin(user=user)).select_related("ght", "published_by")


def rota_month_get_for_admin(*, user: User, rota_month_id: int) -> RotaMonth:
    """One monthly rota of a GHT ``user`` administers; 404 otherwise (its existence does not leak)."""
    return get_object_or_404(rota_month_list_for_admin(user=user), pk=rota_month_id)


def shift_get_for_admin(*, user: User, shift_id: int) -> Shift:
    """One shift of a monthly rota of a GHT ``user`` administers; 404 otherwise."""
    queryset = Shift.objects.filter(rota_month__ght__in=ght_list_for_admin(user=user)).select_related(
        "line__ght", "rota_month__ght", "radiologist__user"
    )
    return get_object_or_404(queryset, pk=shift_id)


def radiologist_list_eligible_for_line(*, line: RotaLine, day: datetime.date) -> QuerySet[Radiologist]:
    """Radiologists who may hold a shift of ``line`` on ``day``.

    A valid credential on that local date for *every* site of the line, and the
    line's subspecialty if it has one. A line without sites has nobody.
    """
    site_ids = [site.pk for site in line.sites.all()]
    qs = Radiologist.objects.filter(user__is_active=True).select_related("user")
    if not site_ids:
        return qs.none()
    for site_id in site_ids:
        valid = Credential.objects.filter(credential_valid_q(day), site_id=site_id).values("radiologist_id")
        qs = qs.filter(pk__in=valid)
    if line.subspecialty_id:
        qs = qs.filter(subspecialties=line.subspecialty_id)
    return qs.order_by("user__last_name", "user__first_name")


def shift_local_date(shift: Shift) -> datetime.date:
    return shift.start.astimezone(zoneinfo.ZoneInfo(shift.rota_month.ght.timezone)).date()


@dataclass
class GridCell:
    day: datetime.date
    shifts: list[Shift]


@dataclass
class GridRow:
    line: RotaLine
    cells: list[GridCell]


@dataclass
class RotaGrid:
    days: list[datetime.date]
    rows: list[GridRow]


def rota_month_grid(*, rota_month: RotaMonth) -> RotaGrid:
    """Rows = lines, columns = local days, cells = the shifts starting that day (two queries)."""
    tz = zoneinfo.ZoneInfo(rota_month.ght.timezone)
    days = month_days(rota_month.month.year, rota_month.month.month)
    shifts = list(
        rota_month.shifts.select_related("line", "radiologist__user").order_by("line__name", "line_id", "start")
    )
    rows: dict[int, GridRow] = {}
    index: dict[tuple[int, datetime.date], GridCell] = {}
    for shift in shifts:
        if shift.line_id not in rows:
            cells = [GridCell(day, []) for day in days]
            rows[shift.line_id] = GridRow(shift.line, cells)
            index.update({(shift.line_id, cell.day): cell for cell in cells})
        shift.local_start = shift.start.astimezone(tz)
        shift.local_end = shift.end.astimezone(tz)
        cell = index.get((shift.line_id, shift.local_start.date()))
        if cell is not None:
            cell.shifts.append(shift)
    return RotaGrid(days=days, rows=list(rows.values()))


def _line_infos(
    lines: Iterable[RotaLine], *, month: datetime.date | None = None, years: list[int]
) -> dict[int, LineInfo]:
    """LineInfo of each line (three queries whatever the number of lines).

    With ``month``, the template occurrences of that month are the line's
    ``expected`` coverage (for the gap check).
    """
    lines = list(lines)
    through = RotaLine.sites.through.objects.filter(rotaline_id__in=[line.pk for line in lines]).values(
        "rotaline_id", "site_id", "site__name", "site__holiday_subdivision"
    )
    sites: dict[int, dict[int, str]] = defaultdict(dict)
    subdivisions: dict[int, set[str]] = defaultdict(set)
    for row in through:
        sites[row["rotaline_id"]][row["site_id"]] = row["site__name"]
        subdivisions[row["rotaline_id"]].add(row["site__holiday_subdivision"])
    slots: dict[int, list[RotaSlot]] = defaultdict(list)
    if month is not None:
        for slot in RotaSlot.objects.filter(line__in=[line.pk for line in lines]):
            slots[slot.line_id].append(slot)
    infos = {}
    holiday_cache: dict[frozenset[str], frozenset[datetime.date]] = {}
    for line in lines:
        tz_name = line.ght.timezone if line.ght_id else "Europe/Paris"
        key = frozenset(subdivisions[line.pk])
        if key not in holiday_cache:
            holiday_cache[key] = line_holidays(subdivisions=set(key), years=years)
        expected: tuple = ()
        if month is not None and line.active:
            occurrences = expand_month(
                [slot_to_pure(slot) for slot in slots[line.pk]], month.year, month.month, tz_name, holiday_cache[key]
            )
            expected = tuple((o.start, o.end) for o in occurrences)
        infos[line.pk] = LineInfo(
            key=line.pk,
            name=line.name,
            tz_name=tz_name,
            site_keys=frozenset(sites[line.pk]),
            site_names=sites[line.pk],
            subspecialty=line.subspecialty_id,
            holidays=holiday_cache[key],
            expected=expected,
        )
    return infos


def slot_to_pure(slot: RotaSlot) -> Slot:
    return Slot(
        key=slot.pk,
        days=slot.day_set,
        start=slot.start_time,
        end=slot.end_time,
        holiday_mode=HolidayMode(slot.holiday_mode),
    )


def _shift_info(shift: Shift) -> ShiftInfo:
    return ShiftInfo(
        key=shift.pk, line=shift.line_id, radiologist=shift.radiologist_id, start=shift.start, end=shift.end
    )


def rota_month_report(*, rota_month: RotaMonth, rest_hours: float | None = None) -> Report:
    """Validate a monthly rota (sites.rota_validation) with everything it needs from the database.

    Context: the shifts of the same radiologists in other months (the days
    around, other GHTs) for overlaps and rest; the published months of the
    same year before this one for the fairness counters. A fixed number of
    queries, whatever the size of the month.
    """
    if rest_hours is None:
        rest_hours = settings.ROTA_REST_HOURS
    month = rota_month.month
    first, last = month_bounds(month=month, tz_name=rota_month.ght.timezone)
    margin = datetime.timedelta(days=2)
    shifts = list(rota_month.shifts.all())
    radiologist_ids = {s.radiologist_id for s in shifts if s.radiologist_id}
    context = list(
        Shift.objects.filter(radiologist_id__in=radiologist_ids, start__lt=last + margin, end__gt=first - margin)
        .exclude(rota_month=rota_month)
        .select_related("line__ght")
    )
    year_start, _ = month_bounds(month=month.replace(month=1), tz_name=rota_month.ght.timezone)
    previous = list(
        Shift.objects.filter(
            rota_month__ght=rota_month.ght,
            rota_month__state=RotaMonth.State.PUBLISHED,
            rota_month__month__lt=month,
            start__gte=year_start,
            radiologist__isnull=False,
        ).select_related("line__ght")
    )
    line_ids = {s.line_id for s in shifts}
    own_lines = RotaLine.objects.filter(Q(pk__in=line_ids) | Q(ght=rota_month.ght, active=True)).select_related("ght")
    years = [month.year - 1, month.year, month.year + 1]
    lines = _line_infos(own_lines, month=month, years=years)
    other_lines = {s.line for s in [*context, *previous] if s.line_id not in lines}
    lines.update(_line_infos(other_lines, years=years))
    previous_counts = shift_counts([_shift_info(s) for s in previous], lines)

    credentials = [
        CredentialInfo(c.radiologist_id, c.site_id, c.valid_from, c.valid_until)
        for c in Credential.objects.filter(radiologist_id__in=radiologist_ids, active=True)
    ]
    subspecialties: dict[int, set[int]] = defaultdict(set)
    for row in Radiologist.subspecialties.through.objects.filter(radiologist_id__in=radiologist_ids).values(
        "radiologist_id", "subspecialty_id"
    ):
        subspecialties[row["radiologist_id"]].add(row["subspecialty_id"])
    unavailabilities = [
        Period(u.radiologist_id, u.start, u.end)
        for u in Unavailability.objects.filter(radiologist_id__in=radiologist_ids, start__lt=last, end__gt=first)
    ]
    people = radiologist_ids | set(previous_counts)
    names = {r.pk: str(r) for r in Radiologist.objects.filter(pk__in=people).select_related("user")}
    return validate(
        shifts=[_shift_info(s) for s in shifts],
        lines=lines,
        credentials=credentials,
        subspecialties={k: frozenset(v) for k, v in subspecialties.items()},
        unavailabilities=unavailabilities,
        context=[_shift_info(s) for s in context],
        previous_counts=previous_counts,
        names=names,
        rest_hours=rest_hours,
    )


def rota_month_events(*, rota_month: RotaMonth) -> QuerySet[RotaMonthEvent]:
    return rota_month.events.select_related("actor").order_by("-at", "-id")


def _published_shifts() -> QuerySet[Shift]:
    return Shift.objects.filter(rota_month__state=RotaMonth.State.PUBLISHED).select_related(
        "line", "rota_month__ght", "radiologist__user"
    )


def shift_list_for_radiologist(
    *, user: User, start: datetime.datetime | None = None, end: datetime.datetime | None = None
) -> QuerySet[Shift]:
    """The user's own shifts of published rotas, ending after ``start`` and starting before ``end``."""
    qs = _published_shifts().filter(radiologist__user=user)
    if start is not None:
        qs = qs.filter(end__gt=start)
    if end is not None:
        qs = qs.filter(start__lt=end)
    return qs.order_by("start")


def shift_list_for_swap(*, user: User, start: datetime.datetime, end: datetime.datetime) -> list[Shift]:
    """Colleagues' published shifts the user could take: lines they are eligible for, in the period."""
    radiologist = getattr(user, "radiologist", None)
    if radiologist is None:
        return []
    shifts = list(
        _published_shifts()
        .filter(start__gte=start, start__lt=end, radiologist__isnull=False)
        .exclude(radiologist=radiologist)
        .order_by("start")
    )
    eligible_lines: dict[tuple[int, datetime.date], bool] = {}
    result = []
    for shift in shifts:
        key = (shift.line_id, shift_local_date(shift))
        if key not in eligible_lines:
            eligible_lines[key] = (
                radiologist_list_eligible_for_line(line=shift.line, day=key[1]).filter(pk=radiologist.pk).exists()
            )
        if eligible_lines[key]:
            result.append(shift)
    return result


def shift_swap_list_for_radiologist(*, user: User) -> QuerySet[ShiftSwap]:
    """Swaps the user proposed or is asked to accept."""
    return (
        ShiftSwap.objects.filter(Q(requested_by__user=user) | Q(shift_to__radiologist__user=user))
        .select_related(
            "requested_by__user",
            "shift_from__line",
            "shift_to__line",
            "shift_from__radiologist__user",
            "shift_to__radiologist__user",
        )
        .order_by("-created_at")
    )


def shift_swap_get_for_radiologist(*, user: User, swap_id: int) -> ShiftSwap:
    """A swap the user is party to (proposer, or holder of the shift asked for); 404 otherwise."""
    qs = ShiftSwap.objects.filter(
        Q(requested_by__user=user) | Q(shift_to__radiologist__user=user) | Q(shift_from__radiologist__user=user)
    ).select_related("shift_from__radiologist__user", "shift_to__radiologist__user", "requested_by__user")
    return get_object_or_404(qs.distinct(), pk=swap_id)


def unavailability_list_for_radiologist(*, user: User) -> QuerySet[Unavailability]:
    return Unavailability.objects.filter(radiologist__user=user).order_by("start")


def unavailability_get_for_radiologist(*, user: User, unavailability_id: int) -> Unavailability:
    return get_object_or_404(unavailability_list_for_radiologist(user=user), pk=unavailability_id)


def calendar_token_get(*, token: str) -> CalendarToken:
    """The active iCalendar token ``token``; 404 for an unknown or revoked one."""
    if not token:
        raise Http404
    return get_object_or_404(CalendarToken.objects.select_related("user").filter(user__is_active=True), token=token)


def technologist_users_for_site(*, site_id: int) -> list[User]:
    """The active MERMs attached to a site: who is told of what concerns it (its duty desk)."""
    return list(User.objects.filter(technologist__sites=site_id, is_active=True))


def user_is_technologist_of(*, user: User, site_id: int) -> bool:
    """True if ``user`` is a MERM attached to the site (who acts for the site on its exams and requests)."""
    return user.role == Role.TECHNOLOGIST and user.technologist.sites.filter(pk=site_id).exists()
