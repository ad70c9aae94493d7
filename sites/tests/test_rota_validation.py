"""The checks run before a month's rota is published (pure, no database)."""

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from sites.rota import DEFAULT_TEMPLATES, Slot, expand_month, french_holidays
from sites.rota_validation import (
    Counts,
    CredentialInfo,
    Level,
    LineInfo,
    Period,
    ShiftInfo,
    is_night,
    shift_counts,
    validate,
)

UTC = datetime.UTC
PARIS = "Europe/Paris"


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime.datetime:
    """A UTC instant in 2026 (Paris is UTC+1 until 29 March)."""
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def line(key="pds", sites=("brest",), **kwargs) -> LineInfo:
    return LineInfo(key=key, name=f"Ligne {key}", tz_name=PARIS, site_keys=frozenset(sites), **kwargs)


def creds(*radiologists, sites=("brest",)) -> list[CredentialInfo]:
    return [CredentialInfo(r, s, datetime.date(2020, 1, 1)) for r in radiologists for s in sites]


def codes(report) -> list[str]:
    return [issue.code for issue in report.issues]


def test_it_accepts_a_clean_rota():
    lines = {"pds": line()}
    shifts = [ShiftInfo(1, "pds", "a", at(2, 17), at(2, 22, 30)), ShiftInfo(2, "pds", "b", at(2, 22, 30), at(3, 7))]
    report = validate(shifts=shifts, lines=lines, credentials=creds("a", "b"))
    assert report.issues == []
    assert report.ok


def test_it_reports_an_unassigned_shift_in_french():
    report = validate(shifts=[ShiftInfo(1, "pds", None, at(2, 17), at(2, 22, 30))], lines={"pds": line()})
    (issue,) = report.issues
    assert (issue.level, issue.code, issue.shift) == (Level.ERROR, "unassigned", 1)
    assert issue.message == "Ligne pds, lun. 02/03 18:00–23:30 : garde à pourvoir."
    assert not report.ok


def test_it_reports_a_template_occurrence_without_a_shift():
    expected = ((at(2, 17), at(2, 22, 30)), (at(3, 17), at(3, 22, 30)))
    lines = {"pds": line(expected=expected)}
    shifts = [ShiftInfo(1, "pds", "a", at(2, 17), at(2, 22, 30))]
    report = validate(shifts=shifts, lines=lines, credentials=creds("a"))
    assert codes(report) == ["gap"]
    assert "mar. 03/03 18:00–23:30" in report.issues[0].message


def test_it_accepts_an_occurrence_covered_by_two_shifts_end_to_end():
    lines = {"pds": line(expected=((at(2, 17), at(3, 7)),))}
    shifts = [ShiftInfo(1, "pds", "a", at(2, 17), at(2, 22)), ShiftInfo(2, "pds", "b", at(2, 22), at(3, 7))]
    assert validate(shifts=shifts, lines=lines, credentials=creds("a", "b")).ok


def test_it_reports_a_radiologist_on_two_lines_at_once():
    lines = {"pds": line(), "neuro": line("neuro")}
    shifts = [ShiftInfo(1, "pds", "a", at(2, 17), at(2, 22)), ShiftInfo(2, "neuro", "a", at(2, 21), at(2, 23))]
    report = validate(shifts=shifts, lines=lines, credentials=creds("a"), names={"a": "Dr Martin"})
    assert codes(report) == ["overlap"]
    assert report.issues[0].message.startswith("Dr Martin est de garde deux fois en même temps")


def test_it_reports_an_overlap_with_a_shift_of_another_month_or_ght():
    lines = {"pds": line(), "guyane": LineInfo("guyane", "Guyane", "America/Cayenne", frozenset({"cayenne"}))}
    month = [ShiftInfo(1, "pds", "a", at(2, 17), at(2, 22))]
    other = [ShiftInfo(9, "guyane", "a", at(2, 20), at(3, 2))]
    report = validate(shifts=month, lines=lines, credentials=creds("a"), context=other)
    assert codes(report) == ["overlap"]
    assert report.issues[0].shift == 1
    # Context alone is not this month's business.
    assert validate(shifts=[], lines=lines, context=[*other, ShiftInfo(8, "guyane", "a", at(2, 21), at(2, 23))]).ok


