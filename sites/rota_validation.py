"""Checks of a month's rota before it is published (pure: no Django import).

The caller (sites.selectors) turns rows into the plain structures below; this
module says what is wrong with them:

Errors (block publishing)
    ``unassigned``      a shift has no radiologist ("à pourvoir");
    ``gap``             a template occurrence of a line has no shift covering it;
    ``overlap``         one radiologist holds two shifts at the same time;
    ``credential``      the radiologist lacks a valid credential for one of the
                        line's sites on the shift's local date;
    ``subspecialty``    the line takes one subspecialty and the radiologist lacks it;
    ``unavailable``     the shift falls in a period the radiologist declared;
    ``rest``            a shift starts less than ``rest_hours`` after the end of a
                        night of the same radiologist.
Warnings (shown, do not block)
    ``fairness``        over the year, a radiologist has more than the mean + 50 %
                        of nights, weekend days or holidays.

A *night* is a shift covering 00:00–06:00 local time of its line's GHT. Shifts
of other months (the days around this one, other GHTs) may be given as
``context``: they count for overlaps and rest, but only issues involving a
shift of the month are reported.

Messages are French; ``template`` and ``params`` let the interface translate
them (the templates are marked for extraction with ``gettext_noop``).
"""

from __future__ import annotations

import bisect
import datetime
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

NIGHT_CORE = (datetime.time(0, 0), datetime.time(6, 0))
DEFAULT_REST_HOURS = 11
FAIRNESS_MARGIN = 0.5  # warn above the mean + 50 %


def gettext_noop(message: str) -> str:
    """Marks a message for the translation catalogue (xgettext keyword) and returns it."""
    return message


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"


MESSAGES: dict[str, str] = {
    "unassigned": gettext_noop("%(line)s, %(when)s : garde à pourvoir."),
    "gap": gettext_noop("%(line)s, %(when)s : aucune garde ne couvre ce créneau du modèle."),
    "overlap": gettext_noop("%(radiologist)s est de garde deux fois en même temps : %(line)s et %(other)s, %(when)s."),
    "credential": gettext_noop("%(radiologist)s n'a pas d'habilitation valide pour %(site)s le %(day)s (%(line)s)."),
    "subspecialty": gettext_noop("%(radiologist)s n'a pas la surspécialité de la ligne %(line)s (%(when)s)."),
    "unavailable": gettext_noop("%(radiologist)s s'est déclaré indisponible pendant %(line)s, %(when)s."),
    "rest": gettext_noop(
        "%(radiologist)s reprend %(line)s %(when)s, moins de %(hours)s h après la fin de sa nuit (%(night_end)s)."
    ),
    "fairness": gettext_noop(
        "%(radiologist)s : %(count)s %(what)s sur l'année, pour une moyenne de %(mean)s (plus de 50 %% au-dessus)."
    ),
}
FAIRNESS_WHAT = {
    "nights": gettext_noop("nuits"),
    "weekend_days": gettext_noop("jours de week-end"),
    "holidays": gettext_noop("jours fériés"),
}


@dataclass(frozen=True)
class LineInfo:
    key: Hashable
    name: str
    tz_name: str
    site_keys: frozenset[Hashable]
    site_names: Mapping[Hashable, str] = field(default_factory=dict)
    subspecialty: Hashable | None = None
    holidays: frozenset[datetime.date] = frozenset()
    # Template occurrences (start, end) in UTC that must be covered this month.
    expected: tuple[tuple[datetime.datetime, datetime.datetime], ...] = ()


@dataclass(frozen=True)
class ShiftInfo:
    key: Hashable
    line: Hashable
    radiologist: Hashable | None
    start: datetime.datetime  # aware
    end: datetime.datetime  # aware


@dataclass(frozen=True)
class CredentialInfo:
    radiologist: Hashable
    site: Hashable
    valid_from: datetime.date
    valid_until: datetime.date | None = None

    def valid_on(self, day: datetime.date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True)
class Period:
    radiologist: Hashable
    start: datetime.datetime
    end: datetime.datetime


@dataclass(frozen=True)
class Issue:
    level: Level
    code: str
    params: Mapping[str, object]
    line: Hashable | None = None
    shift: Hashable | None = None
    radiologist: Hashable | None = None

    @property
    def template(self) -> str:
        return MESSAGES[self.code]

    @property
    def message(self) -> str:
        return self.template % self.params


@dataclass
class Counts:
    nights: int = 0
    weekend_days: int = 0
    holidays: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.nights + other.nights, self.weekend_days + other.weekend_days, self.holidays + other.holidays
        )


@dataclass
class Report:
    issues: list[Issue]
    counts: dict[Hashable, Counts]  # per radiologist, over the year including this month

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == Level.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == Level.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


def _local(moment: datetime.datetime, tz_name: str) -> datetime.datetime:
    return moment.astimezone(zoneinfo.ZoneInfo(tz_name))


def fmt_when(start: datetime.datetime, end: datetime.datetime, tz_name: str) -> str:
    """'mar. 03/03 18:00–23:30' style, in the line's local time (French, no locale needed)."""
    days = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
    a, b = _local(start, tz_name), _local(end, tz_name)
    return f"{days[a.weekday()]} {a:%d/%m %H:%M}–{b:%H:%M}"


def is_night(start: datetime.datetime, end: datetime.datetime, tz_name: str) -> bool:
    """True when the shift covers 00:00–06:00 local time of some day."""
    tz = zoneinfo.ZoneInfo(tz_name)
    day = _local(start, tz_name).date()
    last = _local(end, tz_name).date()
    while day <= last:
        core_start = datetime.datetime.combine(day, NIGHT_CORE[0], tzinfo=tz)
        core_end = datetime.datetime.combine(day, NIGHT_CORE[1], tzinfo=tz)
        if start <= core_start and core_end <= end:
            return True
        day += datetime.timedelta(days=1)
    return False


def shift_counts(shifts: Iterable[ShiftInfo], lines: Mapping[Hashable, LineInfo]) -> dict[Hashable, Counts]:
    """Nights, weekend days and holidays (distinct local dates) per radiologist."""
    nights: Counter = Counter()
    weekend_days: dict[Hashable, set[datetime.date]] = defaultdict(set)
    holiday_days: dict[Hashable, set[datetime.date]] = defaultdict(set)
    for s in shifts:
        if s.radiologist is None:
            continue
        line = lines[s.line]
        if is_night(s.start, s.end, line.tz_name):
            nights[s.radiologist] += 1
        day = _local(s.start, line.tz_name).date()
        if day.weekday() >= 5:
            weekend_days[s.radiologist].add(day)
        if day in line.holidays:
            holiday_days[s.radiologist].add(day)
    people = set(nights) | set(weekend_days) | set(holiday_days)
    return {r: Counts(nights[r], len(weekend_days[r]), len(holiday_days[r])) for r in people}


def _covered(interval: tuple[datetime.datetime, datetime.datetime], spans: list[tuple]) -> bool:
    """Whether the union of ``spans`` (sorted by start) covers ``interval``."""
    start, end = interval
    reached = start
    for s_start, s_end in spans:
        if s_start > reached:
            break
        reached = max(reached, s_end)
        if reached >= end:
            return True
    return reached >= end


