"""Ingest benchmark: dcmtk storescu → dcmtk storescp vs storescu → our gateway.

Run it by hand (``python -m benchmarks.ingest``), never as a timed test; the
figures and how they were taken are kept in docs/benchmarks.md. It sends the
same synthetic files, in one run, to:

(a) dcmtk's storescp (``--fork``, one child per association, writing each
    instance to disk without fsync; that is what storescp does), and
(b) our gateway as it runs in production: ``manage.py run_gateway`` as its own
    process, fsync before every answer, PostgreSQL index, Celery beat + worker
    marking exams READY after the quiet period;
(d) with ``--receivers …,floor``: the upper layer plus only what "durable before
    acknowledged" requires of every instance — the gateway's store (temporary file,
    fsync, rename, directory fsync) and one committed PostgreSQL row — with no
    parsing and no index: the best any gateway keeping those rules can do on this
    machine, against which the targets can be judged.
(e) with ``--receivers …,journal``: an experiment, not a design: the upper layer,
    each instance appended to a preallocated journal file and fdatasynced, then one
    committed row — what acknowledging after a journal append would give if the file
    were written to the store later (that later work is not done, so this is an upper
    bound): the price of relaxing the issue's "temporary file, fsync, rename" rule.
(c) with ``--receivers …,stack``: the gateway's DICOM upper layer alone
    (``dicom_gateway.upper_layer``, a C-STORE handler that only builds the Part 10
    bytes and answers success: no storage, no index), the ceiling of the gateway;
    ``pynetdicom-stock`` is pynetdicom's own server and reactor with TCP_NODELAY and
    ``event.encoded_dataset()`` (the stack the gateway used before decision 008).

Both get ``TCP_NODELAY=1`` (dcmtk reads it from the environment; the gateway
sets it on its sockets). It prints instances/s, MB/s and the gateway/storescp
ratio per study shape and number of scanners, the gateway's memory over a
5,000-instance run, and the delay from an exam's last instance to READY beyond
the quiet period. Each shape is followed by a probe of the disk (``durability_probe``): the p50 of
what the rule costs one instance of that size, measured alone in the same run —
the gateway's ``FileSystemStorage.store`` (temporary file, fsync, rename,
directory fsync) and a one-row INSERT + COMMIT — and the best ratio a single
scanner could reach with it (storescp's time over the stack's time plus that cost
per instance). ``--py-spy DIR`` records where the gateway spends its time
(py-spy must be installed; it slows the gateway, so use it for profiles only).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg

from core.testing import free_port
from dicom_gateway.simulator import build_study, write_study

ROOT = Path(__file__).resolve().parents[1]
STORESCU = "/usr/bin/storescu"  # dcmtk's; pynetdicom installs a look-alike in .venv/bin
STORESCP = "/usr/bin/storescp"
ECHOSCU = "/usr/bin/echoscu"
# dcmtk disables Nagle's algorithm when TCP_NODELAY is set in its environment.
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}
# storescp's largest receive PDU; storescu is given the same for its responses.
DCMTK_MAX_PDU = 131072
CALLED_AE = "TELERADIO"
BROKER_URL = "redis://127.0.0.1:6379/13"
PG = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "teleradio_bench"

FULL_COUNTS = {"ct-chest": 300, "mr-brain": 500, "small": 2000}
QUICK_COUNTS = {"ct-chest": 30, "mr-brain": 50, "small": 200}
# Gateway/storescp throughput targets of issue #4.
TARGETS = {"ct-chest": 0.7, "mr-brain": 0.5, "small": 0.3}
READY_P95_TARGET = 1.0  # seconds beyond the quiet period
# "Flat" memory: less than this growth per 1,000 instances over the second half of the
# run (the first associations warm up: imports, caches, allocator arenas of new threads).
FLAT_KB_PER_1000 = 512
MEMORY_ASSOCIATIONS = 10


@dataclass
class StudyFiles:
    directory: Path
    instances: int
    nbytes: int


@dataclass
class Measurement:
    shape: str
    scanners: int
    receiver: str
    instances: int
    nbytes: int
    seconds: float
    runs: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the receiver's CPU seconds per run (not storescp's)

    @property
    def per_second(self) -> float:
        return self.instances / self.seconds

    @property
    def mb_per_second(self) -> float:
        return self.nbytes / 1e6 / self.seconds


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until a C-ECHO succeeds.

    A DICOM probe rather than a bare TCP connect: pynetdicom keeps an
    association thread for a connection that never sent A-ASSOCIATE-RQ until
    the ACSE timeout, which would hold the gateway's graceful stop.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before listening")
        echo = subprocess.run(
            [ECHOSCU, "-aet", "BENCH_CT1", "-aec", CALLED_AE, "-to", "2", "127.0.0.1", str(port)],
            env=DCMTK_ENV,
            capture_output=True,
            check=False,
        )
        if echo.returncode == 0:
            return
        time.sleep(0.1)
    raise TimeoutError(f"no C-ECHO answer on {port} after {timeout}s")


def stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def generate(workdir: Path, counts: dict[str, int], scanners: int, memory_instances: int) -> dict:
    """Write every study once: per shape, one distinct study (own UIDs) per scanner."""
    studies: dict[tuple[str, int], StudyFiles] = {}
    for shape, count in counts.items():
        for scanner in range(scanners):
            directory = workdir / "studies" / shape / f"scanner{scanner + 1}"
            paths = write_study(
                build_study(shape, count=count, patient_id=f"BENCH{scanner + 1:02d}", patient_name="BENCH^Patient"),
                directory,
            )
            studies[shape, scanner] = StudyFiles(directory, len(paths), sum(p.stat().st_size for p in paths))
    # The memory run: MEMORY_ASSOCIATIONS associations, small instances (per-message cost dominates).
    memory = []
    for index in range(MEMORY_ASSOCIATIONS if memory_instances else 0):
        directory = workdir / "studies" / "memory" / f"part{index + 1}"
        count = memory_instances // MEMORY_ASSOCIATIONS
        paths = write_study(build_study("small", count=count, patient_id=f"MEM{index}"), directory)
        memory.append(StudyFiles(directory, len(paths), sum(p.stat().st_size for p in paths)))
    return {"studies": studies, "memory": memory}


def storescu(port: int, calling_ae: str, directory: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            STORESCU,
            "-aet",
            calling_ae,
            "-aec",
            CALLED_AE,
            "--max-pdu",
            str(DCMTK_MAX_PDU),
            "+sd",
            "127.0.0.1",
            str(port),
            str(directory),
        ],
        env=DCMTK_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def send(port: int, studies: list[StudyFiles]) -> float:
    """Start one storescu per scanner at once; seconds until the last one is done."""
    started = time.perf_counter()
    senders = [storescu(port, f"BENCH_CT{i + 1}", study.directory) for i, study in enumerate(studies)]
    errors = [sender.communicate()[1] for sender in senders]
    elapsed = time.perf_counter() - started
    for sender, stderr in zip(senders, errors, strict=True):
        if sender.returncode != 0 or "E:" in stderr:
            raise RuntimeError(f"storescu failed ({sender.returncode}): {stderr[-2000:]}")
    return elapsed


# --- the reference: dcmtk storescp ----------------------------------------------------------


def measure_storescp(workdir: Path, studies: list[StudyFiles]) -> float:
    out = workdir / "storescp-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    port = free_port()
    process = subprocess.Popen(
        [STORESCP, "--fork", "-dhl", "-pdu", str(DCMTK_MAX_PDU), "-aet", CALLED_AE, "-od", str(out), str(port)],
        env=DCMTK_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process)
        seconds = send(port, studies)
    finally:
        stop(process)
    written = sum(1 for _ in out.iterdir())
    expected = sum(s.instances for s in studies)
    if written != expected:
        raise RuntimeError(f"storescp wrote {written} files, expected {expected}")
    shutil.rmtree(out, ignore_errors=True)
    return seconds


# --- our gateway ----------------------------------------------------------------------------


class Bench:
    """The database, Celery beat + worker, and gateway processes of one benchmark run."""

    def __init__(self, workdir: Path, quiet_seconds: float, processes: int):
        self.workdir = workdir
        self.quiet = quiet_seconds
        self.processes = processes
        self.storage = workdir / "gateway-storage"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "teleradio.settings",
            "DEBUG": "False",
            "SECRET_KEY": "benchmark-only-secret-key-not-used-anywhere-else-0123456789",
            "DATABASE_URL": f"{PG}/{DB_NAME}",
            "STORAGE_ROOT": str(self.storage),
            "GATEWAY_METRICS_PORT": "0",
            "EXAM_QUIET_SECONDS": str(quiet_seconds),
            "LOG_LEVEL": "WARNING",
            "CELERY_BROKER_URL": BROKER_URL,
            "DICOM_AE_TITLE": CALLED_AE,
            "DICOM_BIND_ADDRESS": "127.0.0.1",
        }
        self.celery: list[subprocess.Popen] = []
        self.py_spy_gil = False
        self.warm_store = False

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True)

    def database_create(self) -> None:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        self.manage("migrate", "--noinput")
        self.manage(
            "shell",
            "-c",
            "from sites.models import Ght, Site, Modality\n"
            "ght = Ght.objects.create(name='GHT Bench', short_name='BENCH')\n"
            "site = Site.objects.create(ght=ght, name='CH Bench', finess='290000017', timezone='Europe/Paris')\n"
            "for i in range(1, 5):\n"
            "    Modality.objects.create(site=site, name=f'Bench CT {i}', ae_title=f'BENCH_CT{i}')\n",
        )

    def database_drop(self) -> None:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    def reset(self) -> None:
        """Empty the exams and the store, so that every run receives new instances.

        With ``warm_store``, the store keeps its 65,536 key directories (``ab/cd/``) and
        loses only its files: a store in service, where nearly every instance lands in a
        directory that exists. Without it, each run starts from an empty store, and most
        instances also create (and fsync) their directories.
        """
        with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as conn:
            conn.execute("TRUNCATE worklist_exam CASCADE")
        if not self.warm_store:
            shutil.rmtree(self.storage, ignore_errors=True)
            self.storage.mkdir(parents=True)
            return
        if not (self.storage / "ff" / "ff").is_dir():
            for top in range(256):
                for leaf in range(256):
                    (self.storage / f"{top:02x}" / f"{leaf:02x}").mkdir(parents=True, exist_ok=True)
        for top in os.scandir(self.storage):
            if top.is_dir() and top.name != "tmp":
                for leaf in os.scandir(top.path):
                    for entry in os.scandir(leaf.path):
                        os.unlink(entry.path)
        os.sync()

    def celery_start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            subprocess.run(["redis-cli", "-n", "13", "flushdb"], check=False, capture_output=True)
        celery = [sys.executable, "-m", "celery", "-A", "teleradio"]
        log = (self.workdir / "celery.log").open("a")
        self.celery = [
            subprocess.Popen(
                [*celery, "worker", "--concurrency", "1", "--loglevel", "WARNING", "-n", "bench@%h"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            ),
            subprocess.Popen(
                [*celery, "beat", "--loglevel", "WARNING", "-s", str(self.workdir / "celerybeat-schedule")],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            ),
        ]

    def celery_stop(self) -> None:
        for process in self.celery:
            stop(process)

    @contextlib.contextmanager
    def gateway(self) -> Iterator[tuple[subprocess.Popen, int]]:
        port = free_port()
        # Always named: the product's default (one per core) is not what a given run compares.
        args = [sys.executable, "manage.py", "run_gateway", "--processes", str(self.processes)]
        log = (self.workdir / "gateway.log").open("a")
        process = subprocess.Popen(args, cwd=ROOT, env={**self.env, "DICOM_PORT": str(port)}, stdout=log, stderr=log)
        try:
            wait_listening(port, process)
            if self.processes > 1:
                time.sleep(1.0)  # let every worker process bind and set up before sending
            yield process, port
        finally:
            stop(process)
            log.close()

    def counts(self) -> tuple[int, int]:
        with psycopg.connect(f"{PG}/{DB_NAME}") as conn:
            row = conn.execute("SELECT count(*), coalesce(sum(number_of_instances), 0) FROM worklist_exam").fetchone()
        return int(row[0]), int(row[1])

    def ready_delays(self, expected_exams: int, timeout: float) -> list[float]:
        """Seconds from each exam's last instance to READY, beyond the quiet period."""
        deadline = time.monotonic() + timeout
        with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as conn:
            while True:
                rows = conn.execute(
                    "SELECT extract(epoch FROM ready_at - last_instance_at) FROM worklist_exam "
                    "WHERE ready_at IS NOT NULL"
                ).fetchall()
                if len(rows) >= expected_exams or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        if len(rows) < expected_exams:
            _log(f"only {len(rows)}/{expected_exams} exams READY after {timeout}s")
        return [float(seconds) - self.quiet for (seconds,) in rows]


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process's threads and of its live children (--processes N)."""
    ticks = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def process_tree_rss_kb(pid: int) -> int:
    """VmRSS of a process and its children (the worker processes of --processes N)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.peak = max(self.peak, process_tree_rss_kb(self.pid))

    def finish(self) -> int:
        self._done.set()
        self.join()
        return self.peak


@contextlib.contextmanager
def py_spy(pid: int, output: Path | None, gil: bool = False) -> Iterator[None]:
    """Record the gateway's stacks (raw collapsed format) while the block runs.

    ``gil``: sample only the thread holding the GIL (where the Python CPU goes);
    otherwise every busy thread (wall time, including fsync and socket waits).
    """
    if output is None:
        yield
        return
    recorder = subprocess.Popen(
        [
            "py-spy",
            "record",
            *(["--gil"] if gil else []),
            "--format",
            "raw",
            "--rate",
            "250",
            "--nonblocking",
            "--subprocesses",
            "-o",
            str(output),
            "-p",
            str(pid),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy needs a moment to attach
    try:
        yield
    finally:
        stop(recorder, signal.SIGINT)


def profile_summary(path: Path, top: int = 15) -> str:
    """Top frames of a py-spy raw profile: self time (leaf frame) and inclusive time."""
    leaf: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        frames = [frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
                  for frame in stack.split(";")[1:]]  # fmt: skip
        if not frames:
            continue
        total += samples
        leaf[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    lines = [f"{path.name}: {total} samples (busy threads only)", "  self:"]
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in leaf.most_common(top)]
    lines.append("  inclusive:")
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines)


def measure_gateway(bench: Bench, shape: str, studies: list[StudyFiles], profile_dir: Path | None) -> dict:
    bench.reset()
    with bench.gateway() as (process, port):
        profile = profile_dir / f"{shape}-{len(studies)}.txt" if profile_dir else None
        with py_spy(process.pid, profile, gil=bench.py_spy_gil):
            cpu = process_tree_cpu_seconds(process.pid)
            seconds = send(port, studies)
            cpu = process_tree_cpu_seconds(process.pid) - cpu
        exams, instances = bench.counts()
        expected = sum(s.instances for s in studies)
        if (exams, instances) != (len(studies), expected):
            raise RuntimeError(f"gateway indexed {exams} exams / {instances} instances, expected {expected}")
        _log("  waiting for READY")
        delays = bench.ready_delays(len(studies), timeout=bench.quiet + 30)
        _log("  stopping the gateway")
    if profile and profile.exists():
        print(profile_summary(profile), flush=True)
    return {"seconds": seconds, "cpu": cpu, "ready_delays": delays}


def measure_memory(bench: Bench, parts: list[StudyFiles]) -> dict:
    bench.reset()
    with bench.gateway() as (process, port):
        before = process_tree_rss_kb(process.pid)
        sampler = RssSampler(process.pid)
        sampler.start()
        after_each = []
        for part in parts:
            send(port, [part])
            after_each.append(process_tree_rss_kb(process.pid))
        peak = sampler.finish()
        delays = bench.ready_delays(len(parts), timeout=bench.quiet + 30)
    per_part = parts[0].instances
    # Growth over the second half of the run, after the warm-up of the first associations.
    half = len(after_each) // 2
    slope = (after_each[-1] - after_each[half - 1]) / (len(after_each) - half) * 1000 / per_part
    return {
        "instances": sum(p.instances for p in parts),
        "associations": len(parts),
        "rss_before_kb": before,
        "rss_after_each_kb": after_each,
        "rss_peak_kb": max(peak, *after_each),
        "growth_kb_per_1000": slope,
        "flat": slope < FLAT_KB_PER_1000,
        "ready_delays": delays,
    }


# --- the DICOM stack alone ------------------------------------------------------------------


JOURNAL_BYTES = 1200 << 20  # more than one run of any shape appends


BARE_RECEIVERS = ("stack", "floor", "journal", "pynetdicom-stock")


def serve_bare(port: int, receiver: str) -> int:
    """A C-STORE SCP that answers success after doing only what ``receiver`` says.

    stack: the gateway's upper layer and connection tuning, storing and indexing
    nothing (what the gateway's DICOM layer costs); floor and journal: the same plus
    their durability work (module docstring); pynetdicom-stock: pynetdicom's server
    and reactor, TCP_NODELAY only.
    """
    floor, journal = receiver == "floor", receiver == "journal"
    import django

    django.setup()
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
    from pynetdicom.sop_class import Verification

    from dicom_gateway import handlers
    from dicom_gateway.ae import acceptor_config
    from dicom_gateway.upper_layer import Gateway

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    if receiver != "pynetdicom-stock":
        from django.db import connection

        from dicom_gateway.storage import get_storage

        storage = get_storage()
        journal_fd, journal_end, journal_lock = -1, 0, threading.Lock()
        if journal:
            # Zeroed and fsynced beforehand, so that an append changes no metadata and its
            # fdatasync is a data flush only (no filesystem journal commit).
            storage.root.mkdir(parents=True, exist_ok=True)
            journal_fd = os.open(storage.root / "journal.bin", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o640)
            zeros = bytes(1 << 20)
            for _ in range(JOURNAL_BYTES >> 20):
                os.write(journal_fd, zeros)
            os.fsync(journal_fd)

        def receive(stats, *, abstract_syntax, sop_class_uid, sop_instance_uid, transfer_syntax, dataset) -> int:
            nonlocal journal_end
            data = handlers.part10_header(sop_class_uid, sop_instance_uid, transfer_syntax) + dataset
            if journal:
                with journal_lock:
                    offset, journal_end = journal_end, journal_end + len(data)
                os.pwrite(journal_fd, data, offset % JOURNAL_BYTES)
                os.fdatasync(journal_fd)
                with connection.cursor() as cursor:  # autocommit: INSERT and COMMIT in one round trip
                    cursor.execute(
                        "INSERT INTO bench_floor (storage_key) VALUES (%s) ON CONFLICT DO NOTHING",
                        [storage.key_for(data)],
                    )
            elif floor:
                stored = storage.store(data)
                with connection.cursor() as cursor:  # autocommit, as the gateway's known series
                    cursor.execute(
                        "INSERT INTO bench_floor (storage_key) VALUES (%s) ON CONFLICT DO NOTHING", [stored.key]
                    )
            return 0x0000

        if floor or journal:
            with connection.cursor() as cursor:
                cursor.execute("CREATE TABLE IF NOT EXISTS bench_floor (storage_key varchar(80) PRIMARY KEY)")
                cursor.execute("TRUNCATE bench_floor")

        handlers.store = receive
        handlers.association_requested = lambda calling_ae, peer_ip: handlers.AssociationStats(calling_ae, peer_ip)
        gateway = Gateway(acceptor_config(), "127.0.0.1", port)
        gateway.start()
        done.wait()
        gateway.stop(grace_seconds=1)
        return 0

    def nodelay(event) -> None:
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def store(event) -> int:
        event.encoded_dataset(include_meta=True)
        return 0x0000

    ae = AE()
    ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    server = ae.make_server(
        ("127.0.0.1", port),
        evt_handlers=[(evt.EVT_CONN_OPEN, nodelay), (evt.EVT_C_STORE, store)],
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    done.wait()
    server.shutdown()
    return 0


def measure_bare(bench: Bench, studies: list[StudyFiles], receiver: str) -> tuple[float, float]:
    """Seconds to receive the studies, and the receiver's CPU seconds meanwhile."""
    port = free_port()
    if receiver in ("floor", "journal"):
        bench.reset()  # an empty store (or one with its key directories only), as for the gateway
    args = [sys.executable, "-m", "benchmarks.ingest", "--serve-bare", str(port)]
    args += ["--bare-receiver", receiver]
    log = (bench.workdir / "bare.log").open("a")
    process = subprocess.Popen(args, cwd=ROOT, env=bench.env, stdout=log, stderr=log)
    try:
        wait_listening(port, process)
        cpu = process_tree_cpu_seconds(process.pid)
        seconds = send(port, studies)
        return seconds, process_tree_cpu_seconds(process.pid) - cpu
    finally:
        stop(process)
        log.close()


PROBE_INSTANCES = 200


def durability_probe(bench: Bench, instance_bytes: int, count: int = PROBE_INSTANCES) -> dict[str, float]:
    """What "durable before acknowledged" costs one instance on this disk, measured alone.

    Returns the p50 seconds of the gateway's own ``FileSystemStorage.store`` (temporary
    file, fsync, rename, directory fsync) of ``instance_bytes`` of new bytes into the
    benchmark's store, and of a one-row INSERT + COMMIT into its database.
    """
    from dicom_gateway.storage import FileSystemStorage

    bench.reset()  # the store as the gateway finds it (its key directories kept with --warm-store)
    storage = FileSystemStorage(bench.storage)
    blobs = [os.urandom(instance_bytes) for _ in range(count)]  # new bytes, so never "already stored"
    stores = []
    for blob in blobs:
        started = time.perf_counter()
        storage.store(blob)
        stores.append(time.perf_counter() - started)
    commits = []
    with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_probe (id bigserial PRIMARY KEY, storage_key varchar(80))")
        for blob in blobs:
            started = time.perf_counter()
            conn.execute("INSERT INTO bench_probe (storage_key) VALUES (%s)", [storage.key_for(blob)])
            commits.append(time.perf_counter() - started)
        conn.execute("DROP TABLE bench_probe")
    bench.reset()
    return {"store": statistics.median(stores), "commit": statistics.median(commits)}


def print_probes(probes: dict[str, dict[str, float]], rows: list[Measurement]) -> None:
    """The rule's cost per instance, and the best single-scanner ratio it leaves."""
    one = {(row.shape, row.receiver): row for row in rows if row.scanners == 1}
    print("\ndisk probe (p50, alone, same run): store = temporary file + fsync + rename + directory fsync")
    for shape, probe in probes.items():
        line = f"  {shape:<9} store {probe['store'] * 1e3:.2f} ms, one-row commit {probe['commit'] * 1e3:.2f} ms"
        reference, stack = one.get((shape, "storescp")), one.get((shape, "stack"))
        if reference and stack:
            best = stack.seconds + stack.instances * (probe["store"] + probe["commit"])
            line += (
                f"; storescp {reference.seconds:.2f} s, stack {stack.seconds:.2f} s → best ratio under the rule "
                f"{reference.seconds / best:.2f} (target {TARGETS[shape]:.2f})"
            )
        print(line)


# --- report ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))  # nearest rank
    return ordered[index]


def print_table(rows: list[Measurement]) -> None:
    """One line per measurement; ratios against storescp's median in the same run (range over runs)."""
    header = (
        f"{'shape':<9} {'scanners':>8} {'receiver':<16} {'instances':>9} {'MB':>7} {'seconds':>8} {'runs':>12} "
        f"{'inst/s':>8} {'MB/s':>7} {'CPU ms/inst':>11} {'ratio':>6} {'target':>6} {'met?':>4}"
    )
    print(header)
    print("-" * len(header))
    reference: dict[tuple[str, int], Measurement] = {}
    for row in rows:
        ratio = target = met = ""
        if row.receiver == "storescp":
            reference[row.shape, row.scanners] = row
        else:
            ref = reference.get((row.shape, row.scanners))
            if ref:
                value = ref.seconds / row.seconds
                ratio = f"{value:.2f}"
                if row.receiver == "gateway":
                    target = f"{TARGETS[row.shape]:.2f}"
                    met = "yes" if value >= TARGETS[row.shape] else "no"
        runs = f"{min(row.runs):.2f}–{max(row.runs):.2f}" if len(row.runs) > 1 else ""
        cpu = f"{1000 * statistics.median(row.cpu) / row.instances:.2f}" if row.cpu else ""
        print(
            f"{row.shape:<9} {row.scanners:>8} {row.receiver:<16} {row.instances:>9} {row.nbytes / 1e6:>7.1f} "
            f"{row.seconds:>8.2f} {runs:>12} {row.per_second:>8.0f} {row.mb_per_second:>7.1f} {cpu:>11} "
            f"{ratio:>6} {target:>6} {met:>4}"
        )


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default=",".join(FULL_COUNTS), help="comma-separated: ct-chest,mr-brain,small")
    parser.add_argument(
        "--receivers",
        default="storescp,stack,gateway",
        help="comma-separated, in order: storescp (the reference), stack, floor, journal, pynetdicom-stock, gateway",
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--bare-receiver", choices=BARE_RECEIVERS, default="stack", help=argparse.SUPPRESS)
    parser.add_argument("--scanners", default="1,4", help="comma-separated numbers of scanners sending at once")
    parser.add_argument("--quick", action="store_true", help="a tenth of the instances (smoke run)")
    parser.add_argument("--gateway-processes", type=int, default=1, help="run_gateway --processes N")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per measurement, receivers in turn; the median is reported"
    )
    parser.add_argument("--quiet-seconds", type=float, default=2.0, help="EXAM_QUIET_SECONDS of the gateway")
    parser.add_argument("--memory-instances", type=int, default=10000, help="0 skips the memory run")
    parser.add_argument("--py-spy", type=Path, metavar="DIR", help="record gateway profiles there (slows it)")
    parser.add_argument("--py-spy-gil", action="store_true", help="with --py-spy: sample the GIL holder only")
    parser.add_argument(
        "--warm-store", action="store_true", help="keep the store's key directories between runs (a store in service)"
    )
    parser.add_argument("--workdir", type=Path, help="keep files there instead of a temporary directory")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.serve_bare:
        return serve_bare(args.serve_bare, args.bare_receiver)
    receivers = [r for r in args.receivers.split(",") if r]

    shapes = [s for s in args.shapes.split(",") if s]
    scanner_counts = sorted({int(n) for n in args.scanners.split(",")})
    counts = {shape: (QUICK_COUNTS if args.quick else FULL_COUNTS)[shape] for shape in shapes}
    memory_instances = args.memory_instances // (10 if args.quick else 1)
    if args.py_spy:
        args.py_spy.mkdir(parents=True, exist_ok=True)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="teleradio-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    info = machine()
    info["storage_fs"] = subprocess.run(
        ["df", "-hT", str(workdir)], capture_output=True, text=True, check=False
    ).stdout.splitlines()[-1]
    _log(f"work directory {workdir}; generating studies")
    files = generate(workdir, counts, max(scanner_counts), memory_instances)
    _log("studies written; creating the database")
    bench = Bench(workdir, args.quiet_seconds, args.gateway_processes)
    bench.py_spy_gil = args.py_spy_gil
    bench.warm_store = args.warm_store
    rows: list[Measurement] = []
    delays: list[float] = []
    probes: dict[str, dict[str, float]] = {}
    memory: dict | None = None
    try:
        bench.database_create()
        bench.celery_start()
        for shape in shapes:
            for scanners in scanner_counts:
                studies = [files["studies"][shape, i] for i in range(scanners)]
                instances, nbytes = sum(s.instances for s in studies), sum(s.nbytes for s in studies)
                runs: dict[str, list[float]] = {receiver: [] for receiver in receivers}
                cpu: dict[str, list[float]] = {receiver: [] for receiver in receivers}
                # Round-robin, not each receiver's runs in a row: storescp's own time drifts by
                # up to 3× within minutes on a shared VM, and a ratio is only fair within one window.
                for _ in range(args.repeat):
                    for receiver in receivers:
                        _log(f"{shape} × {scanners} scanner(s) → {receiver}")
                        if receiver == "storescp":
                            runs[receiver].append(measure_storescp(workdir, studies))
                            _log(f"  {runs[receiver][-1]:.2f} s")
                        elif receiver in BARE_RECEIVERS:
                            seconds, cpu_seconds = measure_bare(bench, studies, receiver)
                            runs[receiver].append(seconds)
                            cpu[receiver].append(cpu_seconds)
                            _log(f"  {seconds:.2f} s, receiver CPU {cpu_seconds:.2f} s")
                        else:
                            result = measure_gateway(bench, shape, studies, args.py_spy)
                            runs[receiver].append(result["seconds"])
                            cpu[receiver].append(result["cpu"])
                            _log(f"  {result['seconds']:.2f} s, receiver CPU {result['cpu']:.2f} s")
                            delays += result["ready_delays"]
                for receiver, seconds in runs.items():
                    median = statistics.median(seconds)
                    rows.append(
                        Measurement(shape, scanners, receiver, instances, nbytes, median, seconds, cpu[receiver])
                    )
            study = files["studies"][shape, 0]
            _log(f"{shape}: disk probe")
            probes[shape] = durability_probe(bench, study.nbytes // study.instances)
        if memory_instances:
            _log(f"memory: {memory_instances} small instances in 5 associations")
            memory = measure_memory(bench, files["memory"])
            delays += memory["ready_delays"]
    finally:
        _log("stopping Celery, dropping the database")
        bench.celery_stop()
        bench.database_drop()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    info["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    print()
    print(f"machine: {json.dumps(info, ensure_ascii=False)}")
    print(
        f"storescp: --fork, -pdu {DCMTK_MAX_PDU}, writes without fsync; "
        f"gateway: {args.gateway_processes} process(es), fsync + PostgreSQL index; storescu --max-pdu {DCMTK_MAX_PDU}"
    )
    print()
    print_table(rows)
    print_probes(probes, rows)
    if memory:
        after = ", ".join(f"{kb / 1024:.0f}" for kb in memory["rss_after_each_kb"])
        print(
            f"\nmemory over {memory['instances']} instances ({memory['associations']} associations): "
            f"RSS before {memory['rss_before_kb'] / 1024:.0f} MB, after each association [{after}] MB, "
            f"peak {memory['rss_peak_kb'] / 1024:.0f} MB; growth {memory['growth_kb_per_1000']:.0f} kB per 1,000 "
            f"instances over the second half → {'flat' if memory['flat'] else 'NOT flat'}"
        )
    if delays:
        p95 = percentile(delays, 95)
        print(
            f"READY delay beyond the {args.quiet_seconds:g} s quiet period over {len(delays)} exams: "
            f"p50 {percentile(delays, 50):.2f} s, p95 {p95:.2f} s, max {max(delays):.2f} s "
            f"(target p95 < {READY_P95_TARGET:g} s: {'met' if p95 < READY_P95_TARGET else 'NOT met'})"
        )
    if args.json:
        payload = {
            "machine": info,
            "args": {k: str(v) for k, v in vars(args).items()},
            "rows": [asdict(r) for r in rows],
            "memory": memory,
            "ready_delays": delays,
            "disk_probes": probes,
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