def test_it_requires_a_credential_for_every_site_of_the_line_on_the_local_date():
    lines = {"pds": line(sites=("brest", "carhaix"), site_names={"brest": "CHU Brest", "carhaix": "CH Carhaix"})}
    # 23:30 UTC on 2 March is 00:30 on 3 March in Paris.
    shifts = [ShiftInfo(1, "pds", "a", at(2, 23, 30), at(3, 7))]
    credentials = [
        CredentialInfo("a", "brest", datetime.date(2020, 1, 1)),
        CredentialInfo("a", "carhaix", datetime.date(2020, 1, 1), valid_until=datetime.date(2026, 3, 2)),
    ]
    report = validate(shifts=shifts, lines=lines, credentials=credentials)
    assert codes(report) == ["credential"]
    assert "CH Carhaix le 03/03/2026" in report.issues[0].message


def test_it_requires_the_lines_subspecialty():
    lines = {"neuro": line("neuro", subspecialty="neuro")}
    shifts = [ShiftInfo(1, "neuro", "a", at(2, 17), at(2, 22)), ShiftInfo(2, "neuro", "b", at(3, 17), at(3, 22))]
    report = validate(
        shifts=shifts, lines=lines, credentials=creds("a", "b"), subspecialties={"a": frozenset({"neuro"})}
    )
    assert [(i.code, i.radiologist) for i in report.issues] == [("subspecialty", "b")]


def test_it_reports_a_shift_during_a_declared_unavailability():
    shifts = [ShiftInfo(1, "pds", "a", at(2, 17), at(2, 22))]
    away = [Period("a", at(2, 21), at(4, 0))]
    report = validate(shifts=shifts, lines={"pds": line()}, credentials=creds("a"), unavailabilities=away)
    assert codes(report) == ["unavailable"]
    after = [Period("a", at(2, 22), at(3, 0))]
    assert validate(shifts=shifts, lines={"pds": line()}, credentials=creds("a"), unavailabilities=after).ok


def test_it_requires_eleven_hours_of_rest_after_a_night():
    lines = {"pds": line(), "vac": line("vac")}
    night = ShiftInfo(1, "pds", "a", at(2, 22, 30), at(3, 7))  # 23:30–08:00 Paris
    morning = ShiftInfo(2, "vac", "a", at(3, 7), at(3, 12))  # 08:00–13:00 straight after
    evening = ShiftInfo(3, "pds", "a", at(3, 17), at(3, 22, 30))  # 18:00: only 10 h later
    next_night = ShiftInfo(4, "pds", "a", at(3, 22, 30), at(4, 7))  # 15.5 h later
    report = validate(shifts=[night, morning, evening, next_night], lines=lines, credentials=creds("a"))
    assert [(i.code, i.shift) for i in report.issues] == [("rest", 2), ("rest", 3)]
    assert "moins de 11 h" in report.issues[0].message
    assert validate(shifts=[night, evening], lines=lines, credentials=creds("a"), rest_hours=10).ok


def test_it_lets_an_evening_run_into_the_night_of_the_same_radiologist():
    evening = ShiftInfo(1, "pds", "a", at(2, 17), at(2, 22, 30))
    night = ShiftInfo(2, "pds", "a", at(2, 22, 30), at(3, 7))
    assert validate(shifts=[evening, night], lines={"pds": line()}, credentials=creds("a")).ok


def test_it_calls_night_a_shift_covering_midnight_to_six_local():
    assert is_night(at(2, 22, 30), at(3, 7), PARIS)
    assert not is_night(at(2, 17), at(2, 22, 30), PARIS)
    assert not is_night(at(2, 23, 30), at(3, 7), PARIS)  # starts at 00:30 local
    # 23:30–08:00 in Cayenne is 02:30–11:00 UTC: a night there, not in Paris terms.
    assert is_night(at(3, 2, 30), at(3, 11), "America/Cayenne")


