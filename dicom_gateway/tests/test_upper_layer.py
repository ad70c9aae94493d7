"""The gateway's DICOM upper layer without a network: command sets, reassembly, fragmentation."""

import socket
import struct
import time
from io import BytesIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import decode

from dicom_gateway import upper_layer
from dicom_gateway.upper_layer import Message, MessageAssembler, ProtocolError

uids = st.from_regex(r"[1-9][0-9]{0,5}(\.[1-9][0-9]{0,5}){1,8}", fullmatch=True).filter(lambda u: len(u) <= 64)


def _pynetdicom_store_command(sop_class: str, sop_instance: str, message_id: int) -> bytes:
    primitive = C_STORE()
    primitive.MessageID = message_id
    primitive.AffectedSOPClassUID = sop_class
    primitive.AffectedSOPInstanceUID = sop_instance
    primitive.Priority = 2
    primitive.DataSet = BytesIO(b"\x08\x00\x16\x00")
    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    [(_context, pdv)] = next(message.encode_msg(1, 16384)).presentation_data_value_list
    return pdv[1:]  # after the message control header: the command set


@given(
    sop_class=uids, sop_instance=uids, message_id=st.integers(0, 0xFFFF), status=st.sampled_from([0, 0xA700, 0xC000])
)
def test_a_c_store_request_from_pynetdicom_is_read_and_answered_in_pydicoms_terms(
    sop_class, sop_instance, message_id, status
):
    command = upper_layer.decode_command(_pynetdicom_store_command(sop_class, sop_instance, message_id))
    assert upper_layer.command_us(command, upper_layer.COMMAND_FIELD) == upper_layer.C_STORE_RQ
    assert upper_layer.command_us(command, upper_layer.MESSAGE_ID) == message_id
    assert upper_layer.command_uid(command, upper_layer.AFFECTED_SOP_CLASS) == sop_class
    assert upper_layer.command_uid(command, upper_layer.AFFECTED_SOP_INSTANCE) == sop_instance

    answer = decode(BytesIO(upper_layer.response(command, upper_layer.C_STORE_RQ, status)), True, True)
    assert answer.CommandField == 0x8001
    assert answer.MessageIDBeingRespondedTo == message_id
    assert answer.Status == status
    assert answer.CommandDataSetType == 0x0101
    assert answer.AffectedSOPClassUID == sop_class and answer.AffectedSOPInstanceUID == sop_instance
    assert answer.CommandGroupLength == len(upper_layer.response(command, upper_layer.C_STORE_RQ, status)) - 12


@pytest.mark.parametrize(
    "data", [b"\x00\x00\x00", b"\x00\x00\x00\x01\xff\x00\x00\x00", b"\x08\x00\x00\x01\x00\x00\x00\x00"]
)
def test_a_malformed_command_set_is_a_protocol_error(data):
    with pytest.raises(ProtocolError):
        upper_layer.decode_command(data)


def _pdv(context_id: int, header: int, data: bytes) -> bytes:
    return struct.pack(">IBB", len(data) + 2, context_id, header) + data


ECHO = upper_layer.encode_command(
    [
        (upper_layer.COMMAND_FIELD, upper_layer.us(0x0030)),
        (upper_layer.MESSAGE_ID, upper_layer.us(7)),
        (upper_layer.DATASET_TYPE, upper_layer.us(0x0101)),
    ]
)
STORE = upper_layer.encode_command(
    [
        (upper_layer.COMMAND_FIELD, upper_layer.us(0x0001)),
        (upper_layer.MESSAGE_ID, upper_layer.us(8)),
        (upper_layer.DATASET_TYPE, upper_layer.us(0x0000)),
    ]
)


