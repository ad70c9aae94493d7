"""run_gateway --processes N: several listeners on one port, stopped together."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from core.testing import free_port
from dicom_gateway.simulator import build_study, write_study
from sites.tests.factories import ModalityFactory
from tests.integration.conftest import dcmtk, run_dcmtk
from worklist.models import Instance

pytestmark = pytest.mark.integration


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _echo(port: int) -> bool:
    result = run_dcmtk("echoscu", "-aet", "CT_MULTI", "-aec", "TELERADIO", "127.0.0.1", str(port), timeout=10)
    return result.returncode == 0


def _start_gateway(tmp_path, processes: int):
    """run_gateway --processes N as a real process, on the test database."""
    ModalityFactory(ae_title="CT_MULTI")
    port, metrics_port = free_port(), free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "teleradio.settings",
        "SECRET_KEY": "test-only-secret-key-for-run-gateway-processes-0123456789",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "STORAGE_ROOT": str(tmp_path / "storage"),
        "DICOM_PORT": str(port),
        "DICOM_BIND_ADDRESS": "127.0.0.1",
        "GATEWAY_METRICS_PORT": str(metrics_port),
        "LOG_LEVEL": "WARNING",
    }
    orphan = tmp_path / "storage" / "tmp" / "crashed.part"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"never acknowledged")
    process = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "run_gateway", "--processes", str(processes)], env=env
    )
    children = processes if processes > 1 else 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (len(_children(process.pid)) == children and _echo(port)):
        time.sleep(0.2)
    return process, port, orphan, metrics_port


@pytest.fixture
def multi_gateway(transactional_db, tmp_path):
    process, port, orphan, metrics_port = _start_gateway(tmp_path, 2)
    yield process, port, orphan, metrics_port
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture
def single_gateway(transactional_db, tmp_path):
    process, port, orphan, metrics_port = _start_gateway(tmp_path, 1)
    yield process, port, metrics_port
    if process.poll() is None:
        process.kill()
        process.wait()


def _send(tmp_path, port: int, count: int) -> None:
    paths = write_study(build_study("small", count=count), tmp_path / "study")
    senders = [
        subprocess.Popen(
            [dcmtk("storescu"), "-aet", "CT_MULTI", "-aec", "TELERADIO", "127.0.0.1", str(port), str(path)],
            env={**os.environ, "TCP_NODELAY": "1"},
        )
        for path in paths
    ]
    assert all(sender.wait(30) == 0 for sender in senders)


def _metrics(metrics_port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:  # noqa: S310
        return response.read().decode()


def _gauge(text: str, name: str) -> float:
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " ")))


def test_it_runs_n_listeners_on_one_port_and_stops_them_all(multi_gateway, tmp_path):
    process, port, orphan, metrics_port = multi_gateway
    children = _children(process.pid)
    assert len(children) == 2
    assert not orphan.exists()  # the parent cleaned the store once, before the listeners started
    _send(tmp_path, port, 8)
    assert Instance.objects.count() == 8
    # One /metrics for the gateway: the supervisor sums its listeners' counters.
    metrics = _metrics(metrics_port)
    assert 'teleradio_gateway_instances_total{outcome="success"} 8.0' in metrics, metrics[:2000]
    assert _gauge(metrics, "teleradio_gateway_storage_free_bytes") > 0
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert not any(Path(f"/proc/{child}").exists() for child in children)


def test_the_listeners_stop_when_their_supervisor_is_killed(multi_gateway):
    process, port, _orphan, _metrics_port = multi_gateway
    children = _children(process.pid)
    assert len(children) == 2
    process.kill()  # kill -9: no chance to stop them
    process.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(child) for child in children):
        time.sleep(0.2)
    assert not any(_alive(child) for child in children)
    assert not _echo(port)  # nothing left on the port for the next gateway to share it with


def _alive(pid: int) -> bool:
    # An exited child of the killed supervisor is reaped by init; a zombie counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_single_listener_serves_its_counters_and_the_stores_space(single_gateway, tmp_path):
    process, port, metrics_port = single_gateway
    _send(tmp_path, port, 3)
    metrics = _metrics(metrics_port)
    assert 'teleradio_gateway_instances_total{outcome="success"} 3.0' in metrics, metrics[:2000]
    assert _gauge(metrics, "teleradio_gateway_bytes_total") == sum(Instance.objects.values_list("size", flat=True))
    assert "teleradio_gateway_store_seconds_count 3.0" in metrics
    free = _gauge(metrics, "teleradio_gateway_storage_free_bytes")
    assert 0 < free <= _gauge(metrics, "teleradio_gateway_storage_size_bytes")
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
