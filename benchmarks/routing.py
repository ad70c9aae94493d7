"""Routing benchmark: one exam among 500 radiologists, 30 sites, 5,000 shifts, 2,000 open exams.

Run it by hand (``python -m benchmarks.routing``), never as a timed test; the
figures are kept in docs/benchmarks.md. It (re)creates the PostgreSQL database
``teleradio_bench_routing``, migrates it, fills it with bulk inserts, then
measures over ``--exams`` READY exams spread over the sites and the month:

(a) the pure ``worklist.routing.route()`` given the *whole month*: every shift
    of a line covering the exam's site (not only those covering the instant),
    every credential of the site and the load of every radiologist;
(b) ``worklist.selectors.routing_inputs_for_exam`` (its database reads) + ``route()``,
    as ``worklist.services.exam_route`` does before writing.

Targets (issue #5): p95 < 5 ms for (a) and < 50 ms for (b).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import statistics
import sys
import time

import psycopg

PG = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "teleradio_bench_routing"
MONTH = datetime.date(2026, 3, 1)  # the night of the DST change is in it
UTC = datetime.UTC


def _setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleradio.settings_test")
    import django

    django.setup()


def _recreate_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _populate(*, radiologists: int, sites: int, shifts: int, open_exams: int, seed: int) -> None:
    from django.contrib.auth.hashers import make_password

    from sites.identifiers import luhn_key
    from sites.models import (
        Credential,
        Ght,
        Radiologist,
        Region,
        Role,
        RotaLine,
        RotaMonth,
        Shift,
        Site,
        Subspecialty,
        User,
    )
    from worklist.models import Exam, RoutingRule

    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not a secret
    region = Region.objects.create(name="Plateforme régionale")
    ghts = [Ght.objects.create(name=f"GHT {i}", short_name=f"GHT{i}", region=region) for i in range(3)]
    site_rows = []
    for i in range(sites):
        body = f"29{i:06d}"
        tz = "America/Cayenne" if i == sites - 1 else "Europe/Paris"
        site_rows.append(Site(ght=ghts[i % 3], name=f"CH {i}", finess=body + luhn_key(body), timezone=tz))
    site_rows = Site.objects.bulk_create(site_rows)
    by_ght = {g.pk: [s for s in site_rows if s.ght_id == g.pk] for g in ghts}

    password = make_password(None)
    users = User.objects.bulk_create(
        [
            User(
                username=f"rad{i}",
                last_name=f"Radiologue {i}",
                role=Role.RADIOLOGIST,
                ght=ghts[i % 3],
                password=password,
            )
            for i in range(radiologists)
        ]
    )
    rads = Radiologist.objects.bulk_create(
        [Radiologist(user=u, rpps=f"10{i:08d}" + luhn_key(f"10{i:08d}")) for i, u in enumerate(users)]
    )
    subs = list(Subspecialty.objects.all())
    through = Radiologist.subspecialties.through
    through.objects.bulk_create(
        [through(radiologist_id=r.pk, subspecialty_id=rng.choice(subs).pk) for r in rads if rng.random() < 0.4]
    )
    # Each radiologist reads for the sites of their GHT, a few for other GHTs' sites (regional platform).
    creds = []
    for r, u in zip(rads, users, strict=True):
        own = by_ght[u.ght_id]
        chosen = set(rng.sample(own, k=min(len(own), rng.randint(3, 10))))
        if rng.random() < 0.2:
            chosen |= set(rng.sample(site_rows, k=5))
        creds += [
            Credential(radiologist=r, site=s, valid_from=datetime.date(2025, 1, 1), contract_type="teleradiology")
            for s in chosen
        ]
    Credential.objects.bulk_create(creds)

    lines = []
    for s in site_rows:
        for kind in ("Garde", "Vacation"):
            lines.append((RotaLine(ght=s.ght, name=f"{kind} {s.name}"), [s]))
    for g in ghts:
        for k in range(6):
            sub = subs[k] if k < 2 else None
            lines.append((RotaLine(ght=g, name=f"Ligne {g.short_name} {k}", subspecialty=sub), by_ght[g.pk]))
    for k in range(4):
        lines.append((RotaLine(region=region, name=f"Plateforme {k}", modality_types="CT,MR"), site_rows))
    RotaLine.objects.bulk_create([line for line, _ in lines])
    link = RotaLine.sites.through
    link.objects.bulk_create([link(rotaline_id=line.pk, site_id=s.pk) for line, covered in lines for s in covered])

    months = {g.pk: RotaMonth.objects.create(ght=g, month=MONTH, state=RotaMonth.State.PUBLISHED) for g in ghts}
    shift_rows = []
    start0 = datetime.datetime.combine(MONTH, datetime.time(6, 30), tzinfo=UTC)
    per_line = -(-shifts // len(lines))
    for line, _covered in lines:
        owner = line.ght_id or ghts[0].pk
        for k in range(per_line):
            start = start0 + datetime.timedelta(hours=12 * k)
            rad = rng.choice(rads)
            shift_rows.append(
                Shift(
                    rota_month=months[owner],
                    line=line,
                    radiologist=rad,
                    start=start,
                    end=start + datetime.timedelta(hours=12),
                )
            )
    Shift.objects.bulk_create(rng.sample(shift_rows, k=shifts))

    for g in ghts:
        RoutingRule.objects.bulk_create(
            [
                RoutingRule(ght=g, name="Neuro", order=1, subspecialty=subs[0], body_part_pattern="HEAD|BRAIN"),
                RoutingRule(ght=g, name="Pédiatrie", order=2, subspecialty=subs[1], max_age_years=15),
                RoutingRule(
                    ght=g, name="Thorax", order=3, subspecialty=subs[2 % len(subs)], description_pattern="thorax"
                ),
            ]
        )
    modalities = ["CT", "CT", "MR", "CR", "DX"]
    Exam.objects.bulk_create(
        [
            Exam(
                site=rng.choice(site_rows),
                study_instance_uid=f"1.2.826.0.1.3680043.10.9.{i}",
                modality=rng.choice(modalities),
                status=rng.choice(["ASSIGNED", "IN_READING"]),
                assigned_to=rng.choice(users),
                received_at=start0,
            )
            for i in range(open_exams)
        ]
    )


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _measure(*, exams: int, seed: int) -> dict[str, list[float]]:
    from django.db import connection, reset_queries

    from sites.models import Credential, Shift, Site
    from worklist.models import Exam
    from worklist.routing import CredentialFacts, OnDuty, route
    from worklist.selectors import _line_level, routing_inputs_for_exam

    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not a secret
    sites = list(Site.objects.select_related("ght"))
    subjects = Exam.objects.bulk_create(
        [
            Exam(
                site=rng.choice(sites),
                study_instance_uid=f"1.2.826.0.1.3680043.10.8.{i}",
                modality=rng.choice(["CT", "MR", "CR"]),
                body_part_examined=rng.choice(["HEAD", "CHEST", "ABDOMEN"]),
                patient_birth_date=datetime.date(rng.randint(1930, 2024), 6, 1),
                status="READY",
            )
            for i in range(exams)
        ]
    )
    instants = [
        datetime.datetime.combine(MONTH, datetime.time(0, 0), tzinfo=UTC)
        + datetime.timedelta(minutes=rng.randint(0, 29 * 24 * 60))
        for _ in subjects
    ]

    # (a) the whole month in memory, per site: every shift of a line covering it.
    month_shifts = list(
        Shift.objects.select_related("line__subspecialty", "radiologist__user").prefetch_related(
            "line__sites", "radiologist__subspecialties"
        )
    )
    by_site: dict[int, list[OnDuty]] = {s.pk: [] for s in sites}
    site_by_pk = {s.pk: s for s in sites}
    for shift in month_shifts:
        ids = frozenset(s.pk for s in shift.line.sites.all())
        for site_id in ids:
            by_site[site_id].append(
                OnDuty(
                    radiologist_id=shift.radiologist.user_id,
                    radiologist_name=str(shift.radiologist.user),
                    line_id=shift.line_id,
                    line_name=shift.line.name,
                    site_ids=ids,
                    start=shift.start,
                    end=shift.end,
                    level=_line_level(line=shift.line, line_site_ids=ids, site=site_by_pk[site_id]),
                    subspecialty=shift.line.subspecialty.code if shift.line.subspecialty_id else "",
                    modalities=frozenset(shift.line.modality_type_set),
                    radiologist_subspecialties=frozenset(s.code for s in shift.radiologist.subspecialties.all()),
                )
            )
    creds_by_site: dict[int, list[CredentialFacts]] = {s.pk: [] for s in sites}
    for user_id, site_id, since, until in Credential.objects.values_list(
        "radiologist__user_id", "site_id", "valid_from", "valid_until"
    ):
        creds_by_site[site_id].append(CredentialFacts(user_id, site_id, since, until))

    pure, with_db, queries = [], [], []
    for exam, at in zip(subjects, instants, strict=True):
        inputs = routing_inputs_for_exam(exam=exam, at=at)  # warm-up and the rules/load for (a)
        shifts, creds = by_site[exam.site_id], creds_by_site[exam.site_id]
        t0 = time.perf_counter()
        route(inputs.exam, at, shifts, creds, inputs.rules, inputs.load)
        pure.append((time.perf_counter() - t0) * 1000)

    connection.force_debug_cursor = True
    for exam, at in zip(subjects, instants, strict=True):
        reset_queries()
        t0 = time.perf_counter()
        inputs = routing_inputs_for_exam(exam=exam, at=at)
        route(inputs.exam, at, inputs.shifts, inputs.credentials, inputs.rules, inputs.load)
        with_db.append((time.perf_counter() - t0) * 1000)
        queries.append(len(connection.queries))
    connection.force_debug_cursor = False
    return {"pure": pure, "db": with_db, "queries": queries, "month_shifts": [len(month_shifts)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--radiologists", type=int, default=500)
    parser.add_argument("--sites", type=int, default=30)
    parser.add_argument("--shifts", type=int, default=5000)
    parser.add_argument("--open-exams", type=int, default=2000)
    parser.add_argument("--exams", type=int, default=1000, help="exams routed (measured)")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)

    _recreate_database()
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    _populate(
        radiologists=args.radiologists, sites=args.sites, shifts=args.shifts, open_exams=args.open_exams, seed=args.seed
    )
    print(f"populated in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    result = _measure(exams=args.exams, seed=args.seed)

    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPU, "
        f"Python {platform.python_version()}"
    )
    print(f"date: {datetime.datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"data: {args.radiologists} radiologists, {args.sites} sites, {result['month_shifts'][0]} shifts in the month, "
        f"{args.open_exams} open exams; {args.exams} exams routed"
    )
    for name, key, target in (("pure route()", "pure", 5.0), ("inputs + route()", "db", 50.0)):
        values = result[key]
        p50, p95 = _pct(values, 50), _pct(values, 95)
        verdict = "met" if p95 < target else "NOT met"
        print(
            f"{name:18} p50 {p50:7.3f} ms  p95 {p95:7.3f} ms  max {max(values):7.3f} ms  "
            f"(target p95 < {target:g} ms: {verdict})"
        )
    print(f"queries per routing: {sorted(set(result['queries']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
