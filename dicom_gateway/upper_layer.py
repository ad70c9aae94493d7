"""The gateway's DICOM upper layer (PS3.8) as an association acceptor.

One thread per association reads whole PDUs with blocking calls, reassembles
DIMSE messages from P-DATA fragments, decodes their command sets (PS3.7 §E,
Implicit VR Little Endian, a handful of elements) and answers C-ECHO, C-STORE,
C-FIND (with C-CANCEL) through ``handlers``; then A-RELEASE, A-ABORT and the
timers. pynetdicom still does the intricate parts of association set-up: it
decodes the A-ASSOCIATE-RQ, negotiates presentation contexts and roles, and
encodes the A-ASSOCIATE-AC/RJ; pydicom decodes and encodes C-FIND identifiers.

Why not pynetdicom's own acceptor (docs/decisions/008): per C-STORE it decodes
and re-encodes command sets through pydicom and hands each message across
three threads with polling waits; that alone cost about 3 ms of CPU per
instance, several times what storing and indexing an instance costs, and kept
the gateway far below the throughput targets of issue #4.

Nothing here trusts the peer: PDU and item lengths are bounded, a message on a
context that was not accepted, a fragment out of place or an unknown PDU
aborts the association (A-ABORT, logged), and a handler's exception is a
failure status, never a crash of the thread.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import socketserver
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO

from django.conf import settings
from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION
from pynetdicom.dsutils import decode as decode_identifier
from pynetdicom.dsutils import encode as encode_identifier
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RJ, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    AsynchronousOperationsWindowNegotiation,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    SCP_SCU_RoleSelectionNegotiation,
)
from pynetdicom.presentation import negotiate_as_acceptor
from pynetdicom.sop_class import ModalityWorklistInformationFind, Verification

from dicom_gateway import handlers, statuses
from dicom_gateway.ae import AcceptorConfig

logger = logging.getLogger("dicom_gateway")

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"

# PDU types (PS3.8 §9.3.1).
ASSOCIATE_RQ, ASSOCIATE_AC, ASSOCIATE_RJ, P_DATA, RELEASE_RQ, RELEASE_RP, ABORT = 1, 2, 3, 4, 5, 6, 7
_HEADER = struct.Struct(">BxI")
_PDV = struct.Struct(">IBB")
_RELEASE_RP = b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"

# A-ABORT source and reasons (PS3.8 §9.3.8).
ABORT_BY_USER, ABORT_BY_PROVIDER = 0x00, 0x02
REASON_NOT_SPECIFIED, REASON_UNRECOGNISED_PDU, REASON_UNEXPECTED_PDU = 0x00, 0x01, 0x02
REASON_INVALID_PARAMETER = 0x06

# A-ASSOCIATE-RJ (result, source, diagnostic), PS3.8 §9.3.4.
REJECT_CALLING_AE = (0x01, 0x01, 0x03)
REJECT_APPLICATION_CONTEXT = (0x01, 0x01, 0x02)
REJECT_PROTOCOL_VERSION = (0x01, 0x02, 0x02)
REJECT_LOCAL_LIMIT = (0x02, 0x03, 0x02)

# DIMSE command fields (PS3.7 §E.1) and the elements of a command set used here.
C_STORE_RQ, C_FIND_RQ, C_ECHO_RQ, C_CANCEL_RQ = 0x0001, 0x0020, 0x0030, 0x0FFF
AFFECTED_SOP_CLASS, COMMAND_FIELD, MESSAGE_ID, MESSAGE_ID_RESPONDED = 0x00000002, 0x00000100, 0x00000110, 0x00000120
DATASET_TYPE, STATUS, AFFECTED_SOP_INSTANCE = 0x00000800, 0x00000900, 0x00001000
NO_DATASET = 0x0101
UNRECOGNISED_OPERATION = 0x0211

# An A-ASSOCIATE-RQ with 128 contexts of many syntaxes stays far below this.
_ASSOCIATE_RQ_LIMIT = 1 << 20
_UNLIMITED_PDU_LIMIT = 64 << 20


class ProtocolError(Exception):
    """The peer broke the protocol: abort with this reason."""

    def __init__(self, message: str, reason: int = REASON_UNEXPECTED_PDU):
        super().__init__(message)
        self.reason = reason


class PeerClosed(Exception):
    """The peer closed the connection or aborted the association."""


# --- command sets (PS3.7 §6.3.1: Implicit VR Little Endian, group 0000 only) ---------------


def decode_command(data: bytes | bytearray | memoryview) -> dict[int, bytes]:
    """The elements of a command set, tag → raw value."""
    elements: dict[int, bytes] = {}
    offset, end = 0, len(data)
    while offset < end:
        if end - offset < 8:
            raise ProtocolError("truncated command set", REASON_INVALID_PARAMETER)
        group, element, length = struct.unpack_from("<HHI", data, offset)
        offset += 8
        if group != 0 or offset + length > end:
            raise ProtocolError("malformed command set", REASON_INVALID_PARAMETER)
        elements[element] = bytes(data[offset : offset + length])
        offset += length
    return elements


def _uid_value(uid: str | bytes) -> bytes:
    raw = uid.encode("ascii") if isinstance(uid, str) else uid
    return raw + b"\x00" if len(raw) % 2 else raw


def encode_command(elements: list[tuple[int, bytes]]) -> bytes:
    """A command set from (tag, value) pairs in tag order, with its group length."""
    body = b"".join(struct.pack("<HHI", 0, tag, len(value)) + value for tag, value in elements)
    return struct.pack("<HHII", 0, 0, 4, len(body)) + body


def us(value: int) -> bytes:
    return struct.pack("<H", value)


def command_us(command: dict[int, bytes], tag: int) -> int:
    try:
        return struct.unpack("<H", command[tag])[0]
    except (KeyError, struct.error):
        message = f"command element (0000,{tag:04X}) missing or malformed"
        raise ProtocolError(message, REASON_INVALID_PARAMETER) from None


def command_uid(command: dict[int, bytes], tag: int) -> str:
    return command.get(tag, b"").rstrip(b"\x00 ").decode("ascii", "replace")


def response(request: dict[int, bytes], command_field: int, status: int, *, has_dataset: bool = False) -> bytes:
    """The response command set to ``request`` (PS3.7 §9.3): same SOP class and instance, message ID echoed."""
    elements = []
    if AFFECTED_SOP_CLASS in request:
        elements.append((AFFECTED_SOP_CLASS, _uid_value(request[AFFECTED_SOP_CLASS].rstrip(b"\x00"))))
    elements += [
        (COMMAND_FIELD, us(command_field | 0x8000)),
        (MESSAGE_ID_RESPONDED, request.get(MESSAGE_ID, us(0))),
        (DATASET_TYPE, us(0x0000 if has_dataset else NO_DATASET)),
        (STATUS, us(status)),
    ]
    if AFFECTED_SOP_INSTANCE in request:
        elements.append((AFFECTED_SOP_INSTANCE, _uid_value(request[AFFECTED_SOP_INSTANCE].rstrip(b"\x00"))))
    return encode_command(elements)


@dataclass
class Message:
    """One DIMSE message received on one presentation context."""

    context_id: int
    command: dict[int, bytes]
    dataset: bytes | None = None
    # The dataset's size when it exceeded max_dataset_bytes: then it was dropped, not kept.
    oversized: int = 0


@dataclass
class MessageAssembler:
    """Reassembles DIMSE messages from PDV items (PS3.8 Annex E), one message at a time.

    A dataset larger than ``max_dataset_bytes`` (0: no limit) is read to its end but not
    kept: its message comes with ``oversized`` set, so that the request can be refused
    while memory stays bounded whatever the peer sends.
    """

    contexts: dict[int, tuple[str, str]]
    max_dataset_bytes: int = 0
    _context_id: int | None = None
    _command: bytearray = field(default_factory=bytearray)
    _decoded: dict[int, bytes] | None = None
    _dataset: list[memoryview] = field(default_factory=list)
    _dataset_bytes: int = 0

    def feed(self, body: bytearray) -> list[Message]:
        """The messages completed by this P-DATA-TF PDU's body."""
        done: list[Message] = []
        view = memoryview(body)
        offset, end = 0, len(body)
        while offset < end:
            if end - offset < 6:
                raise ProtocolError("truncated PDV item", REASON_INVALID_PARAMETER)
            length, context_id, header = _PDV.unpack_from(view, offset)
            if length < 2 or offset + 4 + length > end:
                raise ProtocolError("PDV item length out of bounds", REASON_INVALID_PARAMETER)
            fragment = view[offset + 6 : offset + 4 + length]
            offset += 4 + length
            if context_id not in self.contexts:
                raise ProtocolError(f"PDV on presentation context {context_id}, which was not accepted")
            if self._context_id is not None and context_id != self._context_id:
                raise ProtocolError("PDVs of one message on two presentation contexts")
            self._context_id = context_id
            last = bool(header & 0x02)
            if header & 0x01:  # command fragment
                if self._decoded is not None:
                    raise ProtocolError("command fragment after the command set was complete")
                self._command += fragment
                if last:
                    self._decoded = decode_command(self._command)
                    if command_us(self._decoded, DATASET_TYPE) == NO_DATASET:
                        done.append(self._finish(None))
            else:  # dataset fragment
                if self._decoded is None:
                    raise ProtocolError("dataset fragment before its command set")
                self._dataset_bytes += len(fragment)
                if self._oversized():
                    self._dataset = []  # drop what was kept; the rest is read and dropped too
                else:
                    self._dataset.append(fragment)
                if last:
                    done.append(self._finish_dataset())
        return done

    def _oversized(self) -> bool:
        return bool(self.max_dataset_bytes) and self._dataset_bytes > self.max_dataset_bytes

    def _finish_dataset(self) -> Message:
        if self._oversized():
            return self._finish(b"", oversized=self._dataset_bytes)
        return self._finish(b"".join(self._dataset))

    def _finish(self, dataset: bytes | None, oversized: int = 0) -> Message:
        message = Message(self._context_id, self._decoded, dataset, oversized)  # type: ignore[arg-type]
        self._context_id, self._command, self._decoded, self._dataset = None, bytearray(), None, []
        self._dataset_bytes = 0
        return message


