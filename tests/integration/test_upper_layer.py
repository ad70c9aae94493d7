"""The gateway's upper layer against misbehaving peers and pynetdicom's negotiation options, on loopback."""

import dataclasses
import socket
import struct
import time

import pytest
from pydicom.uid import UID, ImplicitVRLittleEndian
from pynetdicom import AE, build_context, build_role
from pynetdicom.pdu import A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import A_ASSOCIATE, MaximumLengthNotification
from pynetdicom.sop_class import CTImageStorage, Verification

from dicom_gateway.ae import acceptor_config
from dicom_gateway.upper_layer import (
    COMMAND_FIELD,
    DATASET_TYPE,
    MESSAGE_ID,
    STATUS,
    Gateway,
    MessageAssembler,
    command_us,
    encode_command,
    us,
)
from tests.integration.conftest import run_dcmtk

pytestmark = pytest.mark.integration


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_pdu(sock: socket.socket) -> tuple[int, bytes]:
    header = b""
    while len(header) < 6:
        chunk = sock.recv(6 - len(header))
        if not chunk:
            return 0, b""
        header += chunk
    kind, length = struct.unpack(">BxI", header)
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    return kind, body


def _associate(port: int, calling: str = "CT_LANDERNEAU", max_pdu: int = 16384) -> socket.socket:
    """A raw association proposing Verification (context 1), as a scanner's first PDU."""
    primitive = A_ASSOCIATE()
    primitive.application_context_name = UID("1.2.840.10008.3.1.1.1")
    primitive.calling_ae_title = calling
    primitive.called_ae_title = "TELERADIO"
    context = build_context(Verification, [ImplicitVRLittleEndian])
    context.context_id = 1
    primitive.presentation_context_definition_list = [context]
    maximum = MaximumLengthNotification()
    maximum.maximum_length_received = max_pdu
    primitive.user_information = [maximum]
    request = A_ASSOCIATE_RQ()
    request.from_primitive(primitive)
    sock = _connect(port)
    sock.sendall(request.encode())
    assert _read_pdu(sock)[0] == 0x02  # A-ASSOCIATE-AC
    return sock


def _echo_works(port: int) -> bool:
    result = run_dcmtk("echoscu", "-aet", "CT_LANDERNEAU", "-aec", "TELERADIO", "127.0.0.1", str(port))
    return result.returncode == 0


def test_bytes_that_are_not_dicom_get_an_abort_and_the_gateway_goes_on(gateway, ct_modality):
    sock = _connect(gateway.port)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: gateway\r\n\r\n")
    kind, body = _read_pdu(sock)
    assert kind == 0x07 and body[2] == 0x02  # A-ABORT by the service provider
    sock.close()
    assert _echo_works(gateway.port)


@pytest.mark.parametrize(
    "pdu",
    [
        b"\x09\x00\x00\x00\x00\x02\x00\x00",  # unknown PDU type
        b"\x01\x00" + struct.pack(">I", 10) + b"\x00" * 10,  # a second A-ASSOCIATE-RQ
        b"\x04\x00" + struct.pack(">I", 1 << 30),  # a P-DATA-TF announcing 1 GiB
        b"\x04\x00" + struct.pack(">I", 10) + struct.pack(">IBB", 6, 3, 3) + b"\x00" * 4,  # context 3 not accepted
    ],
)
def test_a_protocol_violation_after_association_is_aborted_and_logged(gateway, ct_modality, pdu, caplog):
    sock = _associate(gateway.port)
    sock.sendall(pdu)
    kind, _body = _read_pdu(sock)
    assert kind == 0x07
    assert _read_pdu(sock) == (0, b"")  # then the gateway closes the connection
    sock.close()
    assert "association aborted: calling_ae=CT_LANDERNEAU" in caplog.text
    assert _echo_works(gateway.port)