def test_it_warns_about_a_radiologist_with_half_again_the_mean_of_nights():
    lines = {"pds": line()}
    shifts = [ShiftInfo(i, "pds", "a", at(i, 22, 30), at(i + 1, 7)) for i in range(2, 6)]
    shifts.append(ShiftInfo(10, "pds", "b", at(10, 22, 30), at(11, 7)))
    previous = {"b": Counts(nights=1), "c": Counts(nights=1)}
    report = validate(
        shifts=shifts, lines=lines, credentials=creds("a", "b"), previous_counts=previous, names={"a": "Dr A"}
    )
    assert [(i.level, i.code, i.radiologist) for i in report.issues] == [(Level.WARNING, "fairness", "a")]
    assert report.issues[0].message == ("Dr A : 4 nuits sur l'année, pour une moyenne de 2,3 (plus de 50 % au-dessus).")
    assert report.ok  # warnings do not block
    assert report.counts["b"].nights == 2


def test_it_counts_weekend_days_and_holidays_once_per_local_date():
    holidays = frozenset({datetime.date(2026, 5, 1)})
    lines = {"pds": line(holidays=holidays)}
    saturday_day = ShiftInfo(1, "pds", "a", at(2, 6, month=5), at(2, 16, month=5))
    saturday_evening = ShiftInfo(2, "pds", "a", at(2, 16, month=5), at(2, 21, 30, month=5))
    holiday = ShiftInfo(3, "pds", "a", at(1, 6, month=5), at(1, 16, month=5))
    counts = shift_counts([saturday_day, saturday_evening, holiday], lines)
    assert counts["a"] == Counts(nights=0, weekend_days=1, holidays=1)


def _french_defaults(template: str) -> list[Slot]:
    return [Slot(key=name, days=d, start=s, end=e, holiday_mode=m) for name, d, s, e, m in DEFAULT_TEMPLATES[template]]


@settings(max_examples=30, deadline=None)
@given(
    year=st.integers(2025, 2030),
    month=st.integers(1, 12),
    tz_name=st.sampled_from([PARIS, "America/Cayenne", "Indian/Reunion"]),
    template=st.sampled_from(["pds", "vacations"]),
)
def test_an_expanded_template_has_no_gap_and_only_unassigned_shifts(year, month, tz_name, template):
    occurrences = expand_month(_french_defaults(template), year, month, tz_name, french_holidays([year]))
    expected = tuple((o.start, o.end) for o in occurrences)
    lines = {"l": LineInfo("l", "L", tz_name, frozenset({"s"}), expected=expected)}
    shifts = [ShiftInfo(i, "l", None, o.start, o.end) for i, o in enumerate(occurrences)]
    report = validate(shifts=shifts, lines=lines)
    assert codes(report) == ["unassigned"] * len(shifts)
    # Dropping any one shift shows up as exactly one gap.
    if shifts:
        dropped = shifts[len(shifts) // 2]
        rest = [s for s in shifts if s is not dropped]
        assert codes(validate(shifts=rest, lines=lines)).count("gap") == 1


@settings(max_examples=50, deadline=None)
@given(
    starts=st.lists(st.integers(0, 24 * 20), min_size=1, max_size=12),
    lengths=st.lists(st.integers(1, 14), min_size=12, max_size=12),
)
def test_overlaps_are_reported_iff_two_shifts_of_one_radiologist_intersect(starts, lengths):
    base = at(2, 0)
    shifts = [
        ShiftInfo(i, "pds", "a", base + datetime.timedelta(hours=h), base + datetime.timedelta(hours=h + lengths[i]))
        for i, h in enumerate(starts)
    ]
    report = validate(shifts=shifts, lines={"pds": line()}, credentials=creds("a"), rest_hours=0)
    intersecting = any(s.start < t.end and t.start < s.end for i, s in enumerate(shifts) for t in shifts[i + 1 :])
    assert ("overlap" in codes(report)) == intersecting
