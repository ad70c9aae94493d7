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


@pytest.fixture
def multi_gateway(transactional_db, tmp_path):
    """run_gateway --processes 2 as a real process, on the test database."""
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
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "run_gateway", "--processes", "2"], env=env
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (len(_children(process.pid)) == 2 and _echo(port)):
        time.sleep(0.2)
    yield process, port, orphan, metrics_port
    if process.poll() is None:
        process.kill()
        process.wait()


def test_it_runs_n_listeners_on_one_port_and_stops_them_all(multi_gateway, tmp_path):
    process, port, orphan, metrics_port = multi_gateway
    children = _children(process.pid)
    assert len(children) == 2
    assert not orphan.exists()  # the parent cleaned the store once, before the listeners started
    paths = write_study(build_study("small", count=8), tmp_path / "study")
    senders = [
        subprocess.Popen(
            [dcmtk("storescu"), "-aet", "CT_MULTI", "-aec", "TELERADIO", "127.0.0.1", str(port), str(path)],
            env={**os.environ, "TCP_NODELAY": "1"},
        )
        for path in paths
    ]
    assert all(sender.wait(30) == 0 for sender in senders)
    assert Instance.objects.count() == 8
    # One /metrics for the gateway: the supervisor sums its listeners' counters.
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:  # noqa: S310
        metrics = response.read().decode()
    assert 'teleradio_gateway_instances_total{outcome="success"} 8.0' in metrics, metrics[:2000]
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
