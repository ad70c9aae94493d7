"""Worklist benchmark: 50,000 exams in the database, 200 in the reader's scope (issue #6).

Run it by hand (``python -m benchmarks.worklist``), never as a timed test; the
figures are kept in docs/benchmarks.md. It (re)creates the PostgreSQL database
``teleradio_bench_worklist``, migrates it and bulk-inserts 30 sites in 3 GHTs,
60 radiologists credentialed for sites 0 and 1, and 50,000 exams: for each
reader 100 open exams of theirs (ASSIGNED / IN_READING) at sites 0-1, 100 exams
in the pool of sites 0-1 (READY, or urgent and still receiving), and the rest
closed (REPORTED / DELIVERED) or open at the other 28 sites. Each reader's
worklist therefore shows 200 exams, among 6,100 open exams of their sites.

(1) In-process server time (Django test client: middleware, view, queries,
    template), for reader 0, of the full page ``/worklist/``, of the live
    fragment (htmx, 200) and of the conditional poll (If-None-Match → 304).
(2) ``--load``: 60 readers poll the live fragment every 5 s with If-None-Match
    against gunicorn (the Procfile's ``web`` process, gunicorn.conf.py) on
    loopback for ``--seconds`` (60), while a writer adds an exam to the pool
    every 30 s (so every reader also gets fresh 200s, as the minute in the ETag does). The CPU of gunicorn's
    process tree is read from /proc (utime + stime) before and after; the
    PostgreSQL server's CPU (all its processes) is reported alongside.

Targets: page p95 < 150 ms server time; 60 readers < 1 core.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

from core.testing import free_port

PG = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "teleradio_bench_worklist"
SECRET_KEY = "benchmark-secret-key-not-for-production-" + "x" * 30  # noqa: S105 - a throw-away database
ROOT = Path(__file__).resolve().parent.parent
UTC = datetime.UTC
READERS = 60
SCOPE_SITES = 2
WRITER_EVERY = 30.0  # seconds between two new pool exams during the load (120 an hour)


def _setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ["SECRET_KEY"] = SECRET_KEY
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleradio.settings_test")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]


def _recreate_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _populate(*, total: int, seed: int) -> None:
    from django.contrib.auth.hashers import make_password

    from sites.identifiers import luhn_key
    from sites.models import Credential, Ght, Radiologist, Role, Site, User
    from worklist.models import Exam

    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not a secret
    ghts = [Ght.objects.create(name=f"GHT {i}", short_name=f"GHT{i}") for i in range(3)]
    sites = Site.objects.bulk_create(
        [
            Site(
                ght=ghts[0 if i < SCOPE_SITES else i % 3], name=f"CH {i}", finess=f"29{i:06d}" + luhn_key(f"29{i:06d}")
            )
            for i in range(30)
        ]
    )
    password = make_password("password")
    users = User.objects.bulk_create(
        [
            User(username=f"rad{i}", last_name=f"Radiologue {i}", role=Role.RADIOLOGIST, ght=ghts[0], password=password)
            for i in range(READERS)
        ]
    )
    rads = Radiologist.objects.bulk_create(
        [Radiologist(user=u, rpps=f"10{i:08d}" + luhn_key(f"10{i:08d}")) for i, u in enumerate(users)]
    )
    Credential.objects.bulk_create(
        [
            Credential(radiologist=r, site=s, valid_from=datetime.date(2025, 1, 1), contract_type="teleradiology")
            for r in rads
            for s in sites[:SCOPE_SITES]
        ]
    )

    now = datetime.datetime.now(UTC)
    modalities = ["CT", "CT", "MR", "CR", "DX"]
    priorities = ["STANDARD"] * 6 + ["URGENT"] * 3 + ["VITAL"]
    rows: list[Exam] = []

    def exam(site, status, **fields) -> None:
        received = now - datetime.timedelta(minutes=rng.randint(5, 60 * 24 * 365))
        if status in ("READY", "ASSIGNED", "IN_READING", "RECEIVING"):
            received = now - datetime.timedelta(minutes=rng.randint(5, 60 * 12))
        n = len(rows)
        fields.setdefault("priority", rng.choice(priorities))
        rows.append(
            Exam(
                site=site,
                status=status,
                study_instance_uid=f"1.2.826.0.1.3680043.10.7.{n}",
                accession_number=f"A{n}",
                patient_name=f"PATIENT{n}^Prenom",
                patient_id=f"P{n % 20000}",
                patient_sex=rng.choice("FM"),
                study_description=rng.choice(["Scanner cérébral", "Scanner thoraco-abdomino-pelvien", "IRM genou"]),
                modality=rng.choice(modalities),
                received_at=received,
                ready_at=received + datetime.timedelta(minutes=2),
                deadline_at=received + datetime.timedelta(minutes=rng.choice([30, 60, 1440])),
                number_of_series=3,
                number_of_instances=300,
                routing_reason="De garde pour le site (benchmark)",
                **fields,
            )
        )

    scope = sites[:SCOPE_SITES]
    for user in users:  # 100 open exams of each reader
        for k in range(100):
            exam(rng.choice(scope), "IN_READING" if k % 5 == 0 else "ASSIGNED", assigned_to=user)
    for k in range(100):  # the pool of sites 0-1, seen by every reader
        if k % 10 == 0:
            exam(rng.choice(scope), "RECEIVING", priority="URGENT")
        else:
            exam(rng.choice(scope), "READY", in_pool=True)
    others = sites[SCOPE_SITES:]
    while len(rows) < total:
        closed = rng.random() < 0.9
        site = rng.choice(scope) if rng.random() < 0.1 else rng.choice(others)
        if closed:
            exam(site, rng.choice(["REPORTED", "DELIVERED", "DELIVERED"]), assigned_to=rng.choice(users))
        elif site in scope:
            exam(site, "REPORTED", assigned_to=rng.choice(users))  # keep the scope at 200
        else:
            exam(site, rng.choice(["READY", "ASSIGNED"]), in_pool=False)
    Exam.objects.bulk_create(rows, batch_size=5000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _measure_in_process(*, repeat: int) -> dict[str, list[float]]:
    from django.db import connection
    from django.db.models import Q
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from sites.models import User
    from worklist.selectors import POOL, exam_worklist_for_user

    user = User.objects.get(username="rad0")
    in_scope = exam_worklist_for_user(user=user).filter(POOL | Q(assigned_to=user))
    assert in_scope.count() == 200, in_scope.count()
    client = Client()
    client.force_login(user)
    htmx = {"HTTP_HX_REQUEST": "true"}
    results: dict[str, list[float]] = {"page": [], "fragment": [], "poll_304": []}
    cpu: dict[str, list[float]] = {"page": [], "fragment": [], "poll_304": []}
    queries: dict[str, int] = {}
    for name, kwargs in (("page", {}), ("fragment", htmx)):
        client.get("/worklist/", **kwargs)  # warm-up
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.thread_time()
            response = client.get("/worklist/", **kwargs)
            results[name].append((time.perf_counter() - t0) * 1000)
            cpu[name].append((time.thread_time() - c0) * 1000)
            assert response.status_code == 200 and response.content.count(b"data-exam-id=") == 200
        with CaptureQueriesContext(connection) as ctx:
            client.get("/worklist/", **kwargs)
        queries[name] = len(ctx.captured_queries)
    etag = client.get("/worklist/", **htmx)["ETag"]
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        response = client.get("/worklist/", HTTP_IF_NONE_MATCH=etag, **htmx)
        results["poll_304"].append((time.perf_counter() - t0) * 1000)
        cpu["poll_304"].append((time.thread_time() - c0) * 1000)
        if response.status_code == 200:  # the minute changed: take the new ETag
            etag = response["ETag"]
    with CaptureQueriesContext(connection) as ctx:
        client.get("/worklist/", HTTP_IF_NONE_MATCH=etag, **htmx)
    queries["poll_304"] = len(ctx.captured_queries)
    results["queries"] = [queries["page"], queries["fragment"], queries["poll_304"]]
    results.update({f"{name}_cpu": values for name, values in cpu.items()})
    return results


def _explain() -> str:
    """EXPLAIN ANALYZE of the worklist's two list queries, for reader 0 (total time, then the scans)."""
    from sites.models import User
    from worklist.selectors import POOL, exam_worklist_for_user

    user = User.objects.get(username="rad0")
    qs = exam_worklist_for_user(user=user)
    lines = []
    for name, query in (("mine", qs.filter(assigned_to=user)[:200]), ("pool", qs.filter(POOL)[:200])):
        plan = query.explain(analyze=True)
        lines.append(f"-- {name}: " + plan.splitlines()[-1].strip())
        lines += ["   " + line for line in plan.splitlines() if "Scan" in line or "Sort" in line][:6]
    return "\n".join(lines)


