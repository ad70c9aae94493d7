import socket

from core import testing


def test_free_port_is_outside_the_ephemeral_range_and_free():
    # An ephemeral port can be taken by any outgoing connection before the server binds it.
    low = testing._ephemeral_low()
    for _ in range(20):
        port = testing.free_port()
        assert port < low
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
