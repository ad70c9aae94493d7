"""Rota templates and their expansion into shifts (pure: no Django import).

A template is a weekly pattern of slots in the GHT's local time, e.g. "evening
PDS 18:00–23:30 Monday to Friday" or "deep night 23:30–08:00 every night". A
slot whose end is not after its start ends the next day. Public holidays are
handled as Sundays unless the slot says otherwise.

Expansion works on local dates and converts each start and end with zoneinfo,
so a night across a DST change lasts one hour more or less, as on the ward
clock: 23:30–08:00 is 8.5 h on the clock but 7.5 h or 9.5 h of real time.
"""

from __future__ import annotations

import calendar
import datetime
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

UTC = datetime.UTC
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)
WEEKDAYS = frozenset(range(5))
WEEKEND = frozenset({SATURDAY, SUNDAY})
EVERY_DAY = frozenset(range(7))


class HolidayMode(StrEnum):
    AS_SUNDAY = "as_sunday"  # a public holiday follows the Sunday pattern (French default)
    AS_USUAL = "as_usual"  # holidays change nothing for this slot
    SKIP = "skip"  # never on a public holiday


@dataclass(frozen=True)
class Slot:
    """One recurring duty of a template, in local time."""

    key: object  # the caller's identifier (e.g. a TemplateSlot pk)
    days: frozenset[int]  # 0 = Monday … 6 = Sunday
    start: datetime.time
    end: datetime.time  # not after start: ends the next day
    holiday_mode: HolidayMode = HolidayMode.AS_SUNDAY

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def occurs_on(self, day: datetime.date, holidays: frozenset[datetime.date] | set[datetime.date]) -> bool:
        is_holiday = day in holidays
        if is_holiday and self.holiday_mode == HolidayMode.SKIP:
            return False
        weekday = SUNDAY if is_holiday and self.holiday_mode == HolidayMode.AS_SUNDAY else day.weekday()
        return weekday in self.days


@dataclass(frozen=True)
class Occurrence:
    """One expanded slot: a shift to cover, in UTC."""

    key: object
    local_date: datetime.date  # the local day it starts on
    start: datetime.datetime  # aware, UTC
    end: datetime.datetime  # aware, UTC

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def local_to_utc(day: datetime.date, at: datetime.time, tz: zoneinfo.ZoneInfo) -> datetime.datetime:
    """A local wall-clock time as UTC.

    A time in the spring-forward gap (which no French slot uses) is read with
    fold=0, i.e. as the instant the clock jumps over; an ambiguous autumn time
    is the first of its two instants (fold=0), consistently for start and end.
    """
    return datetime.datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def month_days(year: int, month: int) -> list[datetime.date]:
    last = calendar.monthrange(year, month)[1]
    return [datetime.date(year, month, d) for d in range(1, last + 1)]


def expand(
    slots: Iterable[Slot],
    days: Iterable[datetime.date],
    tz_name: str,
    holidays: Iterable[datetime.date] = (),
) -> Iterator[Occurrence]:
    """Every occurrence of ``slots`` starting on one of ``days`` (local dates), in UTC."""
    tz = zoneinfo.ZoneInfo(tz_name)
    holiday_set = frozenset(holidays)
    slots = list(slots)
    for day in days:
        for slot in slots:
            if not slot.occurs_on(day, holiday_set):
                continue
            end_day = day + datetime.timedelta(days=1) if slot.overnight else day
            yield Occurrence(
                key=slot.key,
                local_date=day,
                start=local_to_utc(day, slot.start, tz),
                end=local_to_utc(end_day, slot.end, tz),
            )


def expand_month(
    slots: Iterable[Slot], year: int, month: int, tz_name: str, holidays: Iterable[datetime.date] = ()
) -> list[Occurrence]:
    return sorted(expand(slots, month_days(year, month), tz_name, holidays), key=lambda o: (o.start, str(o.key)))


def french_holidays(years: Iterable[int], subdivision: str | None = None) -> frozenset[datetime.date]:
    """French public holidays, with a subdivision's extra days ('57', '6AE', '971'…'976')."""
    import holidays as holidays_lib  # local import: the module stays importable without it

    return frozenset(holidays_lib.France(years=list(years), subdiv=subdivision or None).keys())


# The French defaults, ready to use (times in the GHT's local time).
T = datetime.time
DEFAULT_TEMPLATES: dict[str, list[tuple[str, frozenset[int], datetime.time, datetime.time, HolidayMode]]] = {
    # Permanence des soins: evenings, deep nights, weekend and holiday days.
    "pds": [
        ("Soirée PDS 18h–23h30", EVERY_DAY, T(18, 0), T(23, 30), HolidayMode.AS_SUNDAY),
        ("Nuit profonde 23h30–8h", EVERY_DAY, T(23, 30), T(8, 0), HolidayMode.AS_SUNDAY),
        ("Journée week-end et fériés 8h–18h", WEEKEND, T(8, 0), T(18, 0), HolidayMode.AS_SUNDAY),
    ],
    # Vacations programmées: weekday half-days.
    "vacations": [
        ("Vacation matin 8h–13h", WEEKDAYS, T(8, 0), T(13, 0), HolidayMode.AS_SUNDAY),
        ("Vacation après-midi 13h–18h", WEEKDAYS, T(13, 0), T(18, 0), HolidayMode.AS_SUNDAY),
    ],
}
