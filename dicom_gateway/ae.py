"""The gateway's DICOM Application Entity, built from settings, in one place.

What the AE accepts (SOP classes, transfer syntaxes) and its limits (PDU size,
associations, timeouts) are configured here; who may send is data
(sites.Modality, checked in handlers.handle_requested).
"""

import functools
import hashlib
import inspect
import logging
import queue
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import ModalityWorklistInformationFind, Verification

_PYNETDICOM_LOGGER = logging.getLogger("pynetdicom.association")


@dataclass(frozen=True)
class GatewayAddress:
    ae_title: str
    host: str
    port: int


def gateway_address() -> GatewayAddress:
    """Where the gateway listens, from DICOM_AE_TITLE, DICOM_BIND_ADDRESS and DICOM_PORT."""
    return GatewayAddress(
        ae_title=settings.DICOM_AE_TITLE,
        host=settings.DICOM_BIND_ADDRESS,
        port=int(settings.DICOM_PORT),
    )


def build_ae() -> AE:
    """A pynetdicom AE for C-ECHO and C-STORE of every standard storage SOP class.

    Every transfer syntax is accepted, compressed ones included: the gateway
    stores the bytes as received and never needs to decode pixel data.
    """
    ae = AE(ae_title=settings.DICOM_AE_TITLE)
    ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    # The Modality Worklist (dicom_gateway/mwl.py), and no other C-FIND: no Query/Retrieve here.
    ae.add_supported_context(ModalityWorklistInformationFind)
    ae.maximum_associations = settings.DICOM_MAX_ASSOCIATIONS
    ae.maximum_pdu_size = settings.DICOM_MAX_PDU
    ae.acse_timeout = settings.DICOM_ACSE_TIMEOUT
    ae.dimse_timeout = settings.DICOM_DIMSE_TIMEOUT
    ae.network_timeout = settings.DICOM_NETWORK_TIMEOUT
    return ae


# --- pynetdicom's association reactor, without its fixed 1 ms sleep -------------------------
#
# pynetdicom's acceptor loop (``Association._run_reactor``) sleeps 1 ms before every look at
# its queue of decoded DIMSE messages, so each C-STORE waits on average about 0.5 ms (up to
# 1 ms) after it has been fully received before its handler runs. No setting changes that
# sleep. ``GatewayAssociation`` below is that loop with the sleep and the non-blocking get
# replaced by a get that blocks on the same queue for at most ``REACTOR_IDLE_WAIT`` seconds:
# a message is served as soon as it is decoded, and an idle association still wakes up once
# a millisecond to check for release, abort and the idle timer, exactly as before.
#
# The loop is copied from pynetdicom 3.0.4 (MIT licence), so it is only used while
# pynetdicom's own loop is the one it was copied from: ``reactor_override_applies()``
# compares the source of ``Association._run_reactor`` with the hash below, and the server
# keeps pynetdicom's class otherwise (and logs it). dicom_gateway/tests/test_handlers.py fails
# when the hash no longer matches, so that an upgrade of pynetdicom re-reads this copy.

REACTOR_IDLE_WAIT = 0.001
_UPSTREAM_RUN_REACTOR_SHA256 = "f28838c5559e462a563750cfc9f3790027f4bb7e2223baf42c9f5d682c359dee"


@functools.cache
def reactor_override_applies() -> bool:
    """Whether pynetdicom's acceptor loop is still the one GatewayAssociation replaces."""
    try:
        source = inspect.getsource(Association._run_reactor)
    except (OSError, TypeError):
        return False
    return hashlib.sha256(source.encode()).hexdigest() == _UPSTREAM_RUN_REACTOR_SHA256


class GatewayAssociation(Association):
    """An acceptor association whose reactor serves each DIMSE message as soon as it is decoded."""

    def _run_reactor(self) -> None:
        self._is_paused = False
        while not self._kill:
            # As upstream: the reactor can be paused by the send_*() methods.
            self._is_paused = True
            self._reactor_checkpoint.wait()
            self._is_paused = False

            # Upstream: time.sleep(0.001), then self.dimse.get_msg(block=False).
            try:
                context_id, msg = self.dimse.msg_queue.get(timeout=REACTOR_IDLE_WAIT)
            except queue.Empty:
                context_id, msg = None, None
            if msg:
                self._serve_request(msg, cast(int, context_id))

            # The rest is upstream's loop unchanged: release, abort, DUL alive, idle timer.
            if self.is_established and self.acse.is_release_requested():
                self.acse.send_release(is_response=True)
                _PYNETDICOM_LOGGER.info("Association Released")
                self.is_released = True
                self.is_established = False
                evt.trigger(self, evt.EVT_RELEASED, {})
                self.kill()
                return

            if self.acse.is_aborted():
                log_msg = "Association Aborted"
                if self.acse.is_aborted("a-p-abort"):
                    log_msg += " (A-P-ABORT)"
                _PYNETDICOM_LOGGER.info(log_msg)
                self.dul.receive_pdu(wait=False)  # so that EVT_ACSE_RECV fires
                self.is_aborted = True
                self.is_established = False
                evt.trigger(self, evt.EVT_ABORTED, {})
                self.kill()
                return

            if not self.dul.is_alive():
                self.kill()
                return

            if self.dul.idle_timer_expired():
                _PYNETDICOM_LOGGER.error("Network timeout reached")
                if self.network_timeout_response == "A-RELEASE":
                    self._is_paused = True
                    self._reactor_checkpoint.wait()
                    self.release()
                    self._is_paused = False
                else:
                    self.abort()
                self.kill()
                return
