"""Rota benchmark: a year of templates for 3 GHTs, pure and through the database.

Run it by hand (``python -m benchmarks.rota``), never as a timed test; the
figures are kept in docs/benchmarks.md ("Rota expansion"). The target of
issue #5 is under 2 s for a year of 3 GHTs.

(a) pure: sites.rota expansion of 3 GHTs × 3 lines with the French defaults
    (two on-call lines, one of scheduled sessions; Paris, Paris with Moselle
    holidays, Cayenne) over 12 months, then sites.rota_validation of each
    month with the shifts filled round robin;
(b) database (``--db``, PostgreSQL): the same organisation created in a
    throw-away test database, then ``rota_month_generate`` for the 36 months
    (bulk inserts) and ``rota_month_report`` (validation with its queries)
    for each.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

from sites.rota import DEFAULT_TEMPLATES, Slot, expand_month, french_holidays
from sites.rota_validation import CredentialInfo, LineInfo, ShiftInfo, validate

YEAR = 2027
# (GHT, time zone, holiday subdivision of its sites)
GHTS = (("Ouest", "Europe/Paris", ""), ("Est", "Europe/Paris", "57"), ("Guyane", "America/Cayenne", "973"))
LINES = (("PDS scanner", "pds"), ("Neuro", "pds"), ("Vacations", "vacations"))
RADIOLOGISTS_PER_GHT = 12


def _slots(template: str) -> list[Slot]:
    return [
        Slot(key=(template, name), days=days, start=start, end=end, holiday_mode=mode)
        for name, days, start, end, mode in DEFAULT_TEMPLATES[template]
    ]


def pure_year() -> tuple[int, int]:
    """Expand and validate a year for every GHT; returns (shifts, issues)."""
    shifts_total = issues_total = 0
    for ght, tz_name, subdivision in GHTS:
        holidays = french_holidays([YEAR], subdivision or None)
        radiologists = [f"{ght}-{n}" for n in range(RADIOLOGISTS_PER_GHT)]
        credentials = [CredentialInfo(r, ght, datetime.date(2020, 1, 1)) for r in radiologists]
        for month in range(1, 13):
            lines: dict = {}
            shifts: list[ShiftInfo] = []
            for line_name, template in LINES:
                key = (ght, line_name)
                occurrences = expand_month(_slots(template), YEAR, month, tz_name, holidays)
                lines[key] = LineInfo(
                    key=key,
                    name=line_name,
                    tz_name=tz_name,
                    site_keys=frozenset({ght}),
                    holidays=holidays,
                    expected=tuple((o.start, o.end) for o in occurrences),
                )
                for o in occurrences:
                    who = radiologists[len(shifts) % len(radiologists)]
                    shifts.append(ShiftInfo(len(shifts), key, who, o.start, o.end))
            report = validate(shifts=shifts, lines=lines, credentials=credentials)
            shifts_total += len(shifts)
            issues_total += len(report.issues)
    return shifts_total, issues_total


def _timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def database_year(repeat: int) -> None:
    """rota_month_generate and rota_month_report for 3 GHTs × 12 months on PostgreSQL."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleradio.settings_test")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    from sites.models import Ght, RotaLine, RotaMonth, Site
    from sites.rotas import rota_line_create_defaults, rota_month_generate
    from sites.selectors import rota_month_report
    from sites.tests.factories import SiteFactory

    if connection.vendor != "postgresql":
        sys.exit("--db needs PostgreSQL (DATABASE_URL=postgres://…)")
    setup_test_environment()
    # Its own throw-away database, never the test suite's (test_<NAME>) that may be in use.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = "teleradio_bench_rota"
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        ghts = []
        for name, tz_name, subdivision in GHTS:
            ght = Ght.objects.create(name=f"GHT {name}", timezone=tz_name)
            sites = [SiteFactory(ght=ght, timezone=tz_name, holiday_subdivision=subdivision) for _ in range(3)]
            for line_name, template in LINES:
                kind = RotaLine.Kind.ON_CALL if template == "pds" else RotaLine.Kind.SCHEDULED
                rota_line_create_defaults(ght=ght, name=line_name, sites=sites, kind=kind)
            ghts.append(ght)

        def generate() -> int:
            count = 0
            for ght in ghts:
                for month in range(1, 13):
                    rota_month = rota_month_generate(ght=ght, month=datetime.date(YEAR, month, 1), by=None)
                    count += rota_month.shifts.count()
            return count

        def report() -> int:
            return sum(len(rota_month_report(rota_month=m).issues) for m in RotaMonth.objects.select_related("ght"))

        gen_times, shifts = _timed(generate, repeat)
        rep_times, issues = _timed(report, repeat)
        print(
            f"db generate  : {shifts} shifts in 36 months, best {min(gen_times):.3f} s, "
            f"median {statistics.median(gen_times):.3f} s ({repeat} runs, drafts replaced each run)"
        )
        print(
            f"db validate  : {issues} issues (all shifts unfilled), best {min(rep_times):.3f} s, "
            f"median {statistics.median(rep_times):.3f} s"
        )
        print(f"db total     : {min(gen_times) + min(rep_times):.3f} s (best generate + best validate)")
        assert Site.objects.count() == 9
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", action="store_true", help="also generate and validate through PostgreSQL")
    args = parser.parse_args()

    print(
        f"machine      : {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )
    print(f"date         : {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    french_holidays([YEAR])  # import and warm the holidays package outside the timing
    times, (shifts, issues) = _timed(pure_year, args.repeat)
    print(
        f"pure         : {shifts} shifts, {issues} issues, 3 GHTs × 3 lines × 12 months, "
        f"best {min(times):.3f} s, median {statistics.median(times):.3f} s ({args.repeat} runs)"
    )
    if args.db:
        database_year(max(1, args.repeat // 2))


if __name__ == "__main__":
    main()
