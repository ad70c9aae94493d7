import datetime
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from sites.rota import (
    DEFAULT_TEMPLATES,
    SUNDAY,
    WEEKDAYS,
    HolidayMode,
    Slot,
    expand,
    expand_month,
    french_holidays,
    month_days,
)

T = datetime.time


def _slots(*names):
    return [
        Slot(key=label, days=days, start=start, end=end, holiday_mode=mode)
        for name in names
        for (label, days, start, end, mode) in DEFAULT_TEMPLATES[name]
    ]


def test_a_night_across_the_spring_change_is_an_hour_shorter():
    night = Slot(key="n", days=frozenset(range(7)), start=T(23, 30), end=T(8, 0))
    (occ,) = expand([night], [datetime.date(2026, 3, 28)], "Europe/Paris")
    assert occ.hours == 8.5 - 1  # 8.5 h on the clock
    assert occ.start == datetime.datetime(2026, 3, 28, 22, 30, tzinfo=datetime.UTC)
    assert occ.end == datetime.datetime(2026, 3, 29, 6, 0, tzinfo=datetime.UTC)


def test_a_night_across_the_autumn_change_is_an_hour_longer():
    night = Slot(key="n", days=frozenset(range(7)), start=T(20, 0), end=T(8, 0))
    (occ,) = expand([night], [datetime.date(2026, 10, 24)], "Europe/Paris")
    assert occ.hours == 13  # a 12-hour night on the clock, 13 real hours


def test_cayenne_has_no_dst_and_is_utc_minus_3():
    night = Slot(key="n", days=frozenset(range(7)), start=T(23, 30), end=T(8, 0))
    (occ,) = expand([night], [datetime.date(2026, 3, 28)], "America/Cayenne")
    assert occ.start == datetime.datetime(2026, 3, 29, 2, 30, tzinfo=datetime.UTC)
    assert occ.hours == 8.5


def test_a_public_holiday_follows_the_sunday_pattern():
    holidays = french_holidays([2026])
    assert datetime.date(2026, 5, 1) in holidays  # a Friday
    occurrences = list(expand(_slots("pds", "vacations"), [datetime.date(2026, 5, 1)], "Europe/Paris", holidays))
    assert sorted(o.key for o in occurrences) == sorted(
        ["Soirée PDS 18h–23h30", "Nuit profonde 23h30–8h", "Journée week-end et fériés 8h–18h"]
    )


def test_a_slot_can_ignore_or_skip_holidays():
    friday_holiday = datetime.date(2026, 5, 1)
    usual = Slot(key="u", days=WEEKDAYS, start=T(8), end=T(13), holiday_mode=HolidayMode.AS_USUAL)
    skip = Slot(key="s", days=frozenset({SUNDAY, 4}), start=T(8), end=T(13), holiday_mode=HolidayMode.SKIP)
    keys = [o.key for o in expand([usual, skip], [friday_holiday], "Europe/Paris", {friday_holiday})]
    assert keys == ["u"]


def test_alsace_moselle_and_guyane_have_their_extra_days():
    assert datetime.date(2026, 12, 26) in french_holidays([2026], "57")
    assert datetime.date(2026, 12, 26) not in french_holidays([2026])
    assert datetime.date(2026, 6, 10) in french_holidays([2026], "973")  # abolition of slavery


def test_a_month_expands_in_local_order():
    occurrences = expand_month(_slots("pds"), 2026, 2, "Europe/Paris")
    assert len(occurrences) == 28 * 2 + 8  # two per day plus the weekend days
    assert occurrences == sorted(occurrences, key=lambda o: o.start)


@settings(max_examples=60, deadline=None)
@given(
    year=st.integers(2025, 2030),
    month=st.integers(1, 12),
    tz_name=st.sampled_from(["Europe/Paris", "America/Cayenne", "Indian/Reunion", "America/Guadeloupe"]),
    subdivision=st.sampled_from([None, "57", "973", "974"]),
    fraction=st.floats(0, 1, exclude_max=True),
)
def test_the_french_defaults_cover_every_instant_of_a_month_exactly_once(year, month, tz_name, subdivision, fraction):
    days = month_days(year, month)
    previous = days[0] - datetime.timedelta(days=1)
    holidays = french_holidays([year - 1, year], subdivision)
    occurrences = list(expand(_slots("pds", "vacations"), [previous, *days], tz_name, holidays))
    tz = zoneinfo.ZoneInfo(tz_name)
    first = datetime.datetime.combine(days[0], T(0), tzinfo=tz).astimezone(datetime.UTC)
    last = datetime.datetime.combine(days[-1] + datetime.timedelta(days=1), T(0), tzinfo=tz).astimezone(datetime.UTC)
    instant = first + (last - first) * fraction
    covering = [o for o in occurrences if o.start <= instant < o.end]
    assert len(covering) == 1, (instant, covering)


@settings(max_examples=40, deadline=None)
@given(
    year=st.integers(2025, 2030),
    month=st.integers(1, 12),
    tz_name=st.sampled_from(["Europe/Paris", "America/Cayenne"]),
)
def test_each_occurrence_lasts_its_clock_time_give_or_take_the_dst_hour(year, month, tz_name):
    for occ in expand_month(_slots("pds", "vacations"), year, month, tz_name, french_holidays([year])):
        assert occ.start < occ.end
        local_start = occ.start.astimezone(zoneinfo.ZoneInfo(tz_name))
        local_end = occ.end.astimezone(zoneinfo.ZoneInfo(tz_name))
        clock = (
            datetime.datetime.combine(local_end.date(), local_end.time())
            - datetime.datetime.combine(local_start.date(), local_start.time())
        ).total_seconds() / 3600
        assert abs(occ.hours - clock) in (0, 1)