# --- Load: 60 readers polling a real server ------------------------------------------------


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of proc(5))
    return total / ticks


def _tree(root: int) -> list[int]:
    pids, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
            pids.append(int(child))
            frontier.append(int(child))
    return pids


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _sessions() -> list[str]:
    from django.test import Client

    from sites.models import User

    keys = []
    for user in User.objects.filter(username__startswith="rad").order_by("pk")[:READERS]:
        client = Client()
        client.force_login(user)
        keys.append(client.cookies["sessionid"].value)
    return keys


def _reader(port: int, session: str, etag: str, stop: float, period: float, stats: dict, lock) -> None:
    """One reader's browser: a poll every ``period`` seconds with the last ETag, on a keep-alive connection.

    A connection the server closed in between (gunicorn's keep-alive is 2 s) is
    reopened and the poll retried once, as a browser does; only a failed retry
    counts as an error.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    next_at = time.monotonic() + random.random() * period  # noqa: S311 - spread the readers
    while True:
        time.sleep(max(0.0, next_at - time.monotonic()))
        if time.monotonic() >= stop:
            break
        next_at += period
        headers = {"Cookie": f"sessionid={session}", "HX-Request": "true", "If-None-Match": etag}
        t0 = time.perf_counter()
        for _attempt in (1, 2):
            try:
                conn.request("GET", "/worklist/", headers=headers)
                response = conn.getresponse()
                response.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                response = None
        if response is None:
            with lock:
                stats["errors"] += 1
            continue
        elapsed = (time.perf_counter() - t0) * 1000
        etag = response.getheader("ETag") or etag
        with lock:
            stats[response.status] = stats.get(response.status, 0) + 1
            stats["latency"].append(elapsed)
    conn.close()


def _writer(stop: float, every: float) -> None:
    from django.db import close_old_connections

    from sites.models import Site
    from worklist.models import Exam

    site = Site.objects.order_by("pk").first()
    n = 0
    while time.monotonic() + every < stop:
        time.sleep(every)
        n += 1
        Exam.objects.create(
            site=site,
            status="READY",
            in_pool=True,
            study_instance_uid=f"1.2.826.0.1.3680043.10.6.{time.time_ns()}",
            patient_name=f"NOUVEAU^{n}",
            modality="CT",
            received_at=datetime.datetime.now(UTC),
        )
    close_old_connections()


def _load(*, seconds: float, period: float) -> dict:
    sessions = _sessions()
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "teleradio.settings",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "False",
        "SECURE_SSL_REDIRECT": "False",
        "SESSION_COOKIE_SECURE": "False",
        "CSRF_COOKIE_SECURE": "False",
        "WEB_BIND": f"127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, as the Procfile runs it
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "teleradio.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        time.sleep(2)  # workers booted
        pids = _tree(server.pid)
        workers = len(pids) - 1
        stats: dict = {"errors": 0, "latency": []}
        lock = threading.Lock()
        # Warm-up: each reader's page load, which gives the ETag its polls start from.
        etags = []
        for session in sessions:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/worklist/", headers={"Cookie": f"sessionid={session}", "HX-Request": "true"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            etags.append(response.getheader("ETag"))
            conn.close()
        pg_pids = _postgres_pids()
        cpu0, pg0, t0 = _cpu_seconds(_tree(server.pid)), _cpu_seconds(pg_pids), time.monotonic()
        stop = t0 + seconds
        threads = [
            threading.Thread(target=_reader, args=(port, s, e, stop, period, stats, lock), daemon=True)
            for s, e in zip(sessions, etags, strict=True)
        ]
        threads.append(threading.Thread(target=_writer, args=(stop, WRITER_EVERY), daemon=True))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 60)
        wall = time.monotonic() - t0
        cpu = _cpu_seconds(_tree(server.pid)) - cpu0
        pg = _cpu_seconds(_postgres_pids()) - pg0
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return {"stats": stats, "wall": wall, "cpu": cpu, "pg": pg, "workers": workers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exams", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=200, help="requests per in-process measure")
    parser.add_argument("--load", action="store_true", help="also run the 60-reader load on gunicorn")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the load")
    parser.add_argument("--period", type=float, default=5.0, help="seconds between two polls of a reader")
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args(argv)

    _recreate_database()
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    _populate(total=args.exams, seed=args.seed)
    print(f"populated in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    result = _measure_in_process(repeat=args.repeat)

    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPU, "
        f"Python {platform.python_version()}"
    )
    print(f"date: {datetime.datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f}")
    print(f"data: {args.exams} exams, 30 sites, {READERS} readers; 200 exams in each reader's worklist")
    for name, label in (("page", "full page"), ("fragment", "live fragment (200)"), ("poll_304", "poll, ETag → 304")):
        values = result[name]
        p50, p95 = _pct(values, 50), _pct(values, 95)
        verdict = ("met" if p95 < 150 else "NOT met") if name == "page" else "-"
        cpu = result[f"{name}_cpu"]
        print(
            f"{label:22} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  max {max(values):7.2f} ms  (p95 < 150 ms: {verdict}); "
            f"Python CPU p50 {_pct(cpu, 50):6.2f} ms p95 {_pct(cpu, 95):6.2f} ms"
        )
    print(f"queries: page {result['queries'][0]}, fragment {result['queries'][1]}, 304 poll {result['queries'][2]}")
    print(_explain())

    if args.load:
        load = _load(seconds=args.seconds, period=args.period)
        stats, wall = load["stats"], load["wall"]
        done = sum(v for k, v in stats.items() if isinstance(k, int))
        cores = load["cpu"] / wall
        print(
            f"load: {READERS} readers every {args.period:g} s for {wall:.0f} s on gunicorn "
            f"({load['workers']} workers): {done} requests ({stats.get(304, 0)} × 304, {stats.get(200, 0)} × 200, "
            f"{stats['errors']} errors), latency p50 {_pct(stats['latency'], 50):.1f} ms "
            f"p95 {_pct(stats['latency'], 95):.1f} ms"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        print(
            f"CPU: gunicorn tree {load['cpu']:.2f} s = {cores:.3f} core "
            f"(target < 1: {'met' if cores < 1 else 'NOT met'}); "
            f"PostgreSQL {load['pg']:.2f} s = {load['pg'] / wall:.3f} core"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
