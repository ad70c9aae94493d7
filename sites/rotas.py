"""Writes on rotas: lines, monthly rotas, shifts, swaps, unavailability, calendar tokens.

Who may call what is decided before, by the scoped selectors (an admin's
months, a radiologist's own shifts); the rules of the rota itself are checked
here. Every change to a month writes a RotaMonthEvent in the same transaction:
that is the month's history shown in the planner.

Only the shifts of PUBLISHED months count for routing
(worklist reads ``Shift`` with ``rota_month__state="published"``), so a draft
can be regenerated and edited freely.
"""

from __future__ import annotations

import datetime
import secrets
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError, ConflictError
from sites.models import (
    CalendarToken,
    Ght,
    Radiologist,
    RotaLine,
    RotaMonth,
    RotaMonthEvent,
    RotaSlot,
    Shift,
    ShiftSwap,
    Site,
    Subspecialty,
    Unavailability,
    User,
)
from sites.rota import DEFAULT_TEMPLATES, expand_month
from sites.rota_validation import Report
from sites.selectors import (
    line_holidays,
    radiologist_list_eligible_for_line,
    rota_month_report,
    shift_local_date,
    slot_to_pure,
)


class RotaError(ApplicationError):
    """A rota rule refused the change."""


def _event(rota_month: RotaMonth, action: str, by: User | None, **detail: Any) -> RotaMonthEvent:
    actor = by if by is not None and getattr(by, "is_authenticated", False) else None
    return RotaMonthEvent.objects.create(rota_month=rota_month, action=action, actor=actor, detail=detail)


