"""Run the DICOM gateway in the foreground (the Procfile's ``gateway`` process)."""

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from prometheus_client import start_http_server

from dicom_gateway.ae import build_ae, gateway_address
from dicom_gateway.server import Gateway
from dicom_gateway.storage import get_storage

logger = logging.getLogger("dicom_gateway")


class Command(BaseCommand):
    help = "Start the DICOM gateway (C-ECHO, C-STORE) and block until SIGTERM/SIGINT."

    def handle(self, *args, **options) -> None:
        address = gateway_address()
        stop = threading.Event()

        def request_stop(signum: int, _frame) -> None:
            logger.info("DICOM gateway %s: %s received, shutting down", address.ae_title, signal.Signals(signum).name)
            stop.set()

        # Installed before the server starts, so an early signal is not lost.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

        # Temporary files of a crashed run were never acknowledged: remove them.
        removed = get_storage().clean_orphans()
        if removed:
            logger.info("removed %s orphan temporary file(s) from the store", removed)
        if settings.GATEWAY_METRICS_PORT:
            start_http_server(settings.GATEWAY_METRICS_PORT, addr=settings.GATEWAY_METRICS_BIND)
            logger.info(
                "gateway metrics at http://%s:%s/metrics", settings.GATEWAY_METRICS_BIND, settings.GATEWAY_METRICS_PORT
            )

        gateway = Gateway(build_ae(), address.host, address.port)
        gateway.start()
        logger.info("DICOM gateway %s listening on %s:%s", address.ae_title, address.host, gateway.port)
        try:
            while not stop.wait(timeout=1.0):
                pass
        finally:
            # Stop accepting, let in-flight stores finish (they answer only once durable).
            aborted = gateway.stop()
            logger.info("DICOM gateway %s stopped (%s association(s) aborted)", address.ae_title, aborted)
