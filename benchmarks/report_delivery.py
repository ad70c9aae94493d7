"""Report delivery benchmark: signing → acknowledgement by the site's PACS, on loopback.

Run it by hand (``python -m benchmarks.report_delivery``), never as a timed
test; the figures are kept in docs/benchmarks.md. It (re)creates the
PostgreSQL database ``teleradio_bench_delivery``, migrates it, starts dcmtk's
``storescp`` on a free loopback port as the site's PACS, and then, for each of
``--reports`` exams being read, measures the wall time of
``reports.services.report_sign`` followed by its commit: the commit runs the
delivery (Celery eager, as in tests), i.e. the PDF rendering, the Encapsulated
PDF dataset, the association, the C-STORE and its answer, and the database
writes (delivery DELIVERED, exam REPORTED → DELIVERED). Also reported: the PDF
rendering alone.

Target (issue #7): p95 < 2 s.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from core.testing import free_port

PG = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "teleradio_bench_delivery"
UTC = datetime.UTC
PACS_AE = "PACS_BENCH"
PASSWORD = "bench-password"  # noqa: S105 - a synthetic account in a throw-away database
VENV_BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin"


def _setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleradio.settings_test")  # Celery eager
    import django

    django.setup()


def _recreate_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _storescp() -> str:
    """dcmtk's storescp (pynetdicom installs a look-alike in the venv)."""
    for directory in ["/usr/bin", "/usr/local/bin", *os.environ.get("PATH", "").split(os.pathsep)]:
        candidate = shutil.which("storescp", path=directory)
        if candidate and Path(candidate).parent.resolve() != VENV_BIN.resolve():
            return candidate
    sys.exit("dcmtk's storescp is missing (apt-get install dcmtk)")


def _wait_for(port: int) -> None:
    for _ in range(200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"storescp does not listen on {port}")


def _populate(*, reports: int, port: int) -> tuple[object, list[object]]:
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from reports.models import Report
    from sites.identifiers import luhn_key
    from sites.models import Credential, Ght, PacsNode, Radiologist, Role, Site, User
    from worklist.models import Exam

    ght = Ght.objects.create(name="GHT Bretagne Occidentale", short_name="GHTBO")
    body = "29000001"
    site = Site.objects.create(
        ght=ght, name="CH Landerneau", finess=body + luhn_key(body), address="2 rue de la Santé\n29800 Landerneau"
    )
    PacsNode.objects.create(site=site, ae_title=PACS_AE, host="127.0.0.1", port=port)
    user = User.objects.create(
        username="rad", first_name="Yann", last_name="Le Gall", role=Role.RADIOLOGIST, ght=ght,
        password=make_password(PASSWORD),
    )  # fmt: skip
    radiologist = Radiologist.objects.create(user=user, rpps="1000000000" + luhn_key("1000000000"))
    Credential.objects.create(radiologist=radiologist, site=site, valid_from=datetime.date(2025, 1, 1))
    now = timezone.now()
    drafts = []
    for i in range(reports):
        exam = Exam.objects.create(
            site=site,
            study_instance_uid=f"2.25.7{i:08d}",
            accession_number=f"BENCH{i:06d}",
            patient_name=f"PATIENT^Synthétique^{i}",
            patient_id=f"IPP{i:06d}",
            patient_birth_date=datetime.date(1950, 1, 1) + datetime.timedelta(days=97 * i),
            patient_sex="F" if i % 2 else "M",
            study_datetime=now - datetime.timedelta(hours=1),
            study_description="Scanner cérébral sans injection",
            modality="CT",
            status="IN_READING",
            assigned_to=user,
            received_at=now,
        )
        drafts.append(
            Report.objects.create(
                exam=exam,
                author=user,
                indication="Céphalées brutales, suspicion d'hémorragie méningée.",
                technique="Scanner cérébral sans injection, réalisé sur CT Landerneau (CH Landerneau).",
                dose="PDL total : 812,0 mGy·cm ; CTDIvol maximal : 52,3 mGy (source : rapport de dose DICOM)",
                findings="\n".join(f"Ligne de résultats n° {k} : pas d'anomalie." for k in range(20)),
                conclusion="Pas d'hémorragie intracrânienne. Pas d'anomalie aiguë.",
            )
        )
    return user, drafts


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _measure(user, drafts) -> dict[str, list[float]]:
    from django.db import transaction

    from reports.models import ReportDelivery
    from reports.pdf import report_pdf
    from reports.services import report_sign

    sign_to_ack = []
    for draft in drafts:
        t0 = time.perf_counter()
        with transaction.atomic():  # the request's transaction; on_commit runs the (eager) delivery
            report_sign(report=draft, by=user, password=PASSWORD)
        sign_to_ack.append(time.perf_counter() - t0)
    delivered = ReportDelivery.objects.filter(status=ReportDelivery.Status.DELIVERED).count()
    if delivered != len(drafts):
        sys.exit(f"only {delivered} of {len(drafts)} deliveries were acknowledged")

    pdf = []
    for draft in drafts:
        draft.refresh_from_db()
        t0 = time.perf_counter()
        report_pdf(report=draft)
        pdf.append(time.perf_counter() - t0)
    return {"sign_to_ack": sign_to_ack, "pdf": pdf}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=50, help="reports signed and delivered (measured)")
    args = parser.parse_args(argv)

    _recreate_database()
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-pacs-") as received:
        env = {**os.environ, "TCP_NODELAY": "1"}
        pacs = subprocess.Popen(
            [_storescp(), "-aet", PACS_AE, "-od", received, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            _wait_for(port)
            user, drafts = _populate(reports=args.reports, port=port)
            result = _measure(user, drafts)
            files = len(os.listdir(received))
        finally:
            pacs.terminate()
            pacs.wait(timeout=10)

    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPU, "
        f"Python {platform.python_version()}"
    )
    print(f"date: {datetime.datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"data: {args.reports} reports signed, {files} files received by storescp")
    for name, key, target in (("sign → PACS ack", "sign_to_ack", 2.0), ("PDF rendering", "pdf", None)):
        values = [v * 1000 for v in result[key]]
        p50, p95 = _pct(values, 50), _pct(values, 95)
        met = target is not None and p95 < target * 1000
        verdict = "" if target is None else f"  (target p95 < {target:g} s: {'met' if met else 'NOT met'})"
        print(f"{name:16} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {max(values):7.1f} ms{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