def validate(
    *,
    shifts: Iterable[ShiftInfo],
    lines: Mapping[Hashable, LineInfo],
    credentials: Iterable[CredentialInfo] = (),
    subspecialties: Mapping[Hashable, frozenset[Hashable]] | None = None,
    unavailabilities: Iterable[Period] = (),
    context: Iterable[ShiftInfo] = (),
    previous_counts: Mapping[Hashable, Counts] | None = None,
    names: Mapping[Hashable, str] | None = None,
    rest_hours: float = DEFAULT_REST_HOURS,
) -> Report:
    """Every issue of a month's rota.

    Args:
        shifts: the month's shifts.
        lines: every line the shifts (and context shifts) refer to; ``expected``
            is read for the lines to check for gaps.
        credentials: the radiologists' valid-flagged credentials (dates checked here).
        subspecialties: radiologist -> subspecialty keys (for lines limited to one).
        unavailabilities: periods declared by radiologists.
        context: shifts outside the month that count for overlaps and rest.
        previous_counts: fairness counters of the year before this month.
        names: radiologist -> display name for messages.
        rest_hours: minimum rest after a night.

    Returns:
        A Report: the issues (errors first, then warnings, each in time order)
        and the year's counters per radiologist.
    """
    shifts = sorted(shifts, key=lambda s: (s.start, s.end))
    context = list(context)
    names = names or {}
    subspecialties = subspecialties or {}
    own = {s.key for s in shifts}
    errors: list[tuple[datetime.datetime, Issue]] = []

    def name(radiologist: Hashable) -> str:
        return names.get(radiologist, str(radiologist))

    def when(s: ShiftInfo) -> str:
        return fmt_when(s.start, s.end, lines[s.line].tz_name)

    def error(s: ShiftInfo, code: str, **params: object) -> None:
        params = {"line": lines[s.line].name, "when": when(s), **params}
        if s.radiologist is not None:
            params.setdefault("radiologist", name(s.radiologist))
        issue = Issue(Level.ERROR, code, params, line=s.line, shift=s.key, radiologist=s.radiologist)
        errors.append((s.start, issue))

    # Unassigned shifts and gaps against each line's template.
    by_line: dict[Hashable, list[tuple]] = defaultdict(list)
    for s in shifts:
        by_line[s.line].append((s.start, s.end))
        if s.radiologist is None:
            error(s, "unassigned")
    for key, line in lines.items():
        spans = by_line.get(key, [])
        for start, end in line.expected:
            if not _covered((start, end), spans):
                params = {"line": line.name, "when": fmt_when(start, end, line.tz_name)}
                errors.append((start, Issue(Level.ERROR, "gap", params, line=key)))

    # Credentials, subspecialty, unavailability: per assigned shift.
    creds: dict[Hashable, dict[Hashable, list[CredentialInfo]]] = defaultdict(lambda: defaultdict(list))
    for c in credentials:
        creds[c.radiologist][c.site].append(c)
    away: dict[Hashable, list[Period]] = defaultdict(list)
    for p in unavailabilities:
        away[p.radiologist].append(p)
    for s in shifts:
        if s.radiologist is None:
            continue
        line = lines[s.line]
        day = _local(s.start, line.tz_name).date()
        for site in sorted(line.site_keys, key=str):
            if not any(c.valid_on(day) for c in creds[s.radiologist].get(site, ())):
                error(s, "credential", site=line.site_names.get(site, str(site)), day=f"{day:%d/%m/%Y}")
        if line.subspecialty is not None and line.subspecialty not in subspecialties.get(s.radiologist, ()):
            error(s, "subspecialty")
        if any(p.start < s.end and s.start < p.end for p in away[s.radiologist]):
            error(s, "unavailable")

    # Overlaps and rest: per radiologist, in time order, context included.
    timeline: dict[Hashable, list[ShiftInfo]] = defaultdict(list)
    for s in [*shifts, *context]:
        if s.radiologist is not None:
            timeline[s.radiologist].append(s)
    rest = datetime.timedelta(hours=rest_hours)
    for items in timeline.values():
        items.sort(key=lambda s: (s.start, s.end))
        for i, s in enumerate(items):
            for t in items[i + 1 :]:
                if t.start >= s.end:
                    break
                if s.key in own or t.key in own:
                    shown = t if t.key in own else s
                    other = s if shown is t else t
                    error(shown, "overlap", other=lines[other.line].name)
        starts = [s.start for s in items]
        for night in items:
            if not is_night(night.start, night.end, lines[night.line].tz_name):
                continue
            for t in items[bisect.bisect_left(starts, night.end) :]:
                if t.start >= night.end + rest:
                    break
                if t.key in own or night.key in own:
                    night_end = _local(night.end, lines[night.line].tz_name)
                    error(t, "rest", hours=f"{rest_hours:g}", night_end=f"{night_end:%d/%m %H:%M}")

    # Fairness over the year: this month plus the months before.
    month_counts = shift_counts(shifts, lines)
    counts: dict[Hashable, Counts] = {}
    for radiologist in set(month_counts) | set(previous_counts or {}):
        counts[radiologist] = (previous_counts or {}).get(radiologist, Counts()) + month_counts.get(
            radiologist, Counts()
        )
    warnings: list[Issue] = []
    for what in ("nights", "weekend_days", "holidays"):
        values = {r: getattr(c, what) for r, c in counts.items()}
        if not values:
            continue
        mean = sum(values.values()) / len(values)
        for radiologist in sorted(values, key=lambda r: name(r)):
            count = values[radiologist]
            if mean > 0 and count > mean * (1 + FAIRNESS_MARGIN):
                params = {
                    "radiologist": name(radiologist),
                    "count": count,
                    "what": FAIRNESS_WHAT[what],
                    "mean": f"{mean:.1f}".replace(".", ","),
                }
                warnings.append(Issue(Level.WARNING, "fairness", params, radiologist=radiologist))

    errors.sort(key=lambda pair: pair[0])
    return Report(issues=[issue for _, issue in errors] + warnings, counts=counts)