def _first_of_month(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def _issue_keys(report: Report) -> set[tuple]:
    return {(i.code, i.shift, i.radiologist, i.line) for i in report.errors}


# --- Lines --------------------------------------------------------------------


@transaction.atomic
def rota_line_create_defaults(
    *,
    ght: Ght,
    name: str,
    sites: Iterable[Site],
    kind: str = RotaLine.Kind.ON_CALL,
    subspecialty: Subspecialty | None = None,
    modality_types: str = "",
    region: Any = None,
) -> RotaLine:
    """Create a line with the French default slots.

    On-call lines get DEFAULT_TEMPLATES["pds"] (evening 18h–23h30, deep night
    23h30–8h, weekend and holiday days 8h–18h); scheduled lines get
    DEFAULT_TEMPLATES["vacations"] (weekday half-days).
    """
    line = RotaLine(
        ght=ght, region=region, name=name, kind=kind, subspecialty=subspecialty, modality_types=modality_types
    )
    line.full_clean()
    line.save()
    line.sites.set(list(sites))
    template = "pds" if kind == RotaLine.Kind.ON_CALL else "vacations"
    RotaSlot.objects.bulk_create(
        RotaSlot(
            line=line,
            name=label,
            days=",".join(str(d) for d in sorted(days)),
            start_time=start,
            end_time=end,
            holiday_mode=str(mode),
        )
        for label, days, start, end, mode in DEFAULT_TEMPLATES[template]
    )
    return line


# --- Monthly rotas ------------------------------------------------------------


@transaction.atomic
def rota_month_generate(*, ght: Ght, month: datetime.date, by: User | None) -> RotaMonth:
    """Create (or replace) the draft rota of ``ght`` for ``month`` from its lines' templates.

    Every active line of the GHT is expanded over the month's local days in
    the GHT's time zone, with the public holidays of its sites' subdivisions
    (their union when the sites differ). Each shift gets the slot's default
    radiologist, if any. The shifts of an existing draft are replaced.

    Raises:
        RotaError: the month is published (unpublish it first).
    """
    month = _first_of_month(month)
    rota_month, _created = RotaMonth.objects.select_for_update().get_or_create(ght=ght, month=month)
    if rota_month.state == RotaMonth.State.PUBLISHED:
        raise RotaError(_("Ce mois est publié : dépubliez-le avant de le régénérer."))
    replaced, _detail = rota_month.shifts.all().delete()
    lines = list(RotaLine.objects.filter(ght=ght, active=True).prefetch_related("slots", "sites"))
    shifts = []
    for line in lines:
        slots = {slot.pk: slot for slot in line.slots.all()}
        holidays = line_holidays(
            subdivisions={site.holiday_subdivision for site in line.sites.all()},
            years=[month.year],
        )
        for occ in expand_month(
            [slot_to_pure(s) for s in slots.values()], month.year, month.month, ght.timezone, holidays
        ):
            slot = slots[occ.key]
            shifts.append(
                Shift(
                    rota_month=rota_month,
                    line=line,
                    slot=slot,
                    radiologist_id=slot.default_radiologist_id,
                    start=occ.start,
                    end=occ.end,
                )
            )
    Shift.objects.bulk_create(shifts, batch_size=1000)
    _event(rota_month, "generated", by, shifts=len(shifts), lines=len(lines), replaced=replaced)
    return rota_month


def rota_month_next(*, ght: Ght, today: datetime.date | None = None) -> datetime.date:
    """The first day of the month after ``today`` (local date of the GHT by default)."""
    if today is None:
        today = timezone.localdate(timezone=zoneinfo.ZoneInfo(ght.timezone))
    return (_first_of_month(today) + datetime.timedelta(days=32)).replace(day=1)


@transaction.atomic
def rota_month_publish(*, rota_month: RotaMonth, by: User | None) -> RotaMonth:
    """Publish a month: its shifts then count for routing.

    Raises:
        RotaError: the validation found errors (listed in ``extra["errors"]``);
            nothing changes, and the refusal is written to the history.
        ConflictError: the month is already published.
    """
    rota_month = RotaMonth.objects.select_for_update().get(pk=rota_month.pk)
    if rota_month.state == RotaMonth.State.PUBLISHED:
        raise ConflictError(_("Ce mois est déjà publié."))
    report = rota_month_report(rota_month=rota_month)
    if report.errors:
        messages = [issue.message for issue in report.errors]
        raise RotaError(
            _("Publication impossible : %(count)d erreur(s) à corriger.") % {"count": len(messages)},
            extra={"errors": messages},
        )
    rota_month.state = RotaMonth.State.PUBLISHED
    rota_month.published_at = timezone.now()
    rota_month.published_by = by if by is not None and by.is_authenticated else None
    rota_month.save(update_fields=["state", "published_at", "published_by"])
    _event(rota_month, "published", by, warnings=len(report.warnings))
    return rota_month


@transaction.atomic
def rota_month_unpublish(*, rota_month: RotaMonth, by: User | None) -> RotaMonth:
    """Back to draft: the month's shifts stop counting for routing at once.

    Raises:
        ConflictError: the month is not published.
    """
    updated = RotaMonth.objects.filter(pk=rota_month.pk, state=RotaMonth.State.PUBLISHED).update(
        state=RotaMonth.State.DRAFT, published_at=None, published_by=None
    )
    if updated != 1:
        raise ConflictError(_("Ce mois n'est pas publié."))
    rota_month.refresh_from_db()
    _event(rota_month, "unpublished", by)
    return rota_month


# --- Shifts -------------------------------------------------------------------


def radiologist_is_eligible(*, radiologist: Radiologist, shift: Shift) -> bool:
    return (
        radiologist_list_eligible_for_line(line=shift.line, day=shift_local_date(shift))
        .filter(pk=radiologist.pk)
        .exists()
    )


def _refuse_new_errors(before: Report, rota_month: RotaMonth) -> None:
    """Raise if the change made in this transaction added validation errors to a published month."""
    after = rota_month_report(rota_month=rota_month)
    added = _issue_keys(after) - _issue_keys(before)
    if added:
        new = [i.message for i in after.errors if (i.code, i.shift, i.radiologist, i.line) in added]
        raise RotaError(_("Ce changement rendrait le planning publié invalide."), extra={"errors": new})


@transaction.atomic
def shift_assign(*, shift: Shift, radiologist: Radiologist | None, by: User | None) -> Shift:
    """Give ``shift`` to ``radiologist`` (or leave it unfilled with None).

    Only a radiologist with a valid credential for every site of the line on
    the shift's local date (and the line's subspecialty) may be chosen. In a
    published month the change must not add a validation error; in a draft,
    the validation panel shows what remains to fix.

    Raises:
        RotaError: the radiologist is not eligible, or the published month would become invalid.
    """
    shift = Shift.objects.select_for_update().select_related("line", "rota_month__ght").get(pk=shift.pk)
    if radiologist is not None and not radiologist_is_eligible(radiologist=radiologist, shift=shift):
        raise RotaError(_("Ce radiologue n'est pas habilité pour tous les établissements de cette ligne."))
    if shift.radiologist_id == (radiologist.pk if radiologist else None):
        return shift
    published = shift.rota_month.state == RotaMonth.State.PUBLISHED
    before = rota_month_report(rota_month=shift.rota_month) if published else None
    previous = shift.radiologist_id
    shift.radiologist = radiologist
    shift.save(update_fields=["radiologist"])
    if before is not None:
        _refuse_new_errors(before, shift.rota_month)
    _event(
        shift.rota_month,
        "assigned",
        by,
        shift=shift.pk,
        line=shift.line.name,
        start=shift.start.isoformat(),
        previous=previous,
        radiologist=radiologist.pk if radiologist else None,
        radiologist_name=str(radiologist) if radiologist else "",
    )
    return shift


# --- Swaps --------------------------------------------------------------------


@transaction.atomic
def shift_swap_propose(*, shift_from: Shift, shift_to: Shift, by: Radiologist) -> ShiftSwap:
    """``by`` offers their ``shift_from`` against a colleague's ``shift_to``.

    Proposing is the proposer's acceptance; the colleague accepts or refuses.

    Raises:
        RotaError: not the proposer's shift, the same radiologist, past or
            unpublished shifts, or either would not be eligible for the other's line.
    """
    # Fresh rows: the callers' instances may carry a stale month state.
    fresh = Shift.objects.select_related("rota_month", "line", "radiologist__user")
    shift_from, shift_to = fresh.get(pk=shift_from.pk), fresh.get(pk=shift_to.pk)
    if shift_from.radiologist_id != by.pk:
        raise RotaError(_("Vous ne pouvez proposer que vos propres gardes."))
    if shift_to.radiologist_id in (None, by.pk):
        raise RotaError(_("Choisissez la garde d'un collègue."))
    now = timezone.now()
    for shift in (shift_from, shift_to):
        if shift.start <= now or shift.rota_month.state != RotaMonth.State.PUBLISHED:
            raise RotaError(_("Seules les gardes à venir d'un planning publié s'échangent."))
    if not radiologist_is_eligible(radiologist=by, shift=shift_to) or not radiologist_is_eligible(
        radiologist=shift_to.radiologist, shift=shift_from
    ):
        raise RotaError(_("Chacun doit être habilité pour la ligne de l'autre garde."))
    swap = ShiftSwap.objects.create(shift_from=shift_from, shift_to=shift_to, requested_by=by)
    _event(
        shift_from.rota_month, "swap_proposed", by.user, swap=swap.pk, shift_from=shift_from.pk, shift_to=shift_to.pk
    )
    return swap


@transaction.atomic
def shift_swap_accept(*, swap: ShiftSwap, by: Radiologist) -> ShiftSwap:
    """The colleague accepts: the two shifts change hands atomically, then the rota is revalidated.

    Raises:
        RotaError: ``by`` is not the colleague asked, or the exchange would add
            validation errors (credential, overlap, rest, unavailability): nothing changes.
        ConflictError: the swap is no longer open, or a shift changed hands meanwhile.
    """
    swap = ShiftSwap.objects.select_for_update().get(pk=swap.pk)
    shifts = {
        s.pk: s
        for s in Shift.objects.select_for_update()
        .select_related("rota_month__ght", "line")
        .filter(pk__in=[swap.shift_from_id, swap.shift_to_id])
    }
    shift_from, shift_to = shifts[swap.shift_from_id], shifts[swap.shift_to_id]
    if swap.state != ShiftSwap.State.PROPOSED:
        raise ConflictError(_("Cet échange n'est plus en attente."))
    if shift_to.radiologist_id != by.pk:
        raise RotaError(_("Seul le collègue sollicité peut accepter cet échange."))
    if shift_from.radiologist_id != swap.requested_by_id:
        raise ConflictError(_("La garde proposée a changé de main entre-temps."))
    months = {shift_from.rota_month_id: shift_from.rota_month, shift_to.rota_month_id: shift_to.rota_month}
    before = {pk: rota_month_report(rota_month=m) for pk, m in months.items()}
    shift_from.radiologist_id, shift_to.radiologist_id = shift_to.radiologist_id, shift_from.radiologist_id
    shift_from.save(update_fields=["radiologist"])
    shift_to.save(update_fields=["radiologist"])
    for pk, rota_month in months.items():
        _refuse_new_errors(before[pk], rota_month)
    swap.state = ShiftSwap.State.ACCEPTED
    swap.decided_at = timezone.now()
    swap.save(update_fields=["state", "decided_at"])
    for rota_month in months.values():
        _event(rota_month, "swapped", by.user, swap=swap.pk, shift_from=shift_from.pk, shift_to=shift_to.pk)
    return swap


@transaction.atomic
def shift_swap_refuse(*, swap: ShiftSwap, by: Radiologist) -> ShiftSwap:
    """The colleague refuses (REFUSED) or the proposer withdraws (CANCELLED).

    Raises:
        RotaError: ``by`` is neither party. ConflictError: the swap is no longer open.
    """
    swap = ShiftSwap.objects.select_for_update().select_related("shift_from__rota_month", "shift_to").get(pk=swap.pk)
    if swap.state != ShiftSwap.State.PROPOSED:
        raise ConflictError(_("Cet échange n'est plus en attente."))
    if by.pk == swap.requested_by_id:
        swap.state = ShiftSwap.State.CANCELLED
    elif by.pk == swap.shift_to.radiologist_id:
        swap.state = ShiftSwap.State.REFUSED
    else:
        raise RotaError(_("Vous n'êtes pas concerné par cet échange."))
    swap.decided_at = timezone.now()
    swap.save(update_fields=["state", "decided_at"])
    _event(swap.shift_from.rota_month, f"swap_{swap.state}", by.user, swap=swap.pk)
    return swap


# --- Unavailability -----------------------------------------------------------


def _months_with_shifts(radiologist: Radiologist, start: datetime.datetime, end: datetime.datetime) -> list[RotaMonth]:
    return list(
        RotaMonth.objects.filter(
            shifts__radiologist=radiologist, shifts__start__lt=end, shifts__end__gt=start
        ).distinct()
    )


@transaction.atomic
def unavailability_declare(
    *, radiologist: Radiologist, start: datetime.datetime, end: datetime.datetime, reason: str = ""
) -> Unavailability:
    """Declare a period without shifts; the months where the radiologist has shifts then show it.

    Raises:
        RotaError: the end is not after the start.
    """
    if end <= start:
        raise RotaError(_("La fin de l'indisponibilité doit suivre son début."))
    unavailability = Unavailability.objects.create(radiologist=radiologist, start=start, end=end, reason=reason)
    for rota_month in _months_with_shifts(radiologist, start, end):
        _event(
            rota_month,
            "unavailability_declared",
            radiologist.user,
            radiologist_name=str(radiologist),
            start=start.isoformat(),
            end=end.isoformat(),
        )
    return unavailability


@transaction.atomic
def unavailability_delete(*, unavailability: Unavailability, by: User | None) -> None:
    """Withdraw a declared unavailability."""
    radiologist = unavailability.radiologist
    for rota_month in _months_with_shifts(radiologist, unavailability.start, unavailability.end):
        _event(
            rota_month,
            "unavailability_deleted",
            by,
            radiologist_name=str(radiologist),
            start=unavailability.start.isoformat(),
        )
    unavailability.delete()


# --- iCalendar tokens ---------------------------------------------------------


@transaction.atomic
def calendar_token_create(*, user: User) -> CalendarToken:
    """A new secret for the user's iCalendar feed; the previous URL stops working."""
    CalendarToken.objects.filter(user=user).delete()
    return CalendarToken.objects.create(user=user, token=secrets.token_urlsafe(32))


def calendar_token_revoke(*, user: User) -> None:
    """The feed URL stops working (404) until a new one is created."""
    CalendarToken.objects.filter(user=user).delete()