def test_a_release_is_answered_and_the_connection_closed(gateway, ct_modality):
    sock = _associate(gateway.port)
    sock.sendall(b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00")
    assert _read_pdu(sock)[0] == 0x06  # A-RELEASE-RP
    assert _read_pdu(sock) == (0, b"")


def test_beyond_the_association_limit_the_rejection_is_transient(transactional_db, ct_modality, settings, tmp_path):
    settings.STORAGE_ROOT = tmp_path
    running = Gateway(dataclasses.replace(acceptor_config(), max_associations=1), "127.0.0.1", 0)
    running.start()
    try:
        first = _associate(running.port)
        ae = AE(ae_title="CT_LANDERNEAU")
        ae.add_requested_context(Verification)
        second = ae.associate("127.0.0.1", running.port, ae_title="TELERADIO")
        assert second.is_rejected
        assert (second.acceptor.primitive.result, second.acceptor.primitive.diagnostic) == (0x02, 0x02)
        first.close()
    finally:
        running.stop(grace_seconds=1)


def test_an_idle_association_is_aborted_after_the_network_timeout(transactional_db, ct_modality, settings, tmp_path):
    settings.STORAGE_ROOT = tmp_path
    running = Gateway(dataclasses.replace(acceptor_config(), network_timeout=0.3), "127.0.0.1", 0)
    running.start()
    try:
        sock = _associate(running.port)
        started = time.monotonic()
        assert _read_pdu(sock)[0] == 0x07
        assert time.monotonic() - started < 3
    finally:
        running.stop(grace_seconds=1)


def test_stopping_waits_for_the_grace_period_then_aborts_what_is_still_open(gateway, ct_modality):
    sock = _associate(gateway.port)
    assert gateway.stop(grace_seconds=0.3) == 1
    assert _read_pdu(sock)[0] == 0x07


def test_pynetdicoms_negotiation_options_are_answered(gateway, ct_modality):
    # A scanner proposing an asynchronous window, role selection and a small PDU still works.
    ae = AE(ae_title="CT_LANDERNEAU")
    ae.maximum_pdu_size = 4096
    ae.add_requested_context(Verification)
    ae.add_requested_context(CTImageStorage)
    assoc = ae.associate(
        "127.0.0.1",
        gateway.port,
        ae_title="TELERADIO",
        ext_neg=[build_role(CTImageStorage, scu_role=True, scp_role=False)],
    )
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assert assoc.acceptor.maximum_length == acceptor_config().max_pdu
    assoc.release()
    assert assoc.is_released


ECHO_RQ = encode_command([(COMMAND_FIELD, us(0x0030)), (MESSAGE_ID, us(5)), (DATASET_TYPE, us(0x0101))])


def _send_echo(sock: socket.socket) -> None:
    """A C-ECHO-RQ on presentation context 1, in one P-DATA-TF."""
    pdv = struct.pack(">IBB", len(ECHO_RQ) + 2, 1, 0x03) + ECHO_RQ
    sock.sendall(struct.pack(">BxI", 0x04, len(pdv)) + pdv)


@pytest.mark.parametrize("max_pdu", [4, 64, 0])  # less than a PDV header, small, unlimited
def test_answers_respect_the_peers_maximum_pdu_length(gateway, ct_modality, max_pdu):
    sock = _associate(gateway.port, max_pdu=max_pdu)
    _send_echo(sock)
    assembler, answers = MessageAssembler({1: (Verification, ImplicitVRLittleEndian)}), []
    while not answers:
        kind, body = _read_pdu(sock)
        assert kind == 0x04 and (max_pdu == 0 or len(body) <= max(max_pdu, 7))
        answers = assembler.feed(bytearray(body))
    assert command_us(answers[0].command, STATUS) == 0x0000
    assert command_us(answers[0].command, COMMAND_FIELD) == 0x8030


def test_a_defect_in_the_gateway_aborts_the_association_with_a_log_line(gateway, ct_modality, monkeypatch, caplog):
    from dicom_gateway import handlers

    def broken(stats):
        raise RuntimeError("a bug")

    monkeypatch.setattr(handlers, "echo", broken)
    sock = _associate(gateway.port)
    _send_echo(sock)
    assert _read_pdu(sock)[0] == 0x07
    assert "association failed: calling_ae=CT_LANDERNEAU" in caplog.text
