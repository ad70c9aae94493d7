"""Helpers shared by the tests and the benchmarks (no product code imports this)."""

from __future__ import annotations

import random
import socket
from io import BytesIO

_EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
_LOWEST = 10000


def _ephemeral_low() -> int:
    try:
        with open(_EPHEMERAL_RANGE) as ranges:
            return int(ranges.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port that nothing listens on, for a process started a moment later.

    Chosen below the kernel's ephemeral range: a port from bind(("", 0)) is an
    ephemeral one, which any outgoing connection (to PostgreSQL, Redis…) made
    before the server binds it may take as its local port, and the server then
    fails with "Address already in use" (seen in the zero-install smoke test).
    """
    high = _ephemeral_low() - 1
    if high <= _LOWEST:
        return _any_port(host)
    for _ in range(100):
        port = random.randint(_LOWEST, high)  # noqa: S311 - a test port, not a secret
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    return _any_port(host)


def _any_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class CountingReader(BytesIO):
    """An in-memory file that counts the bytes read from it (to check what a reader leaves alone)."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk
