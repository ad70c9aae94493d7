"""Run the DICOM gateway in the foreground (the Procfile's ``gateway`` process)."""

import logging
import signal
import threading

from django.core.management.base import BaseCommand

from dicom_gateway.ae import build_ae, gateway_address

logger = logging.getLogger("dicom_gateway")


class Command(BaseCommand):
    help = "Start the DICOM gateway (C-ECHO only until the ingest lands) and block until SIGTERM/SIGINT."

    def handle(self, *args, **options) -> None:
        address = gateway_address()
        stop = threading.Event()

        def request_stop(signum: int, _frame) -> None:
            logger.info("DICOM gateway %s: %s received, shutting down", address.ae_title, signal.Signals(signum).name)
            stop.set()

        # Installed before the server starts, so an early signal is not lost.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

        ae = build_ae()
        # Non-blocking server thread: the main thread stays free to receive
        # signals and then shut the server down (closing the socket and
        # waiting for the serving thread) instead of dying mid-association.
        server = ae.start_server((address.host, address.port), block=False)
        logger.info(
            "DICOM gateway %s listening on %s:%s (C-ECHO only until the ingest lands)",
            address.ae_title,
            address.host,
            address.port,
        )
        try:
            while not stop.wait(timeout=1.0):
                pass
        finally:
            server.shutdown()
            ae.shutdown()
            logger.info("DICOM gateway %s stopped", address.ae_title)