class Association:
    """One accepted connection, served in its own thread by ``run()``."""

    def __init__(self, sock: socket.socket, peer_ip: str, server: AcceptorServer):
        self.sock = sock
        self.peer_ip = peer_ip
        self.server = server
        self.config = server.config
        self.stats: handlers.AssociationStats | None = None
        self.contexts: dict[int, tuple[str, str]] = {}
        self.peer_max_pdu = 0
        self._send_lock = threading.Lock()
        self._pending_pdus: deque[tuple[int, bytearray]] = deque()
        self._deferred: deque[Message] = deque()
        self.assembler = MessageAssembler(self.contexts, self.config.max_instance_bytes)
        limit = self.config.max_pdu + 6 if self.config.max_pdu else _UNLIMITED_PDU_LIMIT
        self.pdu_limit = max(limit, _ASSOCIATE_RQ_LIMIT)

    # --- transport ---------------------------------------------------------------------

    def _recv_exact(self, size: int) -> bytearray:
        buffer = bytearray(size)
        view = memoryview(buffer)
        received = 0
        while received < size:
            count = self.sock.recv_into(view[received:], size - received)
            if not count:
                raise PeerClosed("connection closed by the peer")
            received += count
        return buffer

    def _read_pdu(self) -> tuple[int, bytearray]:
        """The next PDU: one read while a C-FIND was answered, else from the socket."""
        if self._pending_pdus:
            return self._pending_pdus.popleft()
        return self._read_pdu_from_socket()

    def _read_pdu_from_socket(self) -> tuple[int, bytearray]:
        pdu_type, length = _HEADER.unpack(self._recv_exact(6))
        if length > self.pdu_limit:
            raise ProtocolError(f"PDU of {length} bytes exceeds the limit", REASON_INVALID_PARAMETER)
        return pdu_type, self._recv_exact(length)

    def _send(self, data: bytes) -> None:
        with self._send_lock:
            self.sock.sendall(data)

    def send_message(self, context_id: int, command: bytes, dataset: bytes | None = None) -> None:
        """Send a command set (and dataset) as P-DATA-TF PDUs within the peer's maximum length."""
        # A peer announcing less than a PDV header's worth still gets one byte per fragment.
        chunk = max(self.peer_max_pdu - 6, 1) if self.peer_max_pdu else 1 << 30
        pdus = []
        for data, kind in ((command, 0x01), (dataset, 0x00)):
            if data is None:
                continue
            for start in range(0, max(len(data), 1), chunk):
                part = data[start : start + chunk]
                header = kind | (0x02 if start + chunk >= len(data) else 0x00)
                pdus.append(_HEADER.pack(P_DATA, len(part) + 6) + _PDV.pack(len(part) + 2, context_id, header) + part)
        self._send(b"".join(pdus))

    def abort(self, source: int = ABORT_BY_USER, reason: int = REASON_NOT_SPECIFIED) -> None:
        """Send A-ABORT and close the connection (also called from the stopping thread)."""
        with contextlib.suppress(OSError):
            self._send(bytes([ABORT, 0, 0, 0, 0, 4, 0, 0, source, reason]))
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    # --- association set-up ------------------------------------------------------------------

    def _reject(self, result: int, source: int, diagnostic: int) -> None:
        primitive = A_ASSOCIATE()
        primitive.result, primitive.result_source, primitive.diagnostic = result, source, diagnostic
        pdu = A_ASSOCIATE_RJ()
        pdu.from_primitive(primitive)
        self._send(pdu.encode())

    def _associate(self) -> bool:
        """Read and answer the A-ASSOCIATE-RQ. Whether the association is established."""
        self.sock.settimeout(self.config.acse_timeout)
        pdu_type, body = self._read_pdu()
        if pdu_type != ASSOCIATE_RQ:
            raise ProtocolError(f"PDU type {pdu_type:#04x} before A-ASSOCIATE-RQ")
        if len(body) > _ASSOCIATE_RQ_LIMIT:
            raise ProtocolError("A-ASSOCIATE-RQ too long", REASON_INVALID_PARAMETER)
        pdu = A_ASSOCIATE_RQ()
        try:
            pdu.decode(_HEADER.pack(pdu_type, len(body)) + bytes(body))
            request = pdu.to_primitive()
            calling_ae = str(request.calling_ae_title or "").strip()
            application_context = str(request.application_context_name or "")
        except Exception as exc:
            message = f"unreadable A-ASSOCIATE-RQ ({exc.__class__.__name__})"
            raise ProtocolError(message, REASON_INVALID_PARAMETER) from None

        if not pdu.protocol_version & 0x0001:
            self._reject(*REJECT_PROTOCOL_VERSION)
            return False
        if application_context != APPLICATION_CONTEXT:
            self._reject(*REJECT_APPLICATION_CONTEXT)
            return False
        if self.server.association_count() > self.config.max_associations:
            logger.warning(
                "association refused: calling_ae=%r peer=%s reason=too many associations", calling_ae, self.peer_ip
            )
            self._reject(*REJECT_LOCAL_LIMIT)
            return False
        self.stats = handlers.association_requested(calling_ae, self.peer_ip)
        if self.stats is None:
            self._reject(*REJECT_CALLING_AE)
            return False

        roles: dict[str, tuple[bool | None, bool | None]] = {}
        items: list = []
        for item in request.user_information:
            if isinstance(item, MaximumLengthNotification):
                self.peer_max_pdu = item.maximum_length_received or 0
            elif isinstance(item, SCP_SCU_RoleSelectionNegotiation):
                roles[str(item.sop_class_uid)] = (item.scu_role, item.scp_role)
            elif isinstance(item, AsynchronousOperationsWindowNegotiation):
                # One operation at a time: the answer PS3.7 §D.3.3.3 allows any acceptor.
                window = AsynchronousOperationsWindowNegotiation()
                window.maximum_number_operations_invoked = 1
                window.maximum_number_operations_performed = 1
                items.append(window)
        results, role_items = negotiate_as_acceptor(
            request.presentation_context_definition_list, self.config.contexts, roles or None
        )
        for context in results:
            if context.result == 0x00:
                self.contexts[context.context_id] = (str(context.abstract_syntax), str(context.transfer_syntax[0]))

        accept = A_ASSOCIATE()
        accept.application_context_name = UID(APPLICATION_CONTEXT)
        accept.calling_ae_title = request.calling_ae_title
        accept.called_ae_title = request.called_ae_title
        accept.result, accept.result_source = 0x00, 0x01
        accept.presentation_context_definition_results_list = results
        maximum = MaximumLengthNotification()
        maximum.maximum_length_received = self.config.max_pdu
        implementation = ImplementationClassUIDNotification()
        implementation.implementation_class_uid = UID(PYNETDICOM_IMPLEMENTATION_UID)
        version = ImplementationVersionNameNotification()
        version.implementation_version_name = PYNETDICOM_IMPLEMENTATION_VERSION
        accept.user_information = [maximum, implementation, version, *items, *role_items]
        answer = A_ASSOCIATE_AC()
        answer.from_primitive(accept)
        self._send(answer.encode())
        return True

    # --- the association's life ----------------------------------------------------------------

    def run(self) -> None:
        try:
            if self._associate():
                self.sock.settimeout(self.config.network_timeout)
                self._serve()
        except ProtocolError as exc:
            logger.warning("association aborted: calling_ae=%s peer=%s reason=%s", self._calling(), self.peer_ip, exc)
            self.abort(ABORT_BY_PROVIDER, exc.reason)
        except TimeoutError:
            logger.warning(
                "association aborted: calling_ae=%s peer=%s reason=network timeout", self._calling(), self.peer_ip
            )
            self.abort(ABORT_BY_PROVIDER, REASON_NOT_SPECIFIED)
        except PeerClosed as exc:
            logger.info("association ended by the peer: calling_ae=%s peer=%s (%s)", self._calling(), self.peer_ip, exc)
        except OSError as exc:
            logger.info("association connection lost: calling_ae=%s peer=%s (%s)", self._calling(), self.peer_ip, exc)
        except Exception:
            # A defect of ours: the scanner gets an A-ABORT (it will retry), never a silent hang.
            logger.exception("association failed: calling_ae=%s peer=%s", self._calling(), self.peer_ip)
            self.abort(ABORT_BY_PROVIDER, REASON_NOT_SPECIFIED)
        finally:
            handlers.association_closed(self.stats)
            with contextlib.suppress(OSError):
                self.sock.close()

    def _calling(self) -> str:
        return self.stats.calling_ae if self.stats else "?"

    def _serve(self) -> None:
        while True:
            while self._deferred:
                self._dispatch(self._deferred.popleft())
            pdu_type, body = self._read_pdu()
            if pdu_type == P_DATA:
                for message in self.assembler.feed(body):
                    self._dispatch(message)
            elif pdu_type == RELEASE_RQ:
                handlers.release_requested(self.stats)  # the study's counts are right once released
                self._send(_RELEASE_RP)
                return
            elif pdu_type == ABORT:
                raise PeerClosed("A-ABORT received")
            elif pdu_type in (ASSOCIATE_RQ, ASSOCIATE_AC, ASSOCIATE_RJ, RELEASE_RP):
                raise ProtocolError(f"unexpected PDU type {pdu_type:#04x}")
            else:
                raise ProtocolError(f"unrecognised PDU type {pdu_type:#04x}", REASON_UNRECOGNISED_PDU)

    def _dispatch(self, message: Message) -> None:
        command = message.command
        field_ = command_us(command, COMMAND_FIELD)
        abstract_syntax, transfer_syntax = self.contexts[message.context_id]
        if field_ == C_ECHO_RQ and abstract_syntax == Verification:
            status = handlers.echo(self.stats)
            self.send_message(message.context_id, response(command, field_, status))
        elif field_ == C_STORE_RQ and message.oversized:
            status = handlers.store_too_large(self.stats, size=message.oversized, limit=self.config.max_instance_bytes)
            self.send_message(message.context_id, response(command, field_, status))
        elif message.oversized:
            raise ProtocolError(f"a {field_:#06x} request with a dataset over DICOM_MAX_INSTANCE_BYTES")
        elif field_ == C_STORE_RQ and message.dataset is not None and abstract_syntax not in _NON_STORAGE:
            status = handlers.store(
                self.stats,
                abstract_syntax=abstract_syntax,
                sop_class_uid=command_uid(command, AFFECTED_SOP_CLASS),
                sop_instance_uid=command_uid(command, AFFECTED_SOP_INSTANCE),
                transfer_syntax=transfer_syntax,
                dataset=message.dataset,
            )
            self.send_message(message.context_id, response(command, field_, status))
        elif field_ == C_FIND_RQ and message.dataset is not None and abstract_syntax == ModalityWorklistInformationFind:
            self._find(message, transfer_syntax)
        elif field_ == C_CANCEL_RQ:
            pass  # nothing in progress to cancel: a late C-CANCEL is ignored (PS3.7 §9.3.2.3)
        elif field_ & 0x8000:
            raise ProtocolError(f"unexpected DIMSE response {field_:#06x}")
        else:
            logger.warning("DIMSE command %#06x on %s refused: calling_ae=%s", field_, abstract_syntax, self._calling())
            self.send_message(message.context_id, response(command, field_, UNRECOGNISED_OPERATION))

    def _find(self, message: Message, transfer_syntax: str) -> None:
        syntax = UID(transfer_syntax)
        command = message.command
        message_id = command.get(MESSAGE_ID, b"")
        try:
            identifier = decode_identifier(
                BytesIO(message.dataset), syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated
            )
        except Exception:
            logger.warning("MWL C-FIND with an unreadable identifier: calling_ae=%s", self._calling())
            self.send_message(message.context_id, response(command, C_FIND_RQ, statuses.CANNOT_UNDERSTAND))
            return
        cancelled = False

        def is_cancelled() -> bool:
            nonlocal cancelled
            cancelled = cancelled or self._cancel_received(message_id)
            return cancelled

        answers: Iterator[tuple[int, Dataset | None]] = handlers.find(self.stats, identifier, is_cancelled)
        for status, answer in answers:
            if answer is None:
                self.send_message(message.context_id, response(command, C_FIND_RQ, status))
                return
            try:
                encoded = encode_identifier(answer, syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated)
            except Exception:
                logger.exception("MWL C-FIND answer could not be encoded: calling_ae=%s", self._calling())
                encoded = None
            if encoded is None:
                self.send_message(message.context_id, response(command, C_FIND_RQ, statuses.PROCESSING_FAILURE))
                return
            self.send_message(message.context_id, response(command, C_FIND_RQ, status, has_dataset=True), encoded)

    def _cancel_received(self, message_id: bytes) -> bool:
        """Read what the peer sent meanwhile, without waiting: a C-CANCEL of ``message_id``?"""
        found = False
        while select.select([self.sock], [], [], 0)[0]:
            pdu_type, body = self._read_pdu_from_socket()
            if pdu_type != P_DATA:
                self._pending_pdus.append((pdu_type, body))
                break
            for message in self.assembler.feed(body):
                if message.command.get(COMMAND_FIELD) == us(C_CANCEL_RQ):
                    found = found or message.command.get(MESSAGE_ID_RESPONDED) == message_id
                else:
                    self._deferred.append(message)
        return found


