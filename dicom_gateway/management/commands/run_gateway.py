"""Run the DICOM gateway in the foreground (the Procfile's ``gateway`` process)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from dicom_gateway import metrics
from dicom_gateway.ae import acceptor_config, default_gateway_processes, gateway_address
from dicom_gateway.storage import get_storage
from dicom_gateway.upper_layer import Gateway

logger = logging.getLogger("dicom_gateway")

# Set by the supervisor of several listeners for each of them (see _listen).
_SUPERVISOR_PID = "TELERADIO_GATEWAY_SUPERVISOR_PID"


class Command(BaseCommand):
    help = "Start the DICOM gateway (C-ECHO, C-STORE) and block until SIGTERM/SIGINT."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--processes",
            type=int,
            default=None,
            help=(
                "Listener processes sharing the port through SO_REUSEPORT (the kernel spreads "
                "associations between them). One process is bound by the GIL to about one core. "
                "Default: DICOM_GATEWAY_PROCESSES (0: one per core with PostgreSQL, one with SQLite)."
            ),
        )
        # Internal: a listener started by a parent with --processes N (no orphan cleanup:
        # its siblings' temporary files are in flight).
        parser.add_argument("--worker-index", type=int, default=None, help="(internal)")

    def handle(self, *args, **options) -> None:
        processes: int = options["processes"] if options["processes"] is not None else default_gateway_processes()
        worker_index: int | None = options["worker_index"]
        if processes < 1:
            raise CommandError("--processes must be at least 1")
        stop = threading.Event()
        address = gateway_address()

        def request_stop(signum: int, _frame) -> None:
            logger.info("DICOM gateway %s: %s received, shutting down", address.ae_title, signal.Signals(signum).name)
            stop.set()

        # Installed before the server starts, so an early signal is not lost.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

        if worker_index is None:
            # Temporary files of a crashed run were never acknowledged: remove them,
            # once, before any listener starts writing new ones.
            removed = get_storage().clean_orphans()
            if removed:
                logger.info("removed %s orphan temporary file(s) from the store", removed)
        if processes > 1 and worker_index is None:
            self._supervise(processes, stop)
            return
        self._listen(address, stop, worker_index)

    def _listen(self, address, stop: threading.Event, worker_index: int | None) -> None:
        if settings.GATEWAY_METRICS_PORT and worker_index is None:
            # A single listener serves its own metrics; several: their supervisor (_supervise).
            metrics.serve()
            logger.info(
                "gateway metrics at http://%s:%s/metrics", settings.GATEWAY_METRICS_BIND, settings.GATEWAY_METRICS_PORT
            )

        gateway = Gateway(acceptor_config(), address.host, address.port)
        gateway.start()
        logger.info("DICOM gateway %s listening on %s:%s", address.ae_title, address.host, gateway.port)
        # Named by the supervisor, not read from getppid() here: it may already be gone.
        supervisor = int(os.environ.get(_SUPERVISOR_PID, "0"))
        try:
            while not stop.wait(timeout=1.0):
                if worker_index is not None and os.getppid() != supervisor:
                    # The supervisor died (kill -9, OOM): stop as on SIGTERM rather than linger
                    # on the port beside the gateway that will be started again.
                    logger.warning("listener %s: its supervisor is gone, stopping", worker_index)
                    break
        finally:
            # Stop accepting, let in-flight stores finish (they answer only once durable).
            aborted = gateway.stop()
            logger.info("DICOM gateway %s stopped (%s association(s) aborted)", address.ae_title, aborted)

    def _supervise(self, processes: int, stop: threading.Event) -> None:
        """Start N listeners on the same port and stop them together.

        Separate processes, not threads: the per-message work holds the
        GIL, so one process uses about one core however many scanners send. If
        a listener dies, the others are stopped gracefully and the command
        fails, so that the process supervisor restarts the whole gateway.
        """
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "run_gateway", "--processes", "1"]
        # The listeners write their counters to files there (prometheus_client's multiprocess
        # mode, chosen by this variable when they start); this process serves their sum.
        metrics_dir = tempfile.mkdtemp(prefix="teleradio-gateway-metrics-")
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir, _SUPERVISOR_PID: str(os.getpid())}
        if settings.GATEWAY_METRICS_PORT:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=metrics_dir)
            metrics.serve(registry)
        try:
            self._run_children(command, env, processes, stop)
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)

    def _run_children(self, command: list[str], env: dict, processes: int, stop: threading.Event) -> None:
        children = [subprocess.Popen([*command, "--worker-index", str(i)], env=env) for i in range(processes)]
        logger.info("DICOM gateway: %s listener processes %s", processes, [c.pid for c in children])
        failed = None
        while not stop.wait(timeout=0.5):
            failed = next((c for c in children if c.poll() is not None), None)
            if failed is not None:
                logger.error("listener process %s exited with %s; stopping the others", failed.pid, failed.returncode)
                break
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + settings.DICOM_SHUTDOWN_GRACE_SECONDS + 5
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if failed is not None:
            raise CommandError(f"listener process {failed.pid} exited with {failed.returncode}")