def test_messages_are_reassembled_from_fragments_across_pdus():
    assembler = MessageAssembler({1: ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2")})
    # The command in two fragments, the dataset in three, over three PDUs.
    assert assembler.feed(bytearray(_pdv(1, 0x01, STORE[:10]) + _pdv(1, 0x03, STORE[10:]))) == []
    assert assembler.feed(bytearray(_pdv(1, 0x00, b"ab") + _pdv(1, 0x00, b"cd"))) == []
    # The last fragment and, in the same PDU, a whole C-ECHO (no dataset).
    store, echo = assembler.feed(bytearray(_pdv(1, 0x02, b"ef") + _pdv(1, 0x03, ECHO)))
    assert store.dataset == b"abcdef" and upper_layer.command_us(store.command, upper_layer.MESSAGE_ID) == 8
    assert echo.dataset is None and upper_layer.command_us(echo.command, upper_layer.MESSAGE_ID) == 7


def test_a_dataset_over_the_limit_is_read_to_its_end_but_not_kept():
    assembler = MessageAssembler({1: ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2")}, max_dataset_bytes=5)
    assembler.feed(bytearray(_pdv(1, 0x03, STORE) + _pdv(1, 0x00, b"abcd")))
    assert assembler.feed(bytearray(_pdv(1, 0x00, b"efgh"))) == []
    assert assembler._dataset == []  # nothing held past the limit
    (store,) = assembler.feed(bytearray(_pdv(1, 0x02, b"ij")))
    assert store.oversized == 10 and store.dataset == b""
    # The next message is whole again: the limit is per dataset.
    assembler.feed(bytearray(_pdv(1, 0x03, STORE)))
    (store,) = assembler.feed(bytearray(_pdv(1, 0x02, b"abcde")))
    assert store.dataset == b"abcde" and not store.oversized


@pytest.mark.parametrize(
    ("pdus", "reason"),
    [
        ([_pdv(3, 0x03, ECHO)], "not accepted"),  # a context that was not negotiated
        ([_pdv(1, 0x00, b"data")], "before its command"),
        ([_pdv(1, 0x03, STORE), _pdv(1, 0x01, ECHO)], "after the command set"),
        ([_pdv(1, 0x01, STORE[:4]), _pdv(2, 0x03, STORE[4:])], "two presentation contexts"),
        ([struct.pack(">IBB", 200, 1, 3) + ECHO], "out of bounds"),
        ([b"\x00\x00\x00\x01\x01"], "truncated"),
    ],
)
def test_fragments_out_of_place_are_protocol_errors(pdus, reason):
    assembler = MessageAssembler({1: ("a", "b"), 2: ("a", "b")})
    with pytest.raises(ProtocolError, match=reason):
        for pdu in pdus:
            assembler.feed(bytearray(pdu))


class _Server:
    config = upper_layer.AcceptorConfig("GW", [], 4, 16384, 1.0, 1.0)


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    ours.settimeout(2)
    theirs.settimeout(2)
    yield upper_layer.Association(ours, "127.0.0.1", _Server()), theirs
    ours.close()
    theirs.close()


def _read_pdus(sock: socket.socket, size: int) -> list[tuple[int, bytes]]:
    data = b""
    while len(data) < size:
        data += sock.recv(size - len(data))
    pdus, offset = [], 0
    while offset < len(data):
        kind, length = struct.unpack_from(">BxI", data, offset)
        pdus.append((kind, data[offset + 6 : offset + 6 + length]))
        offset += 6 + length
    return pdus


def test_messages_are_sent_within_the_peers_maximum_pdu_length(pair):
    association, peer = pair
    association.peer_max_pdu = 64
    dataset = bytes(range(256)) * 3
    association.send_message(5, STORE, dataset)
    expected = sum(
        6 + 6 + len(part) for data in (STORE, dataset) for part in [data[i : i + 58] for i in range(0, len(data), 58)]
    )
    pdus = _read_pdus(peer, expected)
    assert all(kind == upper_layer.P_DATA and len(body) <= 64 for kind, body in pdus)
    assembler = MessageAssembler({5: ("a", "b")})
    messages = [m for _kind, body in pdus for m in assembler.feed(bytearray(body))]
    assert messages == [Message(5, upper_layer.decode_command(STORE), dataset)]


def test_a_cancel_read_while_answering_is_seen_and_other_messages_wait(pair):
    association, peer = pair
    association.contexts[1] = ("1.2.840.10008.5.1.4.31", "1.2.840.10008.1.2")
    cancel = upper_layer.encode_command(
        [
            (upper_layer.COMMAND_FIELD, upper_layer.us(0x0FFF)),
            (upper_layer.MESSAGE_ID_RESPONDED, upper_layer.us(9)),
            (upper_layer.DATASET_TYPE, upper_layer.us(0x0101)),
        ]
    )
    assert not association._cancel_received(upper_layer.us(9))
    body = _pdv(1, 0x03, ECHO) + _pdv(1, 0x03, cancel)
    peer.sendall(struct.pack(">BxI", 4, len(body)) + body)
    peer.sendall(b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00")  # A-RELEASE-RQ
    time.sleep(0.1)
    assert association._cancel_received(upper_layer.us(9))
    assert [upper_layer.command_us(m.command, upper_layer.MESSAGE_ID) for m in association._deferred] == [7]
    assert association._read_pdu()[0] == upper_layer.RELEASE_RQ  # kept for after the C-FIND