_NON_STORAGE = {Verification, ModalityWorklistInformationFind}


class _ConnectionHandler(socketserver.BaseRequestHandler):
    server: AcceptorServer

    def handle(self) -> None:
        association = Association(self.request, self.client_address[0], self.server)
        self.server.add(association)
        try:
            association.run()
        finally:
            self.server.remove(association)


class AcceptorServer(socketserver.ThreadingTCPServer):
    """Accepts connections; each runs an ``Association`` in its own thread.

    TCP_NODELAY on every accepted socket: DIMSE answers are small, and Nagle's
    algorithm held each one about 40 ms. SO_REUSEPORT lets several gateway
    processes share one port (the kernel spreads connections between them).
    """

    daemon_threads = True  # association threads must not keep the process alive after the grace period
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], config: AcceptorConfig):
        self.config = config
        self._associations: set[Association] = set()
        self._lock = threading.Lock()
        super().__init__(address, _ConnectionHandler)

    def server_bind(self) -> None:
        if hasattr(socket, "SO_REUSEPORT"):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def get_request(self):
        client, address = super().get_request()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client, address

    def add(self, association: Association) -> None:
        with self._lock:
            self._associations.add(association)

    def remove(self, association: Association) -> None:
        with self._lock:
            self._associations.discard(association)

    def association_count(self) -> int:
        with self._lock:
            return len(self._associations)

    def associations(self) -> list[Association]:
        with self._lock:
            return list(self._associations)


class Gateway:
    """One running listener: ``start()``, then ``stop()`` (graceful)."""

    def __init__(self, config: AcceptorConfig, host: str, port: int):
        self.config = config
        self.host = host
        self.port = port
        self.server: AcceptorServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.server = AcceptorServer((self.host, self.port), self.config)
        self.port = self.server.server_address[1]  # the real port when 0 was asked
        self._thread = threading.Thread(target=self.server.serve_forever, name="GatewayAcceptor", daemon=True)
        self._thread.start()

    def stop(self, grace_seconds: float | None = None) -> int:
        """Stop accepting, let in-flight associations finish, abort what remains.

        Returns:
            How many associations had to be aborted after the grace period.
        """
        if self.server is None:
            return 0
        grace = settings.DICOM_SHUTDOWN_GRACE_SECONDS if grace_seconds is None else grace_seconds
        server = self.server
        server.shutdown()  # stops accepting
        server.server_close()  # closes the listening socket
        deadline = time.monotonic() + grace
        while server.association_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        remaining = server.associations()
        for association in remaining:
            association.abort()
        if remaining:
            logger.warning("aborted %s association(s) still open after %.0fs", len(remaining), grace)
        self.server = None
        return len(remaining)
