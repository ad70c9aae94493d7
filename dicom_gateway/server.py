"""The listening server: socket options, start, graceful stop.

pynetdicom's server does not set TCP_NODELAY on accepted sockets; on loopback
100 small instances take 8.9 s with Nagle's algorithm and 0.07 s without, so
every accepted socket gets it. SO_REUSEPORT lets several gateway processes
share one port (the kernel spreads connections between them).

Two per-association costs of pynetdicom are avoided here (docs/benchmarks.md):
each new association deep-copies the server's presentation contexts (171
SOP classes × 45 transfer syntaxes: about 0.12 s of the GIL for every
association, because every UID is re-validated), and its reactor sleeps 1 ms
before each look for a decoded message (``ae.GatewayAssociation``).
"""

from __future__ import annotations

import logging
import socket
import threading
import time

from django.conf import settings
from pynetdicom import AE
from pynetdicom.presentation import PresentationContext
from pynetdicom.transport import RequestHandler, ThreadedAssociationServer

from dicom_gateway.ae import GatewayAssociation, reactor_override_applies
from dicom_gateway.handlers import HANDLERS

logger = logging.getLogger("dicom_gateway")


class SharedSyntaxContext(PresentationContext):
    """A supported presentation context whose deep copy shares its (immutable) UIDs.

    pynetdicom deep-copies the server's contexts for every association; UIDs are
    immutable strings, so copying the lists that hold them is enough, and skips
    re-validating some 7,700 UIDs per association.
    """

    @classmethod
    def from_context(cls, context: PresentationContext) -> SharedSyntaxContext:
        shared = cls.__new__(cls)
        shared.__dict__.update(context.__dict__)
        shared._transfer_syntax = list(context._transfer_syntax)
        return shared

    def __deepcopy__(self, memo: dict) -> SharedSyntaxContext:
        return self.from_context(self)


class GatewayRequestHandler(RequestHandler):
    def _create_association(self):
        assoc = super()._create_association()
        if reactor_override_applies():
            # Same object, with the reactor that serves messages without a fixed sleep.
            assoc.__class__ = GatewayAssociation
        return assoc


class GatewayServer(ThreadedAssociationServer):
    # Association threads must not keep the process alive after the grace period.
    daemon_threads = True
    block_on_close = False

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("request_handler", GatewayRequestHandler)
        super().__init__(*args, **kwargs)
        self.contexts = [SharedSyntaxContext.from_context(cx) for cx in self.contexts]
        if not reactor_override_applies():
            logger.warning("pynetdicom's association reactor changed: using it as is (1 ms sleep per message)")

    def server_bind(self) -> None:
        if hasattr(socket, "SO_REUSEPORT"):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def get_request(self):
        client, address = super().get_request()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client, address


class Gateway:
    """One running listener: ``start()``, then ``stop()`` (graceful)."""

    def __init__(self, ae: AE, host: str, port: int):
        self.ae = ae
        self.host = host
        self.port = port
        self.server: GatewayServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.server = self.ae.make_server((self.host, self.port), evt_handlers=HANDLERS, server_class=GatewayServer)
        self.port = self.server.server_address[1]  # the real port when 0 was asked
        self._thread = threading.Thread(target=self.server.serve_forever, name="GatewayAcceptor", daemon=True)
        self._thread.start()
        self.ae._servers.append(self.server)

    def stop(self, grace_seconds: float | None = None) -> int:
        """Stop accepting, let in-flight associations finish, abort what remains.

        Returns:
            How many associations had to be aborted after the grace period.
        """
        if self.server is None:
            return 0
        grace = settings.DICOM_SHUTDOWN_GRACE_SECONDS if grace_seconds is None else grace_seconds
        server = self.server
        server.shutdown()  # stops accepting, closes the listening socket
        deadline = time.monotonic() + grace
        while server.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)
        remaining = list(server.active_associations)
        for assoc in remaining:
            assoc.abort()
        if remaining:
            logger.warning("aborted %s association(s) still open after %.0fs", len(remaining), grace)
        self.server = None
        return len(remaining)
